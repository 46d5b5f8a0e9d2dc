"""The OpenTelemetry Collector's config: OTLP in, memory limit, scrubbing, tail sampling, batching, and a
queued, retrying OTLP exporter to Tempo. Pure: no `pulumi` import.

Order matters: the memory limiter first (it refuses data before anything holds it), the scrubbing before
sampling (nothing unscrubbed is ever buffered), batching last (tail sampling releases whole traces).
Tail sampling needs every span of a trace at one collector, so this is one replica's config.

Span metrics are computed here, from every span before sampling (a second pipeline on the same receiver),
and served on :8889 for Prometheus; Tempo's metrics-generator, which sees only the sampled traces, then
computes none (components/builders/tempo.py).
"""

from __future__ import annotations

from typing import Any

from components import defaults
from components.settings import StackSettings
from components.settings.tracing import CollectorSettings
from components.topology import Topology
from components.units import prom_duration_seconds

CONFIG_DIR = "/etc/otelcol"
CONFIG_FILE = "config.yaml"

OTLP_GRPC_PORT = defaults.PORTS["otlp-grpc"]
OTLP_HTTP_PORT = defaults.PORTS["otlp-http"]
METRICS_PORT = defaults.PORTS["otel-collector-metrics"]
HEALTH_PORT = defaults.PORTS["otel-collector-health"]
SPAN_METRICS_PORT = defaults.PORTS["otel-collector-spanmetrics"]
# Tempo's metrics-generator default latency buckets (seconds), so either source fills the same panels.
LATENCY_BUCKETS = ("2ms", "4ms", "8ms", "16ms", "32ms", "64ms", "128ms", "256ms", "512ms", "1.024s", "2.048s",
                   "4.096s", "8.192s", "16.384s")
URL_ATTRIBUTES = ("url.full", "http.url", "http.target")


def _scrub_statements(settings: CollectorSettings) -> list[str]:
    # OTTL; "[?].*" needs no escaping at any of the YAML, OTTL-string and RE2 levels.
    out = [f'replace_pattern(attributes["{key}"], "[?].*", "")' for key in URL_ATTRIBUTES
           if settings.scrub.strip_query_strings]
    out += [f'delete_key(attributes, "{key}")' for key in settings.scrub.drop_attributes]
    return out


def _policies(settings: CollectorSettings) -> list[dict[str, Any]]:
    sampling = settings.sampling
    policies: list[dict[str, Any]] = []
    if sampling.keep_errors:
        policies.append({"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}})
    threshold_ms = int(prom_duration_seconds(sampling.latency_threshold) * 1000)
    policies.append({"name": "slow", "type": "latency", "latency": {"threshold_ms": threshold_ms}})
    policies.append({"name": "healthy-sample", "type": "probabilistic",
                     "probabilistic": {"sampling_percentage": sampling.percentage}})
    return policies


# What k8s_attributes adds to every span's resource. All of it comes from the pod objects of one namespace (the
# deployment name from the ReplicaSet name in the pod's owner), so a Role on pods there is all it needs
# (k8sattributesprocessor v1.0.0 internal/kube/client.go: no ReplicaSet, namespace or node informer for these).
K8S_METADATA = ("k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "k8s.deployment.name", "k8s.statefulset.name",
                "k8s.node.name")


def _k8s_attributes(namespace: str) -> dict[str, Any]:
    return {
        "auth_type": "serviceAccount",
        "filter": {"namespace": namespace},
        "extract": {"metadata": list(K8S_METADATA)},
        # The sender's pod by its address: Shannon's services set no k8s.pod.ip themselves.
        "pod_association": [{"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
                            {"sources": [{"from": "connection"}]}],
    }


def build_collector_config(settings: CollectorSettings, tempo_endpoint: str, listen_host: str = "0.0.0.0",
                           ports: dict[str, int] | None = None,
                           enrich_namespace: str | None = None) -> dict[str, Any]:
    """The collector's config.yaml as a dict; `tempo_endpoint` is Tempo's OTLP gRPC host:port. On Kubernetes,
    `enrich_namespace` (Shannon's) turns on k8s_attributes for the pods there."""
    port = {"grpc": OTLP_GRPC_PORT, "http": OTLP_HTTP_PORT, "metrics": METRICS_PORT, "health": HEALTH_PORT,
            "spanmetrics": SPAN_METRICS_PORT, **(ports or {})}
    processors: dict[str, Any] = {
        # Percentages of the container's memory limit (cgroup), so a resize needs no config change.
        "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
        "tail_sampling": {"decision_wait": settings.sampling.decision_wait, "num_traces": settings.sampling.num_traces,
                          "policies": _policies(settings)},
        "batch": {"send_batch_size": 512, "timeout": "2s"},
    }
    budget = prom_duration_seconds(settings.max_elapsed_time)
    chain = ["memory_limiter"]
    if enrich_namespace:  # first after the limiter: it needs the connection's address, which batching drops
        processors["k8s_attributes"] = _k8s_attributes(enrich_namespace)
        chain.append("k8s_attributes")
    if statements := _scrub_statements(settings):
        processors["transform/scrub"] = {"error_mode": "ignore",
                                         "trace_statements": [{"context": "span", "statements": statements}]}
        chain.append("transform/scrub")
    chain += ["tail_sampling", "batch"]
    return {
        "extensions": {"health_check": {"endpoint": f"{listen_host}:{port['health']}"}},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"{listen_host}:{port['grpc']}"},
                                             "http": {"endpoint": f"{listen_host}:{port['http']}"}}}},
        "processors": processors,
        "connectors": {"spanmetrics": {
            "namespace": "traces.spanmetrics",
            "histogram": {"unit": "s", "explicit": {"buckets": list(LATENCY_BUCKETS)}},
            "exemplars": {"enabled": True},  # trace ids on the latency buckets: Grafana links to the trace
            "metrics_flush_interval": "15s",
        }},
        "exporters": {"prometheus/spanmetrics": {
            "endpoint": f"{listen_host}:{port['spanmetrics']}",
            "enable_open_metrics": True,  # exemplars are OpenMetrics only
        }, "otlp_grpc/tempo": {
            "endpoint": tempo_endpoint,
            "tls": {"insecure": True},  # in-cluster or on the compose network, beside Tempo
            "sending_queue": {"enabled": True, "num_consumers": 4, "queue_size": settings.queue_size},
            # The collector refuses a max_interval above max_elapsed_time: the backoff caps at the smaller.
            "retry_on_failure": {"enabled": True, "initial_interval": "1s",
                                 "max_interval": "30s" if budget >= 30 else settings.max_elapsed_time,
                                 "max_elapsed_time": settings.max_elapsed_time},
        }},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "detailed", "readers": [
                {"pull": {"exporter": {"prometheus": {"host": listen_host, "port": port["metrics"]}}}}]}},
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": chain, "exporters": ["otlp_grpc/tempo"]},
                # Every span, before sampling: span metrics count the traffic, not what was kept.
                "traces/spanmetrics": {"receivers": ["otlp"], "processors": ["memory_limiter"],
                                       "exporters": ["spanmetrics"]},
                "metrics/spanmetrics": {"receivers": ["spanmetrics"], "exporters": ["prometheus/spanmetrics"]},
            },
        },
    }


def stack_collector_config(settings: StackSettings) -> dict[str, Any]:
    """The config the stack deploys: Tempo's OTLP gRPC port at its in-cluster (or compose network) address."""
    tempo = Topology(settings).otlp_grpc_endpoint().removeprefix("http://")
    enrich = settings.shannon.namespace if settings.platform == "kubernetes" else None
    return build_collector_config(settings.tracing.collector, tempo, enrich_namespace=enrich)


def collector_args() -> list[str]:
    return [f"--config={CONFIG_DIR}/{CONFIG_FILE}"]
