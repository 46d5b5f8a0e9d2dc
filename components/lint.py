"""Catalog lint: every PromQL expression must select series that something really writes.

A selected metric must be in `catalog/metrics.yaml` or be a recording rule of this project;
a Shannon family must be one Shannon's code writes (for the job selected), not one it only
registers; every label it matches on must be one the series carries, with a value Shannon's
code writes where the catalog knows them all; every `job="..."` must name a job some scrape
config defines.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser

from components.builders import dashboard_rules, promql
from components.builders.dashboards import DashboardError, collect_dashboards, dashboard_queries, panels
from components.builders.grafana import build_datasources
from components.builders.prometheus import scrape_jobs
from components.builders.rules import RuleFileError, iter_rules, load_rule_files
from components.catalog import DYNAMIC_VALUE, SHANNON_SERVICES, Catalog, Family, load_catalog
from components.stackfile import REPO, known_stacks, load_stack

# Grafana's $__tags (traces-to-metrics) expands to label matchers on span-metric labels.
TAGS_STAND_IN = 'service=~".+"'


@dataclass(frozen=True)
class Expression:
    where: str  # "rules/shannon-policy.yml: PolicyErrorRateHigh" or "dashboards/policy.json: panel 'x'"
    expr: str


def _selected_families(name: str, matchers: tuple[tuple[str, str, str], ...], families: list[Family],
                       catalog: Catalog) -> list[Family]:
    """The families a selector may read: those of the job it selects, if it selects one by name."""
    jobs = {v for label, op, v in matchers if label == "job" and op.lower() == "equal"}
    if not jobs:
        return families
    chosen = [f for f in families if catalog.jobs.get(f.source) in jobs]
    shannon_jobs = {catalog.jobs.get(s) for s in SHANNON_SERVICES}
    # A Shannon job that does not list the family does not write it (its section lists what it writes).
    return chosen if chosen or jobs & shannon_jobs else families


def _value_problems(where: str, family: Family, matchers: tuple[tuple[str, str, str], ...]) -> list[str]:
    """Equality and regex matchers on a label whose values the code spells out in full: they must match one."""
    problems = []
    for label, op, value in matchers:
        known = family.values.get(label)
        if not known or DYNAMIC_VALUE in known or op.lower() not in ("equal", "re"):
            continue
        matches = [v for v in known if (v == value if op.lower() == "equal" else re.fullmatch(value, v))]
        if not matches:
            problems.append(f"{where}: {family.name}{{{label}{'=' if op.lower() == 'equal' else '=~'}\"{value}\"}} "
                            f"matches no value Shannon writes ({family.source} writes {label} = "
                            f"{', '.join(known)}; {family.registered})")
    return problems


def lint_expressions(expressions: Iterable[Expression], catalog: Catalog, recorded: dict[str, frozenset[str]],
                     jobs: set[str]) -> list[str]:
    """Every problem found; `recorded` maps recording-rule names to the labels their series carry."""
    series = catalog.series()
    owners = catalog.series_families()
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
                shannon_owned = [f for f in owners.get(name, []) if f.written is not None]
                if name not in recorded and shannon_owned:
                    families = _selected_families(name, sel.matchers, shannon_owned, catalog)
                    written = [f for f in families if not f.never_written]
                    if not families:
                        writers = sorted({catalog.jobs.get(f.source, f.source) for f in shannon_owned})
                        problems.append(f"{item.where}: reads {name} of a job that never writes it (written by: "
                                        f"{', '.join(writers)}; {shannon_owned[0].registered})")
                        continue
                    if not written:
                        dead = families[0]
                        problems.append(f"{item.where}: reads {dead.name}, which Shannon registers ({dead.registered}) "
                                        f"but never writes{': ' + dead.note if dead.note else ''}: it can never show "
                                        "data; build it on a family the catalog lists as written")
                        continue
                    for family in written:
                        problems += _value_problems(item.where, family, sel.matchers)
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


# --- the repository's content: what `make check` and the suite run ----------------------------

RATE_FUNCTIONS = ("rate(", "increase(")


def recorded_labels(rule_files: dict[str, dict[str, Any]], catalog: Catalog) -> dict[str, frozenset[str]]:
    """Recording rule name -> labels its series may carry (grouping labels, inputs' labels, rule labels)."""
    catalog_series = catalog.series()
    recorded: dict[str, frozenset[str]] = {}
    rules = [r for _, _, r in iter_rules(rule_files) if "record" in r]
    for _ in range(3):  # recording rules built on recording rules
        for rule in rules:
            labels: set[str] = set(rule.get("labels", {}))
            grouped = False

            def visit(node: object, labels: set[str] = labels) -> bool:
                nonlocal grouped
                if type(node).__name__ == "AggregateExpr" and node.modifier is not None:  # type: ignore[attr-defined]
                    grouped = True
                    labels.update(node.modifier.labels)  # type: ignore[attr-defined]
                return True

            promql_parser.walk(promql_parser.parse(rule["expr"]), visit)
            if not grouped:
                for name in promql.metric_names(rule["expr"]):
                    labels |= recorded.get(name, catalog_series.get(name, (frozenset(),))[0])
            recorded[rule["record"]] = frozenset(labels) | recorded.get(rule["record"], frozenset())
    return recorded


def raw_rate_problems(dashboards: dict[str, dict[str, Any]], catalog: Catalog) -> list[str]:
    """Range panels that rate raw Shannon or span-metric series instead of a recorded 5m rate."""
    raw = {name for name, (_, source) in catalog.series().items()
           if source in (*SHANNON_SERVICES, "tempo-metrics-generator")}
    problems = []
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                if not expr or target.get("instant"):
                    continue
                selected = {s.metric for s in promql.selectors(promql.substitute(expr))}
                if selected & raw and any(f in expr for f in RATE_FUNCTIONS):
                    problems.append(f"dashboards/{name}: panel {panel.get('title')!r} rates raw series; read a "
                                    f"recorded <labels>:<metric>:rate5m series instead (then `make rules`): {expr}")
    return problems


def exemplar_problems(dashboards: dict[str, dict[str, Any]], catalog: Catalog) -> list[str]:
    """Exemplar targets over series that carry none: Shannon records no exemplars (and its Go and Rust
    endpoints serve the text format, which cannot carry them); only Tempo's span metrics have them."""
    with_exemplars = {name for name, (_, source) in catalog.series().items() if source in catalog.exemplar_sources}
    problems = []
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if not target.get("exemplar") or not target.get("expr"):
                    continue
                selected = {s.metric for s in promql.selectors(promql.substitute(target["expr"]))}
                if selected - with_exemplars:
                    problems.append(f"dashboards/{name}: panel {panel.get('title')!r} asks for exemplars of "
                                    f"{', '.join(sorted(selected - with_exemplars))}, which carry none (Shannon "
                                    "records no exemplars; only Tempo's span metrics do): drop `exemplar`")
    return problems


def repository_jobs(root: Path) -> set[str]:
    """Job names the dev and prod stacks scrape: what a `job="..."` matcher may name."""
    return {job.job for stack in known_stacks(root) if stack in ("dev", "prod")
            for job in scrape_jobs(load_stack(stack, root)[0])}


def runbook_queries(text: str) -> list[tuple[str, str]]:
    """(section, query) for every query of the ```promql blocks of docs/runbooks.md: a query starts at an
    unindented line and continues over indented ones; `# ...` after a query is a comment."""
    found: list[tuple[str, str]] = []
    section = "introduction"
    for block_heading, block in re.findall(r"^## (\S+)$|```promql\n(.*?)```", text, re.M | re.S):
        if block_heading:
            section = block_heading
            continue
        current: list[str] = []
        for line in block.splitlines():
            code = re.split(r"\s{2,}#", line, maxsplit=1)[0].rstrip()
            if not code.strip():
                continue
            if not line[:1].isspace() and current:
                found.append((section, "\n".join(current)))
                current = []
            current.append(code)
        if current:
            found.append((section, "\n".join(current)))
    return found


def repository_expressions(rule_files: dict[str, dict[str, Any]], dashboards: dict[str, dict[str, Any]],
                           root: Path) -> list[Expression]:
    """Every PromQL expression of the rules, the dashboards, the runbooks and prod's traces-to-metrics
    datasource queries."""
    exprs = [Expression(f"rules/{f}: {r.get('alert') or r.get('record')}", r["expr"]) for f, _, r in iter_rules(rule_files)]
    exprs += [Expression(f"dashboards/{q.dashboard}: {q.panel}", q.expr) for q in dashboard_queries(dashboards)]
    for ds in build_datasources(load_stack("prod", root)[0]):
        for query in ds["jsonData"].get("tracesToMetrics", {}).get("queries", []):
            exprs.append(Expression(f"datasource {ds['uid']}: {query['name']}", query["query"]))
    runbooks = root / "docs" / "runbooks.md"
    if runbooks.exists():
        exprs += [Expression(f"docs/runbooks.md: {section}", query) for section, query in runbook_queries(runbooks.read_text())]
    return exprs


def content_problems(root: Path | None = None) -> list[str]:
    """Every problem of the repository's rules and dashboards: invalid files, series nothing exports or
    records, raw rates in range panels, and recorded series the dashboards read that are not generated."""
    root = root or REPO
    try:
        rule_files = load_rule_files(root / "rules")
        dashboards = collect_dashboards(root / "dashboards")
    except (RuleFileError, DashboardError) as error:
        return [str(error)]
    catalog = load_catalog(root / "catalog" / "metrics.yaml")
    problems = lint_expressions(repository_expressions(rule_files, dashboards, root), catalog,
                                recorded_labels(rule_files, catalog), repository_jobs(root))
    problems += raw_rate_problems(dashboards, catalog)
    problems += exemplar_problems(dashboards, catalog)
    generated = root / "rules" / dashboard_rules.GENERATED_FILE.name
    wanted = dashboard_rules.render_rule_file(q.expr for q in dashboard_queries(dashboards))
    if not generated.exists() or generated.read_text() != wanted:
        problems.append(f"rules/{generated.name} is not what the dashboards read: run `make rules` and commit it")
    return problems


def main(argv: list[str] | None = None) -> int:
    """`python -m components.lint`: the content checks of the suite, in seconds (`make check` runs it)."""
    argparse.ArgumentParser(prog="python -m components.lint",
                            description="The content checks of rules/ and dashboards/, in seconds.").parse_args(argv)
    problems = content_problems()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"lint: {len(problems)} problem(s)" if problems else "lint: rules and dashboards OK", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
