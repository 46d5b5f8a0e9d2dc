"""Policy Engine: Shannon's original production dashboard, rebuilt on recorded series.

Every panel of the original is kept. The fixes: ratios aggregate before dividing
(the original divided series with different label sets), quantiles are taken
over `sum by (le)`, and the error budget reads the recorded 30-day SLI instead
of a raw `rate(...[30d])` over every series on every refresh. Thresholds are
the SLOs: 5% errors, 5ms P95, 80% cache hits, 99% objective.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, barchart, piechart, q, stat, steps, table, timeseries

UID = "shannon-policy-production"
SLO = 'slo="policy-evaluation"'
RAW = 'job="orchestrator", instance=~"$instance"'


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Policy Engine", "OPA policy engine in the orchestrator: decisions, SLOs, canary rollout.",
                  ["policy", "opa", "canary", "slo"], instance_job="orchestrator")
    d.row("Service level")
    d.add(
        stat("Policy Decision Overview",
             [q("sum by (decision, mode) (job_decision_mode:shannon_policy_evaluations:rate5m)", "{{decision}} - {{mode}}")],
             unit="reqps", w=8, h=6, description="Policy evaluations per second by decision and mode (fleet)."),
        stat("Error Rate SLO", [q(f"slo:sli_error:ratio_rate5m{{{SLO}}}", "error ratio")],
             unit="percentunit", w=4, h=6, decimals=2,
             thresholds=steps(("green", None), ("yellow", 0.01), ("red", 0.05)),
             description="Share of evaluations that failed over 5m. Alert: above 5% (PolicyErrorRateHigh)."),
        stat("Cache Hit Rate", [q("job:shannon_policy_cache_hit:ratio_rate5m", "cache hit rate")],
             unit="percentunit", w=4, h=6, decimals=1,
             thresholds=steps(("red", None), ("yellow", 0.6), ("green", 0.8)),
             description="Policy lookups answered from the cache. Alert: below 80% (PolicyCacheHitRateLow)."),
        stat("SLO Dashboard - Error Budget", [q(f"slo:error_budget:remaining_ratio30d{{{SLO}}}", "budget left")],
             unit="percentunit", w=4, h=6, decimals=1, color_mode="background",
             thresholds=steps(("red", None), ("yellow", 0.2), ("green", 0.5)),
             description="Share of the 30-day error budget of the 99% SLO still left, from the recorded 30d SLI."),
        stat("Denial Rate", [q("job:shannon_policy_denial:ratio_rate5m", "denial rate")],
             unit="percentunit", w=4, h=6, decimals=1,
             thresholds=steps(("green", None), ("yellow", 0.1), ("red", 0.2)),
             description="Share of evaluations denied. Alert: above 20% (PolicyDenialRateHigh)."),
    )
    d.add(
        timeseries("Latency SLO - P50, P95, P99", [
            q("job:shannon_policy_latency_seconds:p50_rate5m", "P50"),
            q("job:shannon_policy_latency_seconds:p95_rate5m", "P95"),
            q("job:shannon_policy_latency_seconds:p99_rate5m", "P99"),
        ], unit="s", w=12, thresholds=steps(("green", None), ("red", 0.005)),
            description="Fleet-wide evaluation latency quantiles. SLO: P95 under 5ms (PolicyLatencyHigh)."),
        timeseries("Error Ratio by Window", [
            q(f"slo:sli_error:ratio_rate5m{{{SLO}}}", "5m"),
            q(f"slo:sli_error:ratio_rate1h{{{SLO}}}", "1h"),
            q(f"slo:sli_error:ratio_rate6h{{{SLO}}}", "6h"),
            q(f"slo:sli_error:ratio_rate30d{{{SLO}}}", "30d"),
        ], unit="percentunit", w=12, thresholds=steps(("green", None), ("orange", 0.06), ("red", 0.144)),
            description="Burn-rate windows: a fast burn pages above 14.4% over 1h and 5m, a slow burn above 6% over 6h and 30m."),
    )
    d.row("Canary rollout")
    d.add(
        piechart("Canary Rollout Status",
                 [q("sum by (effective_mode) (job_mode:shannon_policy_canary_decisions:rate5m)", "{{effective_mode}}",
                    instant=True)],
                 unit="reqps", w=8, description="Decisions per effective mode (enforce, dry-run)."),
        table("Policy Version Info",
              [q(f"max by (instance, policy_path, version_hash, load_timestamp) (shannon_policy_version_info{{{RAW}}})",
                 instant=True, fmt="table")],
              w=8, hide=["Value"], description="Policy bundle loaded on each orchestrator instance."),
        table("Canary Routing Breakdown",
              [q("sum by (routing_reason, effective_mode, decision) (job_routing:shannon_policy_canary_decisions:rate5m)",
                 instant=True, fmt="table")],
              unit="reqps", w=8, sort_by="Value", description="Why each decision was routed where it was."),
    )
    d.add(
        timeseries("Dry-Run vs Enforce Decisions",
                   [q("sum by (original_decision, effective_mode) (job_original_decision_effective_mode:shannon_policy_mode_comparison:rate5m)",
                      "{{effective_mode}}: would {{original_decision}}")],
                   unit="reqps", w=24, description="What enforce mode would have decided for dry-run traffic."),
    )
    d.row("Errors and policy loads")
    d.add(
        timeseries("Errors by Type", [
            q("sum by (error_type, mode) (job_error_type_mode:shannon_policy_errors:rate5m)", "{{error_type}} ({{mode}})"),
        ], unit="reqps", w=8, description="input_conversion and policy_evaluation come from the engine; "
                                          "evaluation_error from the agent activity's own checks."),
        timeseries("Evaluation Duration P95 by Mode", [
            q("max by (mode) (job_mode:shannon_policy_evaluation_duration_seconds:p95_rate5m)", "{{mode}}"),
        ], unit="s", w=8, description="Fresh evaluations only (the latency SLO above includes cache hits)."),
        table("Policy Loads", [
            q(f"max by (instance, policy_path) (shannon_policy_files_loaded{{{RAW}}})", instant=True, fmt="table"),
            q(f"time() - max by (instance, policy_path) (shannon_policy_load_timestamp_seconds{{{RAW}}})",
              instant=True, fmt="table"),
        ], w=8, description="Files loaded and seconds since the last load per orchestrator. PolicyStale fires when "
                            "an instance missed a hot reload another did."),
    )
    d.add(
        barchart("Top Deny Reasons",
                 [q(f"topk(10, sum by (truncated_reason, mode) (increase(shannon_policy_deny_reasons_total{{{RAW}}}[$__range])))",
                    "{{truncated_reason}} ({{mode}})", instant=True)],
                 unit="short", w=24, description="The ten most frequent deny reasons over the selected time range."),
    )
    return d.build()
