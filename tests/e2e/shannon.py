"""What Shannon's services write, for the simulations (the e2e fleet and the benchmark's 30 days).

Both emit exactly the families catalog/metrics.yaml records as written by Shannon's code, with
the label values the code writes and the buckets it registers; never a family Shannon only
registers. A label whose values Shannon computes at run time (a model, a tool name) gets a
stand-in value, since any value is one Shannon could write.
"""

from __future__ import annotations

from components.catalog import DYNAMIC_VALUE, SHANNON_SERVICES, Catalog, Family, load_catalog

# Stand-ins for values Shannon computes at run time.
RUNTIME_VALUES: dict[str, list[str]] = {
    "provider": ["openai", "anthropic"], "model": ["gpt-4o", "claude-sonnet"], "tier": ["medium"],
    "tool_name": ["web_search", "python_executor"], "name": ["llm"], "function": ["search"],
    "collection": ["memories"], "strategy": ["simple"], "pattern": ["react", "dag"], "workflow_version": ["v1"],
    "workflow": ["AgentDAGWorkflow"], "version": ["v1"], "policy_path": ["/app/config/opa/policies"],
    "version_hash": ["a1b2c3d4"], "load_timestamp": ["1764400000"], "reason_hash": ["3f9a01bc"],
    "truncated_reason": ["tool not allowed"], "user_type": ["regular_user"], "configured_mode": ["dry-run"],
    "session_id": ["s-1"], "channel_type": ["slack"], "endpoint": ["/v1/chat/completions"], "source": ["agent_loop"],
    "template": ["research"], "node": ["plan"], "from": ["complex"], "to": ["simple"], "error_type": ["TimeoutError"],
    "component": ["llm"], "reason": ["policy allows the task"], "mode": ["dry-run"], "effective_mode": ["dry-run"],
    "state": ["closed"], "from_state": ["closed"], "to_state": ["open"], "status": ["ok"], "retrieval_type": ["semantic"],
}
# Where a label's values include these, the healthy fleet's traffic uses them.
HEALTHY = ("success", "ok", "OK", "COMPLETED", "allow", "hit", "claimed", "triggered", "closed", "true", "primary",
           "normal", "dry-run", "percentage_rollout", "canary_disabled", "orchestrator", "session", "qdrant",
           "overall", "redis", "redis", "session-manager", "AgentDAGWorkflow", "standard", "prompt", "false")
# Label values that are faults: the healthy fleet creates their series but never moves them.
FAULTS = frozenset({"error", "failure", "timeout", "rejected", "FAILED", "TIMEOUT", "CANCELLED", "deny",
                    "dry_run_would_deny", "emergency_kill_switch", "circuit_open", "downstream_error", "rate_limit",
                    "token_limit", "miss", "denied", "no_daemon", "bad_status", "connection_failed",
                    "stream_interrupted", "server_error", "invalid_request_error", "policy_evaluation",
                    "input_conversion", "evaluation_error", "lru", "expired", "failed", "skipped", "missing_model",
                    "unknown_model", "duplicate", "low_value", "decode", "validate", "empty", "fallback"})


def written_families(catalog: Catalog | None = None) -> dict[str, list[Family]]:
    """Per Shannon source (job), the families its code writes."""
    catalog = catalog or load_catalog()
    return {source: [f for f in catalog.by_source.get(source, ()) if not f.never_written] for source in SHANNON_SERVICES}


def values(family: Family, label: str) -> list[str]:
    """The values Shannon writes for `label`, or stand-ins for values computed at run time."""
    known = [v for v in family.values.get(label, ()) if v != DYNAMIC_VALUE]
    return known or RUNTIME_VALUES.get(label, ["v"])


def complete(family: Family, label: str) -> bool:
    """Whether the catalog knows every value Shannon writes for `label` (so nothing else may be emitted)."""
    known = family.values.get(label, ())
    return bool(known) and DYNAMIC_VALUE not in known


def healthy(family: Family, label: str) -> str:
    """The value a healthy fleet's traffic carries."""
    candidates = values(family, label)
    for preferred in HEALTHY:
        if preferred in candidates:
            return preferred
    return next((v for v in candidates if v not in FAULTS), candidates[0])


def buckets(family: Family) -> tuple[float, ...]:
    return family.buckets or (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
