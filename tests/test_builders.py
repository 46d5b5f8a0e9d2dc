"""Pure builders, tested without Pulumi: prometheus.yml, alertmanager.yml, tempo.yaml, datasources."""

from __future__ import annotations

from typing import Any

import pytest

from components import defaults
from components.builders import alertmanager, grafana, prometheus, tempo
from components.settings import StackSettings, load_settings
from components.stackfile import load_stack
from tests.conftest import ROOT

# The default Shannon jobs a stack scrapes unless it changes them (temporal is off by default).
SHANNON_JOBS = [str(t["job"]) for t in defaults.SHANNON_TARGETS if t.get("enabled", True)]


@pytest.fixture(scope="module")
def prod() -> StackSettings:
    return load_stack("prod", ROOT)[0]


@pytest.fixture(scope="module")
def dev() -> StackSettings:
    return load_stack("dev", ROOT)[0]


def _job(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(j for j in config["scrape_configs"] if j["job_name"] == name)


def test_shannon_jobs_keep_their_names(prod: StackSettings, dev: StackSettings):
    """The original job names are kept exactly: rules and dashboards select on them."""
    for settings in (prod, dev):
        names = [j["job_name"] for j in prometheus.build_prometheus_config(settings)["scrape_configs"]]
        assert names[:len(SHANNON_JOBS)] == SHANNON_JOBS and "temporal" not in names
        assert "prometheus" in names
        assert len(names) == len(set(names))


def test_postgres_and_redis_jobs_only_when_deployed(prod: StackSettings, dev: StackSettings):
    """postgres/redis jobs exist when their exporters are enabled (prod), and not otherwise (dev)."""
    prod_jobs = {j["job_name"] for j in prometheus.build_prometheus_config(prod)["scrape_configs"]}
    dev_jobs = {j["job_name"] for j in prometheus.build_prometheus_config(dev)["scrape_configs"]}
    assert {"postgres", "redis"} <= prod_jobs
    assert not {"postgres", "redis"} & dev_jobs


def test_kubernetes_discovers_every_endpoint(prod: StackSettings):
    """On Kubernetes, Shannon targets come from EndpointSlices in Shannon's namespace, kept by service and port."""
    job = _job(prometheus.build_prometheus_config(prod), "orchestrator")
    assert job["kubernetes_sd_configs"] == [{"role": "endpointslice", "namespaces": {"names": ["shannon"]}}]
    relabels = job["relabel_configs"]
    assert relabels[0] == {"source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port"],
                           "regex": "orchestrator;2112", "action": "keep"}
    targets = {r.get("target_label"): r for r in relabels}
    assert targets["pod"]["source_labels"] == ["__meta_kubernetes_pod_name"]
    assert targets["namespace"]["source_labels"] == ["__meta_kubernetes_namespace"]
    assert targets["service"]["replacement"] == "shannon"
    assert targets["component"]["replacement"] == "orchestrator"


def test_docker_uses_static_container_names(dev: StackSettings):
    """On Docker, targets are container names on the network, labelled service/component."""
    config = prometheus.build_prometheus_config(dev)
    assert _job(config, "orchestrator")["static_configs"] == [
        {"targets": ["orchestrator:2112"], "labels": {"service": "shannon", "component": "orchestrator"}}]
    assert _job(config, "llm-service")["metrics_path"] == "/metrics"
    assert _job(config, "llm-service")["static_configs"][0]["targets"] == ["llm-service:8000"]
    assert _job(config, "gateway")["static_configs"][0]["targets"] == ["gateway:8080"]


def test_external_labels(prod: StackSettings, dev: StackSettings):
    """External labels carry the monitor and the stack's environment; Kubernetes adds the HA replica."""
    assert prometheus.build_prometheus_config(prod)["global"]["external_labels"] == {
        "monitor": "shannon-monitor", "environment": "production", "replica": "${POD_NAME}"}
    assert prometheus.build_prometheus_config(dev)["global"]["external_labels"] == {
        "monitor": "shannon-monitor", "environment": "dev"}


def test_alerting_targets_every_alertmanager_replica(prod: StackSettings, dev: StackSettings):
    """Prometheus notifies each Alertmanager pod by its stable DNS name, never a load-balanced Service."""
    alerting = prometheus.build_prometheus_config(prod)["alerting"]
    targets = alerting["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == [f"alertmanager-{i}.alertmanager-headless.monitoring.svc.cluster.local:9093" for i in range(3)]
    assert {"action": "labeldrop", "regex": "replica"} in alerting["alert_relabel_configs"]
    dev_targets = prometheus.build_prometheus_config(dev)["alerting"]["alertmanagers"][0]["static_configs"][0]
    assert dev_targets["targets"] == ["shannon-alertmanager:9093"]


def test_rule_files_are_relative(prod: StackSettings):
    """rule_files is relative to the config file, so promtool and Prometheus resolve the same files."""
    assert prometheus.build_prometheus_config(prod)["rule_files"] == ["rules/*.yml"]


def test_prometheus_flags(prod: StackSettings):
    """Lifecycle API (/-/quit to any admitted pod) off unless asked for; external URL set; retention time and size
    from settings; remote-write receiver and exemplars together."""
    args = prometheus.prometheus_args(prod)
    assert "--web.enable-lifecycle" not in args
    assert "--web.enable-lifecycle" in prometheus.prometheus_args(
        prod.model_copy(update={"prometheus": prod.prometheus.model_copy(update={"enable_lifecycle": True})}))
    assert "--web.external-url=http://prometheus.monitoring.svc.cluster.local:9090" in args
    assert "--storage.tsdb.retention.time=30d" in args
    assert "--storage.tsdb.retention.size=85GB" in args  # 85% of 100Gi
    assert "--web.enable-remote-write-receiver" in args and "--enable-feature=exemplar-storage" in args
    no_generator = prod.model_copy(update={"tempo": prod.tempo.model_copy(update={"metrics_generator": False})})
    off = prometheus.prometheus_args(no_generator)
    assert "--web.enable-remote-write-receiver" not in off and "--enable-feature=exemplar-storage" not in off


def test_self_monitoring_jobs(prod: StackSettings):
    """Every component of the stack has its own scrape job."""
    names = {j["job_name"] for j in prometheus.build_prometheus_config(prod)["scrape_configs"]}
    assert {"prometheus", "alertmanager", "grafana", "tempo", "node-exporter", "postgres", "redis",
            "blackbox-exporter", "blackbox"} <= names


def test_blackbox_probes_health_urls(prod: StackSettings):
    """The blackbox job sends each health URL as the target parameter of a probe."""
    job = _job(prometheus.build_prometheus_config(prod), "blackbox")
    assert job["metrics_path"] == "/probe" and job["params"] == {"module": ["http_2xx"]}
    assert job["static_configs"][0]["targets"] == prod.exporters.blackbox.targets
    assert job["relabel_configs"][-1]["replacement"] == "blackbox-exporter.monitoring.svc.cluster.local:9115"


def test_alertmanager_routes(prod: StackSettings):
    """Route tree: group by alertname/service/component; Watchdog, critical and warning to their receivers."""
    config = alertmanager.build_alertmanager_config(prod, {})
    route = config["route"]
    assert route["group_by"] == ["alertname", "service", "component"]
    receivers = {r["receivers"] if "receivers" in r else r["receiver"]: r["matchers"] for r in route["routes"]}
    assert receivers["deadman"] == ['alertname="Watchdog"']
    assert receivers["pager"] == ['severity="critical"']
    assert receivers["chat"] == ['severity="warning"']


def test_pages_wait_less_than_chat(prod: StackSettings):
    """The pager route has its own, shorter group_wait; chat keeps the batching default."""
    route = alertmanager.build_alertmanager_config(prod, {})["route"]
    pager = next(r for r in route["routes"] if r["receiver"] == "pager")
    assert pager["group_wait"] == prod.alertmanager.route.page_group_wait == "10s"
    assert route["group_wait"] == prod.alertmanager.route.group_wait == "30s"
    assert "group_wait" not in next(r for r in route["routes"] if r["receiver"] == "chat")


def test_alertmanager_prod_reads_credentials_from_files(prod: StackSettings):
    """Every credential is a file reference (the deadman URL too, `url_file`, Alertmanager >= 0.26);
    without a deadman URL the deadman is a null receiver."""
    config = alertmanager.build_alertmanager_config(prod, {})
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["pager"]["pagerduty_configs"][0]["routing_key_file"] == \
        "/etc/alertmanager/secrets/pagerduty-routing-key"
    assert receivers["chat"]["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/secrets/slack-api-url"
    assert receivers["deadman"] == {"name": "deadman"}
    with_url = alertmanager.build_alertmanager_config(prod, {"deadmanUrl"})
    deadman = {r["name"]: r for r in with_url["receivers"]}["deadman"]
    assert deadman["webhook_configs"] == [{"url_file": "/etc/alertmanager/secrets/deadman-url", "send_resolved": False}]


def test_alertmanager_inhibitions(prod: StackSettings):
    """Critical inhibits warning per alertname and component; a Down alert inhibits its component's others."""
    rules = alertmanager.build_alertmanager_config(prod, {})["inhibit_rules"]
    assert rules[0] == {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                        "equal": ["alertname", "component"]}
    assert rules[1]["equal"] == ["component"]
    assert rules[1]["source_matchers"] == [f'alertname=~"{"|".join(alertmanager.COMPONENT_DOWN_ALERTS)}"']
    assert {"OrchestratorDown", "GatewayDown", "AgentCoreDown", "LLMServiceDown"} <= set(alertmanager.COMPONENT_DOWN_ALERTS)


def test_alertmanager_cluster_flags(prod: StackSettings, dev: StackSettings):
    """Three replicas gossip with every peer on 9094; a single replica disables clustering."""
    args = alertmanager.alertmanager_args(prod)
    peers = [a for a in args if a.startswith("--cluster.peer=")]
    assert peers == [f"--cluster.peer=alertmanager-{i}.alertmanager-headless.monitoring.svc.cluster.local:9094"
                     for i in range(3)]
    assert "--cluster.listen-address=" in alertmanager.alertmanager_args(dev)


def test_tempo_config(prod: StackSettings):
    """OTLP on all interfaces, retention from settings, generator remote-writing to every Prometheus replica."""
    config = tempo.build_tempo_config(prod)
    protocols = config["distributor"]["receivers"]["otlp"]["protocols"]
    assert protocols == {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}
    assert config["compactor"]["compaction"]["block_retention"] == "336h"
    urls = [rw["url"] for rw in config["metrics_generator"]["storage"]["remote_write"]]
    assert urls == [f"http://prometheus-{i}.prometheus-headless.monitoring.svc.cluster.local:9090/api/v1/write"
                    for i in range(2)]
    # prod runs the collector, which computes span metrics before sampling: Tempo's generator keeps the rest.
    assert prod.collector_enabled
    assert config["overrides"]["defaults"]["metrics_generator"]["processors"] == ["service-graphs", "local-blocks"]


def test_tempo_s3_credentials_are_env_references(prod: StackSettings):
    """With S3 storage the config holds ${...} references, never the keys, and env expansion is on."""
    s3 = load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"}, "tempo": {"storage": "s3", "s3": {
        "bucket": "traces", "endpoint": "minio:9000", "insecure": True}}}, require_secrets=False)
    storage = tempo.build_tempo_config(s3)["storage"]["trace"]
    assert storage["backend"] == "s3"
    assert storage["s3"]["access_key"] == "${S3_ACCESS_KEY}" and storage["s3"]["secret_key"] == "${S3_SECRET_KEY}"
    assert "-config.expand-env=true" in tempo.tempo_args(s3)


def test_datasources(prod: StackSettings, dev: StackSettings):
    """Stable uids; Prometheus default with exemplars to Tempo; Tempo links traces to metrics and the service map."""
    ds = {d["uid"]: d for d in grafana.build_datasources(prod)}
    assert set(ds) == {"prometheus", "alertmanager", "tempo"}
    assert ds["prometheus"]["isDefault"] is True
    assert ds["prometheus"]["url"] == "http://prometheus.monitoring.svc.cluster.local:9090"
    assert {d["datasourceUid"] for d in ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]} == {"tempo"}
    tempo_json = ds["tempo"]["jsonData"]
    assert tempo_json["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert tempo_json["serviceMap"] == {"datasourceUid": "prometheus"}
    assert tempo_json["nodeGraph"] == {"enabled": True}
    assert {d["uid"]: d["url"] for d in grafana.build_datasources(dev)}["tempo"] == "http://shannon-tempo:3200"


def test_provisioning_escapes_dollars(prod: StackSettings):
    """In provisioning files `$__tags` becomes `$$__tags`, which Grafana reads back as `$__tags`."""
    provisioning = grafana.build_datasources_provisioning(prod)
    tempo_ds = next(d for d in provisioning["datasources"] if d["uid"] == "tempo")
    assert "{$$__tags}" in tempo_ds["jsonData"]["tracesToMetrics"]["queries"][0]["query"]


def test_grafana_ini_is_locked_down(prod: StackSettings, dev: StackSettings):
    """Anonymous access, sign-up and external snapshots off; secure lax cookies on prod; no credentials in it."""
    ini = grafana.build_grafana_ini(prod)
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["users"]["allow_sign_up"] == "false"
    assert ini["snapshots"]["external_enabled"] == "false"
    assert ini["security"]["cookie_secure"] == "true" and ini["security"]["cookie_samesite"] == "lax"
    assert "admin_password" not in ini["security"] and "secret_key" not in ini["security"]
    assert grafana.build_grafana_ini(dev)["security"]["cookie_secure"] == "false"
