"""Agent Core: tasks, FSM, tools, gRPC and the memory pool.

Rates and latencies read the 1-minute recorded 5m rates and P95s of
rules/dashboards.generated.yml (fleet-wide, cheap over 30 days); gauges are per instance
and follow $instance. `max by` over a recorded P95 only drops the job label.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, exemplars, gauge, q, stat, steps, timeseries

UID = "shannon-agent-core"
SEL = 'job="agent-core", instance=~"$instance"'
TASKS = "job_mode_status:agent_core_tasks:rate5m"
GRPC = "job_method_status:agent_core_grpc_requests:rate5m"
TASK_DURATION = "job_mode_le:agent_core_task_duration_seconds_bucket:rate5m"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Agent Core", "agent-core: tasks, FSM, tools, gRPC and the memory pool.",
                  ["agent-core"], instance_job="agent-core")
    d.add(
        stat("Tasks/s", [q(f"sum({TASKS})", "tasks/s")], w=6),
        stat("gRPC Error Ratio", [q(
            f'(sum({GRPC}{{status!~"(?i)ok|success"}}) or vector(0)) / (sum({GRPC}) > 0)', "errors")],
            unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("red", 0.05))),
        gauge("Memory Pool Used", [q(f"sum(agent_core_memory_pool_used_bytes{{{SEL}}}) / sum(agent_core_memory_pool_total_bytes{{{SEL}}})",
                                     "used")], w=6, thresholds=steps(("green", None), ("yellow", 0.8), ("red", 0.95))),
        stat("Task P95 Duration", [q(f"histogram_quantile(0.95, sum by (le) ({TASK_DURATION}))", "P95")], unit="s", w=6),
    )
    d.add(
        timeseries("Tasks by Mode and Status", [q(f"sum by (mode, status) ({TASKS})", "{{mode}} {{status}}")],
                   w=12, stack=True),
        timeseries("Task Duration P95 by Mode", [
            q("max by (mode) (job_mode:agent_core_task_duration_seconds:p95_rate5m)", "{{mode}}"),
            exemplars("agent_core_task_duration_seconds", SEL, by="mode"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("FSM Transitions", [
            q("sum by (from_state, to_state) (job_from_state_to_state:agent_core_fsm_transitions:rate5m)",
              "{{from_state}} -> {{to_state}}"),
        ], w=12),
        timeseries("FSM State", [q(f"agent_core_fsm_current_state{{{SEL}}}", "{{instance}}")], w=12,
                   description="Current FSM state per instance (encoded as a number)."),
    )
    d.add(
        timeseries("Tool Executions by Tool and Status", [
            q("sum by (tool_name, status) (job_tool_name_status:agent_core_tool_executions:rate5m)", "{{tool_name}} {{status}}"),
        ], w=12),
        timeseries("Tool Duration P95", [
            q("max by (tool_name) (job_tool_name:agent_core_tool_duration_seconds:p95_rate5m)", "{{tool_name}}"),
            q("max(job:agent_core_tool_selection_duration_seconds:p95_rate5m)", "tool selection"),
            exemplars("agent_core_tool_duration_seconds", SEL, by="tool_name"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("gRPC Requests by Method and Status", [q(f"sum by (method, status) ({GRPC})", "{{method}} {{status}}")],
                   unit="reqps", w=12),
        timeseries("gRPC P95 by Method", [
            q("max by (method) (job_method:agent_core_grpc_request_duration_seconds:p95_rate5m)", "{{method}}"),
            exemplars("agent_core_grpc_request_duration_seconds", SEL, by="method"),
        ], unit="s", w=12),
    )
    d.add(
        timeseries("Memory Pool", [
            q(f"sum(agent_core_memory_pool_used_bytes{{{SEL}}})", "used"),
            q(f"sum(agent_core_memory_pool_total_bytes{{{SEL}}})", "total"),
        ], unit="bytes", w=12),
        timeseries("Task Tokens P95 by Model", [
            q("max by (model) (job_model:agent_core_task_tokens:p95_rate5m)", "{{model}}"),
        ], w=12),
    )
    return d.build()
