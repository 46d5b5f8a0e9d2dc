"""One small description of something to run, independent of where it runs.

Components describe their programs as a `Workload`; a backend (Kubernetes or
Docker) decides how to run it. Contents may be plain strings or Pulumi outputs;
secret contents must be Pulumi secrets.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.settings import Resources


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    protocol: Literal["TCP", "UDP"] = "TCP"
    local_port: int | None = None  # Docker: published on 127.0.0.1:<local_port>
    peer_only: bool = False  # Kubernetes: only on the headless Service (cluster gossip)


@dataclass(frozen=True)
class HttpProbe:
    path: str
    port: int


@dataclass(frozen=True)
class DataVolume:
    mount_path: str
    size: str


@dataclass(frozen=True)
class HostMount:
    """A host path mounted read-only (node-exporter)."""

    host_path: str
    mount_path: str


@dataclass(frozen=True)
class PublicHttp:
    """Kubernetes: expose a port through an Ingress. Docker publishes on loopback instead."""

    host: str
    port: int
    class_name: str | None = None
    tls_secret: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    tls_data: tuple[pulumi.Output[str], pulumi.Output[str]] | None = None  # (cert, key) to write into tls_secret


@dataclass(frozen=True)
class Workload:
    name: str
    image: str
    args: tuple[str, ...]
    ports: tuple[Port, ...]
    resources: Resources
    run_as: tuple[int, int]
    readiness: HttpProbe
    liveness: HttpProbe
    replicas: int = 1
    kind: Literal["stateful", "stateless", "per-node"] = "stateful"
    config_dir: str | None = None
    config_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_dir: str | None = None
    secret_files: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    pod_name_env: str | None = None  # env var that receives the pod (or container) name
    data: DataVolume | None = None
    scratch_dirs: tuple[str, ...] = ("/tmp",)
    host_mounts: tuple[HostMount, ...] = ()
    host_network: bool = False
    host_pid: bool = False
    needs_api_token: bool = False  # Kubernetes: mount the ServiceAccount token (service discovery)
    join_shannon_network: bool = False  # Docker: also join Shannon's network
    # The name Shannon's services reach it by: on Docker an alias on Shannon's network, on Kubernetes an
    # ExternalName Service of that name in Shannon's namespace (when that is not the workload's own).
    shannon_network_alias: str | None = None
    wait_healthy: bool = False  # Docker: create waits until the health check passes
    startup_seconds: int = 600  # Kubernetes: how long start-up (WAL replay, migrations) may take
    linux_only: bool = False  # Kubernetes: schedule on Linux nodes only (host-level programs)
    namespace: str | None = None  # Kubernetes: another namespace than the stack's (host-level programs)
    sticky: bool = False  # Kubernetes: the Service sends each client to the same replica (sessionAffinity)
    priority_class: str | None = None  # Kubernetes: PriorityClass of the pods
    public: PublicHttp | None = None

    def checksum(self, key: pulumi.Input[str]) -> pulumi.Output[str]:
        """An HMAC-SHA256, keyed by `key` (a per-stack random secret), of every config and secret
        file and secret env value.

        A change rolls the pods (Kubernetes annotation) or replaces the container (Docker
        label). It is unsecreted, so the pod template stays readable in previews; being keyed,
        it cannot be used to guess a secret offline by whoever can read the Deployment (a
        plain hash of a weak password can be brute-forced).
        """
        items = sorted({**self.config_files, **{f"secret:{k}": v for k, v in self.secret_files.items()},
                        **{f"env:{k}": v for k, v in self.secret_env.items()}}.items())
        keys = [k for k, _ in items]

        def digest(args: list[str]) -> str:
            h = hmac.new(str(args[0]).encode(), digestmod=hashlib.sha256)
            for name, value in zip(keys, args[1:], strict=True):
                h.update(name.encode() + b"\0" + str(value).encode() + b"\0")
            return h.hexdigest()

        return pulumi.Output.unsecret(pulumi.Output.all(key, *[v for _, v in items]).apply(digest))

    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": "shannon-observability",
                "app.kubernetes.io/managed-by": "pulumi"}

    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": "shannon-observability"}


@dataclass
class Deployed:
    """What a backend created for a workload: the resources others may depend on."""

    workload: pulumi.Resource
    resources: list[pulumi.Resource]
