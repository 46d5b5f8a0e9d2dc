"""The benchmark's building blocks (not its timings): Grafana's step, the synthetic fleet and
its OpenMetrics, the rule backfill order, the latency table and the scaled stack files."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from bench import latency, program, queries, synth
from components import defaults
from components.catalog import SHANNON_SERVICES, load_catalog
from components.stackfile import load_stack
from tests.conftest import tool

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("range_s,width,minimum,expected", [
    (86400, 24, 15, 60),       # 24h on a full-width panel: 45s rounds up to 1m
    (86400, 12, 15, 120),      # half width: 90s -> 2m
    (2592000, 24, 15, 1200),   # 30d full width: 1350s -> 20m
    (2592000, 12, 15, 3600),   # 30d half width: 2700s -> 1h
    (3600, 24, 60, 60),        # the datasource's minimum wins over a 2s step
])
def test_grafana_step(range_s: int, width: int, minimum: int, expected: int):
    """The step matches Grafana's rounding of range / panel pixels, floored at the min interval."""
    assert queries.grafana_step(range_s, width, minimum) == expected


def test_rate_interval_substitution():
    """$__rate_interval is max(step + scrape, 4 x scrape); dashboard variables become match-all."""
    query = queries.Query("d", "p", 'sum(rate(x{instance=~"$instance"}[$__rate_interval]))', 12, None, None)
    assert queries.substitute(query, step=3600, scrape_s=60, range_s=2592000) == 'sum(rate(x{instance=~".+"}[61m]))'
    assert queries.substitute(query, step=60, scrape_s=60, range_s=86400) == 'sum(rate(x{instance=~".+"}[4m]))'


def test_instant_targets_are_sent_as_instant_queries():
    """A target marked instant (Grafana's "Instant" type) is timed as an instant query."""
    dashboard = {"panels": [{"type": "stat", "title": "s", "gridPos": {"w": 6}, "targets": [
        {"expr": "a", "instant": True, "range": False}, {"expr": "b"}, {"expr": "c", "hide": True}]}]}
    found = queries.panel_queries("d", dashboard)
    assert [(q.expr, q.instant) for q in found] == [("a", True), ("b", False)]


def test_backfill_levels_respect_rule_dependencies():
    """Each recording rule's inputs are recorded at an earlier level (promtool backfills one level at a time)."""
    levels = queries.recording_levels(sorted((ROOT / "rules").glob("*.yml")))
    seen: set[str] = set()
    recorded = {r["record"] for level in levels for r in level}
    for level in levels:
        for rule in level:
            needs = {s.metric for s in queries.promql.selectors(rule["expr"])} & recorded
            assert needs <= seen, f"{rule['record']} needs {needs - seen}"
        seen |= {r["record"] for r in level}
    assert len(levels) >= 2


def test_synthetic_fleet_covers_the_catalog():
    """Every family Shannon's code writes is generated per instance, with buckets ending in +Inf; no family
    Shannon only registers is."""
    fleet = synth.build_fleet(2)
    names = {s.name for s in fleet.series}
    catalog = load_catalog()
    for source in SHANNON_SERVICES:
        for family in catalog.by_source[source]:
            expected = f"{family.name}_bucket" if family.type == "histogram" else family.name
            assert (expected in names) != family.never_written, family.name
    instances = {s.prefix.split('instance="')[1].split('"')[0] for s in fleet.series if s.name == "up"}
    assert {"orchestrator-0:2112", "orchestrator-1:2112", "agent-core-1:2113", "llm-service-1:8000"} <= instances
    assert fleet.size > synth.build_fleet(1).size
    assert [s.name for s in fleet.series] == sorted(s.name for s in fleet.series), "OpenMetrics groups by name"


def test_synthetic_openmetrics_imports_and_is_monotonic(tmp_path: Path):
    """A window of the fleet is valid OpenMetrics for promtool; counters never fall; buckets grow with le."""
    fleet = synth.build_fleet(1)
    writer = synth.Writer(fleet)
    start = 1_700_006_400 // synth.WINDOW * synth.WINDOW
    path = tmp_path / "w.om"
    samples = writer.write(path, start, start + 600)
    assert samples == fleet.size * 10
    lines = path.read_text().splitlines()
    assert lines[-1] == "# EOF" and len(lines) == samples + 1
    series: dict[str, list[int]] = {}
    for line in lines[:-1]:
        key, value, _ = line.rsplit(" ", 2)
        series.setdefault(key, []).append(int(value))
    counter = next(k for k in series if k.startswith("agent_core_enforcement_allowed_total"))
    assert series[counter] == sorted(series[counter]) and series[counter][-1] > series[counter][0]
    buckets = sorted((float(k.split('le="')[1].split('"')[0].replace("+Inf", "inf")), v[-1])
                     for k, v in series.items() if k.startswith("llm_request_duration_seconds_bucket{")
                     and 'instance="llm-service-0:8000"' in k and 'cache_status="hit",model="gpt-4o",provider="openai"' in k)
    assert len(buckets) > 5 and [v for _, v in buckets] == sorted(v for _, v in buckets)
    out = subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(path), str(tmp_path / "blocks")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_windows_align_to_promtool_blocks():
    """Windows cover the range exactly and split at multiples of 54h, promtool's block boundaries."""
    start, end = 1_700_000_000, 1_700_000_000 + 30 * 86400
    parts = synth.windows(start, end)
    assert parts[0][0] == start and parts[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    assert all(hi % synth.WINDOW == 0 for _, hi in parts[:-1])


def test_latency_table_counts_undelivered_runs_as_never():
    """Medians treat a run that never delivered as infinitely late; min and max cover delivered runs."""
    runs = [latency.Run("ours", "OrchestratorDown", i, latency=v) for i, v in enumerate([80.0, 90.0, None])]
    runs += [latency.Run("original", "PolicyErrorRateHigh", i) for i in range(3)]
    rows = {(r.config, r.alert): r for r in latency.table(runs)}
    ours = rows[("ours", "OrchestratorDown")]
    assert (ours.delivered, ours.minimum, ours.median, ours.maximum) == (2, 80.0, 90.0, 90.0)
    never = rows[("original", "PolicyErrorRateHigh")]
    assert (never.delivered, never.median) == (0, None)


def test_program_stack_file_scales_targets(tmp_path: Path):
    """The scaled prod stack file is valid settings with exactly N Shannon scrape targets."""
    path = program.stack_file(100, tmp_path)
    settings, _ = load_stack("prod", ROOT, path)
    assert len(settings.shannon.targets) == 100
    assert [t.job for t in settings.shannon.targets[:len(defaults.SHANNON_TARGETS)]] == [
        t["job"] for t in defaults.SHANNON_TARGETS]


def test_program_memory_is_the_child_s_own():
    """A program-cost child reports its own peak RSS, not its parent's: a parent holding 300 MiB
    must not show up in the child's figure (getrusage's ru_maxrss would carry it over)."""
    import sys

    hog = bytearray(300 * 2**20)
    hog[::4096] = b"\1" * len(hog[::4096])
    out = subprocess.run([sys.executable, "-c", "from bench.program import _peak_rss_mib; print(_peak_rss_mib())"],
                         cwd=Path(__file__).resolve().parents[1], check=True, capture_output=True, text=True)
    del hog
    assert 1 < float(out.stdout) < 200


def test_previous_run_figures_are_shown_beside_the_new_ones(tmp_path):
    """The comparison section reads an earlier results file's tables and prints each figure beside this run's."""
    from bench.__main__ import QueryBench, compare_with_previous
    from bench.latency import Run
    from bench.queries import DashboardCost

    previous = tmp_path / "old.md"
    previous.write_text("| | |\n|---|---|\n| prometheus | prometheus, version 2.42.0 (x) |\n"
                        "| alertmanager | alertmanager, version 0.25.0 (y) |\n\n"
                        "| Range | Dashboard | Queries | Panel p50 (ms) | Panel max (ms) | Slowest panel | Total (ms) | Errors |\n"
                        "|---|---|---|---|---|---|---|---|\n| 30d | ours policy.json | 17 | 8 | 136 | Top | 311 | 0 |\n\n"
                        "| Configuration | Alert | Delivered | Min (s) | Median (s) | Max (s) |\n|---|---|---|---|---|---|\n"
                        "| ours | OrchestratorDown | 5/5 | 80.0 | 81.0 | 90.0 |\n")
    cost = DashboardCost("ours policy.json", 30 * 86400, {"Top": 0.120, "Other": 0.080}, 17, [], 0)
    qb = QueryBench(costs=[cost])
    runs = [Run("ours", "OrchestratorDown", i, 70.0 + i, None, None) for i in range(3)]
    text = "\n".join(compare_with_previous(previous, {"prometheus": "prometheus, version 3.5.3 (z)",
                                                      "alertmanager": "alertmanager, version 0.33.1"}, qb, runs))
    assert "on prometheus, version 2.42.0 and alertmanager, version 0.25.0; this run on prometheus, version 3.5.3" in text
    assert "| 30d | ours policy.json | 311 | 200 | 136 | 120 |" in text
    assert "| ours | OrchestratorDown | 81.0 | 71.0 | 5/5 | 3/3 |" in text
