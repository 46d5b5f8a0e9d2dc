"""Dashboard query cost: every panel query, as Grafana sends it, against a real Prometheus.

Grafana turns a panel and a time range into a range query: the step is the range divided by
the panel's width in pixels (its default max data points), rounded to Grafana's "nice"
intervals, and never below the datasource's scrape interval; `$__interval` is that step and
`$__rate_interval` is max(step + scrape interval, 4 x scrape interval). Start and end are
aligned to the step. `grafana_step` reproduces this for a 1920-pixel-wide dashboard.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from components.builders import promql
from components.builders.dashboards import panels
from components.units import prom_duration

VIEWPORT_PX = 1920
MAX_POINTS = 11_000  # Prometheus refuses more points per series; Grafana raises the step to fit
# Grafana's interval rounding (kbn.roundInterval): (upper bound ms, result ms).
_ROUND = [(15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
          (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
          (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
          (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
          (32400000, 21600000), (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000),
          (3628800000, 2592000000)]


def round_interval(ms: float) -> int:
    for bound, result in _ROUND:
        if ms < bound:
            return result
    return 31536000000


def grafana_step(range_s: int, width_cols: int, min_interval_s: int, max_data_points: int | None = None) -> int:
    """The step Grafana sends for a panel `width_cols` of 24 columns wide over `range_s` seconds."""
    points = max_data_points or max(1, round(width_cols / 24 * VIEWPORT_PX))
    step = round_interval(range_s * 1000 / points) / 1000
    step = max(step, min_interval_s, math.ceil(range_s / MAX_POINTS))
    return int(step)


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    expr: str
    width: int
    min_interval_s: int | None
    max_data_points: int | None
    instant: bool = False  # Grafana sends an instant query at the range's end
    exemplar: bool = False  # Grafana also sends /api/v1/query_exemplars over the range


def _seconds(value: str | None) -> int | None:
    if not value:
        return None
    value = value.lstrip("><=")
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit) and value[: -len(unit)].replace(".", "", 1).isdigit():
            return max(1, int(float(value[: -len(unit)]) * units[unit]))
    return None


def panel_queries(name: str, dashboard: dict[str, Any]) -> list[Query]:
    """Every visible Prometheus query of every panel, with what Grafana needs to pick the step."""
    dashboard = dashboard.get("dashboard", dashboard)
    out = []
    for panel in panels(dashboard):
        if panel.get("type") == "row":
            continue
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel.get("datasource") or {}
            ds_type = ds.get("type") if isinstance(ds, dict) else None
            if "expr" not in target or target.get("hide") or ds_type not in (None, "prometheus"):
                continue
            out.append(Query(name, panel.get("title") or f"panel {panel.get('id')}", target["expr"],
                             int((panel.get("gridPos") or {}).get("w", 12)),
                             _seconds(target.get("interval") or panel.get("interval")), panel.get("maxDataPoints"),
                             bool(target.get("instant")) and not target.get("range", False),
                             bool(target.get("exemplar"))))
    return out


def substitute(query: Query, step: int, scrape_s: int, range_s: int) -> str:
    """The query with Grafana's variables as Grafana would expand them; dashboard variables as "All"."""
    rate = max(step + scrape_s, 4 * scrape_s)
    expr = query.expr.replace("$__interval_ms", str(step * 1000))
    return promql.substitute(expr, rate_interval=prom_duration(rate), range_=prom_duration(range_s))


@dataclass
class Timing:
    query: Query
    range_s: int
    step: int
    seconds: float  # median of the repetitions
    series: int
    error: str | None = None


def time_queries(url: str, queries: list[Query], end: int, range_s: int, scrape_s: int, repeat: int = 3,
                 timeout: float = 600) -> list[Timing]:
    """Median wall time of each query, as Grafana sends it for a range ending at `end`, after one warm-up run."""
    out = []
    for query in queries:
        step = grafana_step(range_s, query.width, query.min_interval_s or scrape_s, query.max_data_points)
        expr = substitute(query, step, scrape_s, range_s)
        if query.instant:
            path, params = "query", {"query": expr, "time": end}
        else:
            path, params = "query_range", {"query": expr, "start": (end - range_s) // step * step,
                                           "end": end // step * step, "step": step}
        runs: list[float] = []
        error, series = None, 0
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            response = requests.get(f"{url}/api/v1/{path}", params=params, timeout=timeout)
            elapsed = time.perf_counter() - t0
            body = response.json()
            if body.get("status") != "success":
                error = f"{body.get('errorType')}: {body.get('error')}"
                runs = [elapsed]
                break
            series = len(body["data"]["result"])
            if query.exemplar:  # one panel refresh also asks for the exemplars of the whole range
                t0 = time.perf_counter()
                requests.get(f"{url}/api/v1/query_exemplars", timeout=timeout,
                             params={"query": expr, "start": end - range_s, "end": end}).raise_for_status()
                elapsed += time.perf_counter() - t0
            if i:  # the first run warms the page cache
                runs.append(elapsed)
        out.append(Timing(query, range_s, step, statistics.median(runs), series, error))
    return out


@dataclass
class DashboardCost:
    name: str
    range_s: int
    panels: dict[str, float]  # panel -> seconds, its queries summed
    queries: int
    errors: list[str]
    empty: int

    @property
    def total(self) -> float:
        return sum(self.panels.values())

    @property
    def p50(self) -> float:
        return statistics.median(self.panels.values()) if self.panels else 0.0

    @property
    def max(self) -> tuple[str, float]:
        return max(self.panels.items(), key=lambda kv: kv[1]) if self.panels else ("-", 0.0)


def summarize(name: str, range_s: int, timings: list[Timing]) -> DashboardCost:
    panels: dict[str, float] = {}
    for t in timings:
        panels[t.query.panel] = panels.get(t.query.panel, 0.0) + t.seconds
    errors = [f"{t.query.panel}: {t.error}" for t in timings if t.error]
    return DashboardCost(name, range_s, panels, len(timings), errors, sum(1 for t in timings if not t.error and not t.series))


# --- recording rules ---------------------------------------------------------------------


def recording_levels(rule_files: list[Path]) -> list[list[dict[str, Any]]]:
    """Recording rules grouped so each level only reads raw series and earlier levels."""
    rules = [r for path in rule_files for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]
             if "record" in r]
    deps = {r["record"]: {sel.metric for sel in promql.selectors(r["expr"])} & {q["record"] for q in rules}
            for r in rules}
    level = dict.fromkeys(deps, 0)
    for _ in range(len(rules) + 1):
        changed = False
        for name, needs in deps.items():
            depth = max((level[d] + 1 for d in needs), default=0)
            if depth != level[name]:
                level[name], changed = depth, True
        if not changed:
            break
    else:
        raise ValueError("recording rules depend on each other in a cycle")
    out: list[list[dict[str, Any]]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for rule in rules:
        out[level[rule["record"]]].append(rule)
    return out


def backfill_rules(promtool: str, levels: list[list[dict[str, Any]]], url: str, start: int, end: int, work: Path,
                   data_dir: Path, restart: Callable[[], None], progress: Callable[[str], None] = print) -> float:
    """Backfill each level with `promtool tsdb create-blocks-from rules`, loading it before the next."""
    began = time.monotonic()
    for i, rules in enumerate(levels):
        rule_file = work / f"backfill-level-{i}.yml"
        rule_file.write_text(yaml.safe_dump({"groups": [{"name": f"level-{i}", "rules": rules}]}, sort_keys=False))
        out = work / f"backfill-level-{i}"
        t0 = time.monotonic()
        # 54h blocks, like the raw data: promtool writes a block per rule and block range.
        subprocess.run([promtool, "tsdb", "create-blocks-from", "--max-block-duration=54h", "rules", f"--url={url}",
                        f"--start={start}", f"--end={end}", "--eval-interval=60s", f"--output-dir={out}", str(rule_file)],
                       check=True, capture_output=True)
        blocks = list(out.iterdir())
        for block in blocks:
            shutil.move(str(block), data_dir / block.name)
        progress(f"  level {i}: {len(rules)} recording rules backfilled in {time.monotonic() - t0:.0f}s "
                 f"({len(blocks)} blocks)")
        restart()
    return time.monotonic() - began


def load_dashboard_file(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    return data.get("dashboard", data)
