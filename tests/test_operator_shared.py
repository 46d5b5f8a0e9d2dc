"""Operator mode in a cluster other teams share: Shannon's alerts fire on Shannon's series only.

The scenario runs `promtool test rules` (3.5.3) on the rules the operator stack emits as PrometheusRules:
Shannon is healthy in its namespace while another team's Services named like Shannon's, a control-plane
target and the cluster's nodes are down or failing elsewhere. The same scenario on the unscoped rules of
own mode (one Prometheus per Shannon) fires Shannon's alerts: the test has teeth.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.builders import operator, promql
from components.builders.dashboards import dashboard_queries
from components.builders.rules import build_rule_files
from components.render import main as render_main
from components.stackfile import REPO, load_stack
from tests import amconvert, crd, crd_schema
from tests.conftest import StackRun, edited_stack_file, run_stack, tool
from tests.e2e.harness import Process, free_port, ready
from tests.test_operator import _custom, _extracted_rule_files

SHANNON = "shannon"
FOREIGN = "payments"  # another team, with Services named like Shannon's
SHANNON_JOBS = ("orchestrator", "gateway", "agent-core", "llm-service", "postgres", "redis", "tempo")


def _scenario() -> list[dict[str, str]]:
    """Input series: Shannon up and quiet; everything that fails belongs to someone else."""
    healthy = [{"series": f'up{{namespace="{SHANNON}", job="{job}", instance="{job}-0"}}', "values": "1x40"}
               for job in SHANNON_JOBS]
    foreign = [
        # Same-named Services in another team's namespace, down.
        *({"series": f'up{{namespace="{FOREIGN}", job="{job}", instance="{job}-9"}}', "values": "0x40"}
          for job in ("orchestrator", "gateway", "agent-core", "llm-service")),
        # A control-plane target a managed cluster does not expose.
        {"series": 'up{namespace="kube-system", job="kube-controller-manager", instance="10.0.0.1:10257"}',
         "values": "0x40"},
        # The cluster's nodes, full and out of memory (scraped by the platform's node-exporter).
        {"series": 'node_filesystem_avail_bytes{namespace="monitoring", job="node-exporter", instance="n1", '
                   'fstype="ext4", mountpoint="/"}', "values": "1000-10x40"},
        {"series": 'node_filesystem_size_bytes{namespace="monitoring", job="node-exporter", instance="n1", '
                   'fstype="ext4", mountpoint="/"}', "values": "100000x40"},
        {"series": 'node_filesystem_readonly{namespace="monitoring", job="node-exporter", instance="n1", '
                   'fstype="ext4", mountpoint="/"}', "values": "0x40"},
        {"series": 'node_memory_MemAvailable_bytes{namespace="monitoring", job="node-exporter", instance="n1"}',
         "values": "10x40"},
        {"series": 'node_memory_MemTotal_bytes{namespace="monitoring", job="node-exporter", instance="n1"}',
         "values": "1000x40"},
        # The foreign look-alikes write Shannon's families, badly.
        {"series": f'shannon_degradation_level{{namespace="{FOREIGN}", job="orchestrator", instance="o-9"}}',
         "values": "2x40"},
        {"series": f'shannon_dependency_health{{namespace="{FOREIGN}", job="orchestrator", instance="o-9", '
                   'dependency="redis", type="overall"}', "values": "0x40"},
        {"series": f'shannon_circuit_breaker_state{{namespace="{FOREIGN}", job="orchestrator", instance="o-9", '
                   'name="redis", exported_service="redis"}', "values": "2x40"},
        {"series": f'shannon_workflows_completed_total{{namespace="{FOREIGN}", job="orchestrator", instance="o-9", '
                   'status="FAILED", workflow_type="x", mode="standard"}', "values": "0+60x40"},
        {"series": f'llm_manager_requests_total{{namespace="{FOREIGN}", job="llm-service", instance="l-9", '
                   'provider="openai", model="m", tier="small", status="error"}', "values": "0+60x40"},
        {"series": f'llm_manager_tokens_total{{namespace="{FOREIGN}", job="llm-service", instance="l-9", '
                   'provider="openai", model="m", tier="small", direction="prompt"}', "values": "0+10000000x40"},
        {"series": f'openai_compat_requests_total{{namespace="{FOREIGN}", job="gateway", instance="g-9", '
                   'endpoint="/v1/chat/completions", model="m", status="error"}', "values": "0+60x40"},
        {"series": f'agent_core_enforcement_drops_total{{namespace="{FOREIGN}", job="agent-core", instance="a-9", '
                   'reason="circuit_open"}', "values": "0+60x40"},
        {"series": f'shannon_policy_canary_decisions_total{{namespace="{FOREIGN}", job="orchestrator", '
                   'instance="o-9", routing_reason="emergency_kill_switch", mode="x"}', "values": "0+60x40"},
    ]
    return healthy + foreign


def _alerts(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each alert of the groups with what it carries when it fires: its own and its group's labels, and its
    annotations (the Watchdog's hold no template)."""
    return {r["alert"]: {"exp_labels": {**g.get("labels", {}), **r.get("labels", {})},
                         "exp_annotations": r.get("annotations", {})}
            for g in groups for r in g["rules"] if "alert" in r}


def _promtool_test(directory: Path, groups_by_file: dict[str, list[dict[str, Any]]]) -> subprocess.CompletedProcess:
    """Expect exactly the Watchdog (always firing) and nothing else, 30 minutes into the scenario."""
    alerts = _alerts([g for gs in groups_by_file.values() for g in gs])
    assert "Watchdog" in alerts and len(alerts) > 20
    cases = [{"eval_time": "30m", "alertname": name,
              "exp_alerts": [expected] if name == "Watchdog" else []}
             for name, expected in sorted(alerts.items())]
    test = {"rule_files": sorted(groups_by_file), "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": _scenario(), "alert_rule_test": cases}]}
    (directory / "scenario.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run([tool("promtool"), "test", "rules", "scenario.test.yml"],
                          capture_output=True, text=True, cwd=directory)


@pytest.fixture(scope="module")
def operator_run() -> StackRun:
    return run_stack("operator")


def test_other_teams_failures_fire_no_shannon_alert(operator_run: StackRun, tmp_path: Path):
    """With Shannon healthy, other teams' down targets (same-named Services included), a down control-plane
    target and full nodes fire none of the alerts the operator stack emits: only the Watchdog fires."""
    groups = _extracted_rule_files(operator_run, tmp_path)
    result = _promtool_test(tmp_path, groups)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_same_scenario_pages_on_unscoped_rules(tmp_path: Path):
    """The scenario has teeth: on own mode's rules (which assume a Prometheus of Shannon's own) the same
    series fire the orchestrator's down alert for another team's Service, TargetDown for a foreign job, the
    node alerts and the look-alikes' degradation alert."""
    prod = load_stack("prod", REPO)[0]
    files = build_rule_files(prod)
    for name, data in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(data, sort_keys=False))
    result = _promtool_test(tmp_path, {name: data["groups"] for name, data in files.items()})
    assert result.returncode != 0
    for alert in ("OrchestratorDown", "TargetDown", "NodeMemoryPressure", "ShannonSeverelyDegraded",
                  "LLMServiceErrorRateHigh"):
        assert f"alertname: {alert}" in result.stdout + result.stderr, alert


# --- the newest CRDs ----------------------------------------------------------------------------

def _static_stack(directory: Path) -> StackRun:
    """The operator stack with a Shannon job on static addresses (a ScrapeConfig) besides the discovered ones."""
    def edit(config: dict[str, Any]) -> None:
        config["shannon-observability:shannon"]["targets"] = [
            {"job": "agent-core", "addresses": ["10.0.3.7:2113", "10.0.3.8:2113"]}]
    return run_stack("operator", stack_file=edited_stack_file(directory, "operator", edit))


def test_custom_resources_validate_against_the_newest_crds(operator_run: StackRun, tmp_path: Path):
    """Every custom resource the operator stack emits, a ScrapeConfig for static addresses included, is valid for
    the CRDs of the newest prometheus-operator release pinned in .ci/crds.lock (unknown fields rejected) and for
    the v0.80.1 models: the oldest and the newest operator the README supports."""
    objects = [*_custom(operator_run), *_custom(_static_stack(tmp_path))]
    kinds = {o["kind"] for o in objects}
    assert {"PrometheusRule", "ServiceMonitor", "AlertmanagerConfig", "ScrapeConfig"} <= kinds, kinds
    failures = [f"{o['kind']}/{o['metadata']['name']} ({crd_schema.VERSION}): {p}"
                for o in objects for p in crd_schema.problems(o)]
    failures += [f"{o['kind']}/{o['metadata']['name']} ({crd.OPERATOR_VERSION}): {p}"
                 for o in objects for p in crd.problems(o)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind,path,typo", [
    ("ServiceMonitor", ("spec", "endpoints", 0), ("relabelings", "relabellings")),
    ("AlertmanagerConfig", ("spec", "route", "routes", 1), ("matchers", "matcher")),
    ("PrometheusRule", ("spec", "groups", 0), ("rules", "rule")),
])
def test_newest_crd_check_rejects_a_misspelled_field(operator_run: StackRun, kind: str, path: tuple[Any, ...],
                                                     typo: tuple[str, str]):
    """The check against the newest CRDs is live: a misspelled field, nested too, is an error."""
    obj = copy.deepcopy(_custom(operator_run, kind)[0])
    node = obj
    for key in path:
        node = node[key]
    node[typo[1]] = node.pop(typo[0])
    assert any(typo[1] in p for p in crd_schema.problems(obj)), crd_schema.problems(obj)


def test_static_addresses_keep_shannons_namespace_and_job(tmp_path: Path):
    """A job on static addresses is scraped through a ScrapeConfig, not a discovery ServiceMonitor: its targets
    carry the job name and Shannon's namespace, which every scoped rule and dashboard selects."""
    run = _static_stack(tmp_path)
    (scrape,) = _custom(run, "ScrapeConfig")
    monitors = {o["metadata"]["name"] for o in _custom(run, "ServiceMonitor")}
    assert not any("agent-core" in name for name in monitors), monitors
    assert scrape["metadata"]["namespace"] == SHANNON
    (static,) = scrape["spec"]["staticConfigs"]
    assert static["targets"] == ["10.0.3.7:2113", "10.0.3.8:2113"]
    assert static["labels"]["namespace"] == SHANNON
    assert scrape["spec"].get("jobName") == "agent-core" or static["labels"].get("job") == "agent-core", scrape


# --- Alertmanager: the route tree and inhibitions the operator generates -------------------------

SECRET_KEYS = ["pagerdutyRoutingKey", "slackApiUrl", "deadmanUrl"]


def _merged(tmp_path: Path, strategy: str) -> tuple[Path, dict[str, Any]]:
    """The operator's configuration for kube-prometheus-stack's default base and our AlertmanagerConfig under
    `strategy`, written where amtool and Alertmanager read it."""
    path = edited_stack_file(tmp_path / strategy, "operator", lambda c: c["shannon-observability:operator"].update(
        matcherStrategy=strategy))
    settings, _ = load_stack("operator", REPO, path)
    config = operator.alertmanager_config(settings, SECRET_KEYS)
    merged = amconvert.merge(amconvert.KUBE_PROMETHEUS_STACK_BASE, config, strategy, settings.operator.namespace)
    out = tmp_path / strategy / "alertmanager.yaml"
    out.write_text(yaml.safe_dump(merged, sort_keys=False))
    return out, merged


def _routes_to(config: Path, labels: dict[str, str]) -> str:
    result = subprocess.run([tool("amtool"), "config", "routes", "test", f"--config.file={config}",
                             *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("strategy", amconvert.STRATEGIES)
def test_operator_route_tree_pages_shannon_for_shannon_only(tmp_path: Path, strategy: str):
    """Under every matcher strategy, the route tree the operator builds from our AlertmanagerConfig (amtool
    0.33.1 on it): Shannon's critical alerts page Shannon's pager, its warnings reach its chat, its Watchdog
    its dead-man's switch (and still the chart's); the same alerts from another namespace reach none of
    Shannon's receivers."""
    config, _ = _merged(tmp_path, strategy)
    check = subprocess.run([tool("amtool"), "check-config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    ours = f"{SHANNON}/shannon/"
    assert _routes_to(config, {"alertname": "OrchestratorDown", "severity": "critical",
                               "namespace": SHANNON}) == f"{ours}pager"
    assert _routes_to(config, {"alertname": "GatewayLatencyHigh", "severity": "warning",
                               "namespace": SHANNON}) == f"{ours}chat"
    assert _routes_to(config, {"alertname": "Watchdog", "severity": "none",
                               "namespace": SHANNON}).split(",") == [f"{ours}deadman", "null"]
    for labels in ({"alertname": "OrchestratorDown", "severity": "critical", "namespace": FOREIGN},
                   {"alertname": "KubeControllerManagerDown", "severity": "critical", "namespace": "kube-system"},
                   {"alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning"},
                   {"alertname": "Watchdog", "severity": "none", "namespace": "monitoring"}):
        assert ours not in _routes_to(config, labels), labels


@pytest.mark.parametrize("strategy", amconvert.STRATEGIES)
def test_operator_inhibit_rules_stay_in_shannons_namespace(tmp_path: Path, strategy: str):
    """Every inhibit rule our AlertmanagerConfig adds matches Shannon's namespace on both sides in the
    configuration the operator generates, under None (which adds nothing) too."""
    _, merged = _merged(tmp_path, strategy)
    ours = merged["inhibit_rules"][len(amconvert.KUBE_PROMETHEUS_STACK_BASE["inhibit_rules"]):]
    assert ours
    for rule in ours:
        assert f'namespace="{SHANNON}"' in rule["source_matchers"], rule
        assert f'namespace="{SHANNON}"' in rule["target_matchers"], rule


def _inhibited(config: Path, tmp_path: Path, alerts: list[dict[str, str]]) -> dict[str, bool]:
    """Post `alerts` to a live Alertmanager (0.33.1) running `config`; whether each is inhibited, by namespace."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = tmp_path / "alertmanager.log"
    process = Process("alertmanager", [tool("prometheus-alertmanager"), f"--config.file={config}",
                                       f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                       "--cluster.listen-address="], log)
    process.start()
    url = f"http://127.0.0.1:{port}/api/v2/alerts"
    try:
        deadline = time.monotonic() + 30
        while not ready(f"http://127.0.0.1:{port}/-/ready"):
            assert process.alive and time.monotonic() < deadline, process.tail()
            time.sleep(0.2)
        body = json.dumps([{"labels": a} for a in alerts]).encode()
        urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"}), timeout=10)
        seen: dict[str, bool] = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=10) as response:
                got = json.load(response)
            seen = {f'{a["labels"]["namespace"]}/{a["labels"]["severity"]}': bool(a["status"]["inhibitedBy"])
                    for a in got}
            if len(seen) == len(alerts) and seen[f"{SHANNON}/warning"]:
                break  # the inhibitor has seen the critical alert
            time.sleep(0.3)
        return seen
    finally:
        process.stop()


def test_a_shannon_critical_does_not_inhibit_another_teams_warning(tmp_path: Path):
    """Live, under the None strategy (the operator adds no namespace matcher): a critical Shannon alert inhibits
    Shannon's warning of the same name and component, not another team's; with the namespace matchers taken out
    of our inhibit rules, the other team's warning is inhibited too (the check has teeth)."""
    config, merged = _merged(tmp_path, "None")
    alert = {"alertname": "LLMServiceErrorRateHigh", "component": "llm-service"}
    alerts = [{**alert, "severity": "critical", "namespace": SHANNON},
              {**alert, "severity": "warning", "namespace": SHANNON},
              {**alert, "severity": "warning", "namespace": FOREIGN}]
    scoped = _inhibited(config, tmp_path / "scoped", alerts)
    assert scoped == {f"{SHANNON}/critical": False, f"{SHANNON}/warning": True, f"{FOREIGN}/warning": False}
    for rule in merged["inhibit_rules"]:
        for side in ("source_matchers", "target_matchers"):
            rule[side] = [m for m in rule.get(side, []) if m != f'namespace="{SHANNON}"']
    unscoped = tmp_path / "unscoped.yaml"
    unscoped.write_text(yaml.safe_dump(merged, sort_keys=False))
    assert _inhibited(unscoped, tmp_path / "unscoped", alerts)[f"{FOREIGN}/warning"] is True


# --- Grafana sidecar: the datasource set Grafana provisions --------------------------------------

# What a shared Grafana provisions besides us: kube-prometheus-stack's sidecar defaults (with
# releaseDatasources: true) or another team's own set, with its default and a `Tempo` of its own.
RELEASE_SET = [{"name": "Prometheus", "uid": "prometheus", "type": "prometheus", "isDefault": True},
               {"name": "Alertmanager", "uid": "alertmanager", "type": "alertmanager"}]
OTHER_TEAMS_SET = [{"name": "Prometheus", "uid": "platform-prometheus", "type": "prometheus", "isDefault": True},
                   {"name": "Tempo", "uid": "tempo", "type": "tempo"}, {"name": "Loki", "uid": "loki", "type": "loki"}]


def _provisioning_problems(files: list[list[dict[str, Any]]]) -> list[str]:
    """Grafana's datasource provisioning over every file it reads (pkg/services/provisioning/datasources/
    config_reader.go): one default per organization ("Only one datasource per organization can be marked as
    default"), and a datasource whose name or uid another file provisions updates that one (a takeover)."""
    problems, defaults, names, uids = [], {}, {}, {}
    for index, datasources in enumerate(files):
        for ds in datasources:
            org = ds.get("orgId", 1)
            if ds.get("isDefault"):
                if org in defaults:
                    problems.append(f"second default in org {org}: {ds['name']}")
                defaults[org] = ds["name"]
            for key, seen in (("name", names), ("uid", uids)):
                owner = seen.setdefault((org, ds.get(key)), index)
                if ds.get(key) and owner != index:
                    problems.append(f"{key} {ds[key]!r} is provisioned by file {owner} too")
    return problems


@pytest.mark.parametrize("release_datasources,others", [(True, RELEASE_SET), (False, OTHER_TEAMS_SET)])
def test_sidecar_datasources_load_beside_a_shared_grafanas(operator_run: StackRun, tmp_path: Path,
                                                           release_datasources: bool, others: list[dict[str, Any]]):
    """Loaded as Grafana provisions them, our sidecar datasources beside the release's (or another team's, with
    releaseDatasources: false, where we provision Prometheus and Alertmanager ourselves) leave one default at
    most and take over no datasource by name or uid; the check itself refuses a second default."""
    run = operator_run if release_datasources else run_stack("operator", stack_file=edited_stack_file(
        tmp_path, "operator", lambda c: c["shannon-observability:operator"].update(releaseDatasources=False)))
    maps = [r.inputs for r in run.of_type("kubernetes:core/v1:ConfigMap")
            if r.inputs["metadata"].get("labels", {}).get("grafana_datasource") == "1"]
    ours = [ds for m in maps for text in m["data"].values() for ds in yaml.safe_load(text)["datasources"]]
    assert {ds["type"] for ds in ours} >= ({"tempo"} if release_datasources else {"tempo", "prometheus"})
    assert not _provisioning_problems([others, ours])
    assert _provisioning_problems([others, [{**ours[0], "isDefault": True}]])


# --- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("edit,key,fragment", [
    # Shannon's AlertmanagerConfig in the operator's namespace would receive the monitoring stack's own alerts.
    (lambda c: c["shannon-observability:kubernetes"].update(namespace="monitoring"), "kubernetes.namespace",
     "operator's namespace"),
    # 30-day SLO windows over the chart's default 10 days of data.
    (lambda c: c["shannon-observability:operator"].update(prometheusRetention="10d"), "operator.prometheusRetention",
     "30d"),
])
def test_operator_stacks_that_would_mislead_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        edit: Any, key: str, fragment: str):
    """The render (and the program, through the same builders) refuses a stack whose Shannon namespace is the
    operator's, or whose cluster Prometheus keeps less than the SLO windows read: one message naming the key,
    no traceback, nothing written."""
    path = edited_stack_file(tmp_path, "operator", edit)
    out = tmp_path / "out"
    assert render_main(["--stack", "operator", "--out", str(out), "--stack-file", str(path)]) != 0
    err = capsys.readouterr().err
    assert key in err and fragment in err and "Traceback" not in err, err
    assert not out.exists() or not any(out.rglob("*.yaml"))
    with pytest.raises(Exception) as error:
        run_stack("operator", stack_file=path)
    assert key in str(error.value)


def test_no_probe_panel_without_a_probe(operator_run: StackRun):
    """Operator mode emits no Probe (blackbox is refused there), so no dashboard it ships reads probe_* series,
    which would stay empty forever; every query it ships selects Shannon's namespaces."""
    maps = [r.inputs for r in operator_run.of_type("kubernetes:core/v1:ConfigMap")
            if r.inputs["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    models = {name: json.loads(text) for m in maps for name, text in m["data"].items()}
    exprs = [promql.substitute(q.expr) for q in dashboard_queries(models)]
    assert len(exprs) > 50
    assert not [e for e in exprs if any(n.startswith("probe_") for n in promql.metric_names(e))]
    for expr in exprs:
        for selector in promql.selectors(expr):
            if selector.metric and not selector.metric.startswith("traces_"):
                assert any(label == "namespace" for label, _, _ in selector.matchers), expr
