"""Prometheus: scrapes Shannon and the stack, evaluates the rules, alerts every Alertmanager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components import defaults
from components.builders.prometheus import (
    CONFIG_DIR,
    DATA_DIR,
    prometheus_args,
    remote_write_secret_files,
    sigv4_secret_env,
)
from components.platform import Backend, DataVolume, HttpProbe, KubernetesBackend, Port, Workload
from components.settings import StackSettings
from components.topology import Topology


@dataclass(frozen=True)
class PrometheusArgs:
    settings: StackSettings
    platform: Backend
    files: Mapping[str, str]  # prometheus.yml and rules/*.yml, relative to the config directory
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)  # the stack's secrets


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]
    local_url: pulumi.Output[str | None]

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:Prometheus", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        port = defaults.PORTS["prometheus"]
        ready, live = defaults.HEALTH["prometheus"]

        service_account = None
        workload_opts = child
        if isinstance(args.platform, KubernetesBackend):
            # Least privilege: get/list/watch where targets are discovered, nothing cluster-wide.
            namespaces = [s.shannon.namespace, s.kubernetes.namespace]
            if s.exporters.node.enabled:
                namespaces.append(s.kubernetes.host_namespace)
            service_account, rbac = args.platform.discovery_rbac(name, "prometheus", namespaces, child)
            # Pods must not start before they may discover: a missing binding is a silent empty
            # target list until Prometheus's next retry, not an error.
            workload_opts = pulumi.ResourceOptions(parent=self, depends_on=rbac)

        workload = Workload(
            name="prometheus",
            image=s.image("prometheus"),
            args=tuple(prometheus_args(s)),
            ports=(Port("web", port, local_port=s.prometheus.local_port),),
            resources=s.prometheus.resources,
            run_as=defaults.RUN_AS["prometheus"],
            readiness=HttpProbe(ready, port),
            liveness=HttpProbe(live, port),
            replicas=s.prometheus.replicas,
            kind="stateful",
            config_dir=CONFIG_DIR,
            config_files=dict(args.files),
            # Remote-write credentials, as files prometheus.yml names (never values in it).
            secret_dir=s.prometheus.secrets_dir if remote_write_secret_files(s) else None,
            secret_files={file: pulumi.Output.secret(args.secrets[key])
                          for key, file in remote_write_secret_files(s).items()},
            secret_env={var: pulumi.Output.secret(args.secrets[key]) for var, key in sigv4_secret_env(s).items()},
            data=DataVolume(DATA_DIR, s.prometheus.volume_size),
            pod_name_env="POD_NAME",
            needs_api_token=isinstance(args.platform, KubernetesBackend),
            join_shannon_network=True,
            # Grafana's queries stay on one replica of an HA pair, so graphs do not flip between
            # replicas whose data differs around a restart.
            sticky=s.prometheus.replicas > 1,
        )
        self.deployed = args.platform.deploy(name, workload, workload_opts, service_account=service_account)

        topo = Topology(s)
        self.url = pulumi.Output.from_input(topo.prometheus_url())
        self.local_url = pulumi.Output.from_input(
            None if topo.kubernetes else f"http://127.0.0.1:{s.prometheus.local_port}")
        self.register_outputs({"url": self.url, "local_url": self.local_url})
