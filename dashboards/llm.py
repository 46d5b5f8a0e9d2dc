"""LLM usage and cost: the llm-service's provider calls, tokens and spend by provider and model.

Every LLM call Shannon makes (agent steps, tools, synthesis, the /completions API) goes through
the llm-service's provider manager, which counts llm_manager_requests_total, _tokens_total,
_cost_usd_total and llm_manager_latency_ms (milliseconds); llm_requests_total and its kin count
the /completions API only and appear here as that breakdown. Rates, latencies and "in range"
spend read the 1-minute recorded 5m rates and P95s of rules/dashboards.generated.yml (fleet-wide).
"""

from __future__ import annotations

from typing import Any

from components.builders.intervals import INTERVAL_S
from dashboards.lib import Dashboard, q, stat, steps, table, timeseries

UID = "shannon-llm"
REQUESTS = "job_provider_model_status:llm_manager_requests:rate5m"
COST = "job_provider_model:llm_manager_cost_usd:rate5m"
TOKENS = "job_provider_model_direction:llm_manager_tokens:rate5m"
# Spend over the range integrates the recorded rate: one sample per rule interval, each
# worth that many seconds of spend. Reading increase() over every instance's raw counter
# for 30 days was the slowest panel of the project's dashboards (bench/results.md).
IN_RANGE = "Spend over the dashboard range, fleet-wide: the recorded per-second rate summed minute by minute."


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / LLM Usage and Cost",
                  "llm-service: every provider call's tokens, cost, errors and latency by provider and model.",
                  ["llm", "cost"])
    d.add(
        stat("Spend Rate", [q(f"sum({COST}) * 3600", "USD/h")],
             unit="currencyUSD", w=6, decimals=2, thresholds=steps(("green", None), ("yellow", 5), ("red", 20)),
             description="Current LLM spend extrapolated to an hour. LLMCostSpike fires at 3x the daily average and above 5 USD/h."),
        stat("Spend in Range", [q(f"sum(sum_over_time({COST}[$__range])) * {INTERVAL_S}", "USD", instant=True)],
             unit="currencyUSD", w=6, decimals=2, description=IN_RANGE),
        stat("Tokens/s", [q(f"sum({TOKENS})", "tokens/s")],
             unit="short", w=6, thresholds=steps(("green", None), ("red", 10000)),
             description="TokenUsageSpike fires above 10,000 tokens/s."),
        stat("Provider Error Ratio", [q(
            f'(sum({REQUESTS}{{status="error"}}) or vector(0)) / (sum({REQUESTS}) > 0)', "errors")],
             unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("red", 0.05)),
             description="Failed provider calls over all. LLMServiceErrorRateHigh fires above 5%."),
    )
    d.add(
        timeseries("Tokens by Provider, Model and Direction", [
            q(f"sum by (provider, model, direction) ({TOKENS})", "{{provider}}/{{model}} {{direction}}"),
        ], unit="short", w=12, stack=True),
        timeseries("Cost by Provider and Model", [
            q(f"sum by (provider, model) ({COST}) * 3600", "{{provider}}/{{model}}"),
        ], unit="currencyUSD", w=12, stack=True),
    )
    d.add(
        timeseries("Provider Calls by Status", [
            q(f"sum by (provider, status) ({REQUESTS})", "{{provider}} {{status}}"),
        ], unit="reqps", w=12, stack=True,
            description="A failed call is counted with an empty model (the call never got a response)."),
        timeseries("Call P95 Latency by Provider", [
            q("max by (provider) (job_provider:llm_manager_latency_ms:p95_rate5m)", "{{provider}}"),
        ], unit="ms", w=12, thresholds=steps(("green", None), ("red", 10000)),
            description="LLMServiceLatencyHigh fires above 10,000 ms (a bucket bound of llm_manager_latency_ms)."),
    )
    d.add(
        timeseries("Provider Circuit Breakers (per 15m)", [
            q("sum by (provider) (job_provider:llm_manager_circuit_breaker_open:rate5m) * 900", "opened {{provider}}"),
            q("sum by (provider) (job_provider:llm_manager_circuit_breaker_half_open_probes:rate5m) * 900",
              "half-open probes {{provider}}"),
        ], unit="short", w=12),
        timeseries("Hedged Requests Won", [
            q("sum by (winner) (job_winner:llm_manager_hedged_wins:rate5m)", "{{winner}}"),
        ], unit="reqps", w=12, description="With hedging on, which of the primary and fallback provider answered first."),
    )
    d.add(
        table("Spend by Model in Range", [
            q(f"sort_desc(sum by (provider, model) (sum_over_time({COST}[$__range])) * {INTERVAL_S})", instant=True, fmt="table"),
        ], unit="currencyUSD", w=12, sort_by="Value", description=IN_RANGE),
        timeseries("Anthropic Prompt Cache Tokens", [
            q("sum by (source) (job_source:anthropic_cache_read_tokens:rate5m)", "read {{source}}"),
            q("sum by (source) (job_source:anthropic_cache_write_5m_tokens:rate5m)", "write 5m {{source}}"),
            q("sum by (source) (job_source:anthropic_cache_write_1h_tokens:rate5m)", "write 1h {{source}}"),
        ], unit="short", w=12, description="Cache reads bill at 0.1x input, 5-minute writes at 1.25x, 1-hour writes at 2x."),
    )
    d.row("/completions API")
    d.add(
        timeseries("/completions Requests by Cache Status", [
            q("sum by (cache_status) (job_cache_status:llm_requests:rate5m)", "{{cache_status}}"),
        ], unit="reqps", w=8, stack=True, description="The /completions endpoint only, with its response cache."),
        timeseries("/completions P95 by Provider", [
            q("max by (provider) (job_provider:llm_request_duration_seconds:p95_rate5m)", "{{provider}}"),
        ], unit="s", w=8),
        timeseries("/completions Errors by Type", [
            # The metric's own `component` label is stored as exported_component (it meets the target label).
            q("sum by (error_type) (job_error_type:llm_service_errors:rate5m)", "{{error_type}}"),
        ], unit="reqps", w=8),
    )
    d.add(
        timeseries("Orchestrator Prompt Cache Savings", [
            q("sum(job:shannon_prompt_cache_savings_usd:rate5m) * 3600", "USD/h saved"),
        ], unit="currencyUSD", w=12, description="What the orchestrator estimates prompt caching saved."),
        timeseries("MCP Tool Calls", [
            q("sum by (name, status) (job_name_status:llm_mcp_requests:rate5m)", "{{name}} {{status}}"),
        ], unit="reqps", w=12),
    )
    return d.build()
