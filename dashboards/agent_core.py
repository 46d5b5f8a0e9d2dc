"""Agent Core: tasks, FSM, tools, gRPC and the memory pool."""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, gauge, q, stat, steps, timeseries

UID = "shannon-agent-core"
SEL = 'job="agent-core", instance=~"$instance"'


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Agent Core", "agent-core: tasks, FSM, tools, gRPC and the memory pool.",
                  ["agent-core"], instance_job="agent-core")
    d.add(
        stat("Tasks/s", [q(f"sum(rate(agent_core_tasks_total{{{SEL}}}[$__rate_interval]))", "tasks/s")], w=6),
        stat("gRPC Error Ratio", [q(
            f'(sum(rate(agent_core_grpc_requests_total{{{SEL}, status!~"(?i)ok|success"}}[$__rate_interval])) or vector(0))'
            f" / (sum(rate(agent_core_grpc_requests_total{{{SEL}}}[$__rate_interval])) > 0)", "errors")],
            unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("red", 0.05))),
        gauge("Memory Pool Used", [q(f"sum(agent_core_memory_pool_used_bytes{{{SEL}}}) / sum(agent_core_memory_pool_total_bytes{{{SEL}}})",
                                     "used")], w=6, thresholds=steps(("green", None), ("yellow", 0.8), ("red", 0.95))),
        stat("Task P95 Duration", [q(
            f"histogram_quantile(0.95, sum by (le) (rate(agent_core_task_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))", "P95")],
            unit="s", w=6),
    )
    d.add(
        timeseries("Tasks by Mode and Status", [
            q(f"sum by (mode, status) (rate(agent_core_tasks_total{{{SEL}}}[$__rate_interval]))", "{{mode}} {{status}}"),
        ], w=12, stack=True),
        timeseries("Task Duration P95 by Mode", [
            q(f"histogram_quantile(0.95, sum by (mode, le) (rate(agent_core_task_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))",
              "{{mode}}"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("FSM Transitions", [
            q(f"sum by (from_state, to_state) (rate(agent_core_fsm_transitions_total{{{SEL}}}[$__rate_interval]))",
              "{{from_state}} -> {{to_state}}"),
        ], w=12),
        timeseries("FSM State", [q(f"agent_core_fsm_current_state{{{SEL}}}", "{{instance}}")], w=12,
                   description="Current FSM state per instance (encoded as a number)."),
    )
    d.add(
        timeseries("Tool Executions by Tool and Status", [
            q(f"sum by (tool_name, status) (rate(agent_core_tool_executions_total{{{SEL}}}[$__rate_interval]))",
              "{{tool_name}} {{status}}"),
        ], w=12),
        timeseries("Tool Duration P95", [
            q(f"histogram_quantile(0.95, sum by (tool_name, le) (rate(agent_core_tool_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))",
              "{{tool_name}}"),
            q(f"histogram_quantile(0.95, sum by (le) (rate(agent_core_tool_selection_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))",
              "tool selection"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("gRPC Requests by Method and Status", [
            q(f"sum by (method, status) (rate(agent_core_grpc_requests_total{{{SEL}}}[$__rate_interval]))", "{{method}} {{status}}"),
        ], unit="reqps", w=12),
        timeseries("gRPC P95 by Method", [
            q(f"histogram_quantile(0.95, sum by (method, le) (rate(agent_core_grpc_request_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))",
              "{{method}}"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("Memory Pool", [
            q(f"sum(agent_core_memory_pool_used_bytes{{{SEL}}})", "used"),
            q(f"sum(agent_core_memory_pool_total_bytes{{{SEL}}})", "total"),
        ], unit="bytes", w=12),
        timeseries("Task Tokens P95 by Model", [
            q(f"histogram_quantile(0.95, sum by (model, le) (rate(agent_core_task_tokens_bucket{{{SEL}}}[$__rate_interval])))",
              "{{model}}"),
        ], w=12),
    )
    return d.build()
