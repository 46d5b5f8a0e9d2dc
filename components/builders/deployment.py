"""deployment.yaml: what identifies each workload and its data, for reviewing what `pulumi up` will do.

Pure: no `pulumi` import. The render writes it beside the configuration files, and
`components.diff` compares two of them field by field, saying for each change whether the
providers update in place or replace, and what happens to the data (`EFFECTS`).
"""

from __future__ import annotations

from typing import Any

from components.settings import StackSettings
from components.topology import Topology


def build_deployment_summary(settings: StackSettings) -> dict[str, Any]:
    topo = Topology(settings)
    stateful: dict[str, tuple[int, str]] = {}
    if settings.own_components:  # operator mode: the cluster's operator runs these
        stateful = {"prometheus": (settings.prometheus.replicas, settings.prometheus.volume_size),
                    "alertmanager": (settings.alertmanager.replicas, settings.alertmanager.volume_size),
                    "grafana": (1, settings.grafana.volume_size)}
    if settings.tempo.enabled:
        stateful["tempo"] = (1, settings.tempo.volume_size)
    workloads: dict[str, dict[str, Any]] = {}
    for name, (replicas, size) in stateful.items():
        workloads[name] = {"image": settings.image(name), "replicas": replicas, "volumeSize": size}
    exporters = settings.exporters
    for name, enabled in (("node-exporter", exporters.node.enabled), ("postgres-exporter", exporters.postgres.enabled),
                          ("redis-exporter", exporters.redis.enabled), ("blackbox-exporter", exporters.blackbox.enabled)):
        if enabled:
            workloads[name] = {"image": settings.image(name)}
    summary: dict[str, Any] = {"platform": settings.platform}
    if topo.kubernetes:
        summary["kubernetes"] = {"namespace": settings.kubernetes.namespace,
                                 "storageClass": settings.kubernetes.storage_class}
        if settings.operator.enabled:
            summary["operator"] = {"release": settings.operator.release, "namespace": settings.operator.namespace,
                                   "matcherStrategy": settings.operator.matcher_strategy}
    else:
        summary["docker"] = {"network": settings.docker.network, "namePrefix": settings.docker.name_prefix}
        for name, workload in workloads.items():
            if "volumeSize" in workload:
                replicas = workload["replicas"]
                workload["volumes"] = [topo.volume_name(name, i) for i in range(replicas)]
    summary["workloads"] = workloads
    return summary


# (platform, field) -> (verdict, what it costs). `field` is a key of a workload or of the platform section.
EFFECTS: dict[tuple[str, str], tuple[str, str]] = {
    ("kubernetes", "namespace"): (
        "replaces", "every object of the stack is created in the new namespace and deleted from the old one; the old "
                    "namespace and its volumes are kept (retained), the new volumes start empty: data does not move"),
    ("kubernetes", "storageClass"): (
        "does not apply to existing volumes", "a claim's class is immutable: existing claims keep theirs, only claims of "
                                              "new replicas use the new class; moving data is a manual migration"),
    ("kubernetes", "volumeSize"): (
        "updates in place", "the claims are expanded (the StorageClass must allow expansion; a shrink is refused and the "
                            "`up` stops before anything else changes); the retention size follows"),
    ("kubernetes", "replicas"): ("updates in place", "scaling down keeps the removed replicas' claims"),
    ("kubernetes", "image"): ("updates in place", "a rolling restart, one pod at a time"),
    ("docker", "network"): ("replaces", "every container restarts on the new network; data is kept in the volumes"),
    ("docker", "namePrefix"): (
        "replaces", "containers and volumes get new names: the new volumes start empty, the old ones are kept "
                    "(retained) under the old names: data does not move"),
    ("docker", "volumeSize"): ("updates in place", "Docker volumes have no size: only the retention size changes"),
    ("docker", "replicas"): ("replaces", "containers are re-created; replica 0 keeps its volume, new replicas start "
                                         "empty, removed replicas' volumes are kept"),
    ("docker", "image"): ("replaces", "the container is re-created (a restart); data is kept in its volume"),
    ("docker", "volumes"): ("replaces", "a renamed volume is a new, empty one; the old one is kept (retained)"),
}
