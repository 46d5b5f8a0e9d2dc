"""Agent Core: enforced requests, tools and the memory pool.

What agent-core writes (catalog/metrics.yaml): the enforcement layer's outcome of every request,
tool executions and their duration, and its memory pool. Its task, FSM and gRPC families are
registered but never written (a TaskTimer nothing outside a stress test uses), so they have no
panel here; docs/shannon-instrumentation.md says what Shannon would have to change.
Rates and latencies read the 1-minute recorded 5m rates and P95s of
rules/dashboards.generated.yml (fleet-wide, cheap over 30 days); gauges are per instance and
follow $instance. `max by` over a recorded P95 only drops the job label.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, gauge, q, stat, steps, timeseries

UID = "shannon-agent-core"
SEL = 'job="agent-core", instance=~"$instance"'
ALLOWED = "job_outcome:agent_core_enforcement_allowed:rate5m"
DROPS = "job_reason:agent_core_enforcement_drops:rate5m"
TOOLS = "job_tool_name_status:agent_core_tool_executions:rate5m"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Agent Core", "agent-core: enforced requests, tools and the memory pool.",
                  ["agent-core"], instance_job="agent-core")
    d.add(
        stat("Requests/s", [q(f"sum({ALLOWED}) + (sum({DROPS}) or vector(0))", "requests/s")], unit="reqps", w=6,
             description="Requests through the enforcement layer, allowed or dropped."),
        stat("Dropped", [q(f"(sum({DROPS}) or vector(0)) / (sum({ALLOWED}) + (sum({DROPS}) or vector(0)) > 0)", "dropped")],
             unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("red", 0.05)),
             description="AgentCoreEnforcementDropsHigh fires above 5%."),
        gauge("Memory Pool Used", [q(f"sum(agent_core_memory_pool_used_bytes{{{SEL}}}) / sum(agent_core_memory_pool_total_bytes{{{SEL}}})",
                                     "used")], w=6, thresholds=steps(("green", None), ("yellow", 0.8), ("red", 0.95))),
        stat("Tool Failure Ratio", [q(f'(sum({TOOLS}{{status=~"error|timeout"}}) or vector(0)) / (sum({TOOLS}) > 0)',
                                      "failed")],
             unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("red", 0.1))),
    )
    d.add(
        timeseries("Requests by Outcome", [
            q(f"sum by (outcome) ({ALLOWED})", "allowed: {{outcome}}"),
            q(f"sum by (reason) ({DROPS})", "dropped: {{reason}}"),
        ], unit="reqps", w=12, stack=True),
        timeseries("Tool Executions by Tool and Status", [
            q(f"sum by (tool_name, status) ({TOOLS})", "{{tool_name}} {{status}}"),
        ], unit="short", w=12),
    )
    d.add(
        timeseries("Tool Duration P95", [
            q("max by (tool_name) (job_tool_name:agent_core_tool_duration_seconds:p95_rate5m)", "{{tool_name}}"),
        ], unit="s", w=12),
        timeseries("Memory Pool", [
            q(f"sum(agent_core_memory_pool_used_bytes{{{SEL}}})", "used"),
            q(f"sum(agent_core_memory_pool_total_bytes{{{SEL}}})", "total"),
        ], unit="bytes", w=12),
    )
    d.add(
        timeseries("Memory Allocations and Evictions", [
            q("sum by (status) (job_status:agent_core_memory_allocations:rate5m)", "allocations {{status}}"),
            q("sum by (reason) (job_reason:agent_core_memory_evictions:rate5m)", "evictions {{reason}}"),
        ], unit="short", w=12, description="A rejected allocation did not fit the pool."),
        timeseries("Allocation Size P95", [
            q("max(job:agent_core_memory_allocation_size_bytes:p95_rate5m)", "P95"),
        ], unit="bytes", w=12),
    )
    return d.build()
