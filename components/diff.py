"""A reviewer's summary of what changes between two renders: `python -m components.diff <base> <head>`.

Markdown grouped by kind: scrape jobs, alert and recording rules, Alertmanager
routes and receivers (credentials never shown), datasources, dashboards compared
per panel by title (ids and key order ignored), Tempo, and other files. Two
identical renders print "no changes".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from components.builders.dashboards import panels
from components.builders.deployment import EFFECTS

SECRET_FIELDS = re.compile(r"(routing_key|service_key|api_key|api_url|password|token|secret)$", re.I)
USERINFO = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")


class RenderError(Exception):
    """A file of a render directory that a render could not have written."""


def _load(path: Path) -> Any:
    """A render file as data: None when absent, a mapping otherwise (every file a render writes is one)."""
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except IsADirectoryError:
        raise RenderError(f"{path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise RenderError(f"{path} is not UTF-8 text") from None
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        if isinstance(error, json.JSONDecodeError):
            where = f"line {error.lineno}: {error.msg}"
        else:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}: {getattr(error, 'problem', None) or 'invalid YAML'}" if mark else "invalid YAML"
        raise RenderError(f"{path} does not parse ({where})") from None
    except OSError as error:
        raise RenderError(f"{path} cannot be read: {error.strerror or error}") from None
    if value is not None and not isinstance(value, dict):
        raise RenderError(f"{path} holds a {type(value).__name__}, where a render writes a mapping")
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, sort_keys=True)


def _short(value: Any) -> bool:
    text = _fmt(value)
    return "\n" not in text and len(text) <= 80


def _code(value: Any) -> str:
    return f"`{_fmt(value)}`"


def _block(value: Any, indent: str) -> list[str]:
    """A fenced block indented to sit inside a list item."""
    return [f"{indent}```", *(f"{indent}{line}" for line in _fmt(value).splitlines()), f"{indent}```"]


def _pair(label: str, old: Any, new: Any, indent: str = "") -> list[str]:
    """`label: old -> new` when both are short, else before/after blocks under the label."""
    if _short(old) and _short(new):
        return [f"{indent}- {label}: {_code(old)} -> {_code(new)}"]
    return [f"{indent}- {label}:", f"{indent}  - before:", *_block(old, indent + "    "),
            f"{indent}  - after:", *_block(new, indent + "    ")]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    return {prefix: value}


def _mask(value: Any, key: str = "") -> Any:
    """Credentials become "(secret)": by field name, or a URL's user:password."""
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str) and (SECRET_FIELDS.search(key) or (key == "url" and "secret-placeholder" in value)):
        return "(secret)"
    if isinstance(value, str):
        return USERINFO.sub(r"\1(secret)@", value)
    return value


def _changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    b, a = _flatten(before), _flatten(after)
    return [(k, b.get(k), a.get(k)) for k in sorted(set(b) | set(a)) if b.get(k) != a.get(k)]


# --- sections ----------------------------------------------------------------------------------


def _named_changes(kind: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Added, removed and changed items of one kind, keyed by name, with each changed key before and after."""
    lines = [f"- **added** {kind} `{n}`" for n in after if n not in before]
    lines += [f"- **removed** {kind} `{n}`" for n in before if n not in after]
    for name in after:
        if name in before and after[name] != before[name]:
            lines.append(f"- **changed** {kind} `{name}`:")
            for k, b, a in _changed_keys(before[name], after[name]):
                lines += _pair(f"`{k}`", b, a, "  ")
    return lines


def scrape_jobs(base: Path, head: Path) -> list[str]:
    before, after = _load(base / "prometheus/prometheus.yml") or {}, _load(head / "prometheus/prometheus.yml") or {}
    lines = _named_changes("job", {j["job_name"]: j for j in before.get("scrape_configs", [])},
                           {j["job_name"]: j for j in after.get("scrape_configs", [])})
    rest_b = {k: v for k, v in before.items() if k != "scrape_configs"}
    rest_a = {k: v for k, v in after.items() if k != "scrape_configs"}
    for k, b, a in _changed_keys(rest_b, rest_a):
        lines += _pair(f"Prometheus `{k}`", b, a)
    return lines


def _rules(root: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    files = [(path, (_load(path) or {}).get("groups", [])) for path in sorted((root / "prometheus/rules").glob("*.yml"))]
    # Operator mode: the same rules, inside PrometheusRules.
    files += [(path, ((_load(path) or {}).get("spec") or {}).get("groups", []))
              for path in sorted((root / "operator").glob("prometheusrule-*.yaml"))]
    for path, groups in files:
        for group in groups:
            for rule in group.get("rules", []):
                kind = "alert" if "alert" in rule else "record"
                name = rule[kind]
                key = f"{kind} `{name}`"
                if key in out:  # a record name may appear several times, with different labels
                    key = f"{key} {json.dumps(rule.get('labels', {}), sort_keys=True)}"
                out[key] = {**rule, "_file": path.name, "_group": group["name"]}
    return out


_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$')


def _matches(labels: dict[str, str], matcher: str) -> bool:
    found = _MATCHER.match(matcher)
    if found is None:
        return False
    name, op, value = found.groups()
    actual = labels.get(name, "")
    if op in ("=~", "!~"):
        hit = re.fullmatch(value, actual) is not None
        return hit if op == "=~" else not hit
    return (actual == value) if op == "=" else (actual != value)


def route_receiver(labels: dict[str, str], route: dict[str, Any]) -> str:
    """The receiver Alertmanager's route tree gives an alert with `labels` (first matching child, recursively)."""
    for child in route.get("routes", []):
        if all(_matches(labels, m) for m in child.get("matchers", [])):
            return route_receiver(labels, child) if child.get("routes") else child.get("receiver", route["receiver"])
    return route["receiver"]


def _alert_header(rule: dict[str, Any], head: Path) -> str:
    """What a reviewer needs of a new alert besides its expression: severity, `for` and where it goes."""
    labels = {"alertname": rule["alert"], **{k: str(v) for k, v in (rule.get("labels") or {}).items()}}
    am = _load(head / "alertmanager/alertmanager.yml") or {}
    receiver = route_receiver(labels, am["route"]) if "route" in am else "?"
    return (f" severity `{labels.get('severity', 'none')}`, for `{rule.get('for', '0s')}`, routed to "
            f"**{receiver}**")


def rules(base: Path, head: Path) -> list[str]:
    before, after = _rules(base), _rules(head)
    lines = []
    for k in after:
        if k not in before:
            header = _alert_header(after[k], head) if "alert" in after[k] else ""
            lines += [f"- **added** {k} ({after[k]['_file']}){header}:", *_block(after[k]["expr"], "  ")]
    lines += [f"- **removed** {k} ({before[k]['_file']})" for k in before if k not in after]
    for key in after:
        if key not in before:
            continue
        b, a = before[key], after[key]
        diffs = [f for f in ("expr", "for", "labels", "annotations") if b.get(f) != a.get(f)]
        if not diffs:
            continue
        lines.append(f"- **changed** {key} ({a['_file']}):")
        for field in diffs:
            if field in ("labels", "annotations"):
                for k, old, new in _changed_keys(b.get(field) or {}, a.get(field) or {}):
                    lines += _pair(f"{field[:-1]} `{k}`", old, new, "  ")
            else:
                lines += _pair(f"`{field}`", b.get(field), a.get(field), "  ")
    return lines


def alertmanager(base: Path, head: Path) -> list[str]:
    before = _mask(_load(base / "alertmanager/alertmanager.yml") or {})
    after = _mask(_load(head / "alertmanager/alertmanager.yml") or {})
    lines = []
    if before.get("route") != after.get("route"):
        for k, b, a in _changed_keys(before.get("route") or {}, after.get("route") or {}):
            lines += _pair(f"route `{k}`", b, a)
    lines += _named_changes("receiver", {r["name"]: r for r in before.get("receivers", [])},
                            {r["name"]: r for r in after.get("receivers", [])})
    for key in ("inhibit_rules", "global"):
        if before.get(key) != after.get(key):
            lines += _pair(f"`{key}`", before.get(key), after.get(key))
    return lines


def datasources(base: Path, head: Path) -> list[str]:
    before = {d["uid"]: d for d in (_load(base / "grafana/datasources.yml") or {}).get("datasources", [])}
    after = {d["uid"]: d for d in (_load(head / "grafana/datasources.yml") or {}).get("datasources", [])}
    lines = [f"- **added** datasource `{u}` ({after[u]['type']}, {after[u].get('url')})" for u in after if u not in before]
    lines += [f"- **removed** datasource `{u}`" for u in before if u not in after]
    for uid in after:
        if uid in before and after[uid] != before[uid]:
            for k, b, a in _changed_keys(_mask(before[uid]), _mask(after[uid])):
                lines += _pair(f"datasource `{uid}` `{k}`", b, a)
    return lines


def _panels(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p.get("title", f"panel {p.get('id')}"): p for p in panels(dashboard) if p.get("type") != "row"}


def _normal(panel: dict[str, Any]) -> dict[str, Any]:
    """A panel without what does not change its meaning: ids, positions, query ref ids."""
    clean = {k: v for k, v in panel.items() if k not in {"id", "gridPos"}}
    clean["targets"] = [{k: v for k, v in t.items() if k != "refId"} for t in panel.get("targets", [])]
    return json.loads(json.dumps(clean, sort_keys=True))


def _thresholds(panel: dict[str, Any]) -> Any:
    return ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("thresholds")


def dashboards(base: Path, head: Path) -> list[str]:
    files_b = {p.name: _load(p) for p in sorted((base / "grafana/dashboards").glob("*.json"))}
    files_a = {p.name: _load(p) for p in sorted((head / "grafana/dashboards").glob("*.json"))}
    lines = [f"- **added** dashboard `{n}` ({files_a[n].get('title')})" for n in files_a if n not in files_b]
    lines += [f"- **removed** dashboard `{n}`" for n in files_b if n not in files_a]
    for name in files_a:
        if name not in files_b:
            continue
        before, after = _panels(files_b[name]), _panels(files_a[name])
        title = files_a[name].get("title", name)
        entries = [f"  - panel **{t}** added" for t in after if t not in before]
        entries += [f"  - panel **{t}** removed" for t in before if t not in after]
        for t in after:
            if t not in before or _normal(before[t]) == _normal(after[t]):
                continue
            b, a = before[t], after[t]
            queries_b = [q.get("expr") or q.get("query") for q in b.get("targets", [])]
            queries_a = [q.get("expr") or q.get("query") for q in a.get("targets", [])]
            if queries_b != queries_a:
                for i in range(max(len(queries_b), len(queries_a))):
                    old = queries_b[i] if i < len(queries_b) else None
                    new = queries_a[i] if i < len(queries_a) else None
                    if old != new:
                        entries += _pair(f"panel **{t}** query changed", old, new, "  ")
            if _thresholds(b) != _thresholds(a):
                entries += _pair(f"panel **{t}** threshold changed", _thresholds(b), _thresholds(a), "  ")
            rest_b = {k: v for k, v in _normal(b).items() if k != "targets"}
            rest_a = {k: v for k, v in _normal(a).items() if k != "targets"}
            other = [k for k, _, _ in _changed_keys(rest_b, rest_a) if not k.startswith("fieldConfig.defaults.thresholds")]
            if other:
                entries.append(f"  - panel **{t}** settings changed: {', '.join(f'`{k}`' for k in other)}")
        meta = [k for k in sorted(set(files_a[name]) | set(files_b[name]))
                if k not in {"panels", "id", "version"} and files_a[name].get(k) != files_b[name].get(k)]
        if meta:
            entries.append("  - dashboard settings changed: " + ", ".join(f"`{k}`" for k in meta))
        if entries:
            lines.append(f"- `{name}` ({title}):")
            lines += entries
    return lines


def tempo(base: Path, head: Path) -> list[str]:
    before, after = _load(base / "tempo/tempo.yaml"), _load(head / "tempo/tempo.yaml")
    if before is None and after is None:
        return []
    if before is None or after is None:
        return ["- Tempo **enabled**" if before is None else "- Tempo **disabled**"]
    lines = []
    for k, b, a in _changed_keys(_mask(before), _mask(after)):
        lines += _pair(f"`{k}`", b, a)
    return lines


def deployment(base: Path, head: Path) -> list[str]:
    """Each change to what identifies a workload or its data, with what the providers do about it."""
    before, after = _load(base / "deployment.yaml"), _load(head / "deployment.yaml")
    if before is None or after is None:
        return []
    platform = after["platform"]
    lines = []

    def effect(field: str) -> str:
        verdict, cost = EFFECTS.get((platform, field), ("updates in place", ""))
        return f"**{verdict}**" + (f": {cost}" if cost else "")

    section = before.get(platform, {}), after.get(platform, {})
    for key in sorted(set(section[0]) | set(section[1])):
        if section[0].get(key) != section[1].get(key):
            lines.append(f"- `{platform}.{key}` {_code(section[0].get(key))} -> {_code(section[1].get(key))}: {effect(key)}")
    old, new = before.get("workloads", {}), after.get("workloads", {})
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"- `{name}` **added**")
        elif name not in new:
            lines.append(f"- `{name}` **removed**" + (": its volumes are kept (retained)" if "volumeSize" in old[name] else ""))
        else:
            for key in sorted(set(old[name]) | set(new[name])):
                if old[name].get(key) != new[name].get(key):
                    lines.append(f"- `{name}.{key}` {_code(old[name].get(key))} -> {_code(new[name].get(key))}: "
                                 f"{effect(key)}")
    return lines


def operator_resources(base: Path, head: Path) -> list[str]:
    """Operator mode's custom resources and ConfigMaps by kind and name (rules are in their own section;
    a dashboard ConfigMap is named, not printed)."""
    def objects(root: Path) -> dict[str, dict[str, Any]]:
        out = {}
        for path in sorted((root / "operator").glob("*.yaml")):
            obj = _load(path) or {}
            if obj.get("kind") == "PrometheusRule":
                continue
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            if obj.get("kind") == "ConfigMap":
                body["data"] = {k: f"{len(v)} bytes, sha256 {hashlib.sha256(v.encode()).hexdigest()[:12]}"
                                for k, v in obj.get("data", {}).items()}
            out[f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"] = _mask(body)
        return out
    return _named_changes("resource", objects(base), objects(head))


def other_files(base: Path, head: Path) -> list[str]:
    covered = {"prometheus/prometheus.yml", "alertmanager/alertmanager.yml", "grafana/datasources.yml",
               "tempo/tempo.yaml", "deployment.yaml"}

    def files(root: Path) -> dict[str, Path]:
        out = {}
        for p in root.rglob("*"):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and rel not in covered and not rel.startswith(("prometheus/rules/", "grafana/dashboards/",
                                                                         "operator/")):
                out[rel] = p
        return out

    fb, fa = files(base), files(head)
    lines = [f"- **added** `{r}`" for r in sorted(fa) if r not in fb]
    lines += [f"- **removed** `{r}`" for r in sorted(fb) if r not in fa]
    lines += [f"- **changed** `{r}`" for r in sorted(fa) if r in fb and fa[r].read_bytes() != fb[r].read_bytes()]
    return lines


SECTIONS = [
    ("What `pulumi up` does to workloads and data", deployment),
    ("Scrape jobs", scrape_jobs),
    ("Alert and recording rules", rules),
    ("Alertmanager routes and receivers", alertmanager),
    ("Prometheus Operator resources", operator_resources),
    ("Datasources", datasources),
    ("Dashboards", dashboards),
    ("Tempo", tempo),
    ("Other files", other_files),
]


def summarize(base: Path, head: Path, title: str | None = None) -> str:
    parts = []
    for heading, section in SECTIONS:
        lines = section(base, head)
        if lines:
            parts.append(f"### {heading}\n\n" + "\n".join(lines))
    header = f"## {title}\n\n" if title else ""
    return header + ("\n\n".join(parts) if parts else "no changes") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="render directory of the base (e.g. main)")
    parser.add_argument("head", type=Path, help="render directory of the head (the pull request)")
    parser.add_argument("--title", help="heading of the summary, e.g. the stack name")
    args = parser.parse_args(argv)
    for root in (args.base, args.head):
        if not (root / "deployment.yaml").exists():
            print(f"error: {root} is not a render directory (no deployment.yaml)", file=sys.stderr)
            return 2
    try:
        summary = summarize(args.base, args.head, args.title)
    except RenderError as error:
        print(f"error: {error}; re-render it with `python -m components.render`", file=sys.stderr)
        return 2
    except (AttributeError, KeyError, TypeError) as error:
        # A file parses but is not shaped like one a render writes (a field of the wrong type, a missing name).
        print(f"error: {args.base} or {args.head} holds a file not shaped like a render's ({type(error).__name__}: "
              f"{error}); re-render both with `python -m components.render`", file=sys.stderr)
        return 2
    sys.stdout.write(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
