"""Prometheus relabeling, and the relabelings prometheus-operator generates for a ServiceMonitor.

Used by the job-contract tests to derive, from the emitted ServiceMonitors alone, the labels
each target ends up with. `operator_relabelings` transcribes, for one endpoint, the sequence
`generateServiceMonitorConfig` builds in prometheus-operator v0.80.1 and v0.93.0 (pkg/prometheus/promcfg.go;
without `port` or `targetPort` no port filter at all):
the job-name temp label, selector keeps, port keep, node/pod/namespace/service/pod/container
labels, the running-pod filter, job from the Service name (or jobLabel), the endpoint label, and
then the endpoint's own relabelings, which therefore win.
"""

from __future__ import annotations

import re
from typing import Any


def _go_replacement(replacement: str) -> str:
    return re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", replacement)


def relabel(labels: dict[str, str], configs: list[dict[str, Any]], keep_internal: bool = False) -> dict[str, str] | None:
    """Apply Prometheus relabel configs (snake_case keys); None when the target is dropped. Scrape targets lose
    their `__` labels afterwards; samples (write relabeling, `keep_internal`) keep them."""
    out = dict(labels)
    for config in configs:
        action = str(config.get("action", "replace")).lower()
        source = config.get("source_labels", [])
        value = config.get("separator", ";").join(out.get(name, "") for name in source)
        regex = re.compile(f"^(?:{config.get('regex', '(.*)')})$")
        match = regex.match(value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            target = config["target_label"]
            result = match.expand(_go_replacement(str(config.get("replacement", "$1"))))
            if result:
                out[target] = result
            else:
                out.pop(target, None)
        if action == "labeldrop":
            out = {k: v for k, v in out.items() if not regex.match(k)}
    if keep_internal:
        return out
    # Labels starting with __ are removed after relabeling (instance defaults to __address__).
    final = {k: v for k, v in out.items() if not k.startswith("__")}
    final.setdefault("instance", out.get("__address__", ""))
    return final


def _snake(config: dict[str, Any]) -> dict[str, Any]:
    keys = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return {keys.get(k, k): v for k, v in config.items()}


def operator_relabelings(monitor: dict[str, Any], endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """The relabel_configs prometheus-operator v0.80.1 writes for `endpoint` of ServiceMonitor `monitor`
    (endpoints role, default SelectorMechanism RelabelConfig, no scrape class or enforced namespace label)."""
    spec = monitor["spec"]
    configs: list[dict[str, Any]] = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    for key, value in sorted((spec["selector"].get("matchLabels") or {}).items()):
        name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
        configs.append({"action": "keep", "source_labels": [f"__meta_kubernetes_service_label_{name}",
                                                            f"__meta_kubernetes_service_labelpresent_{name}"],
                        "regex": f"({value});true"})
    if endpoint.get("port"):
        configs.append({"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                        "regex": endpoint["port"]})
    elif isinstance(endpoint.get("targetPort"), int):
        configs.append({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                        "regex": str(endpoint["targetPort"])})
    address = ["__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpoint_address_target_name"]
    configs += [
        {"source_labels": address, "separator": ";", "regex": "Node;(.*)", "replacement": "${1}", "target_label": "node"},
        {"source_labels": address, "separator": ";", "regex": "Pod;(.*)", "replacement": "${1}", "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
    ]
    if spec.get("jobLabel"):
        name = re.sub(r"[^a-zA-Z0-9_]", "_", spec["jobLabel"])
        configs.append({"source_labels": [f"__meta_kubernetes_service_label_{name}"], "target_label": "job",
                        "regex": "(.+)", "replacement": "${1}"})
    port = endpoint.get("port") or endpoint.get("targetPort")
    if port:
        configs.append({"target_label": "endpoint", "replacement": str(port)})
    return configs + [_snake(c) for c in endpoint.get("relabelings", [])]
