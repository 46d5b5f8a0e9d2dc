"""What prometheus-operator makes of an AlertmanagerConfig: its routes and inhibit rules merged into the
Alertmanager configuration the operator generates, for amtool and a live Alertmanager to check.

Transcribed from prometheus-operator v0.94.1, pkg/alertmanager/amcfg.go (the module zip pinned in
.ci/crds.lock): `AddAlertmanagerConfigs` puts each config's route first under the root route, after
`convertRoute` (receivers and time intervals prefixed `<namespace>/<name>/`, matchers in the v2 syntax for
Alertmanager >= 0.22) and the enforcer of `alertmanagerConfigMatcherStrategy` (`namespaceEnforcer` appends
`namespace="<ns>"` to the top route and to both sides of every inhibit rule; `otherNamespaceEnforcer` does so
unless the config lives in the Alertmanager's namespace; `noopEnforcer` does nothing); `continueToNextRoute`
sets `continue: true` on the top route. Receivers keep their names only: routing does not read integrations.
"""

from __future__ import annotations

import copy
from typing import Any

# kube-prometheus-stack's default `alertmanager.config` (charts/kube-prometheus-stack/values.yaml): the base
# configuration an AlertmanagerConfig is merged into, with the inhibit rules other teams rely on.
KUBE_PROMETHEUS_STACK_BASE: dict[str, Any] = {
    "global": {"resolve_timeout": "5m"},
    "inhibit_rules": [
        {"source_matchers": ["severity = critical"], "target_matchers": ["severity =~ warning|info"],
         "equal": ["namespace", "alertname"]},
        {"source_matchers": ["severity = warning"], "target_matchers": ["severity = info"],
         "equal": ["namespace", "alertname"]},
        {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"],
         "equal": ["namespace"]},
        {"target_matchers": ["alertname = InfoInhibitor"]},
    ],
    "route": {"group_by": ["namespace"], "group_wait": "30s", "group_interval": "5m", "repeat_interval": "12h",
              "receiver": "null", "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}]},
    "receivers": [{"name": "null"}],
}
STRATEGIES = ("OnNamespace", "OnNamespaceExceptForAlertmanagerNamespace", "None")


def _matchers(items: list[dict[str, Any]]) -> list[str]:
    """convertMatchersV2: `name<op>"value"`; without matchType, `regex` picks =~ over =."""
    out = []
    for m in items:
        op = m.get("matchType") or ("=~" if m.get("regex") else "=")
        value = m.get("value", "").replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'{m["name"]}{op}"{value}"')
    return out


def _prefixed(name: str, namespace: str, cr: str) -> str:
    return f"{namespace}/{cr}/{name}" if name else ""


def _route(spec: dict[str, Any], namespace: str, cr: str) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": _prefixed(spec.get("receiver", ""), namespace, cr)}
    for ours, theirs in (("groupBy", "group_by"), ("groupWait", "group_wait"), ("groupInterval", "group_interval"),
                         ("repeatInterval", "repeat_interval"), ("continue", "continue")):
        if spec.get(ours) not in (None, "", []):
            out[theirs] = spec[ours]
    if spec.get("matchers"):
        out["matchers"] = _matchers(spec["matchers"])
    for ours, theirs in (("muteTimeIntervals", "mute_time_intervals"), ("activeTimeIntervals", "active_time_intervals")):
        if spec.get(ours):
            out[theirs] = [_prefixed(n, namespace, cr) for n in spec[ours]]
    if spec.get("routes"):
        out["routes"] = [_route(child, namespace, cr) for child in spec["routes"]]
    if not out["receiver"]:
        del out["receiver"]
    return out


def _enforced(strategy: str, namespace: str, alertmanager_namespace: str) -> bool:
    if strategy == "None":
        return False
    return not (strategy == "OnNamespaceExceptForAlertmanagerNamespace" and namespace == alertmanager_namespace)


def merge(base: dict[str, Any], config: dict[str, Any], strategy: str, alertmanager_namespace: str) -> dict[str, Any]:
    """The Alertmanager configuration the operator generates from `base` and one AlertmanagerConfig."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown matcher strategy {strategy!r}")
    out = copy.deepcopy(base)
    namespace, cr = config["metadata"]["namespace"], config["metadata"]["name"]
    spec = config["spec"]
    enforce = _enforced(strategy, namespace, alertmanager_namespace)
    own = f'namespace="{namespace}"'
    for rule in spec.get("inhibitRules", []):
        converted: dict[str, Any] = {"source_matchers": _matchers(rule.get("sourceMatch", [])),
                                     "target_matchers": _matchers(rule.get("targetMatch", []))}
        if rule.get("equal"):
            converted["equal"] = rule["equal"]
        if enforce:
            for side in ("source_matchers", "target_matchers"):
                if own not in converted[side]:
                    converted[side].append(own)
        out.setdefault("inhibit_rules", []).append(converted)
    if spec.get("route"):
        top = _route(spec["route"], namespace, cr)
        if enforce:
            top["matchers"] = [*top.get("matchers", []), own]
        top["continue"] = True
        out["route"]["routes"] = [top, *out["route"].get("routes", [])]
        out["receivers"] += [{"name": _prefixed(r["name"], namespace, cr)} for r in spec.get("receivers", [])]
    return out
