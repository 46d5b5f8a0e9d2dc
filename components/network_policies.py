"""NetworkPolicies for the monitoring namespace: deny all ingress, then allow exactly the stack's flows.

Allowed:
  Prometheus    -> every component's metrics port (scraping), Alertmanager 9093
  Grafana       -> Prometheus 9090, Tempo 3200, Alertmanager 9093
  Alertmanager <-> Alertmanager 9094 TCP and UDP (gossip)
  Shannon namespace -> Tempo 4317/4318 (OTLP), and the collector's 4317/4318 when it is deployed
  Prometheus    -> the collector's metrics 8888 and span metrics 8889
  Tempo metrics-generator -> Prometheus 9090 (remote write)
  ingress controller -> Grafana 3000
Egress stays open: Prometheus must reach Shannon's namespace, and Alertmanager
the pager and chat services on the internet. node-exporter uses the host
network, where NetworkPolicies do not apply; restrict port 9100 on the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import defaults
from components.builders.prometheus import remote_write_enabled
from components.platform import KubernetesBackend
from components.settings import StackSettings


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    settings: StackSettings
    platform: KubernetesBackend


def _pods(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}


def _ports(*ports: int | tuple[int, str]) -> list[dict[str, Any]]:
    out = []
    for p in ports:
        port, protocol = (p, "TCP") if isinstance(p, int) else p
        out.append({"port": port, "protocol": protocol})
    return out


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:NetworkPolicies", name, None, opts)
        s, platform = args.settings, args.platform
        ports = defaults.PORTS
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/part-of": "shannon-observability"}

        def policy(role: str, target: str | None, ingress: list[dict[str, Any]]) -> k8s.networking.v1.NetworkPolicy:
            selector = {} if target is None else {"matchLabels": {"app.kubernetes.io/name": target}}
            return k8s.networking.v1.NetworkPolicy(
                f"{name}-{role}", metadata=platform.meta(role, labels),
                # No `ingress` key for deny-all: the server drops an empty list, and sending one again on
                # every `up` is a change every time (seen on kube-apiserver 1.36: tests/e2e/test_apiserver.py).
                spec={"podSelector": selector, "policyTypes": ["Ingress"], **({"ingress": ingress} if ingress else {})},
                opts=child)

        self.policies = [policy("default-deny-ingress", None, [])]

        prometheus_from = [_pods("prometheus"), _pods("grafana")]
        if remote_write_enabled(s):
            prometheus_from.append(_pods("tempo"))  # metrics-generator remote write
        self.policies.append(policy("allow-prometheus", "prometheus",
                                    [{"from": prometheus_from, "ports": _ports(ports["prometheus"])}]))

        am_rules: list[dict[str, Any]] = [
            {"from": [_pods("prometheus"), _pods("grafana")], "ports": _ports(ports["alertmanager"])}]
        if s.alertmanager.replicas > 1:
            cluster = ports["alertmanager-cluster"]
            am_rules.append({"from": [_pods("alertmanager")], "ports": _ports((cluster, "TCP"), (cluster, "UDP"))})
        self.policies.append(policy("allow-alertmanager", "alertmanager", am_rules))

        grafana_rules: list[dict[str, Any]] = [{"from": [_pods("prometheus")], "ports": _ports(ports["grafana"])}]
        if s.grafana.ingress is not None:
            controller = s.grafana.ingress
            grafana_rules.append({"from": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": controller.controller_namespace}},
                "podSelector": {"matchLabels": dict(controller.controller_labels)}}],
                "ports": _ports(ports["grafana"])})
        self.policies.append(policy("allow-grafana", "grafana", grafana_rules))

        if s.tempo.enabled:
            self.policies.append(policy("allow-tempo", "tempo", [
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": s.shannon.namespace}}}],
                 "ports": _ports(ports["otlp-grpc"], ports["otlp-http"])},
                {"from": [_pods("grafana"), _pods("prometheus")], "ports": _ports(ports["tempo"])},
            ]))
        if s.collector_enabled:
            self.policies.append(policy("allow-otel-collector", "otel-collector", [
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": s.shannon.namespace}}}],
                 "ports": _ports(ports["otlp-grpc"], ports["otlp-http"])},
                {"from": [_pods("prometheus")],
                 "ports": _ports(ports["otel-collector-metrics"], ports["otel-collector-spanmetrics"])},
            ]))
        for exporter, toggle in (("postgres-exporter", s.exporters.postgres), ("redis-exporter", s.exporters.redis),
                                 ("blackbox-exporter", s.exporters.blackbox)):
            if toggle.enabled:
                self.policies.append(policy(f"allow-{exporter}", exporter,
                                            [{"from": [_pods("prometheus")], "ports": _ports(ports[exporter])}]))
        self.register_outputs({})
