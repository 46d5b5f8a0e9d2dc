"""The prod and operator stacks' Kubernetes objects against a real API server (Kubernetes 1.36.3, built here:
tests/e2e/apiserver.py), sent as pulumi-kubernetes sends them: server-side apply with strict field validation.

What the mocks and the offline schemas cannot see: server-side validation and defaulting, admission (Pod
Security on the namespaces the stack labels, evaluated when the controllers create the Pods), RBAC that binds,
and a second apply that changes nothing. The objects are the ones the program creates under Pulumi's mocks
(tests/conftest.py); the Pulumi engine and provider themselves are not run here (README, "What is and is not
verified here").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from components.settings.tracing import CollectorSettings
from tests.conftest import StackRun, run_stack
from tests.crd_schema import DIRECTORY as CRD_DIRECTORY
from tests.crd_schema import _Loader as CRD_LOADER
from tests.e2e import conftest as e2e_conftest
from tests.e2e.apiserver import ApiServer, api_server, missing, wait_for
from tests.e2e.otlp import run_collector
from tests.test_kubernetes_schema import _ints

pytestmark = pytest.mark.e2e

# The order the engine's dependencies give: namespaces, then what pods need, workloads last.
FIRST = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def _rank(obj: dict[str, Any]) -> int:
    kind = obj["kind"]
    return FIRST.index(kind) if kind in FIRST else len(FIRST) + 1 + (kind in WORKLOADS)


def _objects(run: StackRun, custom: bool = False) -> list[dict[str, Any]]:
    objects = [_ints(r.inputs) for r in run.kubernetes_objects()
               if ("monitoring.coreos.com" in r.type) is custom]
    return sorted(objects, key=_rank)


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _create_foreign_namespaces(server: ApiServer, objects: list[dict[str, Any]]) -> None:
    """The namespaces a stack adds to but does not declare (Shannon's; the operator's in operator mode) exist
    before it: created here as their owners would have."""
    declared = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    for name in sorted({o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")} - declared):
        response = server.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name}})
        assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    if missing():
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing())} required in CI (.ci/install-tools.sh builds them)")
        pytest.skip(f"{', '.join(missing())} missing: run `bash .ci/install-tools.sh`")
    with api_server(tmp_path_factory.mktemp("apiserver")) as s:
        yield s


@pytest.fixture(scope="module")
def applied(server: ApiServer, prod_run: StackRun) -> list[dict[str, Any]]:
    """prod applied (after a dry run of everything, as `pulumi preview` does) on a cluster with Shannon's
    namespace and one Linux Node object, so the DaemonSet gets a Pod too."""
    node = server.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "node-1", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/hostname": "node-1"}}})
    assert node.status_code == 201, node.text
    objects = _objects(prod_run)
    _create_foreign_namespaces(server, objects)
    dry = [f"{_name(o)}: {r.status_code} {r.json().get('message')}" for o in objects
           if (r := server.apply(o, dry_run=True)).status_code not in (200, 201)
           and o["kind"] != "Namespace" and r.status_code != 404]
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    for namespace in namespaces:  # a dry run cannot place objects in namespaces that do not exist yet
        assert server.apply(namespace).status_code in (200, 201)
    dry += [f"{_name(o)}: {r.status_code} {r.json().get('message')}" for o in objects
            if (r := server.apply(o, dry_run=True)).status_code not in (200, 201)]
    assert not dry, "server-side dry run refused:\n" + "\n".join(dry)
    failures = [f"{_name(o)}: {r.status_code} {r.json().get('message')}" for o in objects
                if (r := server.apply(o)).status_code not in (200, 201)]
    assert not failures, "\n".join(failures)
    return objects


def test_every_prod_object_is_accepted_and_exists(server: ApiServer, applied: list[dict[str, Any]]):
    """Every object of prod passes the server's strict field validation, its dry run and its admission, and
    exists on the server afterwards."""
    absent = [_name(o) for o in applied if server.get(server.path_of(o)).status_code != 200]
    assert len(applied) > 40 and not absent, absent


def test_pod_security_admits_every_pod_the_controllers_create(server: ApiServer, applied: list[dict[str, Any]]):
    """The controller manager creates each workload's Pods and Pod Security admission accepts them: restricted in
    the stack's namespace, the node-exporter namespace's own level there. A refused Pod never appears (its
    controller records FailedCreate, reported here)."""
    namespaces = {o["metadata"]["name"]: o["metadata"].get("labels", {}) for o in applied if o["kind"] == "Namespace"}
    assert namespaces["monitoring"]["pod-security.kubernetes.io/enforce"] == "restricted"
    expected: dict[tuple[str, str], int] = {}
    for o in applied:
        if o["kind"] in WORKLOADS:
            replicas = 1 if o["kind"] == "DaemonSet" else o["spec"].get("replicas", 1)
            expected[(o["metadata"]["namespace"], o["metadata"]["name"])] = replicas

    def pods_of(namespace: str, name: str) -> int:
        selector = ",".join(f"{k}={v}" for k, v in next(
            o for o in applied if o["kind"] in WORKLOADS and o["metadata"]["name"] == name
            and o["metadata"]["namespace"] == namespace)["spec"]["selector"]["matchLabels"].items())
        return len(server.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector).json()["items"])

    def complete() -> bool:
        return all(pods_of(ns, name) >= n for (ns, name), n in expected.items())

    try:
        wait_for(complete, 90, "the workloads' Pods", server)
    except AssertionError:
        refused = [f"{e['involvedObject']['kind']} {ns}/{e['involvedObject']['name']}: {e['message']}"
                   for ns in {ns for ns, _ in expected}
                   for e in server.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
                   if e["reason"] == "FailedCreate"]
        missing_pods = {f"{ns}/{name}": (pods_of(ns, name), n) for (ns, name), n in expected.items()
                        if pods_of(ns, name) < n}
        raise AssertionError(f"pods missing {missing_pods}:\n" + "\n".join(refused)) from None
    e2e_conftest.MEASUREMENTS.append(f"{sum(expected.values())} pods of {len(expected)} workloads admitted: "
          + ", ".join(f"{name} {n}" for (_, name), n in sorted(expected.items())))


def test_service_accounts_may_do_what_they_need_and_nothing_more(server: ApiServer, applied: list[dict[str, Any]]):
    """RBAC as the server evaluates it: Prometheus may list and watch EndpointSlices, Services and Pods in
    Shannon's namespace and nothing cluster-wide; the collector may watch Pods in Shannon's namespace only."""
    prometheus = "system:serviceaccount:monitoring:prometheus"
    assert server.can(prometheus, "list", "endpointslices", "shannon", "discovery.k8s.io")
    assert server.can(prometheus, "watch", "services", "shannon")
    assert server.can(prometheus, "watch", "pods", "shannon")
    assert not server.can(prometheus, "list", "pods", None)
    assert not server.can(prometheus, "list", "pods", "kube-system")
    assert not server.can(prometheus, "get", "secrets", "shannon")
    assert not server.can(prometheus, "list", "endpoints", "shannon")
    collector = "system:serviceaccount:monitoring:otel-collector"
    assert server.can(collector, "watch", "pods", "shannon")
    assert not server.can(collector, "list", "replicasets", "shannon", "apps")
    assert not server.can(collector, "list", "pods", "monitoring")
    assert not server.can(collector, "list", "pods", None)


def _content(stored: dict[str, Any]) -> dict[str, Any]:
    """An object without what the server and the controllers keep moving: status, resourceVersion, managedFields."""
    metadata = {k: v for k, v in stored["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in stored.items() if k != "status"}, "metadata": metadata}


def test_a_second_apply_changes_nothing(server: ApiServer, applied: list[dict[str, Any]]):
    """Applying the same objects again (a second `pulumi up`) changes nothing the program owns: each object
    after the apply equals the object just before it (status and bookkeeping aside), so nothing the server
    defaults fights what the program sends."""
    changed = []
    for o in applied:
        before = server.get(server.path_of(o)).json()
        response = server.apply(o)
        assert response.status_code == 200, _name(o)
        if _content(response.json()) != _content(before):
            changed.append(_name(o))
    assert changed == []


def _missing(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Where `stored` lacks or differs from what was `sent` (the server may add defaults, never drop a field)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path or "."]
        return [p for k, v in sent.items() for p in _missing(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(sent) != len(stored):
            return [path]
        return [p for i, (a, b) in enumerate(zip(sent, stored, strict=True)) for p in _missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [path]


def test_operator_mode_custom_resources_are_accepted_by_the_operators_crds(tmp_path: Path):
    """The prometheus-operator CRDs of .ci/crds.lock installed, the operator stack's objects (custom resources
    included) applied with strict field validation: every one accepted, no field pruned. A cluster of its own:
    the operator stack reuses prod's names in another namespace layout."""
    if missing():
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing())} required in CI (.ci/install-tools.sh builds them)")
        pytest.skip(f"{', '.join(missing())} missing: run `bash .ci/install-tools.sh`")
    with api_server(tmp_path / "apiserver") as server:
        _apply_operator_stack(server)


def _apply_operator_stack(server: ApiServer) -> None:
    if not CRD_DIRECTORY.is_dir():
        pytest.fail(f"{CRD_DIRECTORY} missing (.ci/install-tools.sh extracts it)")
    for path in sorted(CRD_DIRECTORY.glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(), Loader=CRD_LOADER):
            if crd:
                response = server.apply(crd)
                assert response.status_code in (200, 201), f"{path.name}: {response.text[:300]}"
    wait_for(lambda: all(
        server.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").json().get("status", {})
        .get("acceptedNames", {}).get("kind") for name in ("prometheusrules.monitoring.coreos.com",
                                                           "servicemonitors.monitoring.coreos.com",
                                                           "alertmanagerconfigs.monitoring.coreos.com")),
        60, "the CRDs to be established", server)
    run = run_stack("operator")
    objects = _objects(run) + _objects(run, custom=True)
    _create_foreign_namespaces(server, objects)
    assert {"PrometheusRule", "ServiceMonitor", "AlertmanagerConfig"} <= {o["kind"] for o in objects}
    failures = [f"{_name(o)}: {r.status_code} {r.json().get('message')}" for o in objects
                if (r := server.apply(o)).status_code not in (200, 201)]
    assert not failures, "\n".join(failures)
    pruned = {_name(o): where for o in objects if "monitoring.coreos.com" in o["apiVersion"]
              if (where := _missing(o["spec"], server.get(server.path_of(o)).json().get("spec")))}
    assert not pruned, pruned
    e2e_conftest.MEASUREMENTS.append(f"operator stack: {len(objects)} objects accepted, "
          f"{sum('monitoring.coreos.com' in o['apiVersion'] for o in objects)} custom resources, none pruned")


def test_the_collector_enriches_spans_with_pod_metadata_under_its_own_role(server: ApiServer,
                                                                          applied: list[dict[str, Any]],
                                                                          tmp_path: Path):
    """k8s_attributes as prod configures it (Shannon's namespace, pods by the sender's address), run by the
    collector built here against this API server with a token of the stack's otel-collector ServiceAccount, so
    with exactly its Role: a span from a Pod of a Shannon Deployment reaches Tempo's stand-in with the Pod's name,
    namespace and Deployment. Only `auth_type` differs from prod (a kubeconfig carrying that token instead of the
    in-cluster mount)."""
    labels = {"app.kubernetes.io/name": "llm-service"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "llm-service", "namespace": "shannon"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                      "metadata": {"labels": labels},
                      "spec": {"containers": [{"name": "llm-service", "image": "shannon/llm-service:test"}]}}}}
    assert server.apply(deployment).status_code in (200, 201)
    selector = "app.kubernetes.io/name=llm-service"
    wait_for(lambda: server.get("/api/v1/namespaces/shannon/pods", labelSelector=selector).json()["items"], 60,
             "llm-service's Pod", server)
    (pod,) = server.get("/api/v1/namespaces/shannon/pods", labelSelector=selector).json()["items"]
    name, address = pod["metadata"]["name"], "10.244.0.7"
    # No kubelet: set the Pod's address as the kubelet would.
    status = server.session.patch(f"{server.url}/api/v1/namespaces/shannon/pods/{name}/status",
                                  data=json.dumps({"status": {"podIP": address, "podIPs": [{"ip": address}]}}),
                                  headers={"Content-Type": "application/merge-patch+json"}, timeout=30)
    assert status.status_code == 200, status.text
    token = server.post("/api/v1/namespaces/monitoring/serviceaccounts/otel-collector/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
    assert token.status_code == 201, token.text
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "collector",
        "clusters": [{"name": "test", "cluster": {"server": server.url, "certificate-authority": server.session.verify}}],
        "users": [{"name": "otel-collector", "user": {"token": token.json()["status"]["token"]}}],
        "contexts": [{"name": "collector", "context": {"cluster": "test", "user": "otel-collector"}}]}))

    def kubeconfig_auth(config: dict[str, Any]) -> None:
        config["processors"]["k8s_attributes"]["auth_type"] = "kubeConfig"

    settings = CollectorSettings.model_validate({"sampling": {"decisionWait": "1s", "percentage": 100}})
    with run_collector(tmp_path / "otelcol", settings, enrich_namespace="shannon", edit=kubeconfig_auth,
                       env={"KUBECONFIG": str(kubeconfig)}) as collector:
        provider = TracerProvider(resource=Resource.create({"service.name": "llm-service", "k8s.pod.ip": address}))
        provider.add_span_processor(SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True)))
        tracer = provider.get_tracer("shannon")

        def enriched() -> dict[str, str] | None:
            with tracer.start_as_current_span("POST"):
                pass  # a fresh trace each try: the pod informer syncs shortly after the collector starts
            return next((s["resource"] for spans in collector.sink.traces().values() for s in spans
                         if s["resource"].get("k8s.pod.name")), None)
        try:
            resource = wait_for(enriched, 60, "a span enriched with the Pod's metadata", server)
        finally:
            provider.shutdown()
    assert resource["k8s.pod.name"] == name and resource["k8s.namespace.name"] == "shannon"
    assert resource["k8s.deployment.name"] == "llm-service" and resource["k8s.pod.uid"] == pod["metadata"]["uid"]
    e2e_conftest.MEASUREMENTS.append(f"k8s_attributes under the collector's Role: {name} -> " + ", ".join(
        f"{k}={v}" for k, v in sorted(resource.items()) if k.startswith("k8s.")))
