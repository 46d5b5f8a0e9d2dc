"""Prometheus Operator mode: Shannon's part as the operator's custom resources.

Pure: no `pulumi` import. From the same rule files, scrape jobs, routes, datasources
and dashboards as the stack's own deployment, this builds:

* PrometheusRule per rule file: the same rules; each group adds `namespace: <ns>` (group
  labels, Prometheus >= 3.0) so every alert reaches the AlertmanagerConfig under the
  operator's default `OnNamespace` matcher strategy, and `interval` (the stack's evaluation
  interval, which the rules' `for:` and windows are written for);
* ServiceMonitor per scrape job, whose relabelings keep our job names (the operator's default
  job label is the Service name) and our `service`/`component` labels;
* AlertmanagerConfig (v1alpha1) with our route tree and receivers, credentials as
  SecretKeySelectors on a Secret in the same namespace;
* ConfigMaps for kube-prometheus-stack's Grafana sidecar: dashboards (label
  grafana_dashboard=1, folder annotation) and datasources (label grafana_datasource=1).

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
from components.builders.grafana import ALERTMANAGER_UID, PROMETHEUS_UID
from components.builders.prometheus import ScrapeJob, scrape_jobs
from components.settings import OPERATOR_SELECTORS, Problem, StackSettings

API_V1 = "monitoring.coreos.com/v1"
API_V1ALPHA1 = "monitoring.coreos.com/v1alpha1"
PART_OF = {"app.kubernetes.io/part-of": "shannon-observability"}
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DATASOURCE_LABEL = {"grafana_datasource": "1"}
# k8s-sidecar's default FOLDER_ANNOTATION; kube-prometheus-stack passes it when
# grafana.sidecar.dashboards.folderAnnotation is set.
FOLDER_ANNOTATION = "k8s-sidecar-target-directory"
RECEIVERS_SECRET = "shannon-alertmanager-receivers"
# Jobs of components the operator's stack runs instead of ours.
NOT_OURS = frozenset({"prometheus", "alertmanager", "grafana"})


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


def operator_groups(settings: StackSettings, rule_file: dict[str, Any]) -> list[dict[str, Any]]:
    """A rendered rule file's groups as the PrometheusRule holds them: the same rules, plus group labels and interval."""
    out = []
    for group in rule_file["groups"]:
        entry: dict[str, Any] = {"name": group["name"]}
        entry["interval"] = group.get("interval", settings.prometheus.evaluation_interval)
        if any("alert" in rule for rule in group["rules"]):
            entry["labels"] = {**group_labels(settings), **group.get("labels", {})}
        entry.update({k: v for k, v in group.items() if k not in entry})
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
    """The scrape jobs that get a ServiceMonitor: all but those of the operator's own components."""
    return [job for job in scrape_jobs(settings) if job.job not in NOT_OURS and not job.probe_targets]


def service_monitor(settings: StackSettings, job: ScrapeJob, port_name: str | None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"port": port_name} if port_name else {"targetPort": job.port}
    endpoint.update({
        "path": job.path,
        # The rules' windows and `for:` are written for this interval, not the operator's default.
        "interval": settings.prometheus.scrape_interval,
        "scrapeTimeout": settings.prometheus.scrape_timeout,
        "relabelings": [
            # Only this job's Service (the selector below takes every Service of the namespace, so
            # Shannon's Services need no particular labels).
            {"action": "keep", "sourceLabels": ["__meta_kubernetes_service_name"], "regex": job.service},
            # Applied after the operator's own relabelings, so these win: our job names, which every
            # rule and dashboard selects on, and our service/component labels.
            {"action": "replace", "targetLabel": "job", "replacement": job.job},
            {"action": "replace", "targetLabel": "service", "replacement": defaults.SERVICE_LABEL},
            {"action": "replace", "targetLabel": "component", "replacement": job.component},
        ],
    })
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


# --- AlertmanagerConfig -----------------------------------------------------------------------

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def _matcher(text: str) -> dict[str, str]:
    match = _MATCHER.match(text)
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
    if settings.operator.matcher_strategy == "None":
        # The operator adds no namespace matcher then; without this one every alert of the
        # cluster would reach Shannon's pager.
        route["matchers"] = [{"name": "namespace", "value": settings.kubernetes.namespace, "matchType": "="}]
    inhibit = [{"sourceMatch": [_matcher(m) for m in rule["source_matchers"]],
                "targetMatch": [_matcher(m) for m in rule["target_matchers"]],
                "equal": rule["equal"]} for rule in config["inhibit_rules"]]
    return {
        "apiVersion": API_V1ALPHA1, "kind": "AlertmanagerConfig",
        "metadata": _meta(settings, "shannon"),
        "spec": {"route": route, "receivers": [_receiver(r) for r in config["receivers"]], "inhibitRules": inhibit},
    }


# --- Grafana sidecar --------------------------------------------------------------------------


def dashboard_configmaps(settings: StackSettings, dashboards: dict[str, str]) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard file, for the sidecar (label grafana_dashboard=1)."""
    out = []
    for file_name, text in sorted(dashboards.items()):
        out.append({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta(settings, f"shannon-dashboard-{file_name.removesuffix('.json').replace('_', '-')}",
                              labels=DASHBOARD_LABEL,
                              annotations={FOLDER_ANNOTATION: settings.operator.dashboard_folder}),
            "data": {file_name: text},
        })
    return out


def sidecar_datasources(settings: StackSettings, datasources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The datasources this stack adds beside the release's own (which already hold uids prometheus and
    alertmanager), none of them the default."""
    keep = [ds for ds in datasources
            if not (settings.operator.release_datasources and ds["uid"] in (PROMETHEUS_UID, ALERTMANAGER_UID))]
    return [{**ds, "isDefault": False} if settings.operator.release_datasources else ds for ds in keep]


def datasource_configmap(settings: StackSettings, provisioning_yaml: str) -> dict[str, Any]:
    """The datasources' provisioning file, in Grafana's namespace (the sidecar looks there only)."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _meta(settings, "shannon-datasources", namespace=settings.operator.namespace,
                          labels=DATASOURCE_LABEL),
        "data": {"shannon-datasources.yaml": provisioning_yaml},
    }

