"""LLM usage and cost: tokens and spend by provider and model, latency, caching.

Rates, latencies and "in range" spend read the 1-minute recorded 5m rates and P95s of
rules/dashboards.generated.yml (fleet-wide); gauges read raw series and follow $instance.
"""

from __future__ import annotations

from typing import Any

from components.builders.dashboard_rules import INTERVAL_S
from dashboards.lib import Dashboard, exemplars, q, stat, steps, table, timeseries

UID = "shannon-llm"
SEL = 'job="llm-service", instance=~"$instance"'
COST = "job_provider_model:llm_cost:rate5m"
TOKENS = "job_provider_model_type:llm_tokens:rate5m"
# Spend over the range integrates the recorded rate: one sample per rule interval, each
# worth that many seconds of spend. Reading increase() over every instance's raw counter
# for 30 days was the slowest panel of the project's dashboards (bench/results.md).
IN_RANGE = "Spend over the dashboard range, fleet-wide: the recorded per-second rate summed minute by minute."


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / LLM Usage and Cost", "llm-service: tokens, cost, latency and caching by provider and model.",
                  ["llm", "cost"], instance_job="llm-service")
    d.add(
        stat("Spend Rate", [q(f"sum({COST}) * 3600", "USD/h")],
             unit="currencyUSD", w=6, decimals=2, thresholds=steps(("green", None), ("yellow", 5), ("red", 20)),
             description="Current LLM spend extrapolated to an hour. LLMCostSpike fires at 3x the daily average and above 5 USD/h."),
        stat("Spend in Range", [q(f"sum(sum_over_time({COST}[$__range])) * {INTERVAL_S}", "USD", instant=True)],
             unit="currencyUSD", w=6, decimals=2, description=IN_RANGE),
        stat("Tokens/s", [q(f"sum({TOKENS})", "tokens/s")],
             unit="short", w=6, thresholds=steps(("green", None), ("red", 10000)),
             description="TokenUsageSpike fires above 10,000 tokens/s."),
        stat("Active Connections", [q(f"sum(llm_service_active_connections{{{SEL}}})", "connections")], w=6),
    )
    d.add(
        timeseries("Tokens by Provider and Model", [
            q(f"sum by (provider, model, type) ({TOKENS})", "{{provider}}/{{model}} {{type}}"),
        ], unit="short", w=12, stack=True),
        timeseries("Cost by Provider and Model", [
            q(f"sum by (provider, model) ({COST}) * 3600", "{{provider}}/{{model}}"),
        ], unit="currencyUSD", w=12, stack=True),
    )
    d.add(
        timeseries("Request P95 Latency by Provider", [
            q("max by (provider) (job_provider:llm_request_duration_seconds:p95_rate5m)", "{{provider}}"),
            exemplars("llm_request_duration_seconds", SEL, by="provider"),
        ], unit="s", w=12, thresholds=steps(("green", None), ("red", 8)),
            description="LLMServiceLatencyHigh fires above 8s."),
        timeseries("Requests by Cache Status", [
            q("sum by (cache_status) (job_cache_status:llm_requests:rate5m)", "{{cache_status}}"),
        ], unit="reqps", w=12, stack=True),
    )
    d.add(
        timeseries("Errors by Type", [
            # The metric's own `component` label is stored as exported_component (it meets the target label).
            q("sum by (error_type) (job_error_type:llm_service_errors:rate5m)", "{{error_type}}"),
        ], unit="reqps", w=12),
        table("Spend by Model in Range", [
            q(f"sort_desc(sum by (provider, model) (sum_over_time({COST}[$__range])) * {INTERVAL_S})", instant=True, fmt="table"),
        ], unit="currencyUSD", w=12, sort_by="Value", description=IN_RANGE),
    )
    d.add(
        timeseries("Provider Circuit Breakers Opened (per 5m)", [
            q("sum by (provider) (job_provider:llm_manager_circuit_breaker_open:rate5m) * 300", "{{provider}}"),
        ], unit="short", w=12),
        timeseries("Prompt Cache Savings", [
            q("sum(job:shannon_prompt_cache_savings_usd:rate5m) * 3600", "USD/h saved"),
        ], unit="currencyUSD", w=12),
    )
    return d.build()
