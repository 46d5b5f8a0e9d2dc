"""Remote write, live: the rendered Prometheus configuration writing to Debian's VictoriaMetrics 1.145.

One Prometheus (3.5.3) runs the e2e stack file plus two remote-write targets, exactly as
`prometheus.remoteWrite` renders them:

* `vm`: a VictoriaMetrics single node (kind victoriametrics), the long-term store;
* `vm-auth`: a second VictoriaMetrics that requires basic auth, given the wrong password.

They run with `-search.latencyOffset=0s` (else the newest 30 s stay invisible to queries) and
`-search.disableCache` (a query must never answer from a cache filled before the data arrived).
The checks: series arrive and the dashboards' queries give the same values from the store as
from Prometheus; a store outage loses nothing, and its drain time is measured; a Prometheus
restart during an outage loses at most what Prometheus's WAL watcher does not promise; bad
credentials fire PrometheusRemoteWriteFailing.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from components.builders import promql
from components.builders.dashboards import collect_dashboards, dashboard_queries
from components.builders.features import filter_dashboards
from components.units import prom_duration_seconds
from tests.e2e import conftest as e2e_conftest
from tests.e2e.fleet import wait_until
from tests.e2e.harness import BINARIES, Process, Stack, build_stack, ready, stop_stack

pytestmark = pytest.mark.e2e

VM_USER, VM_PASSWORD = "shannon", "right-password-for-the-test-store"
WRONG_PASSWORD = "wrong-password-in-the-secret"
# Labels only the store's copy carries: the external labels (the `replica` label is dropped for
# victoriametrics, which deduplicates identical series).
EXTERNAL = {"monitor", "environment", "replica", "cluster"}


def _edit(work: Path) -> Any:
    def edit(cfg: dict[str, Any], ports: dict[str, int]) -> None:
        prom = cfg["shannon-observability:prometheus"]
        prom["secretsDir"] = str(work / "prometheus-secrets")
        prom["expectedSeries"] = 20000
        prom["cluster"] = "e2e-local"
        prom["remoteWrite"] = [
            {"url": f"http://127.0.0.1:{ports['vm']}", "kind": "victoriametrics", "name": "vm"},
            {"url": f"http://127.0.0.1:{ports['vm-auth']}", "kind": "victoriametrics", "name": "vm-auth",
             "auth": "basic", "username": VM_USER},
        ]
    return edit


class Store:
    """A VictoriaMetrics single node on loopback, restartable on its data directory."""

    def __init__(self, name: str, port: int, work: Path, *extra: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.auth = (VM_USER, VM_PASSWORD) if extra else None
        self.process = Process(name, [BINARIES["victoria-metrics"], f"-storageDataPath={work / name}",
                                      f"-httpListenAddr=127.0.0.1:{port}", "-search.latencyOffset=0s",
                                      "-search.disableCache", "-retentionPeriod=1d", *extra],
                               work / "logs" / f"{name}.log")

    def start(self) -> None:
        self.process.start()
        wait_until(lambda: ready(f"{self.url}/health"), 30, f"{self.process.name} healthy")

    def stop(self) -> None:
        self.process.stop()

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"},
                                auth=self.auth, timeout=30)
        response.raise_for_status()
        return response.json()["data"]["result"]


@pytest.fixture(scope="module")
def rw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Store, Store]]:
    e2e_conftest._require_binaries()
    work = tmp_path_factory.mktemp("remote-write")
    stack = build_stack(work, edit=_edit(work), extra_ports=("vm", "vm-auth"))
    secrets = work / "prometheus-secrets"
    secrets.mkdir()
    (secrets / "remote-write-password").write_text(WRONG_PASSWORD)
    store = Store("vm", stack.ports["vm"], work)
    guarded = Store("vm-auth", stack.ports["vm-auth"], work, f"-httpAuth.username={VM_USER}",
                    f"-httpAuth.password={VM_PASSWORD}")
    # Only what these checks need: the fleet, the stores and Prometheus (no Alertmanager).
    kept = {"prometheus"}
    stack.processes = {k: v for k, v in stack.processes.items() if k in kept}
    try:
        stack.receiver.start()  # stop_stack stops it (a server never started cannot be shut down)
        stack.fleet.start()
        store.start()
        guarded.start()
        stack.processes["prometheus"].start()
        wait_until(lambda: ready(f"{stack.prometheus}/-/ready"), 60, "prometheus ready")
        yield stack, store, guarded
    finally:
        stop_stack(stack)
        store.stop()
        guarded.stop()


def _sent(stack: Stack, remote: str) -> float:
    result = stack.query(f'max(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{{remote_name="{remote}"}})')
    return float(result[0]["value"][1]) if result else 0.0


def _caught_up(stack: Stack, since: float) -> bool:
    """Some shard of the queue to the store has delivered a sample newer than `since`: writes flow. (Each shard
    retries its own batches, so this says nothing of the others: completeness is checked in the store.)"""
    return _sent(stack, "vm") >= since


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in metric.items() if k not in EXTERNAL))


def _raw(result: list[dict[str, Any]]) -> dict[tuple[tuple[str, str], ...], list[int]]:
    """Series -> sample timestamps (ms) of a range-vector instant query."""
    return {_key(r["metric"]): [round(float(t) * 1000) for t, _ in r["values"]] for r in result}


def test_series_arrive_and_dashboard_queries_agree(rw: tuple[Stack, Store, Store]):
    """The fleet's series and the recorded series reach the store, and every dashboard query of the stack gives
    the same value from the store as from Prometheus at the same instant.

    Tolerance: queries that read stored samples (recorded rates, gauges, counters, and aggregations of them)
    must agree to 1e-6 relative: both stores hold the same samples. Queries that apply a range function to a
    raw counter may differ by up to 2 x scrape interval / window: MetricsQL's rate() uses the last sample
    before the window instead of Prometheus's extrapolation to the window's edges, which moves the window by
    at most one scrape interval at each end. The instant compared lies 30 s after the series began, so no
    window (20 s at most here) holds a series' first sample: MetricsQL counts a counter's first sample as an
    increase when the series starts inside the window, Prometheus does not."""
    stack, store, _ = rw
    start = time.time()
    wait_until(lambda: _caught_up(stack, start + 35), 120, "writes reaching the store")
    wait_until(lambda: store.query('count(up{job="orchestrator"})', start + 30), 30, "the store answering")
    at = start + 30
    assert store.query('count(up{job="orchestrator"})', at)[0]["value"][1] == "2"

    interval = 2.0  # the e2e stack's scrape interval
    models = filter_dashboards(collect_dashboards(), stack.settings)
    exact = approximate = 0
    problems = []
    for query in dashboard_queries(models):
        expr = promql.substitute(query.expr, rate_interval="10s", range_="20s")
        local = {_key(r["metric"]): float(r["value"][1]) for r in stack.query(expr, time=f"{at:.3f}")
                 if "value" in r}
        remote = {_key(r["metric"]): float(r["value"][1]) for r in store.query(expr, at) if "value" in r}
        if not local:
            continue
        windows = [s for f, s in promql.range_windows(expr) if f in {"rate", "irate", "increase"}]
        raw_range = windows and not all(":" in (s.metric or "") for s in promql.selectors(expr))
        tolerance = 2 * interval / min(windows) if raw_range else 1e-6
        for key, value in local.items():
            other = remote.get(key)
            if other is None:
                problems.append(f"{query.dashboard} {query.panel!r}: {dict(key)} missing from the store")
                continue
            if math.isnan(value) and math.isnan(other):
                continue
            if abs(value - other) > tolerance * max(abs(value), abs(other), 1e-9):
                problems.append(f"{query.dashboard} {query.panel!r} {dict(key)}: {value} vs store {other} "
                                f"(tolerance {tolerance:.0%})")
        approximate += bool(raw_range)
        exact += not raw_range
    assert not problems, "\n".join(problems[:20])
    assert exact >= 20, (exact, approximate)
    e2e_conftest.MEASUREMENTS.append(f"dashboard queries compared with the store: {exact} exact, {approximate} "
                                     "within the rate tolerance")


def _compare_window(stack: Stack, store: Store, begin: float, end: float,
                    exprs: tuple[str, ...]) -> tuple[int, dict[str, list[int]]]:
    """Samples Prometheus holds in [begin, end] for `exprs`, and those the store lacks, by series."""
    seconds = math.ceil(end - begin)
    total, missing = 0, {}
    for expr in exprs:
        local = _raw(stack.query(f"{expr}[{seconds}s]", time=f"{end:.3f}"))
        remote = _raw(store.query(f"{expr}[{seconds}s]", end))
        assert local, expr
        for key, stamps in local.items():
            total += len(stamps)
            gone = sorted(set(stamps) - set(remote.get(key, [])))
            if gone:
                missing[str(dict(key))] = gone
    return total, missing


def _complete_window(stack: Stack, store: Store, begin: float, end: float,
                     allowed: tuple[float, float] | None = None, timeout: float = 30) -> tuple[int, dict[str, list[int]]]:
    """`_compare_window`, polled once a second for up to `timeout` until nothing is missing outside `allowed`
    (delivered samples become searchable in the store within a second or two)."""
    result: list[tuple[int, dict[str, list[int]]]] = []

    def complete() -> bool:
        result[:] = [_compare_window(stack, store, begin, end, SERIES)]
        _, missing = result[0]
        if allowed is None:
            return not missing
        return not [t for v in missing.values() for t in v if not allowed[0] * 1000 <= t <= allowed[1] * 1000]

    with contextlib.suppress(AssertionError):  # the caller's assertion names what is missing
        wait_until(complete, timeout, "every sample of the window in the store", interval=1)
    return result[0]


def _rendered_remote_writes(stack: Stack) -> list[dict[str, Any]]:
    return yaml.safe_load((stack.work / "render/prometheus/prometheus.yml").read_text())["remote_write"]


SERIES = ('up{job="orchestrator"}', 'shannon_grpc_requests_total{job="orchestrator", method="SubmitTask"}',
          'job:shannon_requests:rate5m')


def test_a_store_outage_loses_nothing(rw: tuple[Stack, Store, Store]):
    """The store is down for 20 s (10 scrape intervals) while the fleet keeps producing: once it is back, every
    sample Prometheus took in the outage window is in the store (no holes in count_over_time), and the
    backlog drains; the drain time is measured and reported."""
    stack, store, _ = rw
    wait_until(lambda: _caught_up(stack, time.time() - 4), 60, "the store caught up before the outage")
    begin = time.time()
    store.stop()
    time.sleep(20)
    assert stack.query('sum(prometheus_remote_storage_samples_pending{remote_name="vm"})')  # queued, not lost
    restarted = time.time()
    store.start()
    # Drained: every sample of the outage window is in the store (polled once a second).
    total, missing = _complete_window(stack, store, begin - 5, restarted, timeout=120)
    drained = time.time() - restarted
    end = restarted + 5
    wait_until(lambda: _caught_up(stack, end + 2), 30, "the store past the window")
    total, missing = _complete_window(stack, store, begin - 5, end)
    assert total > 100 and not missing, missing
    counts = [(float(a["value"][1]), float(b["value"][1])) for a, b in zip(
        sorted(stack.query(f'count_over_time(up{{job="orchestrator"}}[{math.ceil(end - begin)}s])', time=f"{end:.3f}"),
               key=lambda r: r["metric"]["instance"]),
        sorted(store.query(f'count_over_time(up{{job="orchestrator"}}[{math.ceil(end - begin)}s])', end),
               key=lambda r: r["metric"]["instance"]), strict=True)]
    assert all(a == b for a, b in counts), counts
    e2e_conftest.MEASUREMENTS.append(
        f"store outage 20 s: {total} samples of {len(SERIES)} series in the window, 0 missing; backlog drained "
        f"{drained:.1f} s after the store came back; count_over_time(up) per instance {counts}")


def test_a_prometheus_restart_during_an_outage(rw: tuple[Stack, Store, Store]):
    """Prometheus restarts while the store is down. What its WAL promises: samples taken after the restart are
    delivered; samples still queued at the restart may be lost (its WAL watcher resumes at start-up time, it
    does not resend older segments). Queued means not yet delivered when the outage began too: a sample waits
    up to batch_send_deadline in its shard. So every sample outside [outage start - batch_send_deadline - one
    scrape interval, ready again] must arrive; the samples lost inside it are counted and reported."""
    stack, store, _ = rw
    wait_until(lambda: _caught_up(stack, time.time() - 4), 60, "the store caught up before the outage")
    begin = time.time()
    store.stop()
    queue = next(q["queue_config"] for q in _rendered_remote_writes(stack) if q["name"] == "vm")
    queued_from = begin - prom_duration_seconds(queue["batch_send_deadline"]) - 2.0
    time.sleep(6)
    stopped = time.time()
    stack.processes["prometheus"].stop()
    stack.processes["prometheus"].start()
    wait_until(lambda: ready(f"{stack.prometheus}/-/ready"), 60, "prometheus ready after the restart")
    back = time.time()
    time.sleep(6)
    restarted = time.time()
    store.start()
    _complete_window(stack, store, begin - 5, restarted, allowed=(queued_from, back), timeout=120)
    drained = time.time() - restarted
    end = restarted + 5
    wait_until(lambda: _caught_up(stack, end + 2), 30, "the store past the window")
    total, missing = _complete_window(stack, store, begin - 5, end, allowed=(queued_from, back))
    lost = sum(len(v) for v in missing.values())
    outside = {k: [t for t in v if not (queued_from * 1000 <= t <= back * 1000)] for k, v in missing.items()}
    assert not any(outside.values()), outside
    assert total > 50
    e2e_conftest.MEASUREMENTS.append(
        f"Prometheus restart during an outage of {restarted - begin:.0f} s: {total} samples in the window, {lost} lost, "
        f"all queued at the restart (taken between {begin - queued_from:.0f} s before the outage and Prometheus ready "
        f"again, {stopped - begin:.0f} s + {back - stopped:.0f} s start-up); backlog drained {drained:.1f} s after "
        "the store came back")


def test_bad_credentials_fire_the_remote_write_alert(rw: tuple[Stack, Store, Store]):
    """The store that requires basic auth refuses the wrong password (401, not retried): the samples fail and
    PrometheusRemoteWriteFailing fires for that queue, and for that queue only."""
    stack, _, guarded = rw
    wait_until(lambda: [a for a in stack.alerts("firing") if a["labels"]["alertname"] == "PrometheusRemoteWriteFailing"],
               120, "PrometheusRemoteWriteFailing firing")
    firing = [a for a in stack.alerts("firing") if a["labels"]["alertname"] == "PrometheusRemoteWriteFailing"]
    assert {a["labels"]["remote_name"] for a in firing} == {"vm-auth"}
    assert all(a["labels"]["severity"] == "warning" for a in firing)
    failed = stack.query('sum(prometheus_remote_storage_samples_failed_total{remote_name="vm-auth"})')
    assert float(failed[0]["value"][1]) > 0
    assert not guarded.query("count(up)", time.time())  # the guarded store holds nothing
