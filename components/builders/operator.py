"""Prometheus Operator mode: Shannon's part as the operator's custom resources.

Pure: no `pulumi` import. From the same rule files, scrape jobs, routes, datasources
and dashboards as the stack's own deployment, this builds:

* PrometheusRule per rule file: the same rules, each selector scoped to Shannon's namespaces
  (the cluster's Prometheus holds every team's series, and another team's Service named
  `orchestrator` would otherwise feed Shannon's rules); each group adds `namespace: <ns>` (group
  labels, Prometheus >= 3.0) so every alert and recorded series carries it (the alerts reach the
  AlertmanagerConfig under the operator's default `OnNamespace` matcher strategy, the dashboards
  select the recorded series by it), and `interval` (the stack's evaluation interval, which the
  rules' `for:` and windows are written for). Rules the platform's chart ships for the whole
  cluster are left out (LEFT_OUT);
* ServiceMonitor per scrape job, whose relabelings keep our job names (the operator's default
  job label is the Service name) and our `service`/`component` labels, and which select the
  port by the endpoint's address (a `targetPort` would need the pod to declare it); a
  ScrapeConfig for jobs with static addresses;
* AlertmanagerConfig (v1alpha1) with our route tree and receivers, credentials as
  SecretKeySelectors on a Secret in the same namespace;
* ConfigMaps for kube-prometheus-stack's Grafana sidecar: dashboards (label
  grafana_dashboard=1, folder annotation, files named shannon-*) and datasources (label
  grafana_datasource=1), with names and uids of Shannon's own (never a second default), and
  dashboards whose queries select Shannon's series only.

The selector checks run before anything is created: a resource the target Prometheus or
Alertmanager would not select is refused, naming the selector.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from components import defaults
from components.builders import alertmanager as am_builder
from components.builders import promql
from components.builders.grafana import ALERTMANAGER_UID, PROMETHEUS_UID, TEMPO_UID
from components.builders.prometheus import ScrapeJob, scrape_jobs
from components.settings import OPERATOR_SELECTORS, Problem, StackSettings
from components.settings.types import MATCHER

API_V1 = "monitoring.coreos.com/v1"
API_V1ALPHA1 = "monitoring.coreos.com/v1alpha1"
PART_OF = {"app.kubernetes.io/part-of": "shannon-observability"}
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DATASOURCE_LABEL = {"grafana_datasource": "1"}
RECEIVERS_SECRET = "shannon-alertmanager-receivers"
API_SCRAPE_CONFIG = "monitoring.coreos.com/v1alpha1"
# Jobs of components the operator's stack runs instead of ours.
NOT_OURS = frozenset({"prometheus", "alertmanager", "grafana"})
# Rules kube-prometheus-stack already ships for the whole cluster, left out here with the reason.
LEFT_OUT = {
    "TargetDown": "kube-prometheus-stack's general.rules TargetDown covers every target of the cluster, Shannon's "
                  "included (its alerts carry namespace=<Shannon's namespace> and so reach Shannon's route); ours would "
                  "alert twice for Shannon's targets, or, unscoped, for every team's",
}
# Datasource uids and names in a Grafana other teams share: Shannon's own, so none takes over theirs.
SHARED_UIDS = {TEMPO_UID: "shannon-tempo", PROMETHEUS_UID: "shannon-prometheus", ALERTMANAGER_UID: "shannon-alertmanager"}
SHARED_NAMES = {"Tempo": "Shannon Tempo", "Prometheus": "Shannon Prometheus", "Alertmanager": "Shannon Alertmanager"}


class OperatorError(ValueError):
    """Operator-mode output that the target operator would ignore or misroute."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.key}: {p.message}" for p in problems))


# --- selectors --------------------------------------------------------------------------------


def resource_labels(settings: StackSettings) -> dict[str, str]:
    """Labels on every custom resource: ours, the release's selector label, the user's."""
    op = settings.operator
    labels = dict(PART_OF)
    if op.release is not None:
        labels["release"] = op.release
    return {**labels, **op.labels}


def namespace_labels(settings: StackSettings) -> dict[str, str]:
    """Labels of the stack's namespace: Kubernetes' own name label plus those the settings declare."""
    return {"kubernetes.io/metadata.name": settings.kubernetes.namespace, **settings.operator.namespace_labels}


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics; None (the operator's null) selects nothing."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for req in selector.get("matchExpressions") or []:
        key, op, values = req["key"], req["operator"], req.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def selection_problems(settings: StackSettings) -> list[Problem]:
    """Every selector of the operator's Prometheus or Alertmanager that would skip our resources."""
    op = settings.operator
    ours, ns_labels, ns = resource_labels(settings), namespace_labels(settings), settings.kubernetes.namespace
    problems = []
    for key in OPERATOR_SELECTORS:
        if key.startswith("scrapeConfig") and not static_jobs(settings):
            continue  # no ScrapeConfig to select
        selector = op.selector(key)
        where = f"operator.selectors.{key}"
        if key.endswith("Namespaces"):
            # A null namespace selector means the Prometheus's (or Alertmanager's) own namespace.
            ok = ns == op.namespace if selector is None else selects(selector, ns_labels)
            if not ok:
                problems.append(Problem(where, f"selects namespaces {_show(selector)}, which does not include "
                                               f"namespace {ns} (labels {ns_labels})",
                                        "declare the labels the namespace carries in operator.namespaceLabels (set "
                                        "on it when kubernetes.createNamespace is true), or correct the selector"))
        elif not selects(selector, ours):
            problems.append(Problem(where, f"selects {_show(selector)}, which does not match this stack's "
                                           f"labels {ours}: the operator would silently ignore them",
                                    "add the labels the selector needs to operator.labels, or correct the selector "
                                    "(or operator.release)"))
    return problems


def _show(selector: dict[str, Any] | None) -> str:
    return "nothing (null)" if selector is None else (str(selector) if selector else "everything ({})")


# --- PrometheusRule ---------------------------------------------------------------------------


def group_labels(settings: StackSettings) -> dict[str, str]:
    return {"namespace": settings.kubernetes.namespace}


def shannon_namespaces(settings: StackSettings) -> list[str]:
    """Where Shannon's series come from: Shannon's namespace and the stack's (Tempo, the exporters)."""
    return sorted({settings.shannon.namespace, settings.kubernetes.namespace})


def scope(settings: StackSettings, expr: str) -> str:
    """`expr` selecting Shannon's series only: every selector matches Shannon's namespaces."""
    namespaces = shannon_namespaces(settings)
    return promql.with_matcher(expr, "namespace", "=" if len(namespaces) == 1 else "=~", "|".join(namespaces))


def operator_groups(settings: StackSettings, rule_file: dict[str, Any]) -> list[dict[str, Any]]:
    """A rendered rule file's groups as the PrometheusRule holds them: the same rules scoped to Shannon's
    series, the chart's own left out, plus group labels and interval."""
    out = []
    for group in rule_file["groups"]:
        rules = [{**rule, "expr": scope(settings, rule["expr"])} for rule in group["rules"]
                 if rule.get("alert") not in LEFT_OUT]
        if not rules:
            continue
        entry: dict[str, Any] = {"name": group["name"]}
        entry["interval"] = group.get("interval", settings.prometheus.evaluation_interval)
        # On every group: alerts carry the namespace their route matches, recorded series the one the
        # dashboards' scoped queries select.
        entry["labels"] = {**group_labels(settings), **group.get("labels", {})}
        entry.update({k: v for k, v in group.items() if k not in entry})
        entry["rules"] = rules
        out.append(entry)
    return out


def _meta(settings: StackSettings, name: str, namespace: str | None = None,
          labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace or settings.kubernetes.namespace,
                            "labels": {**resource_labels(settings), **(labels or {})}}
    if annotations:
        meta["annotations"] = annotations
    return meta


def rule_resource_name(file_name: str) -> str:
    return "shannon-" + re.sub(r"[^a-z0-9-]+", "-", file_name.removesuffix(".yml").lower()).strip("-")


def prometheus_rules(settings: StackSettings, rule_files: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for file_name, data in sorted(rule_files.items()):
        groups = operator_groups(settings, data)
        if not groups:
            continue
        out.append({"apiVersion": API_V1, "kind": "PrometheusRule",
                    "metadata": _meta(settings, rule_resource_name(file_name)), "spec": {"groups": groups}})
    return out


def keeps_label(expr: str, label: str) -> bool:
    """Whether every series `expr` returns carries `label` when its inputs do (static PromQL analysis)."""
    return _keeps(promql.parse(expr), label)


def _keeps(node: Any, label: str) -> bool:
    kind = type(node).__name__
    if kind in {"VectorSelector", "MatrixSelector"}:
        return True
    if kind in {"ParenExpr", "UnaryExpr", "SubqueryExpr"}:
        return _keeps(node.expr, label)
    if kind == "AggregateExpr":
        if node.modifier is None:  # sum(x): no labels left
            return False
        grouped = label in set(node.modifier.labels)
        kept = not grouped if str(node.modifier.type).endswith("Without") else grouped
        return kept and _keeps(node.expr, label)
    if kind == "Call":
        name = node.func.name
        if name in {"absent", "absent_over_time", "vector", "time", "scalar", "pi"}:
            return False  # absent() keeps only its selector's equality matchers
        if name in {"label_replace", "label_join"} and _string(node.args[1]) == label:
            return True
        vectors = [a for a in node.args if type(a).__name__ not in {"NumberLiteral", "StringLiteral"}]
        return bool(vectors) and _keeps(vectors[-1] if name == "histogram_quantile" else vectors[0], label)
    if kind == "BinaryExpr":
        if type(node.lhs).__name__ == "NumberLiteral":
            return _keeps(node.rhs, label)
        if type(node.rhs).__name__ == "NumberLiteral":
            return _keeps(node.lhs, label)
        if str(node.op) == "or":
            return _keeps(node.lhs, label) and _keeps(node.rhs, label)
        modifier = node.modifier
        card = str(modifier.card).rsplit(".", 1)[-1] if modifier is not None else "OneToOne"
        if card == "OneToMany":  # group_right: the right side's series
            return _keeps(node.rhs, label)
        if card == "OneToOne" and modifier is not None and modifier.matching is not None:
            # one-to-one with on(...) keeps only those labels; ignoring(...) drops them.
            listed = label in set(modifier.matching.labels)
            on = str(modifier.matching.type).endswith("Include")
            return _keeps(node.lhs, label) and (listed if on else not listed)
        return _keeps(node.lhs, label)  # and/unless, group_left, plain one-to-one: the left side's labels
    return False


def _string(node: Any) -> str | None:
    return getattr(node, "val", None) if type(node).__name__ == "StringLiteral" else None


def unrouted_alerts(groups: list[dict[str, Any]], label: str, value: str) -> list[str]:
    """Alerts of `groups` that would not carry `label=value`: neither set by the group or rule, nor kept from
    the series (and then they carry the series' value, which the caller vouches for)."""
    out = []
    for group in groups:
        static = {**group.get("labels", {})}
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            labels = {**static, **rule.get("labels", {})}
            if labels.get(label) == value:
                continue
            if label in labels or not keeps_label(rule["expr"], label):
                out.append(f"{group['name']}/{rule['alert']}")
    return out


# --- ServiceMonitor ---------------------------------------------------------------------------


def monitored_jobs(settings: StackSettings) -> list[ScrapeJob]:
    """The scrape jobs that get a ServiceMonitor: all but those of the operator's own components and those with
    static addresses (a ScrapeConfig each)."""
    return [job for job in scrape_jobs(settings) if job.job not in NOT_OURS and not job.probe_targets
            and job.addresses is None]


def static_jobs(settings: StackSettings) -> list[ScrapeJob]:
    return [job for job in scrape_jobs(settings) if job.job not in NOT_OURS and not job.probe_targets
            and job.addresses is not None]


_CAMEL = {"source_labels": "sourceLabels", "target_label": "targetLabel"}


def service_monitor(settings: StackSettings, job: ScrapeJob, port_name: str | None) -> dict[str, Any]:
    # With neither `port` nor `targetPort` the operator filters no port (pkg/prometheus/promcfg.go,
    # generateServiceMonitorConfig); the keep below picks the job's port from the endpoint's address, which needs no
    # declared containerPort (a numeric targetPort keeps only pods declaring it: prometheus-operator#3354).
    endpoint: dict[str, Any] = {"port": port_name} if port_name else {}
    port_keep = [] if port_name else [
        {"action": "keep", "sourceLabels": ["__address__"], "regex": f".+:{job.port}"}]
    endpoint.update({
        "path": job.path,
        # The rules' windows and `for:` are written for this interval, not the operator's default.
        "interval": settings.prometheus.scrape_interval,
        "scrapeTimeout": settings.prometheus.scrape_timeout,
        "relabelings": [
            # Only this job's Service (the selector below takes every Service of the namespace, so
            # Shannon's Services need no particular labels).
            {"action": "keep", "sourceLabels": ["__meta_kubernetes_service_name"], "regex": job.service},
            *port_keep,
            # Applied after the operator's own relabelings, so these win: our job names, which every
            # rule and dashboard selects on, and our service/component labels.
            {"action": "replace", "targetLabel": "job", "replacement": job.job},
            {"action": "replace", "targetLabel": "service", "replacement": defaults.SERVICE_LABEL},
            {"action": "replace", "targetLabel": "component", "replacement": job.component},
        ],
    })
    if job.metric_relabel:
        endpoint["metricRelabelings"] = [{_CAMEL.get(k, k): v for k, v in r.items()} for r in job.metric_relabel]
    return {
        "apiVersion": API_V1, "kind": "ServiceMonitor",
        "metadata": _meta(settings, f"shannon-{job.job}"),
        "spec": {
            "selector": {},
            "namespaceSelector": {"matchNames": [job.namespace]},
            "endpoints": [endpoint],
        },
    }


def service_monitors(settings: StackSettings) -> list[dict[str, Any]]:
    port_names = {t.job: t.port_name for t in settings.shannon.scrape_targets}
    return [service_monitor(settings, job, port_names.get(job.job)) for job in monitored_jobs(settings)]


def scrape_config(settings: StackSettings, job: ScrapeJob) -> dict[str, Any]:
    """A ScrapeConfig for a job with static addresses: our job name, and Shannon's namespace on its targets (static
    targets have none, and every Shannon query selects by it)."""
    return {
        "apiVersion": API_SCRAPE_CONFIG, "kind": "ScrapeConfig",
        "metadata": _meta(settings, f"shannon-{job.job}"),
        "spec": {
            "jobName": job.job,
            "metricsPath": job.path,
            "scrapeInterval": settings.prometheus.scrape_interval,
            "scrapeTimeout": settings.prometheus.scrape_timeout,
            "staticConfigs": [{"targets": list(job.addresses or ()), "labels": {
                "service": defaults.SERVICE_LABEL, "component": job.component, "namespace": settings.kubernetes.namespace}}],
        },
    }


def scrape_configs(settings: StackSettings) -> list[dict[str, Any]]:
    return [scrape_config(settings, job) for job in static_jobs(settings)]


# --- AlertmanagerConfig -----------------------------------------------------------------------

def _matcher(text: str) -> dict[str, str]:
    match = MATCHER.match(text)
    if match is None:
        raise ValueError(f"cannot translate matcher {text!r}")
    name, op, value = match.groups()
    return {"name": name, "value": value.replace('\\"', '"'), "matchType": op}


_ROUTE_KEYS = {"receiver": "receiver", "group_by": "groupBy", "group_wait": "groupWait",
               "group_interval": "groupInterval", "repeat_interval": "repeatInterval", "continue": "continue"}


def _route(route: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {_ROUTE_KEYS[k]: v for k, v in route.items() if k in _ROUTE_KEYS}
    if "matchers" in route:
        out["matchers"] = [_matcher(m) for m in route["matchers"]]
    if "routes" in route:
        out["routes"] = [_route(r) for r in route["routes"]]
    unknown = set(route) - set(_ROUTE_KEYS) - {"matchers", "routes"}
    if unknown:
        raise ValueError(f"route keys without an AlertmanagerConfig equivalent: {sorted(unknown)}")
    return out


def _secret_ref(key: str) -> dict[str, str]:
    return {"name": RECEIVERS_SECRET, "key": am_builder.SECRET_FILES[key]}


def _receiver(receiver: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver["name"]}
    for pd in receiver.get("pagerduty_configs", []):
        entry: dict[str, Any] = {"routingKey": _secret_ref("pagerdutyRoutingKey"), "sendResolved": pd["send_resolved"],
                                 "severity": pd["severity"], "component": pd["component"], "group": pd["group"],
                                 "details": [{"key": k, "value": v} for k, v in sorted(pd["details"].items())]}
        if "url" in pd:
            entry["url"] = pd["url"]
        out.setdefault("pagerdutyConfigs", []).append(entry)
    for slack in receiver.get("slack_configs", []):
        entry = {"apiURL": _secret_ref("slackApiUrl"), "sendResolved": slack["send_resolved"],
                 "title": slack["title"], "text": slack["text"]}
        if "channel" in slack:
            entry["channel"] = slack["channel"]
        out.setdefault("slackConfigs", []).append(entry)
    for hook in receiver.get("webhook_configs", []):
        entry = {"sendResolved": hook["send_resolved"]}
        if "url" in hook:
            entry["url"] = hook["url"]
        else:
            entry["urlSecret"] = _secret_ref("deadmanUrl")
        out.setdefault("webhookConfigs", []).append(entry)
    return out


def alertmanager_config(settings: StackSettings, secret_keys: Collection[str]) -> dict[str, Any]:
    """The AlertmanagerConfig: the route tree and receivers of alertmanager.yml, receiving exactly the alerts
    labelled namespace=<the stack's namespace> under either matcher strategy."""
    config = am_builder.build_alertmanager_config(settings, secret_keys)
    route = _route(config["route"])
    own = {"name": "namespace", "value": settings.kubernetes.namespace, "matchType": "="}
    unscoped = settings.operator.matcher_strategy == "None"
    if unscoped:
        # The operator adds no namespace matcher then (to the route nor to the inhibit rules); without these every
        # alert of the cluster would reach Shannon's pager, and a critical Shannon alert would inhibit another
        # team's warning of the same name (amcfg.go adds the namespace matcher under OnNamespace only).
        route["matchers"] = [own]
    inhibit = [{"sourceMatch": [_matcher(m) for m in rule["source_matchers"]] + ([own] if unscoped else []),
                "targetMatch": [_matcher(m) for m in rule["target_matchers"]] + ([own] if unscoped else []),
                "equal": rule["equal"]} for rule in config["inhibit_rules"]]
    return {
        "apiVersion": API_V1ALPHA1, "kind": "AlertmanagerConfig",
        "metadata": _meta(settings, "shannon"),
        "spec": {"route": route, "receivers": [_receiver(r) for r in config["receivers"]], "inhibitRules": inhibit},
    }


# --- Grafana sidecar --------------------------------------------------------------------------


def dashboard_configmaps(settings: StackSettings, dashboards: dict[str, str]) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard file, for the sidecar (label grafana_dashboard=1); the file names are Shannon's
    (shannon-*.json) in a folder the sidecar may share with other teams' dashboards."""
    out = []
    for file_name, text in sorted(dashboards.items()):
        out.append({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta(settings, f"shannon-dashboard-{file_name.removesuffix('.json').replace('_', '-')}",
                              labels=DASHBOARD_LABEL,
                              annotations={settings.operator.dashboard_folder_annotation:
                                           settings.operator.dashboard_folder}),
            "data": {f"shannon-{file_name}": text},
        })
    return out


def shared_uids(settings: StackSettings) -> dict[str, str]:
    """Datasource uid -> the uid it has in the cluster's Grafana: Shannon's own, except the release's Prometheus
    and Alertmanager where the release provisions those."""
    renames = {TEMPO_UID: SHARED_UIDS[TEMPO_UID]}
    if not settings.operator.release_datasources:
        renames |= {uid: SHARED_UIDS[uid] for uid in (PROMETHEUS_UID, ALERTMANAGER_UID)}
    return renames


def _renamed(value: Any, renames: dict[str, str], key: str = "") -> Any:
    if isinstance(value, dict):
        out = {k: _renamed(v, renames, k) for k, v in value.items()}
        if out.get("name") == "datasource" and out.get("type") == "datasource" and isinstance(out.get("current"), dict):
            current = out["current"]
            out["current"] = {**current, "value": renames.get(current.get("value"), current.get("value"))}
        return out
    if isinstance(value, list):
        return [_renamed(v, renames, key) for v in value]
    if isinstance(value, str) and key in ("uid", "datasourceUid"):
        return renames.get(value, value)
    if isinstance(value, str) and key == "url":
        for old, new in renames.items():  # Explore links hold the datasource in the URL's JSON
            for field_name in ("uid", "datasource"):
                value = value.replace(f"%22{field_name}%22%3A%20%22{old}%22", f"%22{field_name}%22%3A%20%22{new}%22")
    return value


def scoped_dashboard(settings: StackSettings, model: dict[str, Any]) -> dict[str, Any]:
    """A dashboard for the cluster's Grafana: every Prometheus query selects Shannon's series only (the
    instance variables and the alert annotations too), and datasource uids are those of shared_uids."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: walk(v) for k, v in value.items()}
            ds = out.get("datasource")
            is_tempo = isinstance(ds, dict) and ds.get("type") == "tempo"
            if isinstance(out.get("expr"), str) and out["expr"] and not is_tempo:
                out["expr"] = scope(settings, out["expr"])
            for field_name in ("definition",):
                if isinstance(out.get(field_name), str):
                    out[field_name] = _scope_label_values(settings, out[field_name])
            query = out.get("query")
            if isinstance(query, dict) and isinstance(query.get("query"), str):
                out["query"] = {**query, "query": _scope_label_values(settings, query["query"])}
            return out
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    return _renamed(walk(model), shared_uids(settings))


def _scope_label_values(settings: StackSettings, text: str) -> str:
    match = re.fullmatch(r"label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)", text)
    return f"label_values({scope(settings, match.group(1))}, {match.group(2)})" if match else text


def sidecar_datasources(settings: StackSettings, datasources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The datasources this stack adds to the cluster's Grafana: Tempo's, and the Prometheus and Alertmanager ones
    too unless the release provisions them (uids prometheus and alertmanager). Names and uids are Shannon's own, so
    none takes over a datasource another team provisioned, and none is the default: that Grafana has its own."""
    renames = shared_uids(settings)
    keep = [ds for ds in datasources
            if not (settings.operator.release_datasources and ds["uid"] in (PROMETHEUS_UID, ALERTMANAGER_UID))]
    return [_renamed({**ds, "isDefault": False, "name": SHARED_NAMES.get(ds["name"], ds["name"])}, renames)
            for ds in keep]


def datasource_configmap(settings: StackSettings, provisioning_yaml: str) -> dict[str, Any]:
    """The datasources' provisioning file, in Grafana's namespace (the sidecar looks there only)."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _meta(settings, "shannon-datasources", namespace=settings.operator.namespace,
                          labels=DATASOURCE_LABEL),
        "data": {"shannon-datasources.yaml": provisioning_yaml},
    }
