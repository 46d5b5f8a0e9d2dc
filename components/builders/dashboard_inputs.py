"""Dashboards exported from Grafana "for sharing externally": their `__inputs` resolved as Grafana's import does.

Such an export names its datasources `${DS_<NAME>}` and declares each in `__inputs` with its plugin type;
constants are `${VAR_<NAME>}` with a value. Grafana's import dialog replaces them textually throughout the
JSON; here a Prometheus input becomes the dashboards' `${datasource}` picker (added when the export has none),
Tempo and Alertmanager inputs the uids this stack provisions (renamed with them in operator mode), and each
constant its value. The dashboard then follows the built ones' conventions: tagged shannon, read-only. Pure.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from components.builders.grafana import ALERTMANAGER_UID, PROMETHEUS_VARIABLE, TEMPO_UID

PLUGIN_UIDS = {"prometheus": "${datasource}", "tempo": TEMPO_UID, "alertmanager": ALERTMANAGER_UID}
EXPORT_KEYS = ("__inputs", "__requires", "__elements")
_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _substitute(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), node)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    return node


def resolve_inputs(name: str, model: Any) -> tuple[Any, list[str]]:
    """The dashboard with its export inputs resolved and the export-only keys dropped, and the problems (an input
    of a plugin the stack provisions no datasource for, library panels); a model without `__inputs` is returned
    as it is."""
    if not isinstance(model, dict) or not any(key in model for key in EXPORT_KEYS):
        return model, []
    problems: list[str] = []
    values: dict[str, str] = {}
    for item in model.get("__inputs") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(f"{name}: __inputs entry {item!r} has no name")
            continue
        kind, plugin = item.get("type"), item.get("pluginId")
        if kind == "datasource" and plugin in PLUGIN_UIDS:
            values[item["name"]] = PLUGIN_UIDS[plugin]
        elif kind == "datasource":
            problems.append(f"{name}: input {item['name']} needs a {plugin!r} datasource; this stack provisions "
                            f"{', '.join(PLUGIN_UIDS)}: change the panels to one of them, or remove them")
        elif kind == "constant":
            values[item["name"]] = str(item.get("value", ""))
        else:
            problems.append(f"{name}: input {item['name']} is of type {kind!r}; an export has datasource and "
                            "constant inputs only")
    if model.get("__elements"):
        problems.append(f"{name}: holds library panels (__elements), which provisioning cannot create: unlink them "
                        "in Grafana (panel menu, More, Unlink library panel) and export again")
    if problems:
        return model, problems
    resolved = _substitute({k: v for k, v in model.items() if k not in EXPORT_KEYS}, values)
    templating = resolved.setdefault("templating", {}).setdefault("list", [])
    if not any(isinstance(v, dict) and v.get("name") == "datasource" for v in templating):
        templating.insert(0, copy.deepcopy(PROMETHEUS_VARIABLE))
    tags = resolved.get("tags") or []
    resolved["tags"] = tags if "shannon" in tags else [*tags, "shannon"]
    resolved["editable"] = False  # provisioned: Grafana could not save an edit anyway
    return resolved, []
