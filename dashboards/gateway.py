"""Gateway: Shannon's OpenAI-compatible API and the daemon connections the gateway serves.

What the gateway binary writes on its own /metrics (:8080, job gateway): openai_compat_* for
/v1/chat/completions and friends (requests by status, errors by type and code, latency, time to
first token, streaming, tokens), and daemon_* for the desktop daemons it relays to. Its other
REST endpoints record no request metrics. Rates and latencies read the 1-minute recorded 5m
rates and P95s of rules/dashboards.generated.yml.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, q, stat, steps, timeseries

UID = "shannon-gateway"
SEL = 'job="gateway", instance=~"$instance"'
REQUESTS = "job_model_endpoint_status:openai_compat_requests:rate5m"
TOKENS = "job_model_type:openai_compat_tokens:rate5m"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Gateway", "The gateway's OpenAI-compatible API and daemon relay.",
                  ["gateway", "api"], instance_job="gateway")
    d.add(
        stat("Requests/s", [q(f"sum({REQUESTS})", "requests/s")], unit="reqps", w=6),
        stat("Error Ratio", [q(f'(sum({REQUESTS}{{status="error"}}) or vector(0)) / (sum({REQUESTS}) > 0)', "errors")],
             unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("red", 0.05)),
             description="GatewayErrorRateHigh fires above 5%."),
        stat("P95 Latency", [q("max(job:openai_compat_latency_seconds:p95_rate5m)", "P95")], unit="s", w=6,
             thresholds=steps(("green", None), ("red", 60)), description="GatewayLatencyHigh fires above 60s."),
        stat("Time to First Token P95", [q("max(job:openai_compat_time_to_first_token_seconds:p95_rate5m)", "P95")],
             unit="s", w=6, description="Streaming requests: until the first chunk."),
    )
    d.add(
        timeseries("Requests by Endpoint and Status", [
            q(f"sum by (endpoint, status) ({REQUESTS})", "{{endpoint}} {{status}}"),
        ], unit="reqps", w=12, stack=True),
        timeseries("Errors by Type and Code", [
            q("sum by (error_type, error_code) (job_error_type_error_code:openai_compat_errors:rate5m)",
              "{{error_type}} {{error_code}}"),
        ], unit="reqps", w=12),
    )
    d.add(
        timeseries("Latency P95 by Endpoint and Stream", [
            q("max by (endpoint, stream) (job_endpoint_stream:openai_compat_latency_seconds:p95_rate5m)",
              "{{endpoint}} stream={{stream}}"),
        ], unit="s", w=12),
        timeseries("Tokens by Model and Type", [
            q(f"sum by (model, type) ({TOKENS})", "{{model}} {{type}}"),
        ], unit="short", w=12, stack=True),
    )
    d.add(
        timeseries("Streams", [
            q("sum(job:openai_compat_stream_chunks:rate5m)", "chunks/s"),
            q("sum by (error_type) (job_error_type:openai_compat_stream_errors:rate5m)", "errors {{error_type}}"),
        ], unit="short", w=12),
        timeseries("Sessions and Daemons", [
            q("sum(job:openai_compat_sessions_created:rate5m)", "sessions created/s"),
            q(f"sum(daemon_connections_active{{{SEL}}})", "daemons connected"),
            q("sum by (status) (job_status:daemon_claims:rate5m)", "claims {{status}}"),
        ], unit="short", w=12),
    )
    return d.build()
