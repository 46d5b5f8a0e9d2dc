"""Workflows and tasks: orchestrator workflows, tasks, sessions, memory and vector search."""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, q, stat, steps, timeseries

UID = "shannon-workflows"
SEL = 'job="orchestrator", instance=~"$instance"'
FAILED = 'status=~"(?i)failed|timed_?out|terminated"'


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Workflows and Tasks", "Orchestrator workflows, tasks, sessions, memory and vector search.",
                  ["workflows", "orchestrator"], instance_job="orchestrator")
    d.add(
        stat("Workflow Error Ratio", [q(
            f"(sum(rate(shannon_workflows_completed_total{{{SEL}, {FAILED}}}[$__rate_interval])) or vector(0))"
            f" / (sum(rate(shannon_workflows_completed_total{{{SEL}}}[$__rate_interval])) > 0)", "errors")],
            unit="percentunit", w=6, decimals=1, thresholds=steps(("green", None), ("red", 0.10)),
            description="Workflows that failed, timed out or were terminated. Alert: above 10% (WorkflowErrorRateHigh)."),
        stat("Tasks Submitted/s", [q(f"sum(rate(shannon_tasks_submitted_total{{{SEL}}}[$__rate_interval]))", "tasks/s")],
             unit="short", w=6),
        stat("Active Sessions", [q(f"sum(shannon_sessions_active{{{SEL}}})", "sessions")], w=6),
        stat("Scheduling Delay P95", [q(
            f"histogram_quantile(0.95, sum by (le) (rate(shannon_rate_limit_delay_seconds_bucket{{{SEL}}}[$__rate_interval])))",
            "P95")], unit="s", w=6, thresholds=steps(("green", None), ("red", 1)),
            description="Rate-limit delay before LLM dispatch. Alert: P95 above 1s (WorkflowLatencyHigh)."),
    )
    d.add(
        timeseries("Workflows Started and Completed", [
            q(f"sum by (workflow_type) (rate(shannon_workflows_started_total{{{SEL}}}[$__rate_interval]))", "started {{workflow_type}}"),
            q(f"sum by (status) (rate(shannon_workflows_completed_total{{{SEL}}}[$__rate_interval]))", "completed {{status}}"),
        ], unit="short", w=12),
        timeseries("Workflow Duration P50/P95", [
            q(f"histogram_quantile(0.50, sum by (le) (rate(shannon_workflow_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))", "P50"),
            q(f"histogram_quantile(0.95, sum by (le) (rate(shannon_workflow_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))", "P95"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("Task Tokens P50/P95", [
            q(f"histogram_quantile(0.50, sum by (le) (rate(shannon_task_tokens_used_bucket{{{SEL}}}[$__rate_interval])))", "P50"),
            q(f"histogram_quantile(0.95, sum by (le) (rate(shannon_task_tokens_used_bucket{{{SEL}}}[$__rate_interval])))", "P95"),
        ], unit="short", w=12, thresholds=steps(("green", None), ("red", 10000))),
        timeseries("Tasks Over the 10k-Token Budget", [
            q(f"sum(rate(shannon_task_tokens_used_count{{{SEL}}}[$__rate_interval]))"
              f" - sum(rate(shannon_task_tokens_used_bucket{{{SEL}, le=~\"10000|10000.0\"}}[$__rate_interval]))", "tasks/s"),
        ], unit="short", w=12, thresholds=steps(("green", None), ("red", 0.1)),
            description="TokenBudgetExceededRate fires above 0.1 tasks/s."),
    )
    d.add(
        timeseries("Agent Executions by Mode", [
            q(f"sum by (mode) (rate(shannon_agent_executions_total{{{SEL}}}[$__rate_interval]))", "{{mode}}"),
        ], unit="short", w=12),
        timeseries("Sessions", [
            q(f"sum(shannon_sessions_active{{{SEL}}})", "active"),
            q(f"sum(rate(shannon_sessions_created_total{{{SEL}}}[$__rate_interval]))", "created/s"),
        ], w=12),
    )
    d.add(
        timeseries("Memory Fetches by Result", [
            q(f"sum by (type, result) (rate(shannon_memory_fetches_total{{{SEL}}}[$__rate_interval]))", "{{type}} {{result}}"),
        ], unit="short", w=12),
        timeseries("Vector Search Rate and P95", [
            q(f"sum by (collection, status) (rate(shannon_vector_search_total{{{SEL}}}[$__rate_interval]))", "{{collection}} {{status}}"),
            q(f"histogram_quantile(0.95, sum by (le) (rate(shannon_vector_search_latency_seconds_bucket{{{SEL}}}[$__rate_interval])))",
              "P95 latency"),
        ], unit="short", w=12),
    )
    return d.build()
