"""PromQL helpers: Grafana variable substitution, parsing and selector extraction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import promql_parser

# Grafana's built-in and dashboard variables, replaced by values that keep the query
# valid PromQL. Order matters: longer names first.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval_ms": "60000",
    "$__interval": "1m",
    "${__interval}": "1m",
    "$__range_s": "3600",
    "$__range": "1h",
    "${__range}": "1h",
}
_DASHBOARD_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}?")


def substitute(expr: str, rate_interval: str = "1m", range_: str = "1h") -> str:
    """A Grafana query with its variables replaced: intervals by durations, `$var` by `.+`."""
    values = dict(GRAFANA_VARIABLES)
    for key in ("$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}"):
        values[key] = rate_interval
    for key in ("$__range", "${__range}"):
        values[key] = range_
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    # Remaining dashboard variables ($instance, ${instance}) are label-matcher regexes.
    return _DASHBOARD_VARIABLE.sub(".+", expr)


@dataclass(frozen=True)
class Selector:
    metric: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)


def parse(expr: str) -> promql_parser.Expr:
    return promql_parser.parse(expr)


def selectors(expr: str) -> Iterator[Selector]:
    """Every vector selector in a (variable-free) PromQL expression."""
    found: list[Selector] = []

    def visit(node: object) -> bool:
        if type(node).__name__ == "VectorSelector":
            matchers = []
            for m in node.matchers.matchers:  # type: ignore[attr-defined]
                matchers.append((m.name, str(m.op).split(".")[-1], m.value))
            found.append(Selector(node.name, tuple(matchers)))  # type: ignore[attr-defined]
        return True

    promql_parser.walk(parse(expr), visit)
    yield from found


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects, from `name{...}` or `{__name__="name"}`."""
    names = set()
    for sel in selectors(expr):
        if sel.metric:
            names.add(sel.metric)
        names.update(v for label, op, v in sel.matchers if label == "__name__" and op.lower() in {"equal", "eq", "="})
    return names


def job_matchers(expr: str) -> set[str]:
    """Values of equality `job="..."` matchers in an expression."""
    return {v for sel in selectors(expr) for label, op, v in sel.matchers
            if label == "job" and op.lower() in {"equal", "eq", "="}}


def range_windows(expr: str) -> Iterator[tuple[str, float]]:
    """(function, seconds) of every range a function reads: `rate(x[5m])` -> ("rate", 300.0).

    Prometheus 3 range selectors are left-open: `[1m]` over a 15s scrape holds 4 samples, not 5,
    so a window must be longer than a few sample intervals to always hold the two that a rate needs.
    """
    found: list[tuple[str, float]] = []

    def visit(node: object) -> bool:
        if type(node).__name__ == "Call":
            for arg in node.args:  # type: ignore[attr-defined]
                if type(arg).__name__ in {"MatrixSelector", "SubqueryExpr"}:
                    found.append((node.func.name, arg.range.total_seconds()))  # type: ignore[attr-defined]
        return True

    promql_parser.walk(parse(expr), visit)
    yield from found


_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<comment>\#[^\n]*)
  | (?P<number>(?:0x[0-9a-fA-F]+|[0-9][0-9a-zA-Z_.]*))
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.X | re.S)
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                       "offset", "inf", "nan", "atan2", "start", "end"})
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


def with_matcher(expr: str, label: str, op: str, value: str) -> str:
    """`expr` with `label<op>"value"` added to every vector selector that has no matcher on `label`.

    A token-level rewrite (selectors are identifiers not followed by `(`, or brace blocks), checked against
    the parser: the result must parse, and its every selector must carry the matcher.
    """
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(expr)]
    matcher = f'{label}{op}"{value}"'
    out: list[str] = []
    i, depth_list = 0, False
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = next((t for t in tokens[i + 1:] if t[0] not in ("space", "comment")), ("", ""))
        if text == "$":  # a Grafana variable, $name or ${name}: not a selector
            out.append(text)
            if i + 1 < len(tokens) and tokens[i + 1][1] == "{":
                while tokens[i][1] != "}":
                    i += 1
                    out.append(tokens[i][1])
            elif i + 1 < len(tokens) and tokens[i + 1][0] == "ident":
                i += 1
                out.append(tokens[i][1])
        elif kind == "ident" and text.lower() in _LABEL_LISTS and nxt[1] == "(":
            depth_list = True  # the next parenthesised list holds label names, not selectors
            out.append(text)
        elif depth_list and text == ")":
            depth_list = False
            out.append(text)
        elif depth_list or (kind != "ident" and text != "{") or (
                # a keyword, a function, or an aggregation with its grouping first (`sum by (job) (...)`)
                kind == "ident" and (text.lower() in _KEYWORDS or nxt[1] == "(" or nxt[1].lower() in ("by", "without"))):
            out.append(text)
        elif kind == "ident" and nxt[1] != "{":
            out.append(f"{text}{{{matcher}}}")
        else:
            # A brace block, after a metric name or alone: copy it, adding the matcher unless the label is there.
            if kind == "ident":
                out.append(text)
                while tokens[i + 1][1] != "{":
                    i += 1
                    out.append(tokens[i][1])
                i += 1
            block: list[tuple[str | None, str]] = []
            i += 1
            while tokens[i][1] != "}":
                block.append(tokens[i])
                i += 1
            names = [t for j, (k, t) in enumerate(block) if k == "ident" and
                     next((b[1] for b in block[j + 1:] if b[0] != "space"), "") in ("=", "!")]
            body = "".join(t for _, t in block).strip().rstrip(",")
            if label not in names:
                body = f"{matcher}, {body}" if body else matcher
            out.append("{" + body + "}")
        i += 1
    result = "".join(out)
    for sel in selectors(substitute(result)):
        if not any(m[0] == label for m in sel.matchers):
            raise ValueError(f"could not add {matcher} to every selector of {expr!r}")
    return result
