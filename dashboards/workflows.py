"""Workflows and tasks: orchestrator workflows, tasks, sessions, memory and vector search.

Rates and latencies read the 1-minute recorded 5m rates of rules/dashboards.generated.yml;
gauges are per instance and follow $instance.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, exemplars, q, stat, steps, timeseries

UID = "shannon-workflows"
SEL = 'job="orchestrator", instance=~"$instance"'
FAILED = 'status=~"(?i)failed|timed_?out|terminated"'
COMPLETED = "job_status:shannon_workflows_completed:rate5m"
TOKENS = "job_le:shannon_task_tokens_used_bucket:rate5m"
DURATION = "job_le:shannon_workflow_duration_seconds_bucket:rate5m"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Workflows and Tasks", "Orchestrator workflows, tasks, sessions, memory and vector search.",
                  ["workflows", "orchestrator"], instance_job="orchestrator")
    d.add(
        stat("Workflow Error Ratio", [q(
            f"(sum({COMPLETED}{{{FAILED}}}) or vector(0)) / (sum({COMPLETED}) > 0)", "errors")],
            unit="percentunit", w=6, decimals=1, thresholds=steps(("green", None), ("red", 0.10)),
            description="Workflows that failed, timed out or were terminated. Alert: above 10% (WorkflowErrorRateHigh)."),
        stat("Tasks Submitted/s", [q("sum(job:shannon_tasks_submitted:rate5m)", "tasks/s")],
             unit="short", w=6),
        stat("Active Sessions", [q(f"sum(shannon_sessions_active{{{SEL}}})", "sessions")], w=6),
        stat("Scheduling Delay P95", [q(
            "histogram_quantile(0.95, sum by (le) (job_le:shannon_rate_limit_delay_seconds_bucket:rate5m))", "P95")], unit="s", w=6, thresholds=steps(("green", None), ("red", 1)),
            description="Rate-limit delay before LLM dispatch. Alert: P95 above 1s (WorkflowLatencyHigh)."),
    )
    d.add(
        timeseries("Workflows Started and Completed", [
            q("sum by (workflow_type) (job_workflow_type:shannon_workflows_started:rate5m)", "started {{workflow_type}}"),
            q(f"sum by (status) ({COMPLETED})", "completed {{status}}"),
        ], unit="short", w=12),
        timeseries("Workflow Duration P50/P95", [
            q(f"histogram_quantile(0.50, sum by (le) ({DURATION}))", "P50"),
            q(f"histogram_quantile(0.95, sum by (le) ({DURATION}))", "P95"),
            exemplars("shannon_workflow_duration_seconds", SEL),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("Task Tokens P50/P95", [
            q(f"histogram_quantile(0.50, sum by (le) ({TOKENS}))", "P50"),
            q(f"histogram_quantile(0.95, sum by (le) ({TOKENS}))", "P95"),
        ], unit="short", w=12, thresholds=steps(("green", None), ("red", 10000))),
        timeseries("Tasks Over the 10k-Token Budget", [
            q(f'sum(job:shannon_task_tokens_used_count:rate5m) - sum({TOKENS}{{le=~"10000|10000.0"}})', "tasks/s"),
        ], unit="short", w=12, thresholds=steps(("green", None), ("red", 0.1)),
            description="TokenBudgetExceededRate fires above 0.1 tasks/s."),
    )
    d.add(
        timeseries("Agent Executions by Mode", [
            q("sum by (mode) (job_mode:shannon_agent_executions:rate5m)", "{{mode}}"),
        ], unit="short", w=12),
        timeseries("Sessions", [
            q(f"sum(shannon_sessions_active{{{SEL}}})", "active"),
            q("sum(job:shannon_sessions_created:rate5m)", "created/s"),
        ], w=12),
    )
    d.add(
        timeseries("Memory Fetches by Result", [
            q("sum by (type, result) (job_type_result:shannon_memory_fetches:rate5m)", "{{type}} {{result}}"),
        ], unit="short", w=12),
        timeseries("Vector Search Rate and P95", [
            q("sum by (collection, status) (job_collection_status:shannon_vector_search:rate5m)", "{{collection}} {{status}}"),
            q("histogram_quantile(0.95, sum by (le) (job_le:shannon_vector_search_latency_seconds_bucket:rate5m))", "P95 latency"),
        ], unit="short", w=12),
    )
    return d.build()
