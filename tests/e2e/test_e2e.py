"""The rendered stack running for real: Debian's Prometheus, Alertmanager and exporters against a simulated fleet.

The configuration is what `python -m components.render --stack e2e` writes for
Pulumi.e2e.yaml, which is Pulumi.prod.yaml with only these differences:

Addresses
  * Shannon targets and the stack's own jobs are static 127.0.0.1 addresses on free
    ports (`shannon.targets[].addresses`, `addresses.*`) instead of EndpointSlice
    discovery; Prometheus notifies both Alertmanagers, which gossip on loopback
    (`addresses.alertmanager-peers`) instead of pod DNS names.
  * Receivers point at the local receiver: PagerDuty's events URL (`receivers.pager.url`),
    and the Slack and deadman URLs given as the secrets' test values.
  * `alertmanager.secretsDir` is a temporary directory instead of the Secret's mount.
  * Blackbox probes target the simulated services' /health; the Grafana URL is loopback.
Intervals
  * Scrape every 2s (timeout 2s), evaluate every 1s, re-send alerts every 2s.
  * `prometheus.enableLifecycle` on, for the hot-reload check (deployed stacks roll pods instead).
  * Alertmanager groups wait 1s, re-notify after 2s, repeat after 1h; heartbeat every 3s.
  * Range windows shrink (`rules.rangeOverrides`: 5m->10s, 30m->20s, 1h->30s, 3h/6h->45s,
    1d->30m, 30d->120s), so a fault clears in seconds rather than minutes.
`for:` durations
  * Scaled by 0.2 and capped at 20s (`rules.forScale`, `rules.maxFor`): 1m -> 12s, 2m and more -> 20s.
Beyond the stack file, and unavoidable here
  * 2 Alertmanager peers (prod: 3) and 1 Prometheus (prod: an HA pair of 2).
  * Debian's binaries at the versions of `.ci/tools.lock` (Prometheus 3.5, Alertmanager 0.33,
    node-exporter 1.11, blackbox 0.28, postgres-exporter 0.19, redis-exporter 1.86) instead of
    the pinned images; README's test matrix says why the differences are safe. The Postgres and
    Redis exporters run without a database to reach (pg_up and redis_up read 0).
  * The receiver stands in for PagerDuty, Slack and the heartbeat, and answers as they do
    (Alertmanager checks the answers).
  * Grafana, Tempo and Temporal cannot run here: stand-in endpoints answer their scrape jobs,
    and a stand-in for Tempo's metrics-generator remote-writes span metrics and service-graph
    series to the URL in the rendered tempo.yaml.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from components.builders import promql
from components.builders.dashboards import collect_dashboards, dashboard_queries
from tests.e2e.fleet import wait_until
from tests.e2e.harness import Stack, ready

pytestmark = pytest.mark.e2e

SHANNON_COMPONENTS = {"orchestrator", "gateway", "agent-core", "llm-service"}
# Dashboard queries that may legitimately return nothing for a healthy fleet.
MAY_BE_EMPTY = {
    'ALERTS{alertstate="firing", alertname!="Watchdog"}': "no alert fires in a healthy fleet",
}


def _shannon_alerts(stack: Stack) -> list[str]:
    return [f"{a['labels']['alertname']} ({a['state']})" for a in stack.alerts()
            if a["labels"].get("component") in SHANNON_COMPONENTS]


def _fleet_alerts(stack: Stack) -> list[str]:
    """Every alert pending or firing but the Watchdog (always firing by design) and the node alerts, which
    measure the machine the suite runs on, not the fleet."""
    return [f"{a['labels']['alertname']} ({a['state']})" for a in stack.alerts()
            if a["labels"]["alertname"] != "Watchdog" and not a["labels"]["alertname"].startswith("Node")]


def _failed_notifications(stack: Stack) -> dict[str, float]:
    """alertmanager_notifications_failed_total per Alertmanager and integration, read from each peer."""
    failed: dict[str, float] = {}
    for i in range(2):
        try:
            text = requests.get(f"{stack.alertmanager(i)}/metrics", timeout=5).text
        except requests.RequestException:
            continue
        for line in text.splitlines():
            if line.startswith("alertmanager_notifications_failed_total{"):
                labels, value = line.rsplit(" ", 1)
                integration = labels.split('integration="', 1)[1].split('"', 1)[0]
                failed[f"alertmanager-{i}/{integration}"] = failed.get(f"alertmanager-{i}/{integration}", 0) + float(value)
    return failed


@pytest.fixture(autouse=True)
def no_failed_notifications(request: pytest.FixtureRequest) -> Any:
    """Every notification a check sees arrive was accepted, as Alertmanager judges it.

    A stand-in that answers unlike the real service makes Alertmanager count a delivered message
    as failed, and then it never sends the resolved one; this guard names that at once.
    """
    if "e2e" not in request.fixturenames or request.node.get_closest_marker("rejects_notifications"):
        yield
        return
    stack: Stack = request.getfixturevalue("e2e")
    before = _failed_notifications(stack)
    yield
    after = _failed_notifications(stack)
    # A restarted peer starts its counters again from zero.
    new = {k: v - before.get(k, 0) if v >= before.get(k, 0) else v for k, v in after.items()}
    assert not {k: v for k, v in new.items() if v}, f"notifications failed during the check: {new}"


def _delivered(stack: Stack, receiver: str, alertname: str, status: str, since: float, timeout: float) -> float:
    """Wait for a notification; return its delay after `since`."""
    found = wait_until(lambda: stack.receiver.find(receiver, alertname, status, since), timeout,
                       f"{status} {alertname} at the {receiver} receiver")
    return found[0].at - since


def test_targets_up_and_rules_load(e2e: Stack):
    """Every scrape target is up; every rule group the render wrote is loaded and evaluates without error."""
    rendered = yaml.safe_load((e2e.work / "render/prometheus/prometheus.yml").read_text())
    expected = sum(len(c["targets"]) for job in rendered["scrape_configs"] for c in job["static_configs"])

    def unhealthy() -> list[str]:
        targets = e2e.api("/api/v1/targets")["activeTargets"]
        if len(targets) < expected:
            return [f"{len(targets)} of {expected} targets discovered"]
        return [f"{t['labels']['job']} {t['scrapeUrl']}: {t['lastError']}" for t in targets if t["health"] != "up"]

    wait_until(lambda: not unhealthy(), 30, "all targets up", interval=0.5)
    jobs = {t["labels"]["job"] for t in e2e.api("/api/v1/targets")["activeTargets"]}
    assert jobs == {job["job_name"] for job in rendered["scrape_configs"]}
    assert {"orchestrator", "gateway", "agent-core", "llm-service", "prometheus", "alertmanager", "grafana", "tempo",
            "node-exporter", "postgres", "redis", "blackbox-exporter", "blackbox"} <= jobs
    # Shannon's compose serves no Temporal metrics: the job is off by default, so nothing waits for it.
    assert "temporal" not in jobs

    rendered_groups = {g["name"] for path in (e2e.work / "render/prometheus/rules").glob("*.yml")
                       for g in yaml.safe_load(path.read_text())["groups"]}
    time.sleep(2)  # let every group evaluate at least once
    groups = e2e.api("/api/v1/rules")["groups"]
    assert {g["name"] for g in groups} == rendered_groups
    errors = [(r["name"], r["lastError"]) for g in groups for r in g["rules"] if r.get("health") != "ok" or r.get("lastError")]
    assert errors == []
    assert e2e.query("sum(prometheus_rule_evaluation_failures_total)")[0]["value"][1] == "0"


def test_healthy_fleet_is_quiet_and_watchdog_reaches_deadman(e2e: Stack):
    """With a healthy fleet, which serves what Shannon's own compose runs (no Temporal metrics), no alert is pending
    or firing, and the Watchdog heartbeat reaches deadman."""
    start = time.monotonic()
    wait_until(lambda: not _fleet_alerts(e2e), 30, "no alert pending or firing")
    time.sleep(5)  # stays quiet: nothing becomes pending over several evaluations
    assert _fleet_alerts(e2e) == []
    _delivered(e2e, "deadman", "Watchdog", "firing", start - 60, 30)
    heartbeats = len(e2e.receiver.find("deadman", "Watchdog"))
    wait_until(lambda: len(e2e.receiver.find("deadman", "Watchdog")) > heartbeats, 15, "a repeated heartbeat")
    assert not e2e.receiver.names_in("pager", since=start) & {"Watchdog"}


def test_health_probes_succeed_on_a_healthy_shannon(e2e: Stack):
    """Every shipped blackbox probe succeeds on a healthy fleet; probing llm-service's bare /health, which FastAPI
    answers with a 307 to /health/, fails (the probe module follows no redirect), which is why /health/ is probed."""
    wait_until(lambda: e2e.query('probe_success{job="blackbox"}'), 30, "probe results")
    results = {s["metric"]["instance"]: s["value"][1] for s in e2e.query('probe_success{job="blackbox"}')}
    assert len(results) == 3 and set(results.values()) == {"1"}, results
    exporter = f"http://127.0.0.1:{e2e.ports['blackbox-exporter']}/probe"
    llm = e2e.fleet.services["llm-service-0"].address
    bare = requests.get(exporter, params={"target": f"http://{llm}/health", "module": "http_2xx"}, timeout=10).text
    slash = requests.get(exporter, params={"target": f"http://{llm}/health/", "module": "http_2xx"}, timeout=10).text
    assert "probe_success 0" in bare and "probe_success 1" in slash


def test_policy_faults_page_and_resolve(e2e: Stack):
    """Errors, the kill switch and slow evaluations page; after recovery each sends a resolved notification."""
    start = time.monotonic()
    e2e.fleet.inject(policy_error_ratio=0.5, kill_switch=True, policy_latency=0.02)
    expected = ["PolicyErrorRateHigh", "PolicyEmergencyKillSwitch", "PolicyLatencyHigh"]
    for alertname in expected:
        _delivered(e2e, "pager", alertname, "firing", start, 60)
    assert not e2e.receiver.names_in("chat", since=start) & set(expected)
    recovered = time.monotonic()
    e2e.fleet.recover()
    for alertname in expected:
        _delivered(e2e, "pager", alertname, "resolved", recovered, 60)


def test_stopped_services_page_once_each_and_resolve(e2e: Stack):
    """Stopping agent-core and one orchestrator pages each exactly once though both Alertmanagers got the alert."""
    start = time.monotonic()
    e2e.fleet.services["agent-core-0"].stop()
    e2e.fleet.services["orchestrator-1"].stop()
    try:
        for alertname in ("AgentCoreDown", "OrchestratorDown"):
            _delivered(e2e, "pager", alertname, "firing", start, 60)
        down = e2e.firing("OrchestratorDown")
        assert [a["labels"]["instance"] for a in down] == [e2e.fleet.services["orchestrator-1"].address]
        for i in range(2):
            received = requests.get(f"{e2e.alertmanager(i)}/api/v2/alerts", timeout=5).json()
            assert "AgentCoreDown" in {a["labels"]["alertname"] for a in received}, f"alertmanager-{i} lacks the alert"
        # Long enough for the second peer (it waits its position x 15s) to notify if deduplication failed.
        time.sleep(17)
        for alertname in ("AgentCoreDown", "OrchestratorDown"):
            assert len(e2e.receiver.find("pager", alertname, "firing", start)) == 1, alertname
    finally:
        recovered = time.monotonic()
        e2e.fleet.services["agent-core-0"].start()
        e2e.fleet.services["orchestrator-1"].start()
    for alertname in ("AgentCoreDown", "OrchestratorDown"):
        _delivered(e2e, "pager", alertname, "resolved", recovered, 60)


def test_alertmanager_survives_losing_a_peer(e2e: Stack):
    """With one Alertmanager peer stopped, the next alert is still delivered, exactly once."""
    e2e.stop("alertmanager-0")
    try:
        start = time.monotonic()
        e2e.fleet.services["llm-service-0"].stop()
        delay = _delivered(e2e, "pager", "LLMServiceDown", "firing", start, 90)
        time.sleep(4)
        assert len(e2e.receiver.find("pager", "LLMServiceDown", "firing", start)) == 1
        recovered = time.monotonic()
        e2e.fleet.services["llm-service-0"].start()
        _delivered(e2e, "pager", "LLMServiceDown", "resolved", recovered, 90)
        assert delay < 60
    finally:
        e2e.fleet.services["llm-service-0"].start()
        e2e.start("alertmanager-0")
        wait_until(lambda: ready(f"{e2e.alertmanager(0)}/-/ready"), 30, "alertmanager-0 back")


def test_llm_spike_goes_to_chat_and_resolves(e2e: Stack):
    """A token and cost spike raises TokenUsageSpike and LLMCostSpike in chat; recovery resolves them."""
    start = time.monotonic()
    e2e.fleet.inject(token_multiplier=100.0)
    for alertname in ("TokenUsageSpike", "LLMCostSpike"):
        _delivered(e2e, "chat", alertname, "firing", start, 60)
    assert not e2e.receiver.names_in("pager", since=start) & {"TokenUsageSpike", "LLMCostSpike"}
    recovered = time.monotonic()
    e2e.fleet.recover()
    for alertname in ("TokenUsageSpike", "LLMCostSpike"):
        _delivered(e2e, "chat", alertname, "resolved", recovered, 60)


@pytest.mark.rejects_notifications
def test_rejected_chat_notifications_page(e2e: Stack):
    """Chat rejecting our messages (a revoked Slack webhook) pages through AlertmanagerNotificationsFailing.

    Alertmanager sends no resolved message for a group whose firing message failed, so a chat
    that silently drops warnings must be loud somewhere else: the pager.
    """
    start = time.monotonic()
    e2e.receiver.reject_chat = True
    e2e.fleet.inject(token_multiplier=100.0)
    try:
        _delivered(e2e, "pager", "AlertmanagerNotificationsFailing", "firing", start, 90)
        assert not e2e.receiver.find("chat", "TokenUsageSpike", "firing", start)
    finally:
        e2e.receiver.reject_chat = False
    # Accepted again: the spike's warning, held back until now, is delivered ...
    _delivered(e2e, "chat", "TokenUsageSpike", "firing", start, 60)
    recovered = time.monotonic()
    e2e.fleet.recover()
    # ... and with it delivered, so is its resolved message; the page resolves too.
    _delivered(e2e, "chat", "TokenUsageSpike", "resolved", recovered, 60)
    _delivered(e2e, "pager", "AlertmanagerNotificationsFailing", "resolved", recovered, 90)


def test_prometheus_keeps_data_across_restart(e2e: Stack):
    """Stopped and started on the same data directory, Prometheus still answers for series from before."""
    before = time.time() - 5
    series = e2e.query('up{job="orchestrator"}', time=before)
    assert len(series) == 2
    pid = e2e.processes["prometheus"].popen.pid
    e2e.stop("prometheus")
    e2e.start("prometheus")
    assert e2e.processes["prometheus"].popen.pid != pid
    wait_until(lambda: ready(f"{e2e.prometheus}/-/ready"), 60, "prometheus ready again")
    after = e2e.query('up{job="orchestrator"}', time=before)
    assert {s["metric"]["instance"] for s in after} == {s["metric"]["instance"] for s in series}
    history = e2e.api("/api/v1/query_range", query='up{job="orchestrator"}', start=before - 60, end=time.time(), step=5)
    assert all(len(s["values"]) > 5 for s in history["result"])


def test_rules_reload_without_restart_and_keep_running_on_bad_input(e2e: Stack):
    """A changed rule file is picked up through /-/reload; a broken one is rejected and the old rules keep running."""
    rules_dir = e2e.work / "render/prometheus/rules"
    probe = rules_dir / "e2e-reload.yml"
    pid = e2e.processes["prometheus"].popen.pid
    started = e2e.api("/api/v1/status/runtimeinfo")["startTime"]
    try:
        probe.write_text(yaml.safe_dump({"groups": [{"name": "e2e-reload", "rules": [
            {"record": "e2e:reload_probe", "expr": "vector(42)"}]}]}))
        assert requests.post(f"{e2e.prometheus}/-/reload", timeout=10).status_code == 200
        wait_until(lambda: e2e.query("e2e:reload_probe"), 15, "the new recording rule evaluated")
        assert e2e.query("e2e:reload_probe")[0]["value"][1] == "42"

        probe.write_text(yaml.safe_dump({"groups": [{"name": "e2e-reload", "rules": [
            {"record": "e2e:reload_probe", "expr": "vector(42"}]}]}))
        assert requests.post(f"{e2e.prometheus}/-/reload", timeout=10).status_code != 200
        wait_until(lambda: e2e.query("prometheus_config_last_reload_successful")[0]["value"][1] == "0", 15,
                   "the failed reload reported")
        first = e2e.query("timestamp(e2e:reload_probe)")[0]["value"][1]
        wait_until(lambda: e2e.query("timestamp(e2e:reload_probe)")[0]["value"][1] != first, 15,
                   "the previous rules still evaluating")
    finally:
        probe.unlink(missing_ok=True)
        requests.post(f"{e2e.prometheus}/-/reload", timeout=10)
    assert e2e.processes["prometheus"].popen.pid == pid
    assert e2e.api("/api/v1/status/runtimeinfo")["startTime"] == started


def test_prometheus_3_normalizes_le_and_the_bucket_rule_still_selects(e2e: Stack):
    """Prometheus 3 stores a scraped `le="10000"` as "10000.0"; TokenBudgetExceededRate's bucket matcher finds it.

    The orchestrator exposes the bucket as le="10000" (Go's formatting); a rule matching that
    exact string would select nothing on 3.x and never fire.
    """
    bucket = 'shannon_task_tokens_used_bucket{job="orchestrator", le="%s"}'
    assert e2e.query(bucket % "10000.0"), "the normalized bucket is stored"
    assert not e2e.query(bucket % "10000"), "the exposed spelling is not"
    rule = next(r for path in (e2e.work / "render/prometheus/rules").glob("*.yml")
                for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]
                if r.get("alert") == "TokenBudgetExceededRate")
    selected = [s for s in promql.selectors(rule["expr"]) if s.metric == "shannon_task_tokens_used_bucket"]
    assert selected, rule["expr"]
    for selector in selected:
        operators = {"equal": "=", "notequal": "!=", "re": "=~", "notre": "!~"}
        matchers = ", ".join(f'{label}{operators[op.lower()]}"{value}"' for label, op, value in selector.matchers)
        assert e2e.query(f"{selector.metric}{{{matchers}}}"), f"the rule's selector finds no bucket: {matchers}"


def test_every_dashboard_query_returns_data(e2e: Stack):
    """Every dashboard query the stack ships, variables substituted, runs as Grafana's range query without
    error, with data. (Panels of components the stack leaves out, such as the remote-write row without
    prometheus.remoteWrite, are not shipped: tests/e2e/test_remote_write.py runs those against a stack with it.)"""
    from components.builders.artifacts import build_artifacts

    assert e2e.fleet.faults == type(e2e.fleet.faults)() and all(s.running for s in e2e.fleet.services.values())
    queries = dashboard_queries(build_artifacts(e2e.settings).dashboards)
    assert len(queries) > 100
    end = time.time()
    empty, failed = [], []
    for query in queries:
        expr = promql.substitute(query.expr, rate_interval="30s", range_="2m")
        response = requests.get(f"{e2e.prometheus}/api/v1/query_range", timeout=30,
                                params={"query": expr, "start": end - 120, "end": end, "step": 15})
        body: dict[str, Any] = response.json()
        if body.get("status") != "success":
            failed.append(f"{query.dashboard} / {query.panel}: {body.get('error')} :: {expr}")
        elif not body["data"]["result"] and query.expr not in MAY_BE_EMPTY:
            empty.append(f"{query.dashboard} / {query.panel}: {expr}")
    assert not failed, "\n".join(failed)
    assert not empty, "no data for:\n" + "\n".join(empty)


def test_every_exemplar_target_finds_trace_exemplars(e2e: Stack):
    """Each exemplar query, as Grafana sends it to /api/v1/query_exemplars, returns exemplars with a trace id:
    remote-written by Tempo's generator with its span metrics. (Shannon's own histograms carry none, so no
    panel over them asks: components.lint refuses it.)"""
    from components.builders.dashboards import panels

    targets = [(name, panel["title"], t["expr"]) for name, d in collect_dashboards().items() for panel in panels(d)
               for t in panel.get("targets", []) if t.get("exemplar")]
    assert targets
    end = time.time()
    missing = []
    for dashboard, title, expr in targets:
        query = promql.substitute(expr, rate_interval="30s", range_="2m")
        data = requests.get(f"{e2e.prometheus}/api/v1/query_exemplars", timeout=30,
                            params={"query": query, "start": end - 120, "end": end}).json()
        assert data["status"] == "success", data
        ids = {label for series in data["data"] for ex in series["exemplars"] for label in ex["labels"]}
        if not ids & {"trace_id", "traceID"}:
            missing.append(f"{dashboard} / {title}")
    assert not missing, f"no trace exemplars for: {missing}"
    # The fleet answers as Shannon does: no exemplar on any of its own series.
    shannon = requests.get(f"{e2e.prometheus}/api/v1/query_exemplars", timeout=30, params={
        "query": '{job=~"orchestrator|gateway|agent-core|llm-service"}', "start": end - 120, "end": end}).json()
    assert shannon["status"] == "success" and shannon["data"] == [], shannon


def test_render_rejects_broken_rules_before_anything_runs(tmp_path: Path):
    """The render command refuses a rule file with invalid PromQL, naming file and rule, and writes nothing."""
    import shutil

    from components.builders.rules import RULES_DIR, RuleFileError, load_rule_files

    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    broken = rules / "shannon-policy.yml"
    broken.write_text(broken.read_text().replace("> 0.05", "> 0.05)", 1))
    with pytest.raises(RuleFileError, match=r"shannon-policy\.yml: group 'shannon-policy', rule 'PolicyErrorRateHigh': "
                                            r"expr is not valid PromQL"):
        load_rule_files(rules)
