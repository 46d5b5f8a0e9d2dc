"""What a stack leaves out when a component is disabled: rules, panels and dashboards that need it.

Pure: no `pulumi` import. A component's series are known from the catalog (the sources
it exports); a rule that reads them, or reads what such a rule records, would evaluate
to nothing forever, and a panel would show "No data" or point at a datasource that is
not provisioned. So they are left out of the stack's render and deployment, transitively.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from components import defaults
from components.builders import promql
from components.builders.grafana import TEMPO_UID
from components.catalog import load_catalog
from components.settings import StackSettings

# Catalog sources each optional component provides.
TEMPO_SOURCES = frozenset({"tempo", "tempo-metrics-generator"})
COLLECTOR_SOURCES = frozenset({"otel-collector"})


# Operator mode: the cluster's Prometheus and Alertmanager are not ours; their jobs have other names and
# the operator's stack (kube-prometheus-stack) ships their meta-monitoring.
OWN_SOURCES = frozenset({"prometheus", "alertmanager"})
OWN_JOBS = frozenset({"prometheus", "alertmanager", "grafana"})


REMOTE_WRITE_SOURCES = frozenset({"prometheus-remote-write"})


# Catalog source of each optional exporter: its series exist only where the exporter is deployed (operator mode
# runs none of node-exporter's: the cluster's node series are the cluster's, not Shannon's).
EXPORTER_SOURCES = {"node": "node-exporter", "postgres": "postgres-exporter", "redis": "redis-exporter",
                    "blackbox": "blackbox-exporter"}


def disabled_sources(settings: StackSettings) -> frozenset[str]:
    sources = frozenset() if settings.tempo.enabled else TEMPO_SOURCES
    if not settings.collector_enabled:
        sources |= COLLECTOR_SOURCES
    sources |= {source for name, source in EXPORTER_SOURCES.items() if not getattr(settings.exporters, name).enabled}
    if not settings.prometheus.remote_write or not settings.own_components:
        sources |= REMOTE_WRITE_SOURCES
    return sources if settings.own_components else sources | OWN_SOURCES


def disabled_jobs(settings: StackSettings) -> frozenset[str]:
    """Jobs a rule or panel may select that this stack does not scrape under that name: its own components'
    in operator mode, and Shannon's default jobs the stack turned off (or left off, as temporal)."""
    scraped = {t.job for t in settings.shannon.scrape_targets}
    off = frozenset(str(t["job"]) for t in defaults.SHANNON_TARGETS) - scraped
    return off if settings.own_components else off | OWN_JOBS


def disabled_datasources(settings: StackSettings) -> frozenset[str]:
    return frozenset() if settings.tempo.enabled else frozenset({TEMPO_UID})


def _unavailable_series(sources: frozenset[str]) -> frozenset[str]:
    if not sources:  # the common case: nothing disabled, no catalog to read
        return frozenset()
    return frozenset(name for name, (_, source) in load_catalog().series().items() if source in sources)


def _reads_any(expr: str, names: Iterable[str], jobs: frozenset[str] = frozenset()) -> bool:
    """Whether `expr` reads any series in `names`, or selects any job in `jobs`."""
    try:
        substituted = promql.substitute(expr)
        return bool(promql.metric_names(substituted) & set(names)) or \
            bool(jobs and promql.job_matchers(substituted) & jobs)
    except ValueError:  # unparsable queries are reported by the dashboard and rule validation
        return False


def filter_rule_files(files: dict[str, dict[str, Any]], settings: StackSettings) -> dict[str, dict[str, Any]]:
    """The rule files without rules that read a disabled component's series, or the records of such rules."""
    unavailable = set(_unavailable_series(disabled_sources(settings)))
    jobs = disabled_jobs(settings)
    if not unavailable and not jobs:
        return files
    while True:  # recorded series of left-out rules are unavailable too, transitively
        more = {rule["record"] for data in files.values() for group in data["groups"] for rule in group["rules"]
                if "record" in rule and rule["record"] not in unavailable
                and _reads_any(rule["expr"], unavailable, jobs)}
        if not more:
            break
        unavailable |= more
    out: dict[str, dict[str, Any]] = {}
    for name, data in files.items():
        groups = []
        for group in data["groups"]:
            rules = [r for r in group["rules"] if not _reads_any(r["expr"], unavailable, jobs)]
            if rules:
                groups.append({**group, "rules": rules})
        out[name] = {"groups": groups}
    return out


def unavailable_records(files: dict[str, dict[str, Any]], kept: dict[str, dict[str, Any]]) -> frozenset[str]:
    """Records defined in `files` but left out of `kept`."""
    def records(fs: dict[str, dict[str, Any]]) -> set[str]:
        return {r["record"] for d in fs.values() for g in d["groups"] for r in g["rules"] if "record" in r}
    return frozenset(records(files) - records(kept))


def _target_needs(target: dict[str, Any], series: frozenset[str], datasources: frozenset[str],
                  jobs: frozenset[str] = frozenset()) -> bool:
    ds = target.get("datasource")
    uid = ds.get("uid") if isinstance(ds, dict) else ds
    if uid in datasources:
        return True
    if target.get("exemplar") and TEMPO_UID in datasources:  # exemplars exist to open traces
        return True
    return isinstance(target.get("expr"), str) and _reads_any(target["expr"], series, jobs)


def _links_need(panel: dict[str, Any], datasources: frozenset[str]) -> bool:
    text = str(panel.get("fieldConfig", {}).get("defaults", {}).get("links", []))
    return any(f'"datasource": "{uid}"' in text or f"%22datasource%22%3A%20%22{uid}%22" in text for uid in datasources)


def filter_dashboards(dashboards: dict[str, dict[str, Any]], settings: StackSettings,
                      records: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """Dashboards without the targets, links and panels a disabled component would leave empty.

    A panel loses the targets that need the component; a panel left without targets goes;
    a row left without panels goes; a dashboard left without panels goes.
    """
    datasources = disabled_datasources(settings)
    series = _unavailable_series(disabled_sources(settings)) | records
    jobs = disabled_jobs(settings)
    if not datasources and not series and not jobs:
        return dashboards
    out: dict[str, dict[str, Any]] = {}
    for name, dashboard in dashboards.items():
        model = copy.deepcopy(dashboard)
        kept: list[dict[str, Any]] = []
        for panel in model.get("panels", []):
            if panel.get("type") == "row":
                kept.append(panel)
                continue
            targets = panel.get("targets", [])
            remaining = [t for t in targets if not _target_needs(t, series, datasources, jobs)]
            if targets and not remaining:
                continue
            panel["targets"] = remaining
            if _links_need(panel, datasources):
                panel["fieldConfig"]["defaults"].pop("links", None)
            kept.append(panel)
        # A row header followed by another row, or by nothing, has lost its panels.
        model["panels"] = [p for i, p in enumerate(kept)
                           if p.get("type") != "row" or (i + 1 < len(kept) and kept[i + 1].get("type") != "row")]
        if any(p.get("type") != "row" for p in model["panels"]):
            out[name] = model
    return out
