"""Prometheus Operator mode: the real Pulumi.operator.yaml under mocks, rendered, and checked by the real consumers.

The custom resources are validated strictly against prometheus-operator v0.80.1's CRD schemas
(tests/crd.py); the rules with promtool 3.5.3; the job labels by replaying the relabelings the
operator generates (tests/relabel.py, transcribed from its pkg/prometheus/promcfg.go).
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.builders import operator, promql
from components.builders.artifacts import build_artifacts
from components.builders.dashboards import collect_dashboards, dashboard_queries
from components.builders.prometheus import build_prometheus_config
from components.builders.rules import build_rule_files, iter_rules, load_rule_files
from components.render import main as render_main
from components.settings import SettingsError, load_settings
from components.stackfile import REPO, load_stack
from tests import crd
from tests.conftest import ROOT, StackRun, edited_stack_file, run_stack, tool
from tests.relabel import operator_relabelings, relabel
from tests.test_kubernetes_schema import _ints, strict_failures

OPERATOR_KINDS = ("PrometheusRule", "ServiceMonitor", "AlertmanagerConfig")


@pytest.fixture(scope="module")
def operator_run() -> StackRun:
    return run_stack("operator")


@pytest.fixture(scope="module")
def operator_settings() -> Any:
    return load_stack("operator", REPO)[0]


def _custom(run: StackRun, kind: str | None = None) -> list[dict[str, Any]]:
    return [_ints(r.inputs) for r in run.resources
            if r.type.startswith("kubernetes:monitoring.coreos.com/") and (kind is None or r.type.endswith(f":{kind}"))]


def test_creates_no_prometheus_alertmanager_or_grafana(operator_run: StackRun):
    """Operator mode deploys none of the three: no StatefulSet, Deployment or DaemonSet of them, no CRD."""
    workloads = [r for r in operator_run.resources
                 if r.type in ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment",
                               "kubernetes:apps/v1:DaemonSet")]
    names = {r.inputs["metadata"]["name"] for r in workloads}
    assert names and not names & {"prometheus", "alertmanager", "grafana"}, names
    assert not [r for r in operator_run.resources if "CustomResourceDefinition" in r.type]
    assert not operator_run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")  # Shannon's namespace is shared
    for kind in OPERATOR_KINDS:
        assert _custom(operator_run, kind), f"no {kind}"


def test_every_custom_resource_is_selected(operator_run: StackRun, operator_settings: Any):
    """Every custom resource carries the release label kube-prometheus-stack selects on, and the configured
    selectors select each one, in a namespace they select."""
    release = operator_settings.operator.release
    selector_of = {"PrometheusRule": ("rules", "ruleNamespaces"), "ServiceMonitor": ("serviceMonitors",
                   "serviceMonitorNamespaces"), "AlertmanagerConfig": ("alertmanagerConfigs", "alertmanagerConfigNamespaces")}
    for obj in _custom(operator_run):
        labels = obj["metadata"]["labels"]
        assert labels.get("release") == release, obj["metadata"]
        select, namespaces = selector_of[obj["kind"]]
        assert operator.selects(operator_settings.operator.selector(select), labels)
        assert operator.selects(operator_settings.operator.selector(namespaces),
                                {"kubernetes.io/metadata.name": obj["metadata"]["namespace"]})


def test_custom_resources_validate_strictly_against_the_crds(operator_run: StackRun):
    """Every emitted custom resource is valid for prometheus-operator 0.80.1's CRDs, unknown fields rejected."""
    objects = _custom(operator_run)
    assert len(objects) >= 10
    failures = [f"{o['kind']}/{o['metadata']['name']}: {p}" for o in objects for p in crd.problems(o)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind,path,typo", [
    ("ServiceMonitor", ("spec", "endpoints", 0), ("relabelings", "relabellings")),
    ("AlertmanagerConfig", ("spec", "route", "routes", 1), ("matchers", "matcher")),
    ("PrometheusRule", ("spec", "groups", 0), ("rules", "rule")),
])
def test_crd_check_rejects_a_misspelled_field(operator_run: StackRun, kind: str, path: tuple[Any, ...],
                                              typo: tuple[str, str]):
    """The strict check is live where the CRD schemas alone are not: a misspelled field, nested too, fails."""
    obj = copy.deepcopy(_custom(operator_run, kind)[0])
    node = obj
    for key in path:
        node = node[key]
    node[typo[1]] = node.pop(typo[0])
    assert any(typo[1] in p for p in crd.problems(obj)), crd.problems(obj)


def test_crd_check_rejects_a_bad_value(operator_run: StackRun):
    """Values are checked against the CRD's patterns and enums: a malformed duration fails."""
    obj = copy.deepcopy(_custom(operator_run, "ServiceMonitor")[0])
    obj["spec"]["endpoints"][0]["interval"] = "15 seconds"
    assert crd.problems(obj)


def test_config_maps_and_secrets_validate_strictly(operator_run: StackRun):
    """The non-custom Kubernetes objects of operator mode pass the strict Kubernetes schema."""
    failures = strict_failures(operator_run)
    assert not failures, "\n".join(failures)


# --- the same rules --------------------------------------------------------------------------


def test_prometheus_rules_hold_the_same_rules(operator_run: StackRun, operator_settings: Any):
    """Every rule of the PrometheusRules is a rule of the rendered prod rule files, in the group of the same name,
    byte for byte but for its selectors scoped to Shannon's namespaces; every group adds the namespace label and
    the evaluation interval; no prod rule is missing except those selecting the operator's own components (jobs
    prometheus, alertmanager, grafana), the node rules (the cluster's nodes) and those the chart ships (LEFT_OUT)."""
    prod = load_stack("prod", REPO)[0]
    prod_groups = {g["name"]: g for data in build_rule_files(prod).values() for g in data["groups"]}
    seen: set[tuple[str, str]] = set()
    for obj in _custom(operator_run, "PrometheusRule"):
        for group in obj["spec"]["groups"]:
            source = prod_groups[group["name"]]
            assert set(group) - set(source) <= {"labels", "interval"}
            assert group["interval"] == source.get("interval", operator_settings.prometheus.evaluation_interval)
            assert group["labels"] == {"namespace": operator_settings.kubernetes.namespace}
            scoped = {yaml.safe_dump({**r, "expr": operator.scope(operator_settings, r["expr"])}): r
                      for r in source["rules"]}
            for rule in group["rules"]:
                assert yaml.safe_dump(rule) in scoped, rule
                seen.add((group["name"], yaml.safe_dump(scoped[yaml.safe_dump(rule)])))
    missing = [(name, r) for name, g in prod_groups.items() for r in g["rules"] if (name, yaml.safe_dump(r)) not in seen]
    assert missing
    for _, rule in missing:
        assert rule.get("alert") in operator.LEFT_OUT or "node-exporter" in promql.job_matchers(rule["expr"]) or \
            promql.job_matchers(rule["expr"]) & operator.NOT_OURS or \
            promql.metric_names(rule["expr"]) & {"prometheus_config_last_reload_successful"} or \
            any(name.startswith(("prometheus_", "alertmanager_")) for name in promql.metric_names(rule["expr"])), rule


def _extracted_rule_files(run: StackRun, directory: Path) -> dict[str, list[dict[str, Any]]]:
    """The PrometheusRules' groups written back as rule files named like the repository's."""
    file_of = {operator.rule_resource_name(f): f for f in load_rule_files()}
    groups_by_file = {}
    for obj in _custom(run, "PrometheusRule"):
        file_name = file_of[obj["metadata"]["name"]]
        (directory / file_name).write_text(yaml.safe_dump({"groups": obj["spec"]["groups"]}, sort_keys=False))
        groups_by_file[file_name] = obj["spec"]["groups"]
    return groups_by_file


def _with_labels(series: str, extra: dict[str, str]) -> str:
    selector = next(iter(promql.selectors(series)))
    labels = {label: value for label, _, value in selector.matchers}
    labels.update(extra)
    body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{selector.metric or ''}{{{body}}}"


def test_promtool_checks_and_unit_tests_pass_on_the_custom_resources(operator_run: StackRun, tmp_path: Path):
    """`promtool check rules` accepts the groups taken out of the PrometheusRules, and every rules/tests case of
    the rules they hold passes against them, its input series in Shannon's namespace and its expected labels plus
    the namespace label the group adds."""
    rules_dir = tmp_path / "rules"
    (rules_dir / "tests").mkdir(parents=True)
    groups = _extracted_rule_files(operator_run, rules_dir)
    check = subprocess.run([tool("promtool"), "check", "rules", *sorted(str(rules_dir / f) for f in groups)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    alerts = {r["alert"]: g.get("labels", {}) for gs in groups.values() for g in gs for r in g["rules"] if "alert" in r}
    records = {r["record"]: g.get("labels", {}) for gs in groups.values() for g in gs for r in g["rules"] if "record" in r}
    cases = 0
    for test_file in sorted((ROOT / "rules" / "tests").glob("*.test.yml")):
        data = yaml.safe_load(test_file.read_text())
        data["rule_files"] = [f"../{Path(f).name}" for f in data["rule_files"] if Path(f).name in groups]
        if not data["rule_files"]:
            continue
        kept_tests = []
        ns = {"namespace": operator_settings_of(operator_run).kubernetes.namespace}
        for test in data["tests"]:
            # Shannon's series, as the scoped rules select them, come from Shannon's namespace.
            for item in test.get("input_series", []):
                item["series"] = _with_labels(item["series"], ns)
            test["alert_rule_test"] = [c for c in test.get("alert_rule_test", []) if c["alertname"] in alerts]
            for case in test["alert_rule_test"]:
                for alert in case["exp_alerts"]:
                    alert["exp_labels"] = {**alert.get("exp_labels", {}), **alerts[case["alertname"]]}
            exprs = []
            for case in test.get("promql_expr_test", []):
                names = promql.metric_names(case["expr"])
                if not names <= set(records) | _input_names(test):
                    continue  # reads a record the operator stack leaves out
                for sample in case.get("exp_samples", []):
                    extra = {k: v for name in names if name in records for k, v in records[name].items()}
                    if extra and sample.get("labels") and operator.keeps_label(case["expr"], "namespace"):
                        sample["labels"] = _with_labels(sample["labels"], extra)
                exprs.append(case)
            test["promql_expr_test"] = exprs
            if test["alert_rule_test"] or test["promql_expr_test"]:
                kept_tests.append(test)
                cases += len(test["alert_rule_test"]) + len(test["promql_expr_test"])
        data["tests"] = kept_tests
        (rules_dir / "tests" / test_file.name).write_text(yaml.safe_dump(data, sort_keys=False))
    assert cases > 50
    result = subprocess.run([tool("promtool"), "test", "rules", *sorted(str(p) for p in (rules_dir / "tests").iterdir())],
                            capture_output=True, text=True, cwd=rules_dir / "tests")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def operator_settings_of(run: StackRun) -> Any:
    return load_stack("operator", REPO)[0]


def _input_names(test: dict[str, Any]) -> set[str]:
    return {next(iter(promql.selectors(s["series"]))).metric or "" for s in test.get("input_series", [])}


# --- routing: the namespace matcher ----------------------------------------------------------


def test_every_routed_alert_carries_the_config_namespace(operator_run: StackRun, operator_settings: Any):
    """Under OnNamespace only alerts labelled namespace=<the AlertmanagerConfig's namespace> reach it: every alert
    of the PrometheusRules carries it (group label), and the config lives in that namespace."""
    ns = operator_settings.kubernetes.namespace
    groups = [g for obj in _custom(operator_run, "PrometheusRule") for g in obj["spec"]["groups"]]
    assert sum(1 for g in groups for r in g["rules"] if "alert" in r) > 20
    assert operator.unrouted_alerts(groups, "namespace", ns) == []
    (config,) = _custom(operator_run, "AlertmanagerConfig")
    assert config["metadata"]["namespace"] == ns


def test_a_rule_aggregating_namespace_away_is_caught():
    """Without the group label, an alert whose aggregation drops `namespace` is reported; one keeping it is not."""
    groups = [{"name": "g", "rules": [
        {"alert": "Lost", "expr": "sum by (job) (rate(x_total[5m])) > 0"},
        {"alert": "Kept", "expr": "sum by (namespace, job) (rate(x_total[5m])) > 0"},
        {"alert": "Heartbeat", "expr": "vector(1)"},
        {"alert": "Gone", "expr": 'absent(up{job="a"})'},
        {"alert": "Ratio", "expr": "sum by (job) (a) / on (job) sum by (job) (b) > 1"},
        {"alert": "Direct", "expr": "rate(x_total[5m]) > 0"}]}]
    assert operator.unrouted_alerts(groups, "namespace", "shannon") == ["g/Lost", "g/Heartbeat", "g/Gone", "g/Ratio"]
    groups[0]["labels"] = {"namespace": "shannon"}
    assert operator.unrouted_alerts(groups, "namespace", "shannon") == []


def test_the_program_refuses_rules_that_would_not_route(monkeypatch: pytest.MonkeyPatch, operator_settings: Any):
    """If the groups lost their namespace label, the program refuses before creating anything, naming the alerts."""
    monkeypatch.setattr(operator, "group_labels", lambda settings: {})
    with pytest.raises(SettingsError) as error:
        build_artifacts(operator_settings)
    assert "Watchdog" in str(error.value) and "rules:" in str(error.value)


def test_matcher_strategy_none_matches_the_namespace_itself(tmp_path: Path):
    """With the operator's None strategy the config adds namespace=<ns> itself: otherwise every alert of the
    cluster would page Shannon's on-call."""
    path = edited_stack_file(tmp_path, "operator", lambda c: c["shannon-observability:operator"].update(
        matcherStrategy="None"))
    settings, _ = load_stack("operator", REPO, path)
    config = operator.alertmanager_config(settings, ["pagerdutyRoutingKey", "slackApiUrl", "deadmanUrl"])
    assert config["spec"]["route"]["matchers"] == [{"name": "namespace", "value": "shannon", "matchType": "="}]


# --- selectors -------------------------------------------------------------------------------


def _operator_settings(tmp_path: Path, **changes: Any) -> Any:
    path = edited_stack_file(tmp_path, "operator", lambda c: c["shannon-observability:operator"].update(changes))
    return load_stack("operator", REPO, path)[0]


def test_a_selector_that_would_ignore_the_resources_is_refused(tmp_path: Path):
    """A ruleSelector our labels do not match is refused before anything exists, naming the selector and the fix;
    adding the label through operator.labels makes it pass."""
    settings = _operator_settings(tmp_path, selectors={"rules": {"matchLabels": {"team": "shannon"}}})
    with pytest.raises(SettingsError) as error:
        build_artifacts(settings)
    message = str(error.value)
    assert "operator.selectors.rules" in message and "operator.labels" in message
    assert message.count("  - ") == 1
    settings = _operator_settings(tmp_path, selectors={"rules": {"matchLabels": {"team": "shannon"}}},
                                  labels={"team": "shannon"})
    assert build_artifacts(settings).operator["PrometheusRule"]


def test_a_null_namespace_selector_needs_the_operators_namespace(tmp_path: Path):
    """A null namespace selector means the Prometheus's own namespace: Shannon's resources elsewhere are refused."""
    settings = _operator_settings(tmp_path, selectors={"serviceMonitorNamespaces": None})
    with pytest.raises(SettingsError, match=r"operator\.selectors\.serviceMonitorNamespaces"):
        build_artifacts(settings)


def test_namespace_label_selectors_check_the_declared_labels(tmp_path: Path):
    """A namespace selector on a label is met by the labels operator.namespaceLabels declares, not otherwise."""
    selector = {"alertmanagerConfigNamespaces": {"matchLabels": {"monitoring": "enabled"}}}
    with pytest.raises(SettingsError, match="alertmanagerConfigNamespaces"):
        build_artifacts(_operator_settings(tmp_path, selectors=selector))
    assert build_artifacts(_operator_settings(tmp_path, selectors=selector, namespaceLabels={"monitoring": "enabled"}))


def test_selector_semantics():
    """matchLabels and every matchExpressions operator behave as Kubernetes's; null selects nothing, {} all."""
    labels = {"a": "1", "b": "2"}
    assert operator.selects({}, labels) and not operator.selects(None, labels)
    assert operator.selects({"matchLabels": {"a": "1"}}, labels)
    assert not operator.selects({"matchLabels": {"a": "2"}}, labels)
    assert operator.selects({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, labels)
    assert not operator.selects({"matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["2"]}]}, labels)
    assert operator.selects({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)
    assert not operator.selects({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)


@pytest.mark.parametrize("change,key", [
    ({"shannon-observability:platform": "docker"}, "operator.enabled"),
    ({"shannon-observability:operator": {"enabled": True, "prometheusVersion": "2.55.1"}}, "operator.prometheusVersion"),
    ({"shannon-observability:operator": {"enabled": True}}, "operator.release"),
    ({"shannon-observability:exporters": {"node": {"enabled": True}}}, "exporters.node.enabled"),
    ({"shannon-observability:operator": {"enabled": True, "release": "kps", "grafana": "api"}}, "grafana.url"),
])
def test_operator_settings_mistakes_are_refused(tmp_path: Path, change: dict[str, Any], key: str):
    """Operator-mode settings that cannot work are refused with one message naming the key."""
    path = edited_stack_file(tmp_path, "operator", lambda c: c.update(change))
    with pytest.raises(SettingsError) as error:
        load_stack("operator", REPO, path)
    assert key in str(error.value), str(error.value)


def test_release_names_give_kube_prometheus_stack_service_urls(tmp_path: Path):
    """Datasource and remote-write URLs follow kube-prometheus-stack's fullname (release, with the chart name
    unless contained, cut to 26 characters)."""
    from components.topology import Topology

    assert Topology(_operator_settings(tmp_path)).prometheus_url() == \
        "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    assert Topology(_operator_settings(tmp_path, release="monitoring")).alertmanager_url() == \
        "http://monitoring-kube-prometheus-alertmanager.monitoring.svc.cluster.local:9093"


# --- the job contract ------------------------------------------------------------------------


def _meta_labels(service: str, namespace: str, port: int) -> dict[str, str]:
    """The discovery labels of one pod endpoint of Service `service` (endpoints and endpointslice roles)."""
    return {
        "__address__": f"10.0.0.7:{port}", "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_service_name": service, "__meta_kubernetes_pod_name": f"{service}-7d9f-abcde",
        "__meta_kubernetes_pod_container_name": service, "__meta_kubernetes_pod_container_port_number": str(port),
        "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_endpoint_address_target_kind": "Pod",
        "__meta_kubernetes_endpoint_address_target_name": f"{service}-7d9f-abcde",
        "__meta_kubernetes_endpointslice_port": str(port), "job": "serviceMonitor/x/y/0",
    }


def _operator_targets(run: StackRun) -> dict[str, dict[str, str]]:
    """job -> labels of a target, derived from each ServiceMonitor's relabelings (replayed as the operator
    generates them), for a pod of the Service that monitor's keep relabeling names."""
    out = {}
    for monitor in _custom(run, "ServiceMonitor"):
        endpoint = monitor["spec"]["endpoints"][0]
        service = endpoint["relabelings"][0]["regex"]
        port = int(endpoint["relabelings"][1]["regex"].rsplit(":", 1)[1])
        namespace = monitor["spec"]["namespaceSelector"]["matchNames"][0]
        # The pod declares no container port: the monitor still keeps it, by the endpoint's address.
        undeclared = {k: v for k, v in _meta_labels(service, namespace, port).items()
                      if k != "__meta_kubernetes_pod_container_port_number"}
        labels = relabel(undeclared, operator_relabelings(monitor, endpoint))
        assert labels is not None, monitor["metadata"]["name"]
        # A pod of another Service in the namespace, or another port of this one, is not this job's.
        assert relabel(_meta_labels("something-else", namespace, port), operator_relabelings(monitor, endpoint)) is None
        assert relabel(_meta_labels(service, namespace, port + 1), operator_relabelings(monitor, endpoint)) is None
        out[labels["job"]] = labels
    return out


def _prod_targets(settings: Any) -> dict[str, dict[str, str]]:
    out = {}
    for config in build_prometheus_config(settings)["scrape_configs"]:
        if "kubernetes_sd_configs" not in config:
            continue
        service, port = config["relabel_configs"][0]["regex"].split(";")
        namespace = config["kubernetes_sd_configs"][0]["namespaces"]["names"][0]
        labels = relabel({**_meta_labels(service, namespace, int(port)), "job": config["job_name"]},
                         config["relabel_configs"])
        assert labels is not None
        out[labels["job"]] = labels
    return out


def _dev_targets(settings: Any) -> dict[str, dict[str, str]]:
    return {c["job_name"]: {**c["static_configs"][0]["labels"], "job": c["job_name"]}
            for c in build_prometheus_config(settings)["scrape_configs"] if "static_configs" in c}


def _selected_labels() -> tuple[set[str], set[str]]:
    """Label names and job values that the repository's rules and dashboards select on."""
    exprs = [rule["expr"] for _, _, rule in iter_rules(build_rule_files(load_stack("prod", REPO)[0]))]
    exprs += [promql.substitute(q.expr) for q in dashboard_queries(collect_dashboards())]
    names, jobs = set(), set()
    for expr in exprs:
        for selector in promql.selectors(expr):
            names |= {label for label, _, _ in selector.matchers if label != "__name__"}
        jobs |= promql.job_matchers(expr)
    return names, jobs


def test_service_monitors_give_the_job_names_rules_and_dashboards_select(operator_run: StackRun,
                                                                          operator_settings: Any):
    """Replaying the operator's relabelings on each ServiceMonitor gives the job label our rules and dashboards
    select, not the Service name: every Shannon job they select is produced, by the monitor of that job."""
    targets = _operator_targets(operator_run)
    _, selected_jobs = _selected_labels()
    shannon_jobs = {t.job for t in operator_settings.shannon.scrape_targets}
    assert shannon_jobs <= set(targets)
    for job in selected_jobs - operator.NOT_OURS - {"node-exporter", "blackbox"}:
        assert job in targets, f"rules/dashboards select job={job!r}; no ServiceMonitor yields it"
    for monitor in _custom(operator_run, "ServiceMonitor"):
        assert monitor["metadata"]["name"] == f"shannon-{monitor['spec']['endpoints'][0]['relabelings'][2]['replacement']}"
        assert "targetPort" not in monitor["spec"]["endpoints"][0]


def test_dev_prod_and_operator_agree_on_every_label_rules_select(operator_run: StackRun):
    """For every Shannon job, Docker static configs (dev), kubernetes_sd (prod) and the ServiceMonitors (operator)
    give the same value to every label a rule or dashboard selects (instance and pod identify one target and
    differ by nature; namespace does not exist on Docker)."""
    names, _ = _selected_labels()
    dev = _dev_targets(load_stack("dev", REPO)[0])
    prod = _prod_targets(load_stack("prod", REPO)[0])
    oper = _operator_targets(operator_run)
    compared = 0
    jobs = [t.job for t in load_stack("prod", REPO)[0].shannon.scrape_targets]
    assert len(jobs) >= 4
    for job in jobs:
        for label in sorted(names - {"instance", "pod"}):
            values = {"dev": dev[job].get(label), "prod": prod[job].get(label), "operator": oper[job].get(label)}
            if label == "namespace":
                values.pop("dev")
            assert len(set(values.values())) == 1, f"{job}: label {label} differs: {values}"
            compared += 1
    assert "job" in names and compared >= len(jobs) * len(names - {"instance", "pod"})


# --- render and diff -------------------------------------------------------------------------


def test_render_writes_the_custom_resources_the_program_creates(operator_run: StackRun, tmp_path: Path):
    """The render's operator/ files are the objects the program creates (AlertmanagerConfig and all), and the
    render holds no secret value."""
    assert render_main(["--stack", "operator", "--out", str(tmp_path / "out")]) == 0
    files = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "out" / "operator").iterdir()}
    assert not (tmp_path / "out" / "prometheus").exists() and not (tmp_path / "out" / "grafana").exists()
    created = {f"{o['kind'].lower()}-{o['metadata']['name']}.yaml": o for o in _custom(operator_run)}
    created.update({f"configmap-{r.inputs['metadata']['name']}.yaml": _ints(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": r.inputs["metadata"], "data": r.inputs["data"]})
        for r in operator_run.of_type("kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"].startswith("shannon-")})
    for name, obj in created.items():
        assert files.get(name) == {k: v for k, v in obj.items() if k in files.get(name, {})}, name
    text = "\n".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert not [v for v in operator_run.secrets.values() if v in text]


def test_diff_reports_a_changed_custom_resource(tmp_path: Path):
    """`python -m components.diff` shows a change to an operator-mode resource (a new scrape target)."""
    from components.diff import summarize

    base, head = tmp_path / "base", tmp_path / "head"
    assert render_main(["--stack", "operator", "--out", str(base)]) == 0
    path = edited_stack_file(tmp_path / "edit", "operator", lambda c: c["shannon-observability:shannon"].update(
        targets=[{"job": "mcp-tools", "port": 9464}]))
    assert render_main(["--stack", "operator", "--out", str(head), "--stack-file", str(path)]) == 0
    summary = summarize(base, head)
    assert "**added** resource `ServiceMonitor/shannon-mcp-tools`" in summary, summary


def test_sidecar_configmaps(operator_run: StackRun, operator_settings: Any):
    """Dashboards: one ConfigMap each, labelled grafana_dashboard=1 with the folder annotation (its key a setting),
    files named shannon-*, under the 1 MiB object limit. Datasources: in Grafana's namespace, labelled
    grafana_datasource=1, none of them default, with uids and names of Shannon's own (none a shared Grafana's
    `tempo` or `Tempo`), and every datasource uid a dashboard names exists there or in the release."""
    maps = [r.inputs for r in operator_run.of_type("kubernetes:core/v1:ConfigMap")]
    dashboards = [m for m in maps if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert dashboards and len(dashboards) <= len(collect_dashboards())
    for m in dashboards:
        assert m["metadata"]["annotations"][operator_settings.operator.dashboard_folder_annotation] == "Shannon"
        assert all(name.startswith("shannon-") for name in m["data"])
        assert len(yaml.safe_dump(m["data"]).encode()) < 1024 * 1024
    (sources,) = [m for m in maps if m["metadata"].get("labels", {}).get("grafana_datasource") == "1"]
    assert sources["metadata"]["namespace"] == operator_settings.operator.namespace
    provisioned = yaml.safe_load(next(iter(sources["data"].values())))["datasources"]
    uids = {d["uid"] for d in provisioned} | {"prometheus", "alertmanager"}  # the release's own
    assert not [d for d in provisioned if d.get("isDefault")] and not {"prometheus", "alertmanager", "tempo"} & {
        d["uid"] for d in provisioned}
    assert {d["name"] for d in provisioned} == {"Shannon Tempo"}
    import json

    for m in dashboards:
        for text in m["data"].values():
            for ref in _datasource_refs(json.loads(text)):
                assert ref in uids or ref.startswith("$") or ref in {"-- Grafana --", "grafana"}, ref


def _datasource_refs(value: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        ds = value.get("datasource")
        if isinstance(ds, dict) and isinstance(ds.get("uid"), str):
            out.add(ds["uid"])
        for v in value.values():
            out |= _datasource_refs(v)
    elif isinstance(value, list):
        for v in value:
            out |= _datasource_refs(v)
    return out


def test_operator_settings_parse_from_the_stack_file():
    """Pulumi.operator.yaml is the example README describes: kube-prometheus-stack release in monitoring,
    Shannon in shannon, the namespace not owned by the program."""
    config = yaml.safe_load((ROOT / "Pulumi.operator.yaml").read_text())["config"]
    settings = load_settings("operator", {k.partition(":")[2]: v for k, v in config.items()}, require_secrets=False)
    assert settings.operator.enabled and settings.operator.release == "kube-prometheus-stack"
    assert settings.operator.namespace == "monitoring" and settings.kubernetes.namespace == "shannon"
    assert not settings.kubernetes.create_namespace


def test_nothing_points_at_a_prometheus_alertmanager_or_grafana_of_our_own(tmp_path: Path, operator_settings: Any):
    """In operator mode every address of Prometheus or Alertmanager in the rendered files (Tempo's remote write,
    the datasources) is the operator's Service; none names the stack's own, which does not exist."""
    import re

    assert render_main(["--stack", "operator", "--out", str(tmp_path / "out")]) == 0
    ns = operator_settings.kubernetes.namespace
    own = re.compile(rf"(prometheus|alertmanager|grafana)(-\d+\.[a-z-]+-headless)?\.{ns}\.svc")
    text = "\n".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert not own.findall(text)
    tempo = yaml.safe_load((tmp_path / "out" / "tempo" / "tempo.yaml").read_text())
    assert tempo["metrics_generator"]["storage"]["remote_write"][0]["url"] == \
        "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090/api/v1/write"


def test_grafana_api_instead_of_the_sidecar(tmp_path: Path):
    """operator.grafana=api puts the folder, Tempo's datasource and the dashboards through the Grafana API of
    the cluster's Grafana (grafana.url, admin password from the secret) instead of sidecar ConfigMaps."""
    from tests.conftest import TEST_SECRETS

    def edit(config: dict[str, Any]) -> None:
        config["shannon-observability:operator"]["grafana"] = "api"
        config["shannon-observability:grafana"] = {"url": "https://grafana.example.com"}

    path = edited_stack_file(tmp_path, "operator", edit)
    run = run_stack("operator", {**TEST_SECRETS, "grafanaAdminPassword": "test-secret-grafana-admin-77c1"},
                    stack_file=path)
    assert not [r for r in run.of_type("kubernetes:core/v1:ConfigMap")
                if {"grafana_dashboard", "grafana_datasource"} & set(r.inputs["metadata"].get("labels", {}))]
    (provider,) = [r for r in run.resources if r.type == "pulumi:providers:grafana"]
    assert provider.inputs["url"] == "https://grafana.example.com" and "auth" in provider.secret_paths
    assert {r.inputs["uid"] for r in run.resources if r.type.endswith("DataSource")} == {"shannon-tempo"}
    assert len([r for r in run.resources if r.type.endswith(":Dashboard")]) >= 5
