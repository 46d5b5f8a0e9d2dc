"""Shannon Overview: the first dashboard in an incident.

RED (rate, errors, duration) per service from the recorded series, what the degradation
manager and the circuit breakers say about Shannon's dependencies, target health and the
alerts firing now. What each service's requests and errors are is in rules/recording.yml;
the orchestrator records no errors of its gRPC API (always status OK) and agent-core no
request latency, so those lines are absent rather than zero.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, q, stat, steps, table, timeseries

UID = "shannon-overview"
SERVICES = ("orchestrator", "gateway", "agent-core", "llm-service")
JOBS = "|".join(SERVICES)


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Overview", "RED per service, dependencies, target health and firing alerts.",
                  ["overview"])
    d.row("Right now")
    d.add(
        stat("Targets Up", [q('sum(up{service="shannon"}) / count(up{service="shannon"})', "up")],
             unit="percentunit", w=6, decimals=0, thresholds=steps(("red", None), ("yellow", 0.9), ("green", 1)),
             description="Share of scrape targets Prometheus reached on its last scrape."),
        stat("Firing Alerts", [q('count(ALERTS{alertstate="firing", alertname!="Watchdog", severity=~"critical|warning"}) or vector(0)',
                                 "firing")],
             w=6, thresholds=steps(("green", None), ("red", 1))),
        stat("Fleet Error Ratio", [q("sum(job:shannon_errors:rate5m) / (sum(job:shannon_requests:rate5m{job!=\"orchestrator\"}) > 0)",
                                     "errors")],
             unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("yellow", 0.01), ("red", 0.05)),
             description="Errors over requests of the services that record errors (gateway, agent-core, llm-service)."),
        stat("Policy Error Budget Left", [q('slo:error_budget:remaining_ratio30d{slo="policy-evaluation"}', "budget")],
             unit="percentunit", w=6, decimals=1, thresholds=steps(("red", None), ("yellow", 0.2), ("green", 0.5))),
    )
    d.row("RED per service")
    d.add(
        timeseries("Request Rate", [q(f'job:shannon_requests:rate5m{{job=~"{JOBS}"}}', "{{job}}")],
                   unit="reqps", w=8, description="orchestrator: gRPC API calls; gateway: OpenAI-compatible API "
                                                  "requests; agent-core: enforced requests; llm-service: provider calls."),
        timeseries("Error Ratio", [q(f'job:shannon_error_ratio:rate5m{{job=~"{JOBS}"}}', "{{job}}")],
                   unit="percentunit", w=8, thresholds=steps(("green", None), ("red", 0.05)),
                   description="The orchestrator records no errors of its API (docs/shannon-instrumentation.md)."),
        timeseries("P95 Duration", [
            q(f'job:shannon_request_duration_seconds:p95_rate5m{{job=~"{JOBS}"}}', "{{job}}"),
        ], unit="s", w=8, description="agent-core records no request latency. Traces carry the latency of every hop "
                                     "(Traces dashboard)."),
    )
    d.row("Dependencies")
    d.add(
        stat("Degradation Level", [q('max(shannon_degradation_level{job="orchestrator"})', "level")], w=6, h=4,
             thresholds=steps(("green", None), ("yellow", 1), ("red", 2)),
             description="The orchestrator's degradation manager: 0 none, 1 minor, 2 moderate, 3 severe "
                         "(ShannonDegraded, ShannonSeverelyDegraded)."),
        stat("Postgres", [q('min(pg_up{job="postgres"})', "pg_up")], w=6, h=4,
             thresholds=steps(("red", None), ("green", 1)), description="postgres-exporter reaches Postgres (1) or not (0)."),
        stat("Redis", [q('min(redis_up{job="redis"})', "redis_up")], w=6, h=4,
             thresholds=steps(("red", None), ("green", 1)), description="redis-exporter reaches Redis (1) or not (0)."),
        stat("Health Probes OK", [q('min(probe_success{job="blackbox"})', "probes")], w=6, h=4,
             thresholds=steps(("red", None), ("green", 1)),
             description="Every blackbox probe of Shannon's health endpoints succeeded (1) or at least one failed (0)."),
    )
    d.add(
        table("Dependency Health", [q('min by (dependency, type) (shannon_dependency_health{job="orchestrator"})',
                                      instant=True, fmt="table")],
              w=8, h=8, thresholds=steps(("red", None), ("green", 1)),
              description="1 healthy, 0 unhealthy, as the orchestrators report it (ShannonDependencyUnhealthy)."),
        table("Orchestrator Circuit Breakers", [q(
            'max by (name, exported_service) (shannon_circuit_breaker_state{job=~"orchestrator|gateway"})',
            instant=True, fmt="table")],
              w=8, h=8, thresholds=steps(("green", None), ("yellow", 1), ("red", 2)),
              description="0 closed, 1 half-open, 2 open (OrchestratorCircuitBreakerOpen)."),
        timeseries("LLM Provider Circuit Breakers (per 15m)", [
            q("sum by (provider) (job_provider:llm_manager_circuit_breaker_open:rate5m) * 900", "opened {{provider}}"),
            q("sum by (provider) (job_provider:llm_manager_circuit_breaker_close:rate5m) * 900", "closed {{provider}}"),
        ], w=8, h=8, description="The llm-service's per-provider breakers (LLMProviderCircuitOpen)."),
    )
    d.row("Health")
    d.add(
        table("Target Health", [q("min by (job, component) (up)", instant=True, fmt="table")],
              w=12, h=9, thresholds=steps(("red", None), ("green", 1)),
              description="1 when every target of the job answered its last scrape, 0 otherwise."),
        table("Firing Alerts", [q('ALERTS{alertstate="firing", alertname!="Watchdog"}', instant=True, fmt="table")],
              w=12, h=9, hide=["Value", "alertstate"], description="Alerts firing now, as Prometheus evaluates them."),
    )
    return d.build()
