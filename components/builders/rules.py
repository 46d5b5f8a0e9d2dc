"""Rule files: loaded from `rules/*.yml`, validated, adjusted by settings.

Validation happens before anything is deployed or written: every expression is
parsed as PromQL, every `for:` is a duration, names and label values are checked,
and group names are unique across files. All problems are reported at once,
each naming the file, group and rule.

Settings may adjust the rules only for test stacks: `rules.forScale`/`maxFor`
shorten `for:` durations and `rules.rangeOverrides` shortens range windows (and
drops group intervals, so every group follows the stack's short evaluation
interval); prod and dev render the files unchanged apart from formatting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from components.builders.features import filter_rule_files
from components.builders.slo import RUNBOOK
from components.settings import StackSettings
from components.units import prom_duration, prom_duration_seconds

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_ALERT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RANGE = re.compile(r"\[(\d+(?:ms|[smhdwy]))(?=[\]:])")
_RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
_GROUP_KEYS = {"name", "interval", "rules", "limit"}


class RuleFileError(ValueError):
    """Every problem found in the rule files."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"Invalid rule files, {len(problems)} problem(s):\n"
                         + "\n".join(f"  - {p}" for p in problems))


def rule_name(rule: dict[str, Any]) -> str:
    return str(rule.get("alert") or rule.get("record") or "<unnamed>")


def _check_rule(where: str, rule: Any, problems: list[str]) -> None:
    if not isinstance(rule, dict):
        problems.append(f"{where}: a rule must be a mapping")
        return
    for key in set(rule) - _RULE_KEYS:
        problems.append(f"{where}: unknown key {key!r}")
    if ("alert" in rule) == ("record" in rule):
        problems.append(f"{where}: a rule needs exactly one of 'alert' or 'record'")
    if "record" in rule and not _METRIC_NAME.match(str(rule["record"])):
        problems.append(f"{where}: {rule['record']!r} is not a valid metric name")
    if "alert" in rule and not _ALERT_NAME.match(str(rule["alert"])):
        problems.append(f"{where}: {rule['alert']!r} is not a valid alert name")
    expr = rule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        problems.append(f"{where}: 'expr' is missing or empty")
    else:
        try:
            promql_parser.parse(expr)
        except ValueError as error:
            problems.append(f"{where}: expr is not valid PromQL: {error}")
    for key in ("for", "keep_firing_for"):
        if key in rule:
            if "record" in rule:
                problems.append(f"{where}: recording rules cannot have '{key}'")
            try:
                prom_duration_seconds(str(rule[key]))
            except ValueError as error:
                problems.append(f"{where}: '{key}': {error}")
    for key in ("labels", "annotations"):
        value = rule.get(key, {})
        if not isinstance(value, dict):
            problems.append(f"{where}: '{key}' must be a mapping")
            continue
        for name, text in value.items():
            if not _LABEL_NAME.match(str(name)):
                problems.append(f"{where}: {key[:-1]} name {name!r} is invalid")
            if not isinstance(text, str):
                problems.append(f"{where}: {key[:-1]} {name!r} must be a string (quote it)")
    if "annotations" in rule and "record" in rule:
        problems.append(f"{where}: recording rules cannot have annotations")


def load_rule_files(rules_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Parse and validate `rules_dir/*.yml`; raise RuleFileError with every problem found."""
    rules_dir = rules_dir or RULES_DIR
    problems: list[str] = []
    files: dict[str, dict[str, Any]] = {}
    group_owner: dict[str, str] = {}
    paths = sorted(rules_dir.glob("*.yml"))
    if not paths:
        problems.append(f"{rules_dir}: no rule files (*.yml) found")
    for path in paths:
        name = path.name
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            problems.append(f"{name}: not valid YAML: {error}")
            continue
        if not isinstance(data, dict) or set(data) != {"groups"} or not isinstance(data["groups"], list):
            problems.append(f"{name}: a rule file must be a mapping with exactly one key, 'groups', holding a list")
            continue
        for gi, group in enumerate(data["groups"]):
            if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                problems.append(f"{name}: groups[{gi}] needs a 'name'")
                continue
            gname = group["name"]
            where_group = f"{name}: group {gname!r}"
            if gname in group_owner:
                problems.append(f"{where_group}: duplicate group name (also in {group_owner[gname]})")
            group_owner[gname] = name
            for key in set(group) - _GROUP_KEYS:
                problems.append(f"{where_group}: unknown key {key!r}")
            if "interval" in group:
                try:
                    prom_duration_seconds(str(group["interval"]))
                except ValueError as error:
                    problems.append(f"{where_group}: 'interval': {error}")
            rules = group.get("rules")
            if not isinstance(rules, list) or not rules:
                problems.append(f"{where_group}: 'rules' must be a non-empty list")
                continue
            for ri, rule in enumerate(rules):
                label = rule_name(rule) if isinstance(rule, dict) else f"rules[{ri}]"
                _check_rule(f"{where_group}, rule {label!r}", rule, problems)
        files[name] = data
    if problems:
        raise RuleFileError(problems)
    return files


def _adjust_for(value: str, settings: StackSettings) -> str:
    seconds = prom_duration_seconds(value)
    if seconds == 0:
        return value
    rules = settings.rules
    scaled = max(1.0, seconds * rules.for_scale) if rules.for_scale != 1 else seconds
    if rules.max_for is not None:
        scaled = min(scaled, prom_duration_seconds(rules.max_for))
    return value if scaled == seconds else prom_duration(scaled)


def _adjust_ranges(expr: str, overrides: dict[str, str]) -> str:
    if not overrides:
        return expr
    return _RANGE.sub(lambda m: "[" + overrides.get(m.group(1), m.group(1)), expr)


def apply_settings(files: dict[str, dict[str, Any]], settings: StackSettings) -> dict[str, dict[str, Any]]:
    """A copy of the rule files with the stack's test-only adjustments applied."""
    out: dict[str, dict[str, Any]] = {}
    base = settings.rules.runbook_base_url
    for name, data in files.items():
        groups = []
        for group in data["groups"]:
            rules = []
            for rule in group["rules"]:
                rule = dict(rule)
                rule["expr"] = _adjust_ranges(rule["expr"], settings.rules.range_overrides)
                if "for" in rule:
                    rule["for"] = _adjust_for(str(rule["for"]), settings)
                if base and "annotations" in rule and "runbook_url" in rule["annotations"]:
                    annotations = dict(rule["annotations"])
                    annotations["runbook_url"] = annotations["runbook_url"].replace(RUNBOOK, base.rstrip("/"))
                    rule["annotations"] = annotations
                rules.append(rule)
            adjusted = {**group, "rules": rules}
            if settings.rules.range_overrides:
                adjusted.pop("interval", None)
            groups.append(adjusted)
        out[name] = {"groups": groups}
    return out


def build_rule_files(settings: StackSettings, rules_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """The rule files Prometheus loads for this stack, keyed by file name, without the rules
    that read a disabled component's series (builders/features.py)."""
    return filter_rule_files(apply_settings(load_rule_files(rules_dir), settings), settings)


def iter_rules(files: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file name, group name, rule) for every rule."""
    for name, data in files.items():
        for group in data["groups"]:
            for rule in group["rules"]:
                yield name, group["name"], rule
