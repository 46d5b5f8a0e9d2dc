"""tempo.yaml: Tempo in monolithic mode, built from settings.

Pure: no `pulumi` import. Checked against Tempo 2.9.5's configuration (the key tree in
tests/data/tempo-2.9.5-keys.yaml, from docs/sources/tempo/configuration/manifest.md and
the Go structs' yaml tags at tag v2.9.5). OTLP gRPC (4317) and HTTP (4318) listen on all
interfaces (Tempo >= 2.7 binds receivers to localhost unless told otherwise).
The metrics-generator remote-writes service graphs and span metrics to every
Prometheus replica, so an HA pair holds the same series. Object-storage
credentials are `${S3_ACCESS_KEY}`/`${S3_SECRET_KEY}` references expanded from
environment variables fed from a Secret (`-config.expand-env=true`), so the
file itself holds no credential.
"""

from __future__ import annotations

from typing import Any

from components import defaults
from components.settings import StackSettings
from components.topology import Topology

CONFIG_DIR = "/etc/tempo"
DATA_DIR = "/var/tempo"
SECRET_ENV = {"s3AccessKey": "S3_ACCESS_KEY", "s3SecretKey": "S3_SECRET_KEY"}


def build_tempo_config(settings: StackSettings) -> dict[str, Any]:
    tempo = settings.tempo
    topo = Topology(settings)
    trace_storage: dict[str, Any] = {"wal": {"path": f"{DATA_DIR}/wal"}}
    if tempo.storage == "s3" and tempo.s3 is not None:
        s3: dict[str, Any] = {
            "bucket": tempo.s3.bucket,
            "endpoint": tempo.s3.endpoint,
            "access_key": "${S3_ACCESS_KEY}",
            "secret_key": "${S3_SECRET_KEY}",
            "insecure": tempo.s3.insecure,
            "forcepathstyle": tempo.s3.force_path_style,
        }
        if tempo.s3.region:
            s3["region"] = tempo.s3.region
        trace_storage.update({"backend": "s3", "s3": s3})
    else:
        trace_storage.update({"backend": "local", "local": {"path": f"{DATA_DIR}/blocks"}})

    config: dict[str, Any] = {
        "stream_over_http_enabled": True,
        "server": {
            "http_listen_port": defaults.PORTS["tempo"],
            "grpc_listen_port": defaults.PORTS["tempo-grpc"],
            "log_level": "info",
        },
        "distributor": {
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"0.0.0.0:{defaults.PORTS['otlp-grpc']}"},
                        "http": {"endpoint": f"0.0.0.0:{defaults.PORTS['otlp-http']}"},
                    },
                },
            },
        },
        "compactor": {"compaction": {"block_retention": tempo.retention}},
        "storage": {"trace": trace_storage},
        # On by default: posts anonymous usage statistics to stats.grafana.org
        # (pkg/usagestats/config.go, `reporting_enabled`).
        "usage_report": {"reporting_enabled": False},
    }
    if tempo.metrics_generator:
        config["metrics_generator"] = {
            # In operator mode the series land in a Prometheus other teams share: they carry Shannon's namespace,
            # which every Shannon query there selects (components/builders/operator.py).
            "registry": {"external_labels": {"source": "tempo", "environment": settings.environment_label,
                                             **({"namespace": settings.kubernetes.namespace}
                                                if settings.operator.enabled else {})}},
            "storage": {
                "path": f"{DATA_DIR}/generator/wal",
                "remote_write": [{"url": f"{url}/api/v1/write", "send_exemplars": True}
                                 for url in topo.prometheus_replica_urls()],
            },
            "traces_storage": {"path": f"{DATA_DIR}/generator/traces"},
            # TraceQL metrics (`{} | rate()`, Grafana's Traces Drilldown) over every span, and over
            # history: by default local-blocks keeps only server spans and only its last 30
            # minutes in memory (modules/generator/processor/localblocks/config.go;
            # docs .../metrics-queries/configure-traceql-metrics.md).
            "processor": {"local_blocks": {"filter_server_spans": False, "flush_to_storage": True}},
        }
        # With the collector in front, Tempo sees only the sampled traces: span metrics come from the collector
        # (before sampling, components/builders/otel_collector.py), so that there is one source and it is right.
        processors = ["service-graphs", "local-blocks"] if settings.collector_enabled else \
            ["service-graphs", "span-metrics", "local-blocks"]
        config["overrides"] = {"defaults": {"metrics_generator": {"processors": processors}}}
    return config


def tempo_args(settings: StackSettings) -> list[str]:
    args = [f"-config.file={CONFIG_DIR}/tempo.yaml"]
    if settings.tempo.storage == "s3":
        args.append("-config.expand-env=true")
    return args
