"""Rule windows against the data behind them: a window reaching further back than the Prometheus keeps
data, or one holding fewer than MIN_SAMPLES scrapes, makes a rule silently wrong (an SLO over 30 days
on 10 days of data; a rate over two samples)."""

from __future__ import annotations

from typing import Any

from components.builders import promql
from components.settings import Problem, StackSettings
from components.units import prom_duration, prom_duration_seconds

MIN_SAMPLES = 4


def _windows(rule_files: dict[str, dict[str, Any]]) -> list[tuple[str, float]]:
    return [(str(rule.get("alert") or rule.get("record")), seconds)
            for data in rule_files.values() for group in data["groups"] for rule in group["rules"]
            for _, seconds in promql.range_windows(rule["expr"])]


def retention_problems(key: str, retention: str, rule_files: dict[str, dict[str, Any]], fix: str) -> list[Problem]:
    """Rules whose windows reach further back than `retention` (the setting `key`); `fix` may name {longest}."""
    keep = prom_duration_seconds(retention)
    windows = _windows(rule_files)
    long = sorted({f"{name} ({prom_duration(seconds)})" for name, seconds in windows if seconds > keep})
    if not long:
        return []
    longest = prom_duration(max(seconds for _, seconds in windows))
    return [Problem(key, f"the Prometheus keeps {retention}, less than these rules read: {', '.join(long)}",
                    fix.format(longest=longest))]


def sample_problems(settings: StackSettings, rule_files: dict[str, dict[str, Any]]) -> list[Problem]:
    """Rules whose shortest window holds fewer than MIN_SAMPLES scrapes at the scrape interval."""
    interval = prom_duration_seconds(settings.prometheus.scrape_interval)
    short = sorted({f"{name} ({prom_duration(seconds)})" for name, seconds in _windows(rule_files)
                    if seconds < MIN_SAMPLES * interval})
    if not short:
        return []
    most = prom_duration(min(s for _, s in _windows(rule_files)) / MIN_SAMPLES)
    return [Problem("prometheus.scrapeInterval", f"{settings.prometheus.scrape_interval} leaves fewer than "
                    f"{MIN_SAMPLES} samples in the windows of {', '.join(short[:5])}"
                    f"{' and more' if len(short) > 5 else ''}: their rates and quantiles would be noise or empty",
                    f"pulumi config set --path 'prometheus.scrapeInterval' {most} --stack {settings.stack} (at "
                    f"most {most} for {MIN_SAMPLES} samples)")]


def own_problems(settings: StackSettings, rule_files: dict[str, dict[str, Any]]) -> list[Problem]:
    """The checks for a stack's own Prometheus (operator mode checks the cluster's retention itself)."""
    problems = sample_problems(settings, rule_files)
    problems += retention_problems(
        "prometheus.retention", settings.prometheus.retention, rule_files,
        f"pulumi config set --path 'prometheus.retention' {{longest}} --stack {settings.stack}")
    return problems
