"""The collector in the stacks (tracing.collector.enabled): rendered, deployed under mocks where Shannon sends
traces by default (otel-collector:4317), scraped, and reachable from Shannon's namespace only."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.builders.otel_collector import stack_collector_config
from components.render import main as render_main
from components.stackfile import load_stack
from tests.conftest import ROOT, edited_stack_file, run_stack
from tests.test_otel_collector_config import _binary

P = "shannon-observability:"


def _enable(config: dict[str, Any]) -> None:
    config.setdefault(P + "tracing", {})["collector"] = {"enabled": True}


def _disable(config: dict[str, Any]) -> None:
    config.setdefault(P + "tracing", {})["collector"] = {"enabled": False}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_rendered_collector_config_is_accepted_and_forwards_to_tempo(stack: str, tmp_path: Path):
    """dev and prod, as committed (the collector follows Tempo by default), render otel-collector/config.yaml,
    which the collector of the pinned release accepts, exporting to the stack's Tempo OTLP gRPC port;
    Prometheus scrapes the collector."""
    out = tmp_path / "out"
    assert render_main(["--stack", stack, "--out", str(out)]) == 0
    config_path = out / "otel-collector/config.yaml"
    result = subprocess.run([str(_binary()), "validate", f"--config={config_path}"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(config_path.read_text())
    endpoint = config["exporters"]["otlp_grpc/tempo"]["endpoint"]
    assert endpoint.endswith(":4317") and "tempo" in endpoint
    jobs = [j["job_name"] for j in yaml.safe_load((out / "prometheus/prometheus.yml").read_text())["scrape_configs"]]
    assert "otel-collector" in jobs


@pytest.mark.parametrize("edit", ["collector-off", "tempo-off"])
def test_a_stack_without_the_collector_renders_nothing_of_it(edit: str, tmp_path: Path):
    """tracing.collector.enabled false, or Tempo off with the collector left at its default, renders no
    collector: no config file, no scrape job, no collector alerts and no collector panels."""
    def off(config: dict[str, Any]) -> None:
        if edit == "collector-off":
            _disable(config)
        else:
            config.setdefault(P + "tempo", {})["enabled"] = False
    out = tmp_path / "out"
    stack_file = edited_stack_file(tmp_path, "prod", off)
    assert render_main(["--stack", "prod", "--stack-file", str(stack_file), "--out", str(out)]) == 0
    assert not (out / "otel-collector").exists()
    rendered = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "otel-collector" not in rendered and "otelcol_" not in rendered


def test_a_collector_without_tempo_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """tracing.collector.enabled with tempo.enabled false is refused (it would forward nowhere), nothing written."""
    def edit(config: dict[str, Any]) -> None:
        _enable(config)
        config.setdefault(P + "tempo", {})["enabled"] = False
    stack_file = edited_stack_file(tmp_path, "prod", edit)
    assert render_main(["--stack", "prod", "--stack-file", str(stack_file), "--out", str(tmp_path / "out")]) == 2
    assert "tracing.collector.enabled" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_on_docker_shannon_reaches_it_as_otel_collector(tmp_path: Path):
    """On Docker the collector joins Shannon's compose network with the alias otel-collector, Shannon's default
    tracing endpoint, and receives its config file."""
    run = run_stack("dev")
    (container,) = [r for r in run.of_type("docker:index/container:Container") if "otel-collector" in r.name]
    networks = {n["name"]: n.get("aliases") for n in container.inputs["networksAdvanced"]}
    assert networks["shannon_shannon-net"] == ["otel-collector"]
    assert any(u["file"] == "/etc/otelcol/config.yaml" for u in container.inputs["uploads"])
    assert container.inputs["command"] == ["--config=/etc/otelcol/config.yaml"]


def test_on_kubernetes_a_service_named_otel_collector_admits_shannons_namespace(tmp_path: Path):
    """On Kubernetes a Deployment and a Service named otel-collector serve OTLP; the NetworkPolicy admits OTLP from
    Shannon's namespace and the metrics port from Prometheus only."""
    run = run_stack("prod")
    services = {r.inputs["metadata"]["namespace"]: r.inputs for r in run.of_type("kubernetes:core/v1:Service")
                if r.inputs["metadata"]["name"] == "otel-collector"}
    assert set(services) == {"monitoring", "shannon"}
    assert {4317, 4318, 8888} <= {p["port"] for p in services["monitoring"]["spec"]["ports"]}
    # Shannon's default endpoint, the bare name otel-collector, resolves in Shannon's namespace.
    assert services["shannon"]["spec"]["type"] == "ExternalName"
    assert services["shannon"]["spec"]["externalName"] == "otel-collector.monitoring.svc.cluster.local"
    deployments = [r for r in run.of_type("kubernetes:apps/v1:Deployment")
                   if r.inputs["metadata"]["name"] == "otel-collector"]
    assert len(deployments) == 1 and deployments[0].inputs["spec"]["replicas"] == 1
    (policy,) = [r for r in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                 if r.inputs["metadata"]["name"].endswith("allow-otel-collector")]
    otlp, metrics = policy.inputs["spec"]["ingress"]
    assert otlp["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shannon"}}}]
    assert {p["port"] for p in otlp["ports"]} == {4317, 4318}
    assert metrics["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_the_alias_nothing_takes_the_name_in_shannons_place(stack: str, tmp_path: Path):
    """tracing.collector.shannonAlias false: no otel-collector name on Shannon's network or in Shannon's
    namespace (for a Shannon that runs its own collector); the collector itself is still deployed."""
    def edit(config: dict[str, Any]) -> None:
        config.setdefault(P + "tracing", {})["collector"] = {"shannonAlias": False}
    run = run_stack(stack, stack_file=edited_stack_file(tmp_path, stack, edit))
    if stack == "dev":
        (container,) = [r for r in run.of_type("docker:index/container:Container") if "otel-collector" in r.name]
        networks = {n["name"]: n.get("aliases") for n in container.inputs["networksAdvanced"]}
        assert "shannon_shannon-net" in networks and not networks["shannon_shannon-net"]
    else:
        namespaces = [r.inputs["metadata"]["namespace"] for r in run.of_type("kubernetes:core/v1:Service")
                      if r.inputs["metadata"]["name"] == "otel-collector"]
        assert namespaces == ["monitoring"]


@pytest.mark.parametrize("collector", [True, False])
def test_span_metrics_have_one_source(collector: bool, tmp_path: Path):
    """With the collector, span metrics come from it (before sampling: a pipeline beside the sampled one,
    scraped as otel-collector-spanmetrics) and Tempo's metrics-generator computes none; without it, Tempo's
    generator does. Never both, never neither."""
    def edit(config: dict[str, Any]) -> None:
        config.setdefault(P + "tracing", {})["collector"] = {"enabled": collector}
    out = tmp_path / "out"
    stack_file = edited_stack_file(tmp_path, "prod", edit)
    assert render_main(["--stack", "prod", "--stack-file", str(stack_file), "--out", str(out)]) == 0
    tempo = yaml.safe_load((out / "tempo/tempo.yaml").read_text())
    generator = "span-metrics" in tempo["overrides"]["defaults"]["metrics_generator"]["processors"]
    jobs = {j["job_name"]: j for j in yaml.safe_load((out / "prometheus/prometheus.yml").read_text())["scrape_configs"]}
    assert generator is not collector
    assert ("otel-collector-spanmetrics" in jobs) is collector
    if collector:
        config = yaml.safe_load((out / "otel-collector/config.yaml").read_text())
        pipelines = config["service"]["pipelines"]
        assert "tail_sampling" not in pipelines["traces/spanmetrics"]["processors"]
        assert pipelines["traces/spanmetrics"]["receivers"] == pipelines["traces"]["receivers"]
        assert pipelines["metrics/spanmetrics"]["exporters"] == ["prometheus/spanmetrics"]


def test_on_kubernetes_spans_are_enriched_with_pod_metadata_under_a_pod_reader_role():
    """prod's collector runs k8s_attributes for Shannon's namespace only, first after the memory limiter (it
    needs the sender's address), and its ServiceAccount may get/list/watch pods there and nothing else:
    one Role, one RoleBinding, no ClusterRole; the token is mounted for it. dev has no such step."""
    prod, _ = load_stack("prod", ROOT)
    pipeline = stack_collector_config(prod)["service"]["pipelines"]["traces"]["processors"]
    assert pipeline[:2] == ["memory_limiter", "k8s_attributes"]
    assert stack_collector_config(prod)["processors"]["k8s_attributes"]["filter"] == {"namespace": "shannon"}
    dev, _ = load_stack("dev", ROOT)
    assert "k8s_attributes" not in stack_collector_config(dev)["processors"]
    run = run_stack("prod")
    roles = [r.inputs for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
             if r.inputs["metadata"]["name"].startswith("otel-collector")]
    assert [(r["metadata"]["namespace"], r["rules"]) for r in roles] == [
        ("shannon", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}])]
    (binding,) = [r.inputs for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
                  if r.inputs["metadata"]["name"].startswith("otel-collector")]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "otel-collector", "namespace": "monitoring"}]
    assert not [r for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
                if "otel-collector" in r.inputs["metadata"]["name"]]
    (deployment,) = [r.inputs for r in run.of_type("kubernetes:apps/v1:Deployment")
                     if r.inputs["metadata"]["name"] == "otel-collector"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "otel-collector" and pod["automountServiceAccountToken"] is True


def test_shannons_alias_follows_the_cluster_domain(tmp_path: Path):
    """The ExternalName in Shannon's namespace names the collector under kubernetes.clusterDomain, as every other
    in-cluster address of the stack does (a fixed cluster.local would not resolve on a cluster with its own)."""
    def edit(config: dict[str, Any]) -> None:
        config.setdefault(P + "kubernetes", {})["clusterDomain"] = "corp.internal"
    run = run_stack("prod", stack_file=edited_stack_file(tmp_path, "prod", edit))
    (alias,) = [r.inputs for r in run.of_type("kubernetes:core/v1:Service")
                if r.inputs["metadata"]["name"] == "otel-collector" and r.inputs["metadata"]["namespace"] == "shannon"]
    assert alias["spec"]["externalName"] == "otel-collector.monitoring.svc.corp.internal"
