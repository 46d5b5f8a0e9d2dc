"""Whole-stack mock runs of the real Pulumi.dev.yaml and Pulumi.prod.yaml: the resource graph and its wiring."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import yaml

from components.render import render_files
from components.stackfile import load_stack
from tests.conftest import ROOT, StackRun, run_stack

COMPONENTS = {"Prometheus", "Alertmanager", "Grafana", "Tempo", "NodeExporter", "GrafanaContent"}


def _component_types(run: StackRun) -> set[str]:
    return {r.type.split(":")[-1] for r in run.resources if r.type.startswith("shannon:observability:")}


def _k8s(run: StackRun, kind: str, name: str) -> dict[str, Any]:
    matches = [r for r in run.resources if r.type.endswith(f":{kind}") and r.inputs.get("metadata", {}).get("name") == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0].inputs


def _configmap_files(run: StackRun, name: str) -> dict[str, str]:
    """The files a ConfigMap mounts, by path (keys mapped back through the volume items)."""
    data = _k8s(run, "ConfigMap", name)["data"]
    workload = name.removesuffix("-config")
    sts = next(r.inputs for r in run.resources if r.type.split(":")[-1] in {"StatefulSet", "Deployment", "DaemonSet"}
           and r.inputs["metadata"]["name"] == workload)
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    return {item["path"]: data[item["key"]] for item in volume["configMap"]["items"]}


def test_every_component_on_both_platforms(dev_run: StackRun, prod_run: StackRun):
    """Prometheus, Alertmanager, Grafana (with API content), Tempo and node-exporter exist on docker and kubernetes."""
    assert _component_types(dev_run) >= COMPONENTS
    assert COMPONENTS | {"ObservabilityStack", "NetworkPolicies", "Exporter"} <= _component_types(prod_run)


def test_children_named_after_and_parented_to_their_component(any_run: StackRun):
    """Every resource inside a component is named `<component name>-<role>` and parented to it."""
    components = {r.urn: r for r in any_run.resources if r.type.startswith("shannon:observability:")}
    for resource in any_run.resources:
        parent = components.get(resource.parent)
        if parent is not None:
            assert resource.name.startswith(f"{parent.name}-"), (resource.name, parent.name)
    prometheus = next(r for r in any_run.resources if r.type == "shannon:observability:Prometheus")
    assert any(r.parent == prometheus.urn for r in any_run.resources)


def test_providers_are_created_once(any_run: StackRun):
    """One platform provider and one Grafana provider per stack."""
    providers = [r.type for r in any_run.resources if r.type.startswith("pulumi:providers:")]
    platform = "kubernetes" if any_run.stack == "prod" else "docker"
    assert sorted(providers) == sorted([f"pulumi:providers:{platform}", "pulumi:providers:grafana"])


def test_grafana_provider_waits_for_grafana(any_run: StackRun):
    """The Grafana provider points at the deployed Grafana and depends on its workload."""
    provider = any_run.of_type("pulumi:providers:grafana")[0]
    workload_type = "kubernetes:apps/v1:StatefulSet" if any_run.stack == "prod" else "docker:index/container:Container"
    grafana_workload = next(r for r in any_run.of_type(workload_type) if "grafana" in r.name)
    assert grafana_workload.urn in provider.dependencies
    expected = "https://grafana.shannon.example.com" if any_run.stack == "prod" else "http://127.0.0.1:3000"
    assert provider.inputs["url"] == expected
    content = [r for r in any_run.resources if r.type.startswith("grafana:oss/")]
    assert content and all(r.provider and "grafana-provider" in r.provider for r in content)


def test_prometheus_statefulset(prod_run: StackRun):
    """Prod Prometheus: an HA pair with PVCs, lifecycle flag, its config mounted read-only, discovery token."""
    sts = _k8s(prod_run, "StatefulSet", "prometheus")
    spec = sts["spec"]
    assert spec["replicas"] == 2 and spec["serviceName"] == "prometheus-headless"
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "prom/prometheus:v3.13.2"
    assert "--web.enable-lifecycle" not in container["args"]
    assert "--web.external-url=http://prometheus.monitoring.svc.cluster.local:9090" in container["args"]
    assert {"name": "config", "mountPath": "/etc/prometheus", "readOnly": True} in container["volumeMounts"]
    assert {"name": "data", "mountPath": "/prometheus"} in container["volumeMounts"]
    assert container["ports"] == [{"name": "web", "containerPort": 9090, "protocol": "TCP"}]
    assert pod["serviceAccountName"] == "prometheus" and pod["automountServiceAccountToken"] is True


def test_checksum_annotation_tracks_config(prod_run: StackRun, tmp_path):
    """The pod template's checksum is an HMAC of the mounted files keyed by the stack's random checksum key,
    and changes when a setting changes them."""
    sts = _k8s(prod_run, "StatefulSet", "prometheus")
    checksum = sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    files = _configmap_files(prod_run, "prometheus-config")
    key = "generated-test-password-for-shannon-checksum-key"  # the mocks' RandomPassword result
    digest = hmac.new(key.encode(), digestmod=hashlib.sha256)
    plain = hashlib.sha256()
    for path, text in sorted(files.items()):
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
        plain.update(path.encode() + b"\0" + text.encode() + b"\0")
    assert checksum == digest.hexdigest() != plain.hexdigest()

    changed = tmp_path / "Pulumi.prod.yaml"
    changed.write_text((ROOT / "Pulumi.prod.yaml").read_text().replace("scrapeInterval: 15s", "scrapeInterval: 30s"))
    other = run_stack("prod", stack_file=changed)
    other_sts = _k8s(other, "StatefulSet", "prometheus")
    assert other_sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum
    # Only the annotation and the config changed, so only the config forced the roll.
    assert _k8s(other, "StatefulSet", "alertmanager")["spec"]["template"]["metadata"]["annotations"] == \
        _k8s(prod_run, "StatefulSet", "alertmanager")["spec"]["template"]["metadata"]["annotations"]


def test_docker_container_replaced_on_config_change(dev_run: StackRun, tmp_path):
    """On Docker a config change changes the container's uploads and checksum label; changes to them replace it."""
    container = dev_run.named("shannon-prometheus-container")
    label = {x["label"]: x["value"] for x in container.inputs["labels"]}["org.shannon-observability.checksum"]
    changed = tmp_path / "Pulumi.dev.yaml"
    changed.write_text((ROOT / "Pulumi.dev.yaml").read_text().replace("retention: 30d", "retention: 31d"))
    other = run_stack("dev", stack_file=changed).named("shannon-prometheus-container")
    other_label = {x["label"]: x["value"] for x in other.inputs["labels"]}["org.shannon-observability.checksum"]
    # retention is a flag, not a file: the command changes and the checksum does not.
    assert other.inputs["command"] != container.inputs["command"]
    assert other_label == label
    changed.write_text((ROOT / "Pulumi.dev.yaml").read_text().replace("groupWait: 10s", "groupWait: 20s"))
    am = run_stack("dev", stack_file=changed).named("shannon-alertmanager-container")
    am_label = {x["label"]: x["value"] for x in am.inputs["labels"]}["org.shannon-observability.checksum"]
    before = {x["label"]: x["value"] for x in dev_run.named("shannon-alertmanager-container").inputs["labels"]}
    assert am_label != before["org.shannon-observability.checksum"]


def test_docker_containers_publish_on_loopback_only(dev_run: StackRun):
    """Every published port binds 127.0.0.1; containers restart unless stopped and run unprivileged as non-root."""
    containers = dev_run.of_type("docker:index/container:Container")
    assert containers
    for container in containers:
        for port in container.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", (container.name, port)
        assert container.inputs["restart"] == "unless-stopped"
        assert container.inputs.get("privileged") is False
        assert not container.inputs["user"].startswith("0:")
        assert container.inputs["capabilities"]["drops"] == ["ALL"]
    published = {p["external"] for c in containers for p in c.inputs.get("ports", [])}
    assert {9090, 9093, 3000, 3200, 4317, 4318} <= published


def test_docker_images_pinned(dev_run: StackRun):
    """Containers use RemoteImages pinned to the defaults table's exact versions."""
    names = {r.inputs["name"] for r in dev_run.of_type("docker:index/remoteImage:RemoteImage")}
    assert "prom/prometheus:v3.13.2" in names
    assert all(":" in n and not n.endswith(":latest") for n in names)


def test_docker_volumes_and_network(dev_run: StackRun):
    """Stateful containers keep data in named volumes and join the stack's network; Prometheus joins Shannon's too."""
    container = dev_run.named("shannon-prometheus-container")
    assert {"volumeName": "shannon-prometheus-data", "containerPath": "/prometheus"} in [
        {k: v for k, v in vol.items() if k in {"volumeName", "containerPath"}} for vol in container.inputs["volumes"]]
    networks = [n["name"] for n in container.inputs["networksAdvanced"]]
    assert networks == ["shannon-observability", "shannon_shannon-net"]
    assert dev_run.of_type("docker:index/network:Network")[0].inputs["name"] == "shannon-observability"


def test_deployed_config_bytes_equal_render(prod_run: StackRun, dev_run: StackRun):
    """What the program deploys is byte-identical to the render command's output for the same stack file."""
    for run in (prod_run, dev_run):
        settings, secrets = load_stack(run.stack, ROOT)
        rendered = render_files(settings, secrets)
        if run.stack == "prod":
            deployed = _configmap_files(prod_run, "prometheus-config")
        else:
            uploads = run.named("shannon-prometheus-container").inputs["uploads"]
            deployed = {u["file"].removeprefix("/etc/prometheus/"): u["content"] for u in uploads}
        assert deployed == {k.removeprefix("prometheus/"): v for k, v in rendered.items() if k.startswith("prometheus/")}
        tempo = _configmap_files(prod_run, "tempo-config") if run.stack == "prod" else {
            u["file"].removeprefix("/etc/tempo/"): u["content"] for u in run.named("shannon-tempo-container").inputs["uploads"]}
        assert tempo["tempo.yaml"] == rendered["tempo/tempo.yaml"]


def test_alertmanager_config_is_a_configmap_without_secrets(prod_run: StackRun):
    """alertmanager.yml is a ConfigMap holding no secret value; each receiver credential is a file of the Secret."""
    from components.builders.alertmanager import secret_file_keys
    from components.builders.artifacts import render_alertmanager_yaml

    settings, _ = load_stack("prod", ROOT)
    deployed = _k8s(prod_run, "ConfigMap", "alertmanager-config")["data"]["alertmanager.yml"]
    assert deployed == render_alertmanager_yaml(settings, prod_run.secrets)
    assert not [k for k, v in prod_run.secrets.items() if v in deployed]
    secret = _k8s(prod_run, "Secret", "alertmanager-secrets")["stringData"]
    assert "alertmanager.yml" not in secret
    for key, file_name in secret_file_keys(prod_run.secrets).items():
        assert secret[file_name] == prod_run.secrets[key]
        assert f"/etc/alertmanager/secrets/{file_name}" in deployed


def test_prometheus_rbac_is_least_privilege(prod_run: StackRun):
    """Prometheus may only get/list/watch services, pods and endpointslices (what EndpointSlice discovery reads),
    per namespace; never endpoints."""
    roles = [r for r in prod_run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
             if r.inputs["metadata"]["name"].startswith("prometheus-")]
    assert sorted(r.inputs["metadata"]["namespace"] for r in roles) == ["monitoring", "monitoring-node-exporter", "shannon"]
    for role in roles:
        for rule in role.inputs["rules"]:
            assert rule["verbs"] == ["get", "list", "watch"]
            assert "endpoints" not in rule["resources"]
    assert not [r for r in prod_run.resources if "ClusterRole" in r.type]
    for binding in prod_run.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"):
        if binding.inputs["metadata"]["name"].startswith("prometheus-"):
            assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus",
                                                   "namespace": "monitoring"}]


def test_wiring(prod_run: StackRun):
    """Alerting targets are the Alertmanager pods; datasources use Service DNS; Tempo writes to Prometheus."""
    prom = yaml.safe_load(_configmap_files(prod_run, "prometheus-config")["prometheus.yml"])
    targets = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == [f"alertmanager-{i}.alertmanager-headless.monitoring.svc.cluster.local:9093" for i in range(3)]
    datasources = {r.inputs["uid"]: r.inputs["url"] for r in prod_run.of_type("grafana:oss/dataSource:DataSource")}
    assert datasources == {"prometheus": "http://prometheus.monitoring.svc.cluster.local:9090",
                           "alertmanager": "http://alertmanager.monitoring.svc.cluster.local:9093",
                           "tempo": "http://tempo.monitoring.svc.cluster.local:3200"}
    tempo = yaml.safe_load(_configmap_files(prod_run, "tempo-config")["tempo.yaml"])
    remote = [rw["url"] for rw in tempo["metrics_generator"]["storage"]["remote_write"]]
    assert all(u.startswith("http://prometheus-") and u.endswith(":9090/api/v1/write") for u in remote)
    assert len(remote) == 2


def test_docker_wiring(dev_run: StackRun):
    """On Docker, datasources and alerting use container names on the stack network."""
    datasources = {r.inputs["uid"]: r.inputs["url"] for r in dev_run.of_type("grafana:oss/dataSource:DataSource")}
    assert datasources == {"prometheus": "http://shannon-prometheus:9090",
                           "alertmanager": "http://shannon-alertmanager:9093", "tempo": "http://shannon-tempo:3200"}


def test_otlp_exposed(prod_run: StackRun, dev_run: StackRun):
    """Tempo's Service exposes OTLP gRPC 4317 and HTTP 4318; the stack outputs the endpoint for Shannon."""
    ports = {p["port"] for p in _k8s(prod_run, "Service", "tempo")["spec"]["ports"]}
    assert {4317, 4318} <= ports
    assert prod_run.outputs["otlp_endpoint"] == "http://tempo.monitoring.svc.cluster.local:4317"
    assert dev_run.outputs["otlp_endpoint"] == "http://shannon-tempo:4317"


def test_alertmanager_gossip_ports(prod_run: StackRun):
    """The headless Service carries 9094 on TCP and UDP; the load-balanced Service only the API port."""
    headless = _k8s(prod_run, "Service", "alertmanager-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {(p["port"], p["protocol"]) for p in headless["ports"]} >= {(9094, "TCP"), (9094, "UDP")}
    assert {p["port"] for p in _k8s(prod_run, "Service", "alertmanager")["spec"]["ports"]} == {9093}


def test_outputs(prod_run: StackRun, dev_run: StackRun):
    """In-network URLs on both platforms, local URLs on dev, the admin password as a secret output."""
    assert prod_run.outputs["prometheus_url"] == "http://prometheus.monitoring.svc.cluster.local:9090"
    assert dev_run.outputs["prometheus_local_url"] == "http://127.0.0.1:9090"
    assert dev_run.outputs["grafana_local_url"] == "http://127.0.0.1:3000"
    assert "grafana_admin_password" in prod_run.secret_outputs and "grafana_admin_password" in dev_run.secret_outputs


def test_grafana_files_mode_provisions_through_configmap(tmp_path):
    """With grafana.content=files there is no Grafana provider; datasources and dashboards are provisioning files."""
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text((ROOT / "Pulumi.prod.yaml").read_text().replace("    content: api", "    content: files"))
    run = run_stack("prod", stack_file=stack_file)
    assert not run.of_type("pulumi:providers:grafana")
    assert not [r for r in run.resources if r.type.startswith("grafana:")]
    files = _configmap_files(run, "grafana-config")
    assert "provisioning/datasources/datasources.yml" in files
    assert "provisioning/dashboards/shannon.yml" in files
    assert {f"dashboards/{n}" for n in ("policy.json", "overview.json", "traces.json")} <= set(files)
    settings, secrets = load_stack("prod", ROOT, stack_file)
    rendered = render_files(settings, secrets)
    assert files["provisioning/datasources/datasources.yml"] == rendered["grafana/datasources.yml"]
    assert files["dashboards/policy.json"] == rendered["grafana/dashboards/policy.json"]
