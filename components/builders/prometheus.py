"""prometheus.yml and the Prometheus command line, built from settings.

Pure: no `pulumi` import. Kubernetes targets are discovered through
EndpointSlices so every replica of a Shannon service is scraped (a Service DNS
name would reach one random pod per scrape); Docker targets are static
container names on the configured network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from components import defaults
from components.capacity import remote_write_queue
from components.settings import RemoteWriteTarget, StackSettings
from components.topology import Topology

CONFIG_DIR = "/etc/prometheus"
DATA_DIR = "/prometheus"
RULES_GLOB = "rules/*.yml"
# Remote-write credentials: secret config key -> file name in prometheus.secretsDir (mounted from a
# Secret beside the config mount, not inside it: a mount point inside a read-only ConfigMap volume
# cannot be made). Other keys (a target's own secretKeys) are named after the key: remote-write-<rest>.
REMOTE_WRITE_FILES = {"remoteWritePassword": "remote-write-password", "remoteWriteToken": "remote-write-token",
                      "remoteWriteCa": "remote-write-ca.pem"}
# sigv4 has no credentials file: Prometheus reads the AWS chain, these variables first.
SIGV4_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def remote_write_file(key: str) -> str:
    """The file a remote-write credential is mounted as."""
    return REMOTE_WRITE_FILES.get(key) or re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job, independent of how its targets are discovered."""

    job: str
    component: str
    port: int
    namespace: str  # Kubernetes namespace the targets live in
    service: str  # Kubernetes Service whose endpoints are the targets
    hosts: tuple[str, ...]  # Docker container names
    path: str = "/metrics"
    addresses: tuple[str, ...] | None = None  # static override, wins over discovery
    probe_targets: tuple[str, ...] = field(default=())  # blackbox: URLs probed through this exporter
    metric_relabel: tuple[dict[str, Any], ...] = field(default=())  # applied to the scraped series


def scrape_jobs(settings: StackSettings) -> list[ScrapeJob]:
    """Every job the stack scrapes: Shannon's services, then the stack's own components."""
    topo = Topology(settings)
    shannon_ns, own_ns = settings.shannon.namespace, settings.kubernetes.namespace
    jobs = [
        ScrapeJob(job=t.job, component=t.component or t.job, port=t.port, path=t.path, namespace=shannon_ns,
                  service=t.service or t.job, hosts=(t.host or t.job,),
                  addresses=tuple(t.addresses) if t.addresses is not None else None)
        for t in settings.shannon.scrape_targets
    ]

    def own(job: str, component: str, port_key: str, replicas: int = 1, path: str = "/metrics",
            **extra: Any) -> ScrapeJob:
        return ScrapeJob(job=job, component=component, port=defaults.PORTS[port_key], path=path,
                         namespace=own_ns, service=component,
                         hosts=tuple(topo.replica_hosts(component, replicas)), **extra)

    overrides = _own_addresses(settings)
    jobs.append(own("prometheus", "prometheus", "prometheus", settings.prometheus.replicas,
                    addresses=overrides.get("prometheus")))
    jobs.append(own("alertmanager", "alertmanager", "alertmanager", settings.alertmanager.replicas,
                    addresses=overrides.get("alertmanager")))
    jobs.append(own("grafana", "grafana", "grafana", addresses=overrides.get("grafana")))
    if settings.tempo.enabled:
        jobs.append(own("tempo", "tempo", "tempo", addresses=overrides.get("tempo")))
    if settings.collector_enabled:
        jobs.append(own("otel-collector", "otel-collector", "otel-collector-metrics",
                        addresses=overrides.get("otel-collector")))
        jobs.append(own("otel-collector-spanmetrics", "otel-collector", "otel-collector-spanmetrics",
                        addresses=overrides.get("otel-collector-spanmetrics"),
                        metric_relabel=span_metrics_relabel(settings)))
    exporters = settings.exporters
    if exporters.node.enabled:
        node = own("node-exporter", "node-exporter", "node-exporter", addresses=overrides.get("node-exporter"))
        jobs.append(replace(node, namespace=settings.kubernetes.host_namespace))
    if exporters.postgres.enabled:
        jobs.append(own("postgres", "postgres-exporter", "postgres-exporter", addresses=overrides.get("postgres")))
    if exporters.redis.enabled:
        jobs.append(own("redis", "redis-exporter", "redis-exporter", addresses=overrides.get("redis")))
    if exporters.blackbox.enabled:
        jobs.append(own("blackbox-exporter", "blackbox-exporter", "blackbox-exporter",
                        addresses=overrides.get("blackbox-exporter")))
        if exporters.blackbox.targets:
            jobs.append(own("blackbox", "blackbox-exporter", "blackbox-exporter", path="/probe",
                            addresses=overrides.get("blackbox-exporter"),
                            probe_targets=tuple(exporters.blackbox.targets)))
    return jobs


def span_metrics_relabel(settings: StackSettings) -> tuple[dict[str, Any], ...]:
    """The collector's span metrics (spanmetrics connector, Prometheus exporter) under the names and labels of
    Tempo's metrics-generator, which the Traces dashboard, its recording rules and Grafana's trace-to-metrics
    links read: `service` is the span's service, the latency histogram is traces_spanmetrics_latency."""
    return (
        {"source_labels": ["__name__"], "regex": "target_info", "action": "drop"},
        {"source_labels": ["__name__"], "regex": "traces_spanmetrics_duration_seconds_(bucket|sum|count)",
         "target_label": "__name__", "replacement": "traces_spanmetrics_latency_$1"},
        {"source_labels": ["service_name"], "target_label": "service"},
        {"target_label": "source", "replacement": "otel-collector"},
        {"target_label": "environment", "replacement": settings.environment_label},
        # The exporter's job and instance are the span's service (already in `service`), not the target.
        {"action": "labeldrop", "regex": "service_name|exported_job|exported_instance|otel_scope_.*"},
    )


def _own_addresses(settings: StackSettings) -> dict[str, tuple[str, ...]]:
    """Static addresses for the stack's own jobs, from `shannon.targets`-style overrides (test stacks)."""
    return {k: tuple(v) for k, v in settings.self_addresses.items()}


def _discovery(job: ScrapeJob, topo: Topology) -> dict[str, Any]:
    labels = {"service": defaults.SERVICE_LABEL, "component": job.component}
    if job.addresses is not None or not topo.kubernetes:
        targets = list(job.addresses) if job.addresses is not None else [f"{h}:{job.port}" for h in job.hosts]
        return {"static_configs": [{"targets": targets, "labels": labels}]}
    return {
        "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": [job.namespace]}}],
        "relabel_configs": [
            # Keep only the endpoints of this job's Service on its metrics port.
            {"source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port"],
             "regex": f"{job.service};{job.port}", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "service", "replacement": labels["service"]},
            {"target_label": "component", "replacement": labels["component"]},
        ],
    }


def _scrape_config(job: ScrapeJob, topo: Topology) -> dict[str, Any]:
    config: dict[str, Any] = {"job_name": job.job, "metrics_path": job.path}
    if job.probe_targets:
        # Blackbox probes: each URL becomes the `target` parameter of a request to the exporter.
        exporter = list(job.addresses) if job.addresses is not None else [f"{job.hosts[0]}:{job.port}"]
        if topo.kubernetes and job.addresses is None:
            exporter = [f"{topo.service_host(job.service)}:{job.port}"]
        config["params"] = {"module": ["http_2xx"]}
        config["static_configs"] = [{"targets": list(job.probe_targets),
                                     "labels": {"service": defaults.SERVICE_LABEL, "component": "blackbox"}}]
        config["relabel_configs"] = [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporter[0]},
        ]
        return config
    config.update(_discovery(job, topo))
    if job.metric_relabel:
        config["metric_relabel_configs"] = [dict(r) for r in job.metric_relabel]
    return config


def ha_relabelings(settings: StackSettings, target: RemoteWriteTarget) -> list[dict[str, Any]]:
    """What each kind of store needs to deduplicate the HA pair's two copies of every series.

    mimir, cortex: the HA tracker keeps one replica per `cluster` (the external label,
    prometheus.cluster) and drops `__replica__` (its defaults ha_cluster_label/ha_replica_label;
    enable accept_ha_samples for the tenant on the store, or both replicas are stored).
    victoriametrics: both replicas write identical series (no `replica`), and the store keeps one
    sample per -dedup.minScrapeInterval (set it to the scrape interval).
    thanos, generic: `replica` stays; the querier deduplicates (Thanos Query --query.replica-label=replica).
    """
    if target.kind in ("mimir", "cortex"):
        return [{"source_labels": ["replica"], "target_label": "__replica__"},
                {"action": "labeldrop", "regex": "replica"}]
    if target.kind == "victoriametrics":
        return [{"action": "labeldrop", "regex": "replica"}]
    return []


def remote_write_config(settings: StackSettings, target: RemoteWriteTarget) -> dict[str, Any]:
    """One remote_write entry; credentials are files (prometheus.secretsDir), never values in prometheus.yml."""
    queue = remote_write_queue(settings.prometheus.expected_series, settings.prometheus.scrape_interval).queue_config()
    queue.update(target.queue.model_dump(exclude_none=True))  # field names are Prometheus's keys
    secrets_dir, keys = settings.prometheus.secrets_dir, target.secret_keys
    path = lambda key: f"{secrets_dir}/{remote_write_file(key)}"  # noqa: E731
    entry: dict[str, Any] = {"name": target.queue_name, "url": target.write_url}
    if target.headers:
        entry["headers"] = target.headers
    if target.auth == "basic":
        entry["basic_auth"] = {"username": target.username, "password_file": path(keys.password)}
    elif target.auth == "bearer":
        entry["authorization"] = {"type": "Bearer", "credentials_file": path(keys.token)}
    elif target.auth == "oauth2" and target.oauth2 is not None:
        oauth2: dict[str, Any] = {"client_id": target.oauth2.client_id,
                                  "client_secret_file": path(keys.oauth2_client_secret),
                                  "token_url": target.oauth2.token_url}
        if target.oauth2.scopes:
            oauth2["scopes"] = list(target.oauth2.scopes)
        if target.oauth2.endpoint_params:
            oauth2["endpoint_params"] = dict(target.oauth2.endpoint_params)
        entry["oauth2"] = oauth2
    elif target.auth == "sigv4" and target.sigv4 is not None:
        entry["sigv4"] = {"region": target.sigv4.region, **({"role_arn": target.sigv4.role_arn}
                                                             if target.sigv4.role_arn else {})}
    if target.tls is not None:
        tls: dict[str, Any] = {}
        if target.tls.ca_from_secret:
            tls["ca_file"] = path(keys.ca)
        if target.tls.client_cert_from_secret:
            tls["cert_file"], tls["key_file"] = path(keys.client_cert), path(keys.client_key)
        if target.tls.server_name:
            tls["server_name"] = target.tls.server_name
        if target.tls.insecure_skip_verify:
            tls["insecure_skip_verify"] = True
        entry["tls_config"] = tls
    if target.exemplars(exemplars_stored(settings)):
        entry["send_exemplars"] = True
    relabel = list(target.write_relabel_configs) + ha_relabelings(settings, target)
    if relabel:
        entry["write_relabel_configs"] = relabel
    entry["queue_config"] = {k: queue[k] for k in sorted(queue)}
    return entry


def exemplars_stored(settings: StackSettings) -> bool:
    """Prometheus keeps exemplars when Tempo's metrics-generator writes them (exemplar storage is on then)."""
    return settings.tempo.enabled and settings.tempo.metrics_generator


def remote_write_secret_files(settings: StackSettings) -> dict[str, str]:
    """Secret config key -> file name, for the remote-write credentials this stack mounts (sigv4's are environment)."""
    env = set(sigv4_secret_env(settings).values())
    keys = {key for t in settings.prometheus.remote_write for key in t.secrets() if key not in env}
    return {key: remote_write_file(key) for key in sorted(keys)}


def sigv4_secret_env(settings: StackSettings) -> dict[str, str]:
    """AWS environment variable -> secret config key, for a sigv4 target whose keys come from secrets."""
    for target in settings.prometheus.remote_write:
        if target.sigv4 is not None and target.sigv4.credentials_from_secrets:
            return dict(zip(SIGV4_ENV, (target.secret_keys.sigv4_access_key, target.secret_keys.sigv4_secret_key),
                            strict=True))
    return {}


def build_prometheus_config(settings: StackSettings) -> dict[str, Any]:
    """The complete prometheus.yml structure for a stack."""
    topo = Topology(settings)
    prom = settings.prometheus
    external_labels = {"monitor": defaults.MONITOR_LABEL, "environment": settings.environment_label}
    if prom.cluster is not None:
        # Added to every series that has no `cluster` of its own: a store shared by clusters tells them apart.
        external_labels["cluster"] = prom.cluster
    if topo.kubernetes:
        # Distinguishes the HA replicas' series; Prometheus 3 expands ${POD_NAME} from the pod's env.
        external_labels["replica"] = "${POD_NAME}"
    return {
        "global": {
            "scrape_interval": prom.scrape_interval,
            "scrape_timeout": prom.scrape_timeout,
            "evaluation_interval": prom.evaluation_interval,
            "external_labels": external_labels,
        },
        "alerting": {
            # Both HA replicas send the same alert; without `replica` they are identical and
            # Alertmanager deduplicates them.
            "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}],
            "alertmanagers": [{
                "api_version": "v2",
                "static_configs": [{"targets": topo.alertmanager_targets()}],
            }],
        },
        "rule_files": [RULES_GLOB],
        "scrape_configs": [_scrape_config(job, topo) for job in scrape_jobs(settings)],
        **({"remote_write": [remote_write_config(settings, t) for t in prom.remote_write]}
           if prom.remote_write else {}),
    }


def remote_write_enabled(settings: StackSettings) -> bool:
    """Tempo's metrics-generator, Prometheus's remote-write receiver and exemplar storage go together."""
    return settings.tempo.enabled and settings.tempo.metrics_generator


def prometheus_args(settings: StackSettings) -> list[str]:
    prom = settings.prometheus
    args = [
        f"--config.file={CONFIG_DIR}/prometheus.yml",
        f"--storage.tsdb.path={DATA_DIR}",
        f"--storage.tsdb.retention.time={prom.retention}",
        f"--storage.tsdb.retention.size={prom.effective_retention_size}",
        f"--web.listen-address=:{defaults.PORTS['prometheus']}",
        f"--rules.alert.resend-delay={prom.alert_resend_delay}",
        # Links in notifications (an alert's generatorURL) point here, not at a pod's hostname.
        f"--web.external-url={prom.external_url or Topology(settings).public_url('prometheus', prom.local_port)}",
    ]
    if prom.enable_lifecycle:
        # Config changes roll the pods (checksum annotation); this only adds hot reload.
        args.append("--web.enable-lifecycle")
    if remote_write_enabled(settings):
        args += ["--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"]
    return args
