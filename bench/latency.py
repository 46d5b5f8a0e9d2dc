"""Alert delivery latency: fault injected -> notification received, with production intervals.

Each run is a fresh stack on loopback, all runs side by side (each pays its own start-up, and
faults are injected at random offsets so they fall anywhere in the scrape and evaluation
cycles):

* **ours**: the e2e harness (tests/e2e/harness.py) with `production_timing`: the prod
  stack's rendered configs with prod's scrape, evaluation, `for:` and route timing; two
  Alertmanager peers; PagerDuty and Slack payloads to a local receiver.
* **original**: Shannon's own prometheus.yml and alerts.yml, read from the reference
  directory, with only the target addresses pointed at the simulated services and
  Alertmanager, plus an Alertmanager with default timing (group_wait 30s, group_interval
  5m) and a webhook receiver, grouping by alertname so alerts of other names cannot delay it.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from tests.e2e.fleet import Fleet, Receiver, wait_until
from tests.e2e.harness import BINARIES, FLEET, Process, Stack, build_stack, free_port, ready, start_stack, stop_stack

ALERTS = ("OrchestratorDown", "PolicyErrorRateHigh")
# Before a fault: every target scraped and a full 5m rate window behind the ratio alerts.
WARMUP = {"OrchestratorDown": 60.0, "PolicyErrorRateHigh": 330.0}
POLICY_ERROR_RATIO = 0.2  # 20% of policy evaluations fail: 4x the alert's 5% threshold


@dataclass
class Run:
    config: str  # ours or original
    alert: str
    index: int
    latency: float | None = None  # seconds; None if nothing arrived within the timeout
    error: str | None = None
    note: str | None = None  # why nothing arrived, from Prometheus's view of the rule


@dataclass
class OriginalStack:
    """Shannon's original Prometheus configuration and rules, with one default Alertmanager."""

    work: Path
    fleet: Fleet
    receiver: Receiver
    ports: dict[str, int]
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"


def build_original(work: Path, reference: Path) -> OriginalStack:
    names = [*FLEET, "receiver", "prometheus", "alertmanager", "closed"]
    ports = {name: free_port() for name in names}
    fleet = Fleet({name: ports[name] for name in FLEET})
    receiver = Receiver(ports["receiver"])
    config = yaml.safe_load((reference / "prometheus.yml").read_text())
    addr = lambda name: f"127.0.0.1:{ports[name]}"  # noqa: E731
    addresses = {"orchestrator": [addr("orchestrator-0"), addr("orchestrator-1")], "agent-core": [addr("agent-core-0")],
                 "llm-service": [addr("llm-service-0")], "temporal": [addr("temporal")],
                 "prometheus": [addr("prometheus")]}
    for job in config["scrape_configs"]:
        # Only addresses change; the exporters the original expects are not running (as in its compose file).
        for static in job.get("static_configs", []):
            static["targets"] = addresses.get(job["job_name"], [addr("closed")])
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [addr("alertmanager")]
    (work / "alerts.yml").write_text((reference / "alerts.yml").read_text())
    config["rule_files"] = [str(work / "alerts.yml")]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    am = {"route": {"receiver": "default", "group_by": ["alertname"]},
          "receivers": [{"name": "default", "webhook_configs": [{"url": receiver.url("webhook")}]}]}
    (work / "alertmanager.yml").write_text(yaml.safe_dump(am, sort_keys=False))
    logs = work / "logs"
    logs.mkdir()
    stack = OriginalStack(work, fleet, receiver, ports)
    stack.processes["prometheus"] = Process("prometheus", [
        BINARIES["prometheus"], f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address={addr('prometheus')}"], logs / "prometheus.log")
    stack.processes["alertmanager"] = Process("alertmanager", [
        BINARIES["alertmanager"], f"--config.file={work / 'alertmanager.yml'}", f"--storage.path={work / 'am'}",
        f"--web.listen-address={addr('alertmanager')}", "--cluster.listen-address="], logs / "alertmanager.log")
    return stack


def start_original(stack: OriginalStack) -> None:
    stack.receiver.start()
    stack.fleet.start()
    for process in stack.processes.values():
        process.start()
    wait_until(lambda: ready(f"{stack.prometheus}/-/ready"), 60, "original prometheus ready")
    wait_until(lambda: ready(f"http://127.0.0.1:{stack.ports['alertmanager']}/-/ready"), 60, "original alertmanager")


def stop_original(stack: OriginalStack) -> None:
    for process in stack.processes.values():
        process.stop()
    stack.fleet.stop()
    stack.receiver.stop()


def _inject(fleet: Fleet, alert: str) -> None:
    if alert == "OrchestratorDown":
        for name in ("orchestrator-0", "orchestrator-1"):
            fleet.services[name].stop()
    else:
        fleet.inject(policy_error_ratio=POLICY_ERROR_RATIO)


def _delivered(receiver: Receiver, alert: str, since: float) -> float | None:
    found = [n.at for n in receiver.notifications if alert in n.alertnames and n.status == "firing" and n.at >= since]
    return min(found) if found else None


def _diagnose(prometheus: str, alert: str) -> str:
    """The rule's state and how many series its expression returns, when nothing was delivered."""
    try:
        groups = requests.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rule = next(r for g in groups for r in g["rules"] if r.get("name") == alert)
        result = requests.get(f"{prometheus}/api/v1/query", params={"query": rule["query"]}, timeout=30).json()
        count = len(result["data"]["result"])
        return f"rule state {rule['state']!r}; its expression returns {count} series"
    except (requests.RequestException, StopIteration, KeyError) as error:
        return f"could not inspect the rule: {error}"


def _run(run: Run, work: Path, reference: Path, timeout: float, rng: random.Random) -> None:
    stack: Stack | OriginalStack
    try:
        if run.config == "ours":
            stack = build_stack(work, production_timing=True)
            start_stack(stack, settle_timeout=120)
        else:
            stack = build_original(work, reference)
            start_original(stack)
    except Exception as error:  # reported in the results; the other runs go on
        run.error = f"start-up: {error}"
        return
    try:
        time.sleep(WARMUP[run.alert] + rng.uniform(0, 30))
        injected = time.monotonic()
        _inject(stack.fleet, run.alert)
        deadline = injected + timeout
        while time.monotonic() < deadline:
            at = _delivered(stack.receiver, run.alert, injected)
            if at is not None:
                run.latency = at - injected
                return
            time.sleep(0.2)
        run.note = _diagnose(stack.prometheus, run.alert)
    finally:
        if isinstance(stack, OriginalStack):
            stop_original(stack)
        else:
            stop_stack(stack)


def measure(work: Path, reference: Path, runs: int, timeout: float,
            progress: Callable[[str], None] = print) -> list[Run]:
    """`runs` runs of each alert for each configuration, all at once; returns every run."""
    if missing := [b for b in (BINARIES["prometheus"], BINARIES["alertmanager"]) if not Path(b).exists()]:
        raise RuntimeError(f"missing {missing}: run `make setup`")
    rng = random.Random(2112)
    todo = [Run(config, alert, i) for config in ("original", "ours") for alert in ALERTS for i in range(runs)]
    threads = []
    for run in todo:
        directory = work / f"{run.config}-{run.alert}-{run.index}"
        directory.mkdir(parents=True)
        thread = threading.Thread(target=_run, args=(run, directory, reference, timeout, random.Random(rng.random())))
        thread.start()
        threads.append(thread)
        time.sleep(0.5)  # stagger start-ups
    began = time.monotonic()
    while any(t.is_alive() for t in threads):
        time.sleep(30)
        done = sum(not t.is_alive() for t in threads)
        progress(f"  {done}/{len(threads)} runs finished ({time.monotonic() - began:.0f}s)")
    return todo


@dataclass(frozen=True)
class LatencyRow:
    config: str
    alert: str
    delivered: int
    runs: int
    minimum: float | None
    median: float | None
    maximum: float | None


def table(runs: list[Run]) -> list[LatencyRow]:
    rows = []
    for config in ("original", "ours"):
        for alert in ALERTS:
            mine = [r for r in runs if r.config == config and r.alert == alert]
            values = sorted(r.latency for r in mine if r.latency is not None)
            # A run that never delivered counts as infinitely late for the median.
            padded = values + [float("inf")] * (len(mine) - len(values))
            median = statistics.median(padded) if padded else None
            rows.append(LatencyRow(config, alert, len(values), len(mine), values[0] if values else None,
                                   None if median == float("inf") else median, values[-1] if values else None))
    return rows
