"""Production hardening, walked over every pod template of the prod mock run; every gap reported at once."""

from __future__ import annotations

from typing import Any

from components import defaults
from components.stackfile import load_stack
from tests.conftest import ROOT, StackRun

WORKLOAD_TYPES = {"kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet"}


def _workloads(run: StackRun) -> list[tuple[str, dict[str, Any]]]:
    return [(r.inputs["metadata"]["name"], r.inputs) for r in run.resources if r.type in WORKLOAD_TYPES]


def _expected_resources(name: str) -> dict[str, str]:
    settings, _ = load_stack("prod", ROOT)
    section = {"prometheus": settings.prometheus.resources, "alertmanager": settings.alertmanager.resources,
               "grafana": settings.grafana.resources, "tempo": settings.tempo.resources,
               "otel-collector": settings.tracing.collector.resources}.get(name)
    if section is None:
        return defaults.RESOURCES[name]
    return {"cpu": section.cpu, "memory": section.memory, "memoryLimit": section.memory_limit}


def _gaps(name: str, workload: dict[str, Any]) -> list[str]:
    gaps = []
    template = workload["spec"]["template"]
    pod = template["spec"]
    pod_ctx = pod.get("securityContext", {})
    uid, gid = defaults.RUN_AS[name]
    if pod_ctx.get("fsGroup") != gid:
        gaps.append("pod securityContext.fsGroup is not the image's group")
    if pod_ctx.get("seccompProfile") != {"type": "RuntimeDefault"}:
        gaps.append("pod seccompProfile is not RuntimeDefault")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
    for container in pod["containers"]:
        ctx = container.get("securityContext", {})
        where = f"container {container['name']}"
        if not (ctx.get("runAsNonRoot") is True and ctx.get("runAsUser") == uid and ctx.get("runAsGroup") == gid):
            gaps.append(f"{where}: not runAsNonRoot with the fixed UID/GID {uid}/{gid}")
        if ctx.get("readOnlyRootFilesystem") is not True:
            gaps.append(f"{where}: root filesystem is writable")
        if ctx.get("allowPrivilegeEscalation") is not False:
            gaps.append(f"{where}: privilege escalation allowed")
        if ctx.get("capabilities", {}).get("drop") != ["ALL"]:
            gaps.append(f"{where}: capabilities not dropped")
        if ctx.get("seccompProfile") != {"type": "RuntimeDefault"}:
            gaps.append(f"{where}: seccompProfile is not RuntimeDefault")
        expected = _expected_resources(name)
        resources = container.get("resources", {})
        if resources.get("requests") != {"cpu": expected["cpu"], "memory": expected["memory"]}:
            gaps.append(f"{where}: requests {resources.get('requests')} are not the settings' {expected}")
        if resources.get("limits") != {"memory": expected["memoryLimit"]}:
            gaps.append(f"{where}: memory limit {resources.get('limits')} is not the settings' {expected['memoryLimit']}")
        ready_path, live_path = defaults.HEALTH[name]
        for probe, path in (("readinessProbe", ready_path), ("livenessProbe", live_path)):
            http = container.get(probe, {}).get("httpGet", {})
            if http.get("path") != path or http.get("port") not in {p["containerPort"] for p in container["ports"]}:
                gaps.append(f"{where}: {probe} is not GET {path} on one of its ports")
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"])
            if mount.get("readOnly"):
                continue
            if mount["name"] in claims or (volume and "emptyDir" in volume):
                continue
            gaps.append(f"{where}: writable mount {mount['name']} is neither an emptyDir nor a PVC")
    return gaps


def test_every_pod_template_is_hardened(prod_run: StackRun):
    """Non-root fixed UID/GID and fsGroup, read-only root, no escalation, no capabilities, RuntimeDefault seccomp,
    requests and a memory limit from settings, real health probes, writable only where a program writes."""
    workloads = _workloads(prod_run)
    assert {name for name, _ in workloads} == {"prometheus", "alertmanager", "grafana", "tempo", "otel-collector",
                                               "node-exporter", "postgres-exporter", "redis-exporter", "blackbox-exporter"}
    gaps = [f"{name}: {gap}" for name, workload in workloads for gap in _gaps(name, workload)]
    assert gaps == [], "\n".join(gaps)


def test_hardening_check_finds_gaps(prod_run: StackRun):
    """The walker is live: loosening one pod is reported."""
    import copy

    name, workload = next((n, w) for n, w in _workloads(prod_run) if n == "grafana")
    broken = copy.deepcopy(workload)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["livenessProbe"]
    gaps = _gaps(name, broken)
    assert "container grafana: root filesystem is writable" in gaps
    assert "container grafana: livenessProbe is not GET /api/health on one of its ports" in gaps


def test_node_exporter_host_mounts_are_read_only(prod_run: StackRun):
    """node-exporter mounts the host's /proc, /sys and / read-only, and nothing else from the host."""
    _name, workload = next((n, w) for n, w in _workloads(prod_run) if n == "node-exporter")
    pod = workload["spec"]["template"]["spec"]
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert sorted(host.values()) == ["/", "/proc", "/sys"]
    mounts = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] in host]
    assert all(m["readOnly"] is True for m in mounts)


def test_ha_and_disruption(prod_run: StackRun):
    """Every workload with more than one replica has a PDB and spreads over nodes; Prometheus is an HA pair."""
    pdbs = {r.inputs["metadata"]["name"] for r in prod_run.of_type("kubernetes:policy/v1:PodDisruptionBudget")}
    replicated = {name for name, w in _workloads(prod_run) if w["spec"].get("replicas", 1) > 1}
    assert replicated == {"prometheus", "alertmanager"}
    assert pdbs == replicated
    for name, workload in _workloads(prod_run):
        if name in replicated:
            spread = workload["spec"]["template"]["spec"]["topologySpreadConstraints"]
            assert spread[0]["topologyKey"] == "kubernetes.io/hostname"
            assert spread[0]["whenUnsatisfiable"] == "DoNotSchedule"
    prometheus = dict(_workloads(prod_run))["prometheus"]
    assert prometheus["spec"]["replicas"] == 2
    assert dict(_workloads(prod_run))["alertmanager"]["spec"]["replicas"] == 3


def test_network_policies(prod_run: StackRun):
    """Default-deny ingress, then exactly the stack's flows."""
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in
                prod_run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}  # no rule: deny all

    def sources(name: str, port: int, protocol: str = "TCP") -> list[dict[str, Any]]:
        return [src for rule in policies[name]["ingress"] if {"port": port, "protocol": protocol} in rule["ports"]
                for src in rule["from"]]

    def pods(*names: str) -> list[dict[str, Any]]:
        return [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": n}}} for n in names]

    assert sources("allow-prometheus", 9090) == pods("prometheus", "grafana", "tempo")
    assert sources("allow-alertmanager", 9093) == pods("prometheus", "grafana")
    assert sources("allow-alertmanager", 9094, "TCP") == pods("alertmanager")
    assert sources("allow-alertmanager", 9094, "UDP") == pods("alertmanager")
    assert sources("allow-tempo", 4317) == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shannon"}}}]
    assert sources("allow-tempo", 3200) == pods("grafana", "prometheus")
    ingress = sources("allow-grafana", 3000)
    assert ingress[0] == pods("prometheus")[0]
    assert ingress[1]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    for exporter in ("postgres-exporter", "redis-exporter", "blackbox-exporter"):
        port = defaults.PORTS[exporter]
        assert sources(f"allow-{exporter}", port) == pods("prometheus")


def test_grafana_hardening(prod_run: StackRun):
    """Prod Grafana: anonymous and sign-up off, secure lax cookies, no external snapshots, a generated password."""
    cm = next(r for r in prod_run.of_type("kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "grafana-config")
    ini = cm.inputs["data"]["grafana.ini"]
    for line in ("[auth.anonymous]\nenabled = false", "allow_sign_up = false", "cookie_secure = true",
                 "cookie_samesite = lax", "[snapshots]\nexternal_enabled = false"):
        assert line in ini
    assert prod_run.outputs["grafana_admin_password"].startswith("generated-test-password")
