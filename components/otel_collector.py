"""The OpenTelemetry Collector: Shannon's OTLP traces in (gRPC 4317, HTTP 4318), sampled and scrubbed, out to
Tempo. Reachable as `otel-collector`, the address Shannon's orchestrator sends to by default: on Docker as an
alias on Shannon's compose network, on Kubernetes as the Service otel-collector in the stack's namespace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components import defaults
from components.builders.otel_collector import CONFIG_DIR, collector_args
from components.platform import Backend, HttpProbe, KubernetesBackend, Port, Workload
from components.settings import StackSettings
from components.topology import Topology

NAME = "otel-collector"


@dataclass(frozen=True)
class OtelCollectorArgs:
    settings: StackSettings
    platform: Backend
    files: Mapping[str, str]  # config.yaml


class OtelCollector(pulumi.ComponentResource):
    otlp_grpc_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: OtelCollectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:OtelCollector", name, None, opts)
        s = args.settings
        health = defaults.PORTS["otel-collector-health"]
        service_account = None
        workload_opts = pulumi.ResourceOptions(parent=self)
        kubernetes = isinstance(args.platform, KubernetesBackend)
        if kubernetes:
            # k8s_attributes reads the pods of Shannon's namespace, nothing else and nowhere else.
            service_account, rbac = args.platform.namespaced_reader(
                name, NAME, "pod-reader", [s.shannon.namespace],
                [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
                pulumi.ResourceOptions(parent=self))
            workload_opts = pulumi.ResourceOptions(parent=self, depends_on=rbac)
        ready, live = defaults.HEALTH[NAME]
        workload = Workload(
            name=NAME,
            image=s.image(NAME),
            args=tuple(collector_args()),
            ports=(
                Port("otlp-grpc", defaults.PORTS["otlp-grpc"]),
                Port("otlp-http", defaults.PORTS["otlp-http"]),
                Port("metrics", defaults.PORTS["otel-collector-metrics"]),
                Port("spanmetrics", defaults.PORTS["otel-collector-spanmetrics"]),
                Port("health", health),
            ),
            resources=s.tracing.collector.resources,
            run_as=defaults.RUN_AS[NAME],
            readiness=HttpProbe(ready, health),
            liveness=HttpProbe(live, health),
            # One replica: tail sampling needs every span of a trace at one collector (see the README).
            kind="stateless",
            config_dir=CONFIG_DIR,
            config_files=dict(args.files),
            needs_api_token=kubernetes,
            join_shannon_network=True,
            shannon_network_alias=NAME if s.tracing.collector.shannon_alias else None,
        )
        self.deployed = args.platform.deploy(name, workload, workload_opts, service_account=service_account)
        # Where Shannon sends: the alias on its Docker network, else the component's own address.
        alias = s.platform == "docker" and s.tracing.collector.shannon_alias
        host = NAME if alias else Topology(s).service_host(NAME)
        self.otlp_grpc_endpoint = pulumi.Output.from_input(f"http://{host}:{defaults.PORTS['otlp-grpc']}")
        self.register_outputs({"otlp_grpc_endpoint": self.otlp_grpc_endpoint})
