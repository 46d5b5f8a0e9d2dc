"""Enforcement Gateway: agent-core request enforcement, improved from the original.

The original "Circuit Breaker - Open (5m)" stat summed the raw counter, so it
showed drops since each process started, not in the last 5 minutes; it now
shows `increase` over 5m. Every query is aggregated and scoped to agent-core, and reads
the 1-minute recorded 5m rates of rules/dashboards.generated.yml.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, q, stat, steps, timeseries

UID = "shannon-enforcement"
DROPS = "job_reason:agent_core_enforcement_drops:rate5m"
ALLOWED = "job_outcome:agent_core_enforcement_allowed:rate5m"
CIRCUIT = 'job_instance_reason:agent_core_enforcement_drops:rate5m{instance=~"$instance", reason="circuit_open"}'


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Enforcement Gateway", "agent-core enforcement layer: drops, allowed requests, circuit breaker.",
                  ["agent-core", "enforcement"], instance_job="agent-core")
    d.add(
        stat("Drop Ratio", [q(
            f"sum({DROPS}) / (sum({DROPS}) + sum({ALLOWED}) > 0)", "drop ratio")],
            unit="percentunit", w=8, h=6, decimals=2, thresholds=steps(("green", None), ("yellow", 0.01), ("red", 0.05)),
            description="Share of requests dropped. Alert: above 5% (AgentCoreEnforcementDropsHigh)."),
        stat("Circuit Breaker - Open (5m)", [q(
            f"sum({CIRCUIT}) * 300 or vector(0)",
            "circuit_open drops")],
            unit="short", w=8, h=6, thresholds=steps(("green", None), ("red", 1)),
            description="Requests dropped by the open circuit breaker in the last 5 minutes (AgentCoreCircuitBreakerOpen)."),
        stat("Allowed Requests", [q(f"sum({ALLOWED})", "allowed")], unit="reqps", w=8, h=6),
    )
    d.add(
        timeseries("Request Enforcement (drops vs allowed)", [
            q(f"sum by (reason) ({DROPS})", "drop: {{reason}}"),
            q(f"sum by (outcome) ({ALLOWED})", "allowed: {{outcome}}"),
        ], unit="reqps", w=24, h=9, stack=True),
    )
    d.add(
        timeseries("Circuit Breaker Drops (rate)", [
            q(f"sum by (instance) ({CIRCUIT})", "{{instance}}"),
        ], unit="reqps", w=24, h=7, thresholds=steps(("green", None), ("red", 0.001)),
            description="Drops caused by the open circuit breaker, per instance."),
    )
    return d.build()
