"""Each policy accepts a compliant resource and rejects a violating one."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import policies
from policies import Resource

STS = "kubernetes:apps/v1:StatefulSet"


def _workload(replicas: int = 1, **container: Any) -> dict[str, Any]:
    base = {
        "name": "app", "image": "prom/prometheus:v3.13.2",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
    }
    base.update(container)
    return {"metadata": {"name": "app", "namespace": "monitoring"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "x"}},
                                                        "spec": {"containers": [base]}}}}


def _violations(check, type_: str, props: dict[str, Any]) -> list[str]:
    return check(Resource(type_, "r", props))


def test_pinned_images():
    """Tags that name a version or digests pass; latest and tagless images fail, on Docker and Kubernetes."""
    assert _violations(policies.pinned_images, STS, _workload()) == []
    assert _violations(policies.pinned_images, STS, _workload(image="prom/prometheus:latest"))
    assert _violations(policies.pinned_images, "docker:index/remoteImage:RemoteImage", {"name": "grafana/grafana"})
    assert not _violations(policies.pinned_images, "docker:index/remoteImage:RemoteImage",
                           {"name": "grafana/grafana@sha256:" + "a" * 64})


def test_requests_and_memory_limit():
    """A container without a memory limit (or requests) is rejected."""
    assert _violations(policies.resources_set, STS, _workload()) == []
    bad = _violations(policies.resources_set, STS, _workload(resources={"requests": {"cpu": "1"}}))
    assert bad == ["container 'app' has no requests.memory, limits.memory"]


@pytest.mark.parametrize(("change", "message"), [
    ({"runAsNonRoot": False}, "may run as root"),
    ({"runAsUser": 0}, "may run as root"),
    ({"allowPrivilegeEscalation": True}, "allows privilege escalation"),
    ({"readOnlyRootFilesystem": False}, "writable root filesystem"),
    ({"capabilities": {"drop": ["NET_RAW"]}}, "does not drop all capabilities"),
])
def test_non_root_read_only(change: dict[str, Any], message: str):
    """Root, privilege escalation, a writable root filesystem or kept capabilities are each rejected."""
    assert _violations(policies.non_root_read_only, STS, _workload()) == []
    props = _workload()
    props["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(change)
    assert any(message in v for v in _violations(policies.non_root_read_only, STS, props))


def test_no_host_access():
    """Host namespaces and host path mounts are rejected."""
    assert _violations(policies.no_host_access, STS, _workload()) == []
    props = _workload(volumeMounts=[{"name": "root", "mountPath": "/host"}])
    props["spec"]["template"]["spec"].update({"hostPID": True, "volumes": [{"name": "root", "hostPath": {"path": "/"}}]})
    found = _violations(policies.no_host_access, STS, props)
    assert "pod uses the host's PID namespace" in found
    assert "container 'app' mounts host path volume 'root' read-write" in found


@pytest.mark.parametrize(("data", "bad"), [
    ({"prometheus.yml": "scrape_configs: []"}, False),
    ({"slack-api-key": "x"}, True),
    ({"alertmanager.yml": "api_url: https://hooks.slack.com/services/T000/B000/XXXXXXXX"}, True),
    ({"exporter.env": "DATA_SOURCE_NAME=postgresql://exporter:hunter2pass@pg:5432/db"}, True),
    ({"grafana.ini": "[security]\nadmin_password = supersecret123\n"}, True),
])
def test_configmap_without_secrets(data: dict[str, str], bad: bool):
    """Secret-looking keys and values in a ConfigMap are rejected; ordinary config passes."""
    found = _violations(policies.configmap_without_secrets, "kubernetes:core/v1:ConfigMap", {"data": data})
    assert bool(found) == bad, found


def test_docker_ports_on_loopback():
    """Ports published on 0.0.0.0 (or without an address) are rejected; 127.0.0.1 passes."""
    container = "docker:index/container:Container"
    assert _violations(policies.docker_ports_on_loopback, container,
                       {"ports": [{"internal": 9090, "external": 9090, "ip": "127.0.0.1"}]}) == []
    assert _violations(policies.docker_ports_on_loopback, container, {"ports": [{"internal": 9090, "external": 9090}]})
    assert _violations(policies.docker_ports_on_loopback, container,
                       {"ports": [{"internal": 9090, "external": 9090, "ip": "0.0.0.0"}]})


def test_grafana_no_anonymous():
    """Anonymous access in grafana.ini or through GF_AUTH_ANONYMOUS_ENABLED is rejected."""
    cm = "kubernetes:core/v1:ConfigMap"
    assert _violations(policies.grafana_no_anonymous, cm, {"data": {"grafana.ini": "[auth.anonymous]\nenabled = false\n"}}) == []
    assert _violations(policies.grafana_no_anonymous, cm, {"data": {"grafana.ini": "[auth.anonymous]\nenabled = true\n"}})
    props = _workload(env=[{"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "true"}])
    assert _violations(policies.grafana_no_anonymous, STS, props)
    assert _violations(policies.grafana_no_anonymous, "docker:index/container:Container",
                       {"envs": ["GF_AUTH_ANONYMOUS_ENABLED=true"]})


def test_pdb_for_replicated_workloads():
    """Two replicas without a matching PodDisruptionBudget are rejected; with one, they pass."""
    sts = Resource(STS, "app", _workload(replicas=2))
    assert policies.pdb_for_replicated([sts]) == [("app", "2 replicas but no PodDisruptionBudget selects its pods")]
    pdb = Resource("kubernetes:policy/v1:PodDisruptionBudget", "app-pdb", {
        "metadata": {"namespace": "monitoring"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "x"}}}})
    assert policies.pdb_for_replicated([sts, pdb]) == []
    other_ns = copy.deepcopy(pdb.props)
    other_ns["metadata"]["namespace"] = "default"
    assert policies.pdb_for_replicated([sts, Resource(pdb.type, "p", other_ns)])
    assert policies.pdb_for_replicated([Resource(STS, "single", _workload(replicas=1))]) == []


def test_allowlist_entries_have_reasons_and_apply():
    """The allow-list is documented (every entry has a reason) and exempts only what it names."""
    allowlist = policies.load_allowlist()
    assert allowlist and all(e["reason"] for e in allowlist)
    assert policies.allowed("no-host-access", "shannon-node-exporter-daemonset", allowlist)
    assert not policies.allowed("no-host-access", "shannon-prometheus-statefulset", allowlist)
    assert not policies.allowed("non-root-read-only", "shannon-node-exporter-daemonset", allowlist)


def test_pack_registers_every_policy_as_mandatory():
    """The pulumi-policy pack carries every policy, all MANDATORY."""
    import pack
    from pulumi_policy import EnforcementLevel

    built = pack.build_policies()
    assert [p.name for p in built] == [p.name for p in policies.RESOURCE_POLICIES] + [policies.STACK_POLICY_NAME]
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in built)
