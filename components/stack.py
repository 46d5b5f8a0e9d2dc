"""ObservabilityStack: composes every component of the stack on one platform.

`ObservabilityStackArgs.prepare` validates and builds every configuration file
before any resource exists, so bad input (a broken rule file, a malformed
dashboard) stops the program before anything is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pulumiverse_grafana as grafana_provider

from components.alertmanager import Alertmanager, AlertmanagerArgs
from components.builders.artifacts import Artifacts, build_artifacts
from components.exporter import Exporter, ExporterArgs
from components.grafana import Grafana, GrafanaArgs
from components.grafana_content import GrafanaContent, GrafanaContentArgs
from components.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.node_exporter import NodeExporter, NodeExporterArgs
from components.operator_resources import OperatorResources, OperatorResourcesArgs
from components.otel_collector import OtelCollector, OtelCollectorArgs
from components.platform import Backend, DockerBackend, KubernetesBackend
from components.prometheus import Prometheus, PrometheusArgs
from components.settings import StackSettings
from components.tempo import Tempo, TempoArgs
from components.topology import Topology


@dataclass(frozen=True)
class ObservabilityStackArgs:
    settings: StackSettings
    secrets: Mapping[str, pulumi.Output[str]]  # every secret the stack uses, as Pulumi secrets
    artifacts: Artifacts

    @classmethod
    def prepare(cls, settings: StackSettings, secrets: Mapping[str, pulumi.Output[str]]) -> ObservabilityStackArgs:
        """Build and validate all configuration files; raises before any resource is created."""
        return cls(settings=settings, secrets=secrets, artifacts=build_artifacts(settings))


class ObservabilityStack(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str]
    prometheus_local_url: pulumi.Output[str | None]
    alertmanager_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]
    grafana_local_url: pulumi.Output[str | None]
    grafana_admin_user: pulumi.Output[str]
    grafana_admin_password: pulumi.Output[str]
    otlp_grpc_endpoint: pulumi.Output[str | None]
    otlp_http_endpoint: pulumi.Output[str | None]

    def __init__(self, name: str, args: ObservabilityStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:ObservabilityStack", name, None, opts)
        s, secrets, artifacts = args.settings, args.secrets, args.artifacts

        platform: Backend
        depends: list[pulumi.Resource] = []
        # Keys the config checksums that roll pods, so they reveal nothing about the secrets
        # they cover; replacing it only rolls every pod once.
        checksum_key = random.RandomPassword(f"{name}-checksum-key", length=32, special=False,
                                             opts=pulumi.ResourceOptions(parent=self, ignore_changes=["length", "special"]))
        if s.platform == "kubernetes":
            platform = KubernetesBackend(s, checksum_key.result)
            if s.kubernetes.create_namespace:
                depends += platform.create_namespaces(f"{name}-namespace", pulumi.ResourceOptions(parent=self))
            self.location = pulumi.Output.from_input(s.kubernetes.namespace)
        else:
            network = docker.Network(f"{name}-network", name=s.docker.network, driver="bridge",
                                     labels=[docker.NetworkLabelArgs(label="org.shannon-observability.stack",
                                                                     value=s.stack)],
                                     opts=pulumi.ResourceOptions(parent=self))
            platform = DockerBackend(s, network.name, checksum_key.result)
            depends.append(network)
            self.location = network.name
        child = pulumi.ResourceOptions(parent=self, depends_on=depends)

        if s.operator.enabled:
            self._operator_mode(name, s, platform, artifacts, secrets, child)
            return
        prometheus = Prometheus(f"{name}-prometheus", PrometheusArgs(s, platform, artifacts.prometheus, secrets), child)
        alertmanager = Alertmanager(f"{name}-alertmanager", AlertmanagerArgs(s, platform, secrets), child)
        grafana = Grafana(f"{name}-grafana", GrafanaArgs(s, platform, artifacts, secrets), child)
        tempo = Tempo(f"{name}-tempo", TempoArgs(s, platform, artifacts.tempo, secrets), child) \
            if s.tempo.enabled else None
        self._collector(name, s, platform, artifacts, child)
        self._exporters(name, s, platform, artifacts, secrets, child)
        if isinstance(platform, KubernetesBackend):
            NetworkPolicies(f"{name}-network-policies", NetworkPoliciesArgs(s, platform), child)

        if s.grafana.content == "api":
            # Pointed at the Grafana deployed above, after everything its URL needs: the workload,
            # its Service, the Ingress and its TLS Secret.
            self._grafana_content(name, s, grafana.api_url, grafana.admin_password, artifacts, secrets,
                                  depends_on=grafana.deployed.resources)

        self.prometheus_url = prometheus.url
        self.prometheus_local_url = prometheus.local_url
        self.alertmanager_url = alertmanager.url
        self.grafana_url = grafana.url
        self.grafana_local_url = grafana.local_url
        self.grafana_admin_user = grafana.admin_user
        self.grafana_admin_password = grafana.admin_password
        self.otlp_grpc_endpoint = tempo.otlp_grpc_endpoint if tempo else pulumi.Output.from_input(None)
        self.otlp_http_endpoint = tempo.otlp_http_endpoint if tempo else pulumi.Output.from_input(None)
        self._register()

    def _grafana_content(self, name: str, s: StackSettings, url: pulumi.Input[str | None],
                         password: pulumi.Input[str], artifacts: Artifacts, secrets: Mapping[str, pulumi.Output[str]],
                         depends_on: list[pulumi.Resource] | None = None) -> None:
        """Datasources, folder and dashboards through the Grafana API at `url`, with one provider created for them."""
        provider = grafana_provider.Provider(
            f"{name}-grafana-provider", url=url, auth=pulumi.Output.concat(s.grafana.admin_user, ":", password),
            retries=10, retry_wait=5, opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))
        GrafanaContent(f"{name}-grafana-content", GrafanaContentArgs(artifacts.datasources, artifacts.dashboards, secrets),
                       pulumi.ResourceOptions(parent=self, providers={"grafana": provider}))

    def _collector(self, name: str, s: StackSettings, platform: Backend, artifacts: Artifacts,
                   child: pulumi.ResourceOptions) -> None:
        if s.collector_enabled:
            OtelCollector(f"{name}-otel-collector", OtelCollectorArgs(s, platform, artifacts.otel_collector), child)

    def _exporters(self, name: str, s: StackSettings, platform: Backend, artifacts: Artifacts,
                   secrets: Mapping[str, pulumi.Output[str]], child: pulumi.ResourceOptions) -> None:
        if s.exporters.node.enabled:
            NodeExporter(f"{name}-node-exporter", NodeExporterArgs(s, platform), child)
        for kind, toggle in (("postgres-exporter", s.exporters.postgres), ("redis-exporter", s.exporters.redis),
                             ("blackbox-exporter", s.exporters.blackbox)):
            if toggle.enabled:
                Exporter(f"{name}-{kind}", ExporterArgs(s, platform, kind, secrets, artifacts.exporters),  # type: ignore[arg-type]
                         child)

    def _operator_mode(self, name: str, s: StackSettings, platform: Backend, artifacts: Artifacts,
                       secrets: Mapping[str, pulumi.Output[str]], child: pulumi.ResourceOptions) -> None:
        """Shannon's part for the cluster's Prometheus Operator: custom resources, plus Tempo and the exporters.

        No NetworkPolicies: the stack shares its namespace with workloads that are not its own
        (Shannon's), which a namespace-wide default deny would cut off.
        """
        topo = Topology(s)
        tempo = Tempo(f"{name}-tempo", TempoArgs(s, platform, artifacts.tempo, secrets), child) \
            if s.tempo.enabled else None
        self._collector(name, s, platform, artifacts, child)
        self._exporters(name, s, platform, artifacts, secrets, child)
        # After Tempo and the exporters: their ServiceMonitors then find Services that exist.
        OperatorResources(f"{name}-operator", OperatorResourcesArgs(s, artifacts.operator, secrets), child)
        if s.operator.grafana == "api":
            self._grafana_content(name, s, s.grafana.url, secrets["grafanaAdminPassword"], artifacts, secrets)
        self.prometheus_url = pulumi.Output.from_input(topo.prometheus_url())
        self.prometheus_local_url = pulumi.Output.from_input(None)
        self.alertmanager_url = pulumi.Output.from_input(topo.alertmanager_url())
        self.grafana_url = pulumi.Output.from_input(s.grafana.url)  # type: ignore[arg-type]
        self.grafana_local_url = pulumi.Output.from_input(None)
        self.grafana_admin_user = pulumi.Output.from_input(s.grafana.admin_user)
        self.grafana_admin_password = pulumi.Output.secret(secrets.get("grafanaAdminPassword"))  # type: ignore[arg-type]
        self.otlp_grpc_endpoint = tempo.otlp_grpc_endpoint if tempo else pulumi.Output.from_input(None)
        self.otlp_http_endpoint = tempo.otlp_http_endpoint if tempo else pulumi.Output.from_input(None)
        self._register()

    def _register(self) -> None:
        self.register_outputs({
            "prometheus_url": self.prometheus_url,
            "prometheus_local_url": self.prometheus_local_url,
            "alertmanager_url": self.alertmanager_url,
            "grafana_url": self.grafana_url,
            "grafana_local_url": self.grafana_local_url,
            "grafana_admin_user": self.grafana_admin_user,
            "grafana_admin_password": self.grafana_admin_password,
            "otlp_grpc_endpoint": self.otlp_grpc_endpoint,
            "otlp_http_endpoint": self.otlp_http_endpoint,
        })
