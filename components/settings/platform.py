"""The platforms: Kubernetes and Docker."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    model_validator,
)

from components.settings.types import (
    DnsLabel,
    DnsName,
    DockerName,
    FieldProblemError,
    Model,
    NamePrefix,
)


class KubernetesSettings(Model):
    namespace: DnsLabel = Field("monitoring", description="Namespace the stack is deployed into.")
    cluster_domain: DnsName = Field("cluster.local", description="Cluster DNS domain, for per-pod addresses.")
    storage_class: DnsName | None = Field(None, description="StorageClass of the persistent volumes; cluster default if unset.")
    context: str | None = Field(None, description="kubeconfig context; the current context if unset.")
    create_namespace: bool = Field(
        True, description="Create (and own) the namespaces. false: deploy into existing ones the platform team owns, "
                          "labelled for Pod Security as the README says.")
    node_exporter_namespace: DnsLabel | None = Field(
        None, description="Namespace of node-exporter, the one workload that needs host access (Pod Security "
                          "privileged); defaults to <namespace>-node-exporter. The stack's namespace enforces restricted.")

    @model_validator(mode="after")
    def _namespaces_apart(self) -> KubernetesSettings:
        if self.node_exporter_namespace == self.namespace:
            raise FieldProblemError("nodeExporterNamespace", f"is the stack's namespace ({self.namespace}): "
                                    "node-exporter's namespace enforces Pod Security privileged, the stack's "
                                    "restricted; one namespace cannot be both", example=f"{self.namespace}-node-exporter")
        return self

    @property
    def host_namespace(self) -> str:
        return self.node_exporter_namespace or f"{self.namespace}-node-exporter"


class DockerSettings(Model):
    host: str | None = Field(None, description="Docker daemon address; DOCKER_HOST or the local socket if unset.")
    network: DockerName = Field("shannon-observability", description="Network the stack creates for its containers.")
    shannon_network: DockerName | None = Field(
        None, description="Existing network of Shannon's compose project (see `docker network ls`), joined by "
                          "Prometheus and Tempo so they reach Shannon's containers by name.")
    name_prefix: NamePrefix = Field("shannon-", description="Prefix of container and volume names.")

    @property
    def remote(self) -> bool:
        """A daemon on another machine: its published 127.0.0.1 ports are that machine's loopback, not ours."""
        if self.host is None or self.host.startswith(("unix://", "npipe://")):
            return False
        return not re.fullmatch(r"tcp://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?/?", self.host)
