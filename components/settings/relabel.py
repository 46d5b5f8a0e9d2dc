"""Prometheus relabel configs as Prometheus itself reads them (model/relabel/relabel.go, Prometheus 3.5):
snake_case fields, the known actions, a regex that compiles, a target label its action allows."""

from __future__ import annotations

import re
from typing import Any

from components.settings.types import FieldProblemError

FIELDS = ("source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action")
ACTIONS = ("replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep",
           "lowercase", "uppercase")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# What `replace` accepts as target_label: a label name, possibly built from $1 / ${name} references.
_TARGET = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+")
_NEEDS_TARGET = ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def check(configs: list[Any], key: str) -> None:
    """Raise FieldProblemError naming `<key>[i].<field>` for the first config Prometheus would refuse."""
    for i, config in enumerate(configs):
        where = f"{key}[{i}]"
        if not isinstance(config, dict):
            raise FieldProblemError(where, "a relabel config is a mapping", example='{"action": "drop", "source_labels":'
                                    ' ["__name__"], "regex": "go_.*"}')
        for field in config:
            if field not in FIELDS:
                hint = _snake(str(field))
                raise FieldProblemError(f"{where}.{field}", "unknown relabel field" + (
                    f": Prometheus's relabel fields are snake_case: {hint}" if hint in FIELDS else
                    f" (known: {', '.join(FIELDS)})"), example=hint if hint in FIELDS else "source_labels")
        action = config.get("action", "replace")
        if action not in ACTIONS:
            close = [a for a in ACTIONS if sorted(a) == sorted(str(action))] or ["replace"]
            raise FieldProblemError(f"{where}.action", f"{action!r} is not a relabel action (known: "
                                    f"{', '.join(ACTIONS)})", example=close[0])
        regex = config.get("regex", "(.*)")
        try:
            re.compile(str(regex))
        except re.error as error:
            raise FieldProblemError(f"{where}.regex", f"{regex!r} does not compile: {error}", example="go_.*") from None
        for name in config.get("source_labels", []) or []:
            if not isinstance(name, str) or not _LABEL.fullmatch(name):
                raise FieldProblemError(f"{where}.source_labels", f"{name!r} is not a label name", example="__name__")
        target = config.get("target_label")
        if action in _NEEDS_TARGET and target is None:
            raise FieldProblemError(f"{where}.target_label", f"action {action} needs a target_label", example="job")
        if target is not None:
            pattern = _TARGET if action == "replace" else _LABEL
            if not isinstance(target, str) or not pattern.fullmatch(target):
                what = "a label name or a $1 template" if action == "replace" else "a label name"
                raise FieldProblemError(f"{where}.target_label", f"{target!r} is not {what}", example="cluster")
        if action == "hashmod" and not (isinstance(config.get("modulus"), int) and config["modulus"] > 0):
            raise FieldProblemError(f"{where}.modulus", "hashmod needs a positive modulus", example="4")
