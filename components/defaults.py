"""The one defaults table: images, versions, ports, users and sizes.

Every image is pinned to an exact version. Stack files may override any of
these through settings; environment differences live in `Pulumi.<stack>.yaml`,
never in `if prod:` branches.

Version choices
---------------
* Prometheus 3.13 is the current LTS line (support until July 2027; 3.5 LTS
  ended 2026-07-31). The tests run Debian's 3.5.3 (`.ci/tools.lock`); README's
  "Test matrix" says why the minor-version gap is safe and what it leaves open.
* Alertmanager 0.34.1; tested live and checked with amtool 0.33.1.
* Exporters: node-exporter and blackbox are pinned to the versions the e2e tests
  run; the Postgres and Redis exporters are newer than Debian's (see the matrix).
* Grafana 12.4 is the last minor of the 12 line, whose provisioning formats and
  HTTP API the pulumiverse provider and our datasource JSON were checked against.
* Tempo 2.9.5, the newest 2.9 patch (security fixes in 2.9.4 and 2.9.5). 2.10 is
  out; moving to it means re-deriving tests/data/tempo-*-keys.yaml from its manifest.
"""

from __future__ import annotations

from typing import Final

IMAGES: Final[dict[str, str]] = {
    "prometheus": "prom/prometheus:v3.13.2",
    "alertmanager": "prom/alertmanager:v0.34.1",
    "grafana": "grafana/grafana:12.4.3",
    "tempo": "grafana/tempo:2.9.5",
    "node-exporter": "prom/node-exporter:v1.11.1",
    "postgres-exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.20.1",
    "redis-exporter": "oliver006/redis_exporter:v1.90.0",
    "blackbox-exporter": "prom/blackbox-exporter:v0.28.0",
    # The release .ci/otelcol builds for the live test, with every component the config uses.
    "otel-collector": "otel/opentelemetry-collector-contrib:0.161.0",
}

# Container ports each program listens on.
PORTS: Final[dict[str, int]] = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "alertmanager-cluster": 9094,
    "grafana": 3000,
    "tempo": 3200,
    "tempo-grpc": 9095,
    "otlp-grpc": 4317,
    "otlp-http": 4318,
    "node-exporter": 9100,
    "postgres-exporter": 9187,
    "redis-exporter": 9121,
    "blackbox-exporter": 9115,
    "otel-collector-metrics": 8888,
    "otel-collector-spanmetrics": 8889,
    "otel-collector-health": 13133,
}

# The numeric user each image is built to run as; the pods pin it explicitly.
RUN_AS: Final[dict[str, tuple[int, int]]] = {
    "prometheus": (65534, 65534),
    "alertmanager": (65534, 65534),
    "grafana": (472, 472),
    "tempo": (10001, 10001),
    "node-exporter": (65534, 65534),
    "postgres-exporter": (65534, 65534),
    "redis-exporter": (59000, 59000),
    "blackbox-exporter": (65534, 65534),
    "otel-collector": (10001, 10001),
}

# Requests, memory limit and (where the program stores data) volume size.
# Stack files scale these; they are sized for a small production Shannon fleet.
RESOURCES: Final[dict[str, dict[str, str]]] = {
    "prometheus": {"cpu": "500m", "memory": "2Gi", "memoryLimit": "4Gi"},
    "alertmanager": {"cpu": "50m", "memory": "64Mi", "memoryLimit": "256Mi"},
    "grafana": {"cpu": "100m", "memory": "256Mi", "memoryLimit": "512Mi"},
    "tempo": {"cpu": "250m", "memory": "1Gi", "memoryLimit": "2Gi"},
    "node-exporter": {"cpu": "50m", "memory": "64Mi", "memoryLimit": "128Mi"},
    "postgres-exporter": {"cpu": "20m", "memory": "32Mi", "memoryLimit": "128Mi"},
    "redis-exporter": {"cpu": "20m", "memory": "32Mi", "memoryLimit": "128Mi"},
    "blackbox-exporter": {"cpu": "20m", "memory": "32Mi", "memoryLimit": "128Mi"},
    # Tail sampling holds numTraces traces for decisionWait: 50,000 traces of ~10 spans at ~1 KB each.
    "otel-collector": {"cpu": "200m", "memory": "512Mi", "memoryLimit": "1Gi"},
}

VOLUME_SIZES: Final[dict[str, str]] = {
    "prometheus": "50Gi",
    "alertmanager": "1Gi",
    "grafana": "2Gi",
    "tempo": "20Gi",
}

# Prometheus may fill at most this share of its volume: the rest is headroom for
# the WAL, compaction (which briefly needs a block's size again) and snapshots.
RETENTION_SIZE_SHARE: Final[float] = 0.85

# Shannon's metrics endpoints (catalog/metrics.yaml has the lines of Shannon's code that set
# each port and path). Job names are load-bearing: rules and dashboards select on them.
# Temporal serves metrics only when its server is configured to (PROMETHEUS_ENDPOINT on
# the temporalio/auto-setup image), which Shannon's compose file does not do: its job is off
# until a stack turns it on (README "Pointing Shannon at the stack").
SHANNON_TARGETS: Final[list[dict[str, object]]] = [
    {"job": "orchestrator", "port": 2112},
    {"job": "gateway", "port": 8080, "path": "/metrics"},
    {"job": "agent-core", "port": 2113},
    {"job": "llm-service", "port": 8000, "path": "/metrics"},
    {"job": "temporal", "port": 8000, "enabled": False},
]

# Health endpoints of each program (readiness, liveness).
HEALTH: Final[dict[str, tuple[str, str]]] = {
    "prometheus": ("/-/ready", "/-/healthy"),
    "alertmanager": ("/-/ready", "/-/healthy"),
    "grafana": ("/api/health", "/api/health"),
    # Liveness must not wait on readiness: /ready stays 503 through a WAL replay, and a
    # liveness probe on it would kill the replay (cmd/tempo/app/app.go serves
    # /api/status/buildinfo from the start).
    "tempo": ("/ready", "/api/status/buildinfo"),
    "node-exporter": ("/", "/"),
    "postgres-exporter": ("/", "/"),
    "redis-exporter": ("/health", "/health"),
    "blackbox-exporter": ("/-/healthy", "/-/healthy"),
    "otel-collector": ("/", "/"),  # the health_check extension, on its own port
}

# Labels every scrape target carries, as in the original configuration.
SERVICE_LABEL: Final[str] = "shannon"
MONITOR_LABEL: Final[str] = "shannon-monitor"
