"""Shannon Overview: the first dashboard in an incident.

RED (rate, errors, duration) per service from the recorded series, target
health and the alerts firing now.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, exemplars, q, stat, steps, table, timeseries

UID = "shannon-overview"
SERVICES = ("orchestrator", "agent-core", "llm-service")


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Overview", "RED per service, target health and firing alerts.", ["overview"])
    d.row("Right now")
    d.add(
        stat("Targets Up", [q('sum(up{service="shannon"}) / count(up{service="shannon"})', "up")],
             unit="percentunit", w=6, decimals=0, thresholds=steps(("red", None), ("yellow", 0.9), ("green", 1)),
             description="Share of scrape targets Prometheus reached on its last scrape."),
        stat("Firing Alerts", [q('count(ALERTS{alertstate="firing", alertname!="Watchdog", severity=~"critical|warning"}) or vector(0)',
                                 "firing")],
             w=6, thresholds=steps(("green", None), ("red", 1))),
        stat("Fleet Error Ratio", [q("sum(job:shannon_errors:rate5m) / (sum(job:shannon_requests:rate5m) > 0)", "errors")],
             unit="percentunit", w=6, decimals=2, thresholds=steps(("green", None), ("yellow", 0.01), ("red", 0.05))),
        stat("Policy Error Budget Left", [q('slo:error_budget:remaining_ratio30d{slo="policy-evaluation"}', "budget")],
             unit="percentunit", w=6, decimals=1, thresholds=steps(("red", None), ("yellow", 0.2), ("green", 0.5))),
    )
    d.row("RED per service")
    d.add(
        timeseries("Request Rate", [q(f'job:shannon_requests:rate5m{{job=~"{"|".join(SERVICES)}"}}', "{{job}}")],
                   unit="reqps", w=8),
        timeseries("Error Ratio", [q(f'job:shannon_error_ratio:rate5m{{job=~"{"|".join(SERVICES)}"}}', "{{job}}")],
                   unit="percentunit", w=8, thresholds=steps(("green", None), ("red", 0.05))),
        timeseries("P95 Duration", [
            q(f'job:shannon_request_duration_seconds:p95_rate5m{{job=~"{"|".join(SERVICES)}"}}', "{{job}}"),
            exemplars([("shannon_grpc_request_duration_seconds", 'job="orchestrator"'),
                       ("agent_core_grpc_request_duration_seconds", 'job="agent-core"'),
                       ("llm_request_duration_seconds", 'job="llm-service"')], by="job"),
        ], unit="s", w=8),
    )
    d.row("Dependencies")
    d.add(
        stat("Postgres", [q('min(pg_up{job="postgres"})', "pg_up")], w=8, h=4,
             thresholds=steps(("red", None), ("green", 1)), description="postgres-exporter reaches Postgres (1) or not (0)."),
        stat("Redis", [q('min(redis_up{job="redis"})', "redis_up")], w=8, h=4,
             thresholds=steps(("red", None), ("green", 1)), description="redis-exporter reaches Redis (1) or not (0)."),
        stat("Health Probes OK", [q('min(probe_success{job="blackbox"})', "probes")], w=8, h=4,
             thresholds=steps(("red", None), ("green", 1)),
             description="Every blackbox probe of Shannon's health endpoints succeeded (1) or at least one failed (0)."),
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
