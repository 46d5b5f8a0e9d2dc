"""Dashboards as code: structure lint, the originals' panels, SLO thresholds, and malformed input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.builders.dashboards import DashboardError, collect_dashboards, validate_dashboard
from components.builders.grafana import DATASOURCE_UIDS
from components.catalog import load_catalog
from components.lint import raw_rate_problems

DASHBOARDS = collect_dashboards()
# The seed's dashboards: links and bookmarks point at these uids, so they never change or disappear.
SEED_UIDS = {"shannon-policy-production", "shannon-enforcement"}


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_all_dashboards_present_with_stable_uids():
    """The seed's two dashboards keep their uids; every dashboard has a uid of its own (added ones included)."""
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert set(uids) >= SEED_UIDS
    assert all(isinstance(u, str) and u for u in uids) and len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_lint(name: str):
    """Unique panel ids, no overlap on the 24-column grid, datasources resolve, every panel has a query."""
    assert validate_dashboard(name, DASHBOARDS[name]) == []
    dashboard = DASHBOARDS[name]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        assert panel["targets"], panel["title"]
        ds = panel["datasource"]["uid"]
        assert ds in DATASOURCE_UIDS or ds == "${datasource}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_folder_tags_and_templating(name: str):
    """Each dashboard is tagged shannon, templated on the datasource, refreshes, and is read-only."""
    dashboard = DASHBOARDS[name]
    assert "shannon" in dashboard["tags"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert dashboard["editable"] is False


def test_service_dashboards_filter_raw_series_by_instance():
    """A dashboard offering an $instance variable lists one job's instances, every query of that job's raw series
    honours it, and some panel follows it (a variable nothing follows is a broken promise)."""
    with_variable = {name: d for name, d in DASHBOARDS.items()
                     if any(v["name"] == "instance" for v in d["templating"]["list"])}
    assert with_variable
    for name, dashboard in with_variable.items():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        job = variables["instance"]["definition"].split('job="', 1)[1].split('"', 1)[0]
        exprs = [t.get("expr", "") for p in _panels(dashboard) for t in p["targets"]]
        assert all('instance=~"$instance"' in e for e in exprs if f'job="{job}"' in e), name
        assert any('instance=~"$instance"' in e for e in exprs), f"{name}: no panel follows $instance"


def test_range_queries_never_rate_raw_shannon_series():
    """Range panels read recorded 5m rates, never rate() over raw Shannon or span-metric series.

    A 30-day view of a raw rate reads every sample of every instance and label combination
    (seconds per panel at fleet scale, bench/results.md); the recorded series are one per line.
    """
    problems = raw_rate_problems(DASHBOARDS, load_catalog())
    assert not problems, "\n".join(problems)


def test_policy_dashboard_keeps_every_original_panel():
    """The original policy dashboard's ten panels are all present, by title."""
    titles = {p["title"] for p in _panels(DASHBOARDS["policy.json"])}
    for title in ["Policy Decision Overview", "Error Rate SLO", "Latency SLO - P50, P95, P99", "Cache Hit Rate",
                  "Canary Rollout Status", "Policy Version Info", "Top Deny Reasons", "Dry-Run vs Enforce Decisions",
                  "SLO Dashboard - Error Budget", "Canary Routing Breakdown"]:
        assert title in titles


def test_enforcement_dashboard_keeps_every_original_panel():
    """The original enforcement dashboard's three panels are all present, by title."""
    titles = {p["title"] for p in _panels(DASHBOARDS["enforcement.json"])}
    assert {"Request Enforcement (drops vs allowed)", "Circuit Breaker - Open (5m)", "Circuit Breaker Drops (rate)"} <= titles


def _panel(name: str, title: str) -> dict[str, Any]:
    return next(p for p in _panels(DASHBOARDS[name]) if p["title"] == title)


def test_thresholds_equal_the_slos():
    """Panels show the SLO thresholds the alerts use: 5% errors, 5ms P95, 80% cache hits."""
    def steps(panel: dict[str, Any]) -> list[float | None]:
        return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert 0.05 in steps(_panel("policy.json", "Error Rate SLO"))
    assert 0.005 in steps(_panel("policy.json", "Latency SLO - P50, P95, P99"))
    assert 0.8 in steps(_panel("policy.json", "Cache Hit Rate"))
    assert _panel("policy.json", "Error Rate SLO")["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert _panel("policy.json", "Latency SLO - P50, P95, P99")["fieldConfig"]["defaults"]["unit"] == "s"


def test_error_budget_reads_recorded_series():
    """The error budget panel reads the recorded 30-day SLI, not a raw rate over 30 days."""
    expr = _panel("policy.json", "SLO Dashboard - Error Budget")["targets"][0]["expr"]
    assert expr.startswith("slo:error_budget:remaining_ratio30d")
    for dashboard in DASHBOARDS.values():
        for panel in _panels(dashboard):
            for target in panel["targets"]:
                assert "[30d]" not in target.get("expr", ""), panel["title"]


def test_malformed_dashboard_rejected(tmp_path: Path):
    """An exported dashboard with bad PromQL, overlapping panels and no query is rejected, naming file and panels."""
    broken = {"uid": "broken", "title": "Broken", "templating": {"list": [{"name": "datasource", "type": "datasource"}]},
              "panels": [
                  {"id": 1, "type": "timeseries", "title": "Bad query", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                   "datasource": {"uid": "${datasource}"}, "targets": [{"expr": "rate(up[5m]", "refId": "A"}]},
                  {"id": 2, "type": "stat", "title": "Overlapping", "gridPos": {"x": 6, "y": 0, "w": 12, "h": 8},
                   "datasource": {"uid": "prometheus"}, "targets": [{"expr": "up", "refId": "A"}]},
                  {"id": 2, "type": "stat", "title": "No query", "gridPos": {"x": 0, "y": 9, "w": 6, "h": 4},
                   "datasource": {"uid": "unknown-ds"}, "targets": []},
              ]}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(DashboardError) as info:
        collect_dashboards(tmp_path)
    text = str(info.value)
    assert "broken.json: panel 'Bad query': query does not parse as PromQL" in text
    assert "broken.json: panel 'Overlapping': overlaps panel 'Bad query'" in text
    assert "broken.json: panel 'No query': duplicate panel id 2" in text
    assert "broken.json: panel 'No query': has no query" in text
    assert "broken.json: panel 'No query': datasource {'uid': 'unknown-ds'} is not a provisioned uid" in text


def test_invalid_json_rejected(tmp_path: Path):
    """A dashboard file that is not JSON is rejected by name."""
    (tmp_path / "oops.json").write_text("{not json")
    with pytest.raises(DashboardError, match=r"oops\.json: not valid JSON"):
        collect_dashboards(tmp_path)
