"""Dashboards: built from `dashboards/`, validated, serialized for Grafana.

Validation runs before anything is deployed or written: unique uids, unique
panel ids, no overlapping panels on the 24-column grid, datasources that
resolve to provisioned uids, a query on every panel, and every PromQL query
parsed (with Grafana variables substituted). Errors name the dashboard file and
the panel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.builders import promql
from components.builders.dashboard_inputs import resolve_inputs
from components.builders.grafana import DATASOURCE_UIDS
from dashboards import BUILDERS  # the dashboards package at the repository root

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "dashboards"
PROMETHEUS_TYPES = {"prometheus"}


class DashboardError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"Invalid dashboards, {len(problems)} problem(s):\n"
                         + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # file name
    panel: str  # panel title
    expr: str  # PromQL as written, with Grafana variables


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def _resolves(ref: Any, variables: set[str]) -> bool:
    if ref is None:
        return False
    uid = ref.get("uid") if isinstance(ref, dict) else ref
    if not isinstance(uid, str):
        return False
    if uid.startswith("$"):
        return uid.strip("${}") in variables
    return uid in DATASOURCE_UIDS or uid in {"-- Grafana --", "grafana"}


def _queries_of(name: str, dashboard: dict[str, Any]) -> list[PanelQuery]:
    out = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel.get("datasource") or {}
            ds_type = ds.get("type") if isinstance(ds, dict) else None
            if "expr" in target and ds_type in PROMETHEUS_TYPES | {None}:
                out.append(PanelQuery(name, panel.get("title", f"panel {panel.get('id')}"), target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        if var.get("type") == "query" and isinstance(query, dict):
            query = query.get("query")
        if var.get("type") == "query" and isinstance(query, str) and not query.startswith("label_values("):
            out.append(PanelQuery(name, f"variable ${var.get('name')}", query))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            out.append(PanelQuery(name, f"annotation {annotation.get('name')}", annotation["expr"]))
    return out


def validate_dashboard(name: str, dashboard: Any) -> list[str]:
    """Every problem with one dashboard model, each naming the file and panel."""
    if not isinstance(dashboard, dict):
        return [f"{name}: the dashboard must be a JSON object"]
    problems = []
    for key in ("uid", "title", "panels"):
        if key not in dashboard:
            problems.append(f"{name}: missing '{key}'")
    if problems:
        return problems
    variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}
    ids: dict[int, str] = {}
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        title = panel.get("title", "<untitled>")
        where = f"{name}: panel {title!r}"
        pid = panel.get("id")
        if not isinstance(pid, int):
            problems.append(f"{where}: missing integer id")
        elif pid in ids:
            problems.append(f"{where}: duplicate panel id {pid} (also {ids[pid]!r})")
        else:
            ids[pid] = title
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append(f"{where}: missing gridPos x/y/w/h")
        elif grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: gridPos x={grid['x']} w={grid['w']} leaves the 24-column grid")
        else:
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    if (x, y) in cells and cells[(x, y)] != title:
                        problems.append(f"{where}: overlaps panel {cells[(x, y)]!r} at x={x}, y={y}")
                        break
                    cells[(x, y)] = title
                else:
                    continue
                break
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: has no query")
        if not _resolves(panel.get("datasource"), variables):
            problems.append(f"{where}: datasource {panel.get('datasource')!r} is not a provisioned uid "
                            f"({', '.join(DATASOURCE_UIDS)}) or a datasource variable")
        for target in targets:
            if "datasource" in target and not _resolves(target["datasource"], variables):
                problems.append(f"{where}: query {target.get('refId')} datasource {target['datasource']!r} does not resolve")
    for query in _queries_of(name, dashboard):
        try:
            promql.parse(promql.substitute(query.expr))
        except ValueError as error:
            problems.append(f"{name}: panel {query.panel!r}: query does not parse as PromQL: {error}: {query.expr}")
    return problems


def collect_dashboards(dashboards_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """File name -> dashboard model, from the builders and any exported `*.json`; raise on problems."""
    dashboards_dir = dashboards_dir or DASHBOARDS_DIR
    problems: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    for stem, build in BUILDERS.items():
        out[f"{stem}.json"] = build()
    for path in sorted(dashboards_dir.glob("*.json")):
        if path.name in out:
            problems.append(f"{path.name}: clashes with the dashboard built by dashboards/{path.stem}.py")
            continue
        try:
            model, input_problems = resolve_inputs(path.name, json.loads(path.read_text()))
        except json.JSONDecodeError as error:
            problems.append(f"{path.name}: not valid JSON: {error}")
            continue
        problems += input_problems
        if not input_problems:
            out[path.name] = model
    uids: dict[str, str] = {}
    for name, dashboard in out.items():
        problems += validate_dashboard(name, dashboard)
        uid = dashboard.get("uid") if isinstance(dashboard, dict) else None
        if uid in uids:
            problems.append(f"{name}: duplicate dashboard uid {uid!r} (also {uids[uid]})")
        elif uid:
            uids[uid] = name
    if problems:
        raise DashboardError(problems)
    return out


def dashboard_queries(dashboards: dict[str, dict[str, Any]]) -> list[PanelQuery]:
    return [q for name, d in dashboards.items() for q in _queries_of(name, d)]


def for_grafana(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The model as Grafana stores it: no numeric id (uid identifies it), no version pin."""
    return {k: v for k, v in dashboard.items() if k not in {"id", "version"}}

