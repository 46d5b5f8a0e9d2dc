"""Catalog lint: every PromQL expression must select series that something really exports.

A selected metric must be in `catalog/metrics.yaml` or be a recording rule of
this project; every label it matches on must be one the series carries; every
`job="..."` must name a job some scrape config defines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from components.builders import promql
from components.catalog import Catalog

# Grafana's $__tags (traces-to-metrics) expands to label matchers on span-metric labels.
TAGS_STAND_IN = 'service=~".+"'


@dataclass(frozen=True)
class Expression:
    where: str  # "rules/shannon-policy.yml: PolicyErrorRateHigh" or "dashboards/policy.json: panel 'x'"
    expr: str


def lint_expressions(expressions: Iterable[Expression], catalog: Catalog, recorded: dict[str, frozenset[str]],
                     jobs: set[str]) -> list[str]:
    """Every problem found; `recorded` maps recording-rule names to the labels their series carry."""
    series = catalog.series()
    problems = []
    for item in expressions:
        text = promql.substitute(item.expr.replace("$__tags", TAGS_STAND_IN))
        try:
            selectors = list(promql.selectors(text))
        except ValueError as error:
            problems.append(f"{item.where}: does not parse: {error}")
            continue
        for sel in selectors:
            names = [sel.metric] if sel.metric else [v for label, op, v in sel.matchers
                                                    if label == "__name__" and op.lower() == "equal"]
            for name in names:
                if name in recorded:
                    labels: frozenset[str] | None = recorded[name]
                elif name in series:
                    labels = series[name][0]
                else:
                    problems.append(f"{item.where}: selects {name!r}, which no component exports "
                                    "(not in catalog/metrics.yaml) and no recording rule defines")
                    continue
                if "*" in labels:
                    continue
                for label, _op, _value in sel.matchers:
                    if label != "__name__" and label not in labels:
                        problems.append(f"{item.where}: {name} has no label {label!r} "
                                        f"(it has {', '.join(sorted(labels))})")
            for label, op, value in sel.matchers:
                if label == "job" and op.lower() == "equal" and value not in jobs:
                    problems.append(f"{item.where}: job {value!r} is not defined by any scrape config "
                                    f"({', '.join(sorted(jobs))})")
    return problems
