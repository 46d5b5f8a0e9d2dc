"""Shannon's Grafana dashboards, built as code.

Each module exposes `build() -> dict`, a complete dashboard model. Dashboards
exported from Grafana can also be dropped in as `dashboards/*.json`; they are
validated the same way (see components/builders/dashboards.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboards import agent_core, enforcement, gateway, llm, overview, policy, stack_health, traces, workflows

# File name (without .json) -> builder. The order is the order in the render output.
BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "overview": overview.build,
    "policy": policy.build,
    "enforcement": enforcement.build,
    "gateway": gateway.build,
    "llm": llm.build,
    "workflows": workflows.build,
    "agent-core": agent_core.build,
    "stack-health": stack_health.build,
    "traces": traces.build,
}
