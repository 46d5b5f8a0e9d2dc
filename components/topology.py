"""Where every component lives: names and in-network addresses, per platform.

Pure and deterministic, so builders can wire components to each other (for
example Prometheus to every Alertmanager pod) before anything is deployed.

Kubernetes: each workload `x` has a ClusterIP Service `x` (load-balanced access)
and a headless Service `x-headless` that governs its StatefulSet, giving each
pod a stable name `x-<i>.x-headless.<namespace>.svc.<domain>`.
Docker: each replica is a container `<prefix>x` (or `<prefix>x-<i>` when
there are several) on the stack's network.
"""

from __future__ import annotations

from dataclasses import dataclass

from components import defaults
from components.settings import StackSettings

# Docker: components on the host network (node-exporter needs the host's view).
HOST_NETWORK = frozenset({"node-exporter"})


@dataclass(frozen=True)
class Topology:
    settings: StackSettings

    @property
    def kubernetes(self) -> bool:
        return self.settings.platform == "kubernetes"

    @property
    def namespace(self) -> str:
        return self.settings.kubernetes.namespace

    def container_name(self, component: str, index: int | None = None) -> str:
        base = f"{self.settings.docker.name_prefix}{component}"
        return base if index is None else f"{base}-{index}"

    def volume_name(self, component: str, replica: int) -> str:
        """Docker: the data volume of a replica. Replica 0 keeps the single-replica name whatever the
        replica count, so scaling never renames (and so never deletes) it."""
        return f"{self.container_name(component, None if replica == 0 else replica)}-data"

    def headless_service(self, component: str) -> str:
        return f"{component}-headless"

    def service_host(self, component: str) -> str:
        """The load-balanced in-cluster (or in-network) host name of a component."""
        if self.kubernetes:
            return f"{component}.{self.namespace}.svc.{self.settings.kubernetes.cluster_domain}"
        return self.container_name(component)

    def replica_hosts(self, component: str, replicas: int) -> list[str]:
        """One stable host name per replica: StatefulSet pod DNS, or one container each."""
        if self.kubernetes:
            domain = self.settings.kubernetes.cluster_domain
            headless = self.headless_service(component)
            return [f"{component}-{i}.{headless}.{self.namespace}.svc.{domain}" for i in range(replicas)]
        if component in HOST_NETWORK:
            # On the host's network, reached from the stack's network through the host gateway.
            return ["host.docker.internal"]
        if replicas == 1:
            return [self.container_name(component)]
        return [self.container_name(component, i) for i in range(replicas)]

    # --- wiring used by several builders ---------------------------------------------------

    def public_url(self, component: str, local_port: int) -> str:
        """Where a person reaches a component when no external URL is set: its Service, or loopback on Docker."""
        if self.kubernetes:
            return f"http://{self.service_host(component)}:{defaults.PORTS[component]}"
        return f"http://127.0.0.1:{local_port}"

    def _operator_service(self, component: str) -> str:
        """Operator mode: kube-prometheus-stack's Service of `component` for the release."""
        op = self.settings.operator
        return (f"http://{op.release_fullname}-{component}.{op.namespace}.svc.{self.settings.kubernetes.cluster_domain}"
                f":{defaults.PORTS[component]}")

    def prometheus_url(self) -> str:
        if self.settings.operator.enabled:
            return self.settings.operator.prometheus_url or self._operator_service("prometheus")
        return f"http://{self.service_host('prometheus')}:{defaults.PORTS['prometheus']}"

    def prometheus_replica_urls(self) -> list[str]:
        if self.settings.operator.enabled:
            # The operator's Prometheus pods are not ours to address one by one: its Service.
            return [self.prometheus_url()]
        if "prometheus" in self.settings.self_addresses:
            return [f"http://{a}" for a in self.settings.self_addresses["prometheus"]]
        port = defaults.PORTS["prometheus"]
        return [f"http://{h}:{port}" for h in self.replica_hosts("prometheus", self.settings.prometheus.replicas)]

    def alertmanager_url(self) -> str:
        if self.settings.operator.enabled:
            return self.settings.operator.alertmanager_url or self._operator_service("alertmanager")
        return f"http://{self.service_host('alertmanager')}:{defaults.PORTS['alertmanager']}"

    def alertmanager_targets(self) -> list[str]:
        """Every Alertmanager replica as host:port: Prometheus must notify each one, not a load balancer."""
        if "alertmanager" in self.settings.self_addresses:
            return list(self.settings.self_addresses["alertmanager"])
        port = defaults.PORTS["alertmanager"]
        return [f"{h}:{port}" for h in self.replica_hosts("alertmanager", self.settings.alertmanager.replicas)]

    def alertmanager_peers(self) -> list[str]:
        if "alertmanager-peers" in self.settings.self_addresses:
            return list(self.settings.self_addresses["alertmanager-peers"])
        port = defaults.PORTS["alertmanager-cluster"]
        return [f"{h}:{port}" for h in self.replica_hosts("alertmanager", self.settings.alertmanager.replicas)]

    def tempo_url(self) -> str:
        return f"http://{self.service_host('tempo')}:{defaults.PORTS['tempo']}"

    def otlp_grpc_endpoint(self) -> str:
        return f"http://{self.service_host('tempo')}:{defaults.PORTS['otlp-grpc']}"

    def otlp_http_endpoint(self) -> str:
        return f"http://{self.service_host('tempo')}:{defaults.PORTS['otlp-http']}"

    def grafana_url(self) -> str:
        return f"http://{self.service_host('grafana')}:{defaults.PORTS['grafana']}"

    def grafana_api_url(self) -> str | None:
        """Where this program reaches Grafana's API: the settings URL, else loopback on a local Docker daemon."""
        if self.settings.grafana.url is not None or self.kubernetes:
            return self.settings.grafana.url
        return f"http://127.0.0.1:{self.settings.grafana.local_port}"
