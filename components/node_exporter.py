"""node-exporter: host metrics from every node (Kubernetes DaemonSet) or the Docker host.

It needs the host's /proc, /sys and / mounted read-only to report the host
rather than its own container, plus (Kubernetes) the host network and PID
namespaces, so that network interfaces and processes are the node's. It writes
nothing. Filesystems of containers and pods are excluded to keep cardinality bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import defaults
from components.platform import Backend, HostMount, HttpProbe, Port, Workload
from components.settings import StackSettings, default_resources

EXCLUDED_MOUNTS = "^/(dev|proc|sys|run|var/lib/docker/.+|var/lib/kubelet/.+|var/lib/containerd/.+)($|/)"


@dataclass(frozen=True)
class NodeExporterArgs:
    settings: StackSettings
    platform: Backend


class NodeExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodeExporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:NodeExporter", name, None, opts)
        s = args.settings
        port = defaults.PORTS["node-exporter"]
        ready, live = defaults.HEALTH["node-exporter"]
        workload = Workload(
            name="node-exporter",
            image=s.image("node-exporter"),
            args=(
                "--path.procfs=/host/proc",
                "--path.sysfs=/host/sys",
                "--path.rootfs=/host/root",
                f"--web.listen-address=:{port}",
                f"--collector.filesystem.mount-points-exclude={EXCLUDED_MOUNTS}",
            ),
            ports=(Port("metrics", port),),
            resources=s.exporters.node.resources or default_resources("node-exporter"),
            run_as=defaults.RUN_AS["node-exporter"],
            readiness=HttpProbe(ready, port),
            liveness=HttpProbe(live, port),
            kind="per-node",
            scratch_dirs=(),
            host_mounts=(HostMount("/proc", "/host/proc"), HostMount("/sys", "/host/sys"),
                         HostMount("/", "/host/root")),
            host_network=True,
            host_pid=True,
            linux_only=True,
            # Host access needs the privileged Pod Security level: its own namespace, so the
            # stack's namespace can enforce restricted.
            namespace=s.kubernetes.host_namespace,
            # Evicted last under node pressure: the node's metrics matter most then.
            priority_class="system-node-critical",
        )
        self.deployed = args.platform.deploy(name, workload, pulumi.ResourceOptions(parent=self))
        self.register_outputs({})

