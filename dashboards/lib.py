"""Small pure factories for Grafana dashboards: panels, queries, layout.

Each dashboard module builds plain dicts with these helpers; nothing here talks
to Grafana. Panels are placed left to right on the 24-column grid in the order
they are added, wrapping to a new row when a panel does not fit, and numbered
sequentially, so ids are unique and panels never overlap by construction.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components.builders.grafana import PROMETHEUS_VARIABLE

PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}
TEMPO = {"type": "tempo", "uid": "tempo"}
ALERTMANAGER = {"type": "alertmanager", "uid": "alertmanager"}

SCHEMA_VERSION = 39
FOLDER = "Shannon"


def q(expr: str, legend: str = "", *, instant: bool = False, fmt: str | None = None,
      exemplar: bool = False) -> dict[str, Any]:
    """A Prometheus query target."""
    target: dict[str, Any] = {"datasource": PROMETHEUS, "expr": expr, "legendFormat": legend or "__auto",
                              "range": not instant, "instant": instant}
    if fmt:
        target["format"] = fmt
    if exemplar:
        target["exemplar"] = True
    return target


def exemplars(histogram: str | Sequence[tuple[str, str]], selector: str = "", by: str = "") -> dict[str, Any]:
    """Trace exemplars for a latency panel, over the raw histogram `<histogram>_bucket`
    (or several, as (histogram, selector) pairs, for a panel spanning services).

    The panel's lines read recorded quantiles, which carry no exemplars. This target asks
    Prometheus for the exemplars of the raw buckets over the whole range (Grafana's exemplar
    query, /api/v1/query_exemplars), and its PromQL runs as one instant query: the current
    raw P95, one point, cheap at any range. Grafana runs instant, range and exemplar
    queries independently (pkg/promlib/querydata/request.go, fetch), so no range query
    over raw buckets is made. The exemplars' trace ids link to Tempo (datasource
    exemplarTraceIdDestinations).
    """
    pairs = [(histogram, selector)] if isinstance(histogram, str) else list(histogram)
    grouping = f"{by}, le" if by else "le"
    rates = " or ".join(f"rate({name}_bucket{{{sel}}}[$__rate_interval])" if sel else f"rate({name}_bucket[$__rate_interval])"
                        for name, sel in pairs)
    expr = f"histogram_quantile(0.95, sum by ({grouping}) ({rates}))"
    return q(expr, "P95 now, with trace exemplars" + (f" {{{{{by}}}}}" if by else ""), instant=True, exemplar=True)


def tempo_query(query_type: str, query: str = "", **extra: Any) -> dict[str, Any]:
    """A Tempo query target (serviceMap, traceql)."""
    target: dict[str, Any] = {"datasource": TEMPO, "queryType": query_type}
    if query:
        target["query"] = query
    target.update(extra)
    return target


def steps(*pairs: tuple[str, float | None]) -> dict[str, Any]:
    """Absolute thresholds: ("green", None), ("red", 0.05)..."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in pairs]}


def _field_config(unit: str | None, thresholds: dict[str, Any] | None, *, min_: float | None = None,
                  max_: float | None = None, decimals: int | None = None,
                  custom: dict[str, Any] | None = None, links: list[dict[str, Any]] | None = None,
                  color_mode: str | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if unit:
        defaults["unit"] = unit
    if thresholds:
        defaults["thresholds"] = thresholds
        defaults["color"] = {"mode": color_mode or "thresholds"}
    elif color_mode:
        defaults["color"] = {"mode": color_mode}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if decimals is not None:
        defaults["decimals"] = decimals
    if custom:
        defaults["custom"] = custom
    if links:
        defaults["links"] = links
    return {"defaults": defaults, "overrides": []}


@dataclass
class Panel:
    """A panel before placement: everything but its id and grid position."""

    body: dict[str, Any]
    w: int
    h: int


def timeseries(title: str, targets: list[dict[str, Any]], *, unit: str = "short", w: int = 12, h: int = 8,
               thresholds: dict[str, Any] | None = None, description: str = "", stack: bool = False,
               min_: float | None = None, max_: float | None = None,
               links: list[dict[str, Any]] | None = None) -> Panel:
    custom: dict[str, Any] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                              "spanNulls": False,
                              "thresholdsStyle": {"mode": "line" if thresholds else "off"}}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return Panel({
        "type": "timeseries", "title": title, "description": description, "datasource": _ds(targets),
        "targets": targets,
        "fieldConfig": _field_config(unit, thresholds, min_=min_, max_=max_, custom=custom, links=links,
                                     color_mode="palette-classic"),
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }, w, h)


def stat(title: str, targets: list[dict[str, Any]], *, unit: str = "short", w: int = 6, h: int = 5,
         thresholds: dict[str, Any] | None = None, description: str = "", decimals: int | None = None,
         min_: float | None = None, max_: float | None = None, color_mode: str = "value") -> Panel:
    return Panel({
        "type": "stat", "title": title, "description": description, "datasource": _ds(targets),
        "targets": targets,
        "fieldConfig": _field_config(unit, thresholds or steps(("green", None)), decimals=decimals,
                                     min_=min_, max_=max_),
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": color_mode, "graphMode": "area", "textMode": "auto", "justifyMode": "auto",
                    "orientation": "auto"},
    }, w, h)


def gauge(title: str, targets: list[dict[str, Any]], *, unit: str = "percentunit", w: int = 6, h: int = 5,
          thresholds: dict[str, Any] | None = None, description: str = "", min_: float = 0,
          max_: float = 1) -> Panel:
    return Panel({
        "type": "gauge", "title": title, "description": description, "datasource": _ds(targets),
        "targets": targets,
        "fieldConfig": _field_config(unit, thresholds or steps(("green", None)), min_=min_, max_=max_),
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "showThresholdMarkers": True, "showThresholdLabels": False},
    }, w, h)


def table(title: str, targets: list[dict[str, Any]], *, unit: str | None = None, w: int = 12, h: int = 8,
          description: str = "", hide: list[str] | None = None, sort_by: str | None = None,
          thresholds: dict[str, Any] | None = None, links: list[dict[str, Any]] | None = None) -> Panel:
    transformations: list[dict[str, Any]] = []
    if any(t.get("format") == "table" for t in targets):
        excluded = {name: True for name in ["Time", "__name__", *(hide or [])]}
        transformations.append({"id": "organize", "options": {"excludeByName": excluded}})
    options: dict[str, Any] = {"showHeader": True, "cellHeight": "sm"}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return Panel({
        "type": "table", "title": title, "description": description, "datasource": _ds(targets),
        "targets": targets, "transformations": transformations,
        "fieldConfig": _field_config(unit, thresholds, links=links),
        "options": options,
    }, w, h)


def piechart(title: str, targets: list[dict[str, Any]], *, unit: str = "short", w: int = 8, h: int = 8,
             description: str = "") -> Panel:
    return Panel({
        "type": "piechart", "title": title, "description": description, "datasource": _ds(targets),
        "targets": targets, "fieldConfig": _field_config(unit, None, color_mode="palette-classic"),
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "pieType": "donut", "legend": {"displayMode": "table", "placement": "right",
                                                   "values": ["value", "percent"]}},
    }, w, h)


def barchart(title: str, targets: list[dict[str, Any]], *, unit: str = "short", w: int = 24, h: int = 8,
             description: str = "") -> Panel:
    return Panel({
        "type": "barchart", "title": title, "description": description, "datasource": _ds(targets),
        "targets": targets, "fieldConfig": _field_config(unit, None, color_mode="palette-classic"),
        "transformations": [{"id": "reduce", "options": {"reducers": ["lastNotNull"]}}],
        "options": {"orientation": "horizontal", "showValue": "auto", "legend": {"showLegend": False},
                    "xTickLabelRotation": 0},
    }, w, h)


def node_graph(title: str, targets: list[dict[str, Any]], *, w: int = 24, h: int = 12,
               description: str = "") -> Panel:
    return Panel({"type": "nodeGraph", "title": title, "description": description, "datasource": _ds(targets),
                  "targets": targets, "fieldConfig": _field_config(None, None), "options": {}}, w, h)


def _ds(targets: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(targets[0]["datasource"])


def explore_traces_link(title: str, traceql: str) -> dict[str, Any]:
    """A data link opening Explore on Tempo with a TraceQL query (Grafana interpolates ${__field...})."""
    import json
    import urllib.parse

    left = {"datasource": "tempo", "queries": [{"refId": "A", "datasource": TEMPO, "queryType": "traceql",
                                                 "query": traceql}], "range": {"from": "${__from}", "to": "${__to}"}}
    return {"title": title, "url": "/explore?left=" + urllib.parse.quote(json.dumps(left), safe="${}_.:")}


@dataclass
class Dashboard:
    """Collects panels and places them on the grid."""

    uid: str
    title: str
    description: str
    tags: list[str]
    instance_job: str | None = None  # job whose instances the $instance variable lists
    panels: list[dict[str, Any]] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def row(self, title: str) -> None:
        """Start a new row with a collapsible header."""
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "id": len(self.panels) + 1, "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1}})
        self._y += 1

    def add(self, *panels: Panel) -> None:
        for panel in panels:
            if self._x + panel.w > 24:
                self._newline()
            body = dict(panel.body)
            body["id"] = len(self.panels) + 1
            body["gridPos"] = {"x": self._x, "y": self._y, "w": panel.w, "h": panel.h}
            for i, target in enumerate(body.get("targets", [])):
                target.setdefault("refId", chr(ord("A") + i))
            self.panels.append(body)
            self._x += panel.w
            self._row_h = max(self._row_h, panel.h)

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_h
        self._x, self._row_h = 0, 0

    def build(self) -> dict[str, Any]:
        variables: list[dict[str, Any]] = [copy.deepcopy(PROMETHEUS_VARIABLE)]
        if self.instance_job:
            variables.append({
                "name": "instance", "label": "Instance", "type": "query", "datasource": PROMETHEUS,
                "query": {"query": f'label_values(up{{job="{self.instance_job}"}}, instance)', "refId": "instance"},
                "definition": f'label_values(up{{job="{self.instance_job}"}}, instance)',
                "includeAll": True, "multi": True, "allValue": ".+", "refresh": 2, "sort": 1,
                "current": {"text": ["All"], "value": ["$__all"]}, "hide": 0,
            })
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["shannon", *self.tags],
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "refresh": "30s",
            "schemaVersion": SCHEMA_VERSION,
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": variables},
            "annotations": {"list": [{
                "name": "Alerts", "datasource": PROMETHEUS, "enable": True, "iconColor": "red",
                "expr": 'ALERTS{alertstate="firing", alertname!="Watchdog"}', "step": "60s",
                "titleFormat": "{{ alertname }}", "textFormat": "{{ severity }} {{ component }}",
                "useValueForTime": False,
            }]},
            "links": [{"title": "Shannon dashboards", "type": "dashboards", "tags": ["shannon"], "asDropdown": True,
                       "includeVars": True, "keepTime": True}],
            "panels": self.panels,
        }
