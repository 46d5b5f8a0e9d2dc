"""`tracing.collector`: the OpenTelemetry Collector gateway in front of Tempo (tail sampling, scrubbing,
queueing), at the address Shannon sends its traces to by default (otel-collector:4317)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.settings.types import Duration, Model, Resources, _matching, _resources, _with_defaults

# OpenTelemetry attribute keys: dotted words (http.request.header.authorization); no quote can reach OTTL.
AttributeKey = Annotated[str, _matching(r"[A-Za-z_][A-Za-z0-9_.\-]*", "is not an OpenTelemetry attribute key",
                                        "attribute key")]


class Sampling(Model):
    keep_errors: bool = Field(True, description="Keep every trace with a span whose status is ERROR.")
    latency_threshold: Duration = Field("2s", description="Keep every trace longer than this, end to end.")
    percentage: float = Field(10.0, ge=0, le=100, description="Share of the other (healthy, fast) traces kept.")
    decision_wait: Duration = Field("10s", description="How long the collector waits for a trace's spans before "
                                                       "deciding; spans arriving later are decided alone.")
    num_traces: int = Field(50_000, ge=1_000, le=10_000_000,
                            description="Traces held while waiting: at least traces per second x decisionWait.")


class Scrub(Model):
    strip_query_strings: bool = Field(True, description="Remove the query string of URL attributes "
                                                        "(url.full, http.url, http.target): credentials ride there.")
    drop_attributes: list[AttributeKey] = Field(
        default_factory=lambda: ["http.request.header.authorization", "http.request.header.cookie",
                                 "http.request.header.x-api-key", "url.query"],
        description="Span attribute keys removed before anything is stored.")


class CollectorSettings(Model):
    enabled: bool | None = Field(None, description="Deploy the collector: Shannon's services send to it, it samples "
                                                    "and scrubs, then forwards to Tempo. Default: wherever Tempo is "
                                                    "deployed; true without Tempo is refused.")
    shannon_alias: bool = Field(True, description="Make the collector reachable as `otel-collector`, Shannon's "
                                                  "default endpoint: on Docker an alias on Shannon's network, on "
                                                  "Kubernetes an ExternalName Service in Shannon's namespace. Turn "
                                                  "off where Shannon runs its own otel-collector.")
    resources: Annotated[Resources, _with_defaults("otel-collector")] = _resources("otel-collector")
    sampling: Sampling = Field(default_factory=Sampling, description="Tail sampling.")
    scrub: Scrub = Field(default_factory=Scrub, description="Attributes that never reach the trace store.")
    queue_size: int = Field(5_000, ge=100, le=1_000_000,
                            description="Batches the Tempo exporter holds while Tempo is unreachable.")
    max_elapsed_time: Duration = Field("5m", description="How long a batch is retried before it is dropped.")


class TracingSettings(Model):
    collector: CollectorSettings = Field(default_factory=CollectorSettings,
                                         description="The OpenTelemetry Collector in front of Tempo.")

