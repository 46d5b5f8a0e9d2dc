"""Workflows and tasks: orchestrator workflows, patterns, sessions, memory and vector search.

Read with Shannon's semantics (docs/shannon-instrumentation.md): a workflow's end, its duration,
tokens and cost are recorded on every status poll of the finished workflow, so those panels
count polls; shannon_workflow_duration_seconds has the default buckets, whose highest bound is
10s, so its quantiles cannot exceed 10s. Rates and latencies read the 1-minute recorded 5m
rates of rules/dashboards.generated.yml; gauges are per instance and follow $instance.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, q, stat, steps, timeseries

UID = "shannon-workflows"
SEL = 'job="orchestrator", instance=~"$instance"'
FAILED = 'status=~"FAILED|TIMEOUT"'
FINISHED = 'status=~"COMPLETED|FAILED|TIMEOUT|CANCELLED"'
COMPLETED = "job_status:shannon_workflows_completed:rate5m"
TOKENS = "job_le:shannon_task_tokens_used_bucket:rate5m"
DURATION = "job_le:shannon_workflow_duration_seconds_bucket:rate5m"
SESSION_HITS = "job:shannon_session_cache_hits:rate5m"
SESSION_MISSES = "job:shannon_session_cache_misses:rate5m"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Workflows and Tasks",
                  "Orchestrator workflows, patterns, sessions, memory and vector search.",
                  ["workflows", "orchestrator"], instance_job="orchestrator")
    d.add(
        stat("Workflow Error Ratio", [q(
            f"(sum({COMPLETED}{{{FAILED}}}) or vector(0)) / (sum({COMPLETED}{{{FINISHED}}}) > 0)", "errors")],
            unit="percentunit", w=6, decimals=1, thresholds=steps(("green", None), ("red", 0.10)),
            description="Status polls of finished workflows that saw one failed or timed out. Alert: above 10% "
                        "(WorkflowErrorRateHigh)."),
        stat("Workflows Started/s", [q("sum(job_workflow_type:shannon_workflows_started:rate5m)", "workflows/s")],
             unit="short", w=6),
        stat("Session Cache Hit Ratio", [q(
            f"sum({SESSION_HITS}) / (sum({SESSION_HITS}) + sum({SESSION_MISSES}) > 0)", "hit ratio")],
            unit="percentunit", w=6, decimals=1),
        stat("Scheduling Delay P95", [q(
            "histogram_quantile(0.95, sum by (le) (job_le:shannon_rate_limit_delay_seconds_bucket:rate5m))", "P95")],
            unit="s", w=6, thresholds=steps(("green", None), ("red", 1)),
            description="Rate-limit delay before LLM dispatch. Alert: P95 above 1s (WorkflowLatencyHigh)."),
    )
    d.add(
        timeseries("Workflows Started by Type", [
            q("sum by (workflow_type) (job_workflow_type:shannon_workflows_started:rate5m)", "{{workflow_type}}"),
        ], unit="short", w=12),
        timeseries("Polls of Finished Workflows by Status", [
            q(f"sum by (status) ({COMPLETED})", "{{status}}"),
        ], unit="short", w=12, description="Recorded on each status poll of a finished workflow, not once per workflow."),
    )
    d.add(
        timeseries("Workflow Duration P50/P95 (at most 10s: default buckets)", [
            q(f"histogram_quantile(0.50, sum by (le) ({DURATION}))", "P50"),
            q(f"histogram_quantile(0.95, sum by (le) ({DURATION}))", "P95"),
        ], unit="s", w=12, description="The histogram's highest bucket is 10s: longer workflows show as 10s."),
        timeseries("Task Tokens P50/P95", [
            q(f"histogram_quantile(0.50, sum by (le) ({TOKENS}))", "P50"),
            q(f"histogram_quantile(0.95, sum by (le) ({TOKENS}))", "P95"),
        ], unit="short", w=12, thresholds=steps(("green", None), ("red", 10000))),
    )
    d.add(
        timeseries("Tasks Over the 10k-Token Budget", [
            q(f'sum(job:shannon_task_tokens_used_count:rate5m) - sum({TOKENS}{{le=~"10000|10000.0"}})', "polls/s"),
        ], unit="short", w=12, thresholds=steps(("green", None), ("red", 0.1)),
            description="TokenBudgetExceededRate fires above 0.1/s."),
        timeseries("Pattern Executions", [
            q("sum by (pattern) (job_pattern:shannon_pattern_executions:rate5m)", "{{pattern}}"),
        ], unit="short", w=12),
    )
    d.add(
        timeseries("Sessions", [
            q("sum(job:shannon_sessions_created:rate5m)", "created/s"),
            q(f"sum(shannon_session_cache_size{{{SEL}}})", "in the local cache"),
        ], w=12),
        timeseries("Memory Fetches by Result", [
            q("sum by (type, result) (job_type_result:shannon_memory_fetches:rate5m)", "{{type}} {{result}}"),
        ], unit="short", w=12),
    )
    d.add(
        timeseries("Vector Search Rate and P95", [
            q("sum by (collection, status) (job_collection_status:shannon_vector_search:rate5m)", "{{collection}} {{status}}"),
            q("histogram_quantile(0.95, sum by (le) (job_le:shannon_vector_search_latency_seconds_bucket:rate5m))", "P95 latency"),
        ], unit="short", w=12),
        timeseries("Embedding Requests by Status", [
            q("sum by (status) (job_status:shannon_embedding_requests:rate5m)", "{{status}}"),
            q("histogram_quantile(0.95, sum by (le) (job_le:shannon_embedding_latency_seconds_bucket:rate5m))", "P95 latency"),
        ], unit="short", w=12),
    )
    return d.build()
