"""Strict validation against the prometheus-operator CRDs themselves, at the version of .ci/crds.lock.

The CRD's openAPIV3Schema becomes a JSON schema with every object closed (`additionalProperties: false`
wherever it lists properties and neither preserves unknown fields nor declares additional ones), so an
unknown or misspelled field is an error, as the API server's strict field validation makes it.
`x-kubernetes-int-or-string` becomes integer-or-string. An AlertmanagerConfig's child routes are
`x-kubernetes-preserve-unknown-fields` in the CRD (a recursive type), so each is checked against the schema
of spec.route, as the operator does when it reads them. CEL rules (`x-kubernetes-validations`) are not
evaluated: nothing here runs them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.tools import ROOT, TOOLS

LOCK = ROOT / ".ci" / "crds.lock"


def _pin() -> tuple[str, str]:
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            module, version, _sha = line.split()
            return module, version
    raise LookupError(f"no module in {LOCK}")


VERSION = _pin()[1]
DIRECTORY = TOOLS.parent / "crds" / f"{Path(_pin()[0]).name}_{VERSION}"


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _closed(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in node and "additionalProperties" not in node \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1's `=` (the "value" tag) is a plain string in the CRDs' enums (label matcher operators)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))

# The CRDs of the kinds this project emits (the others are large and unused).
FILES = {"PrometheusRule": "prometheusrules", "ServiceMonitor": "servicemonitors", "Probe": "probes",
         "ScrapeConfig": "scrapeconfigs", "AlertmanagerConfig": "alertmanagerconfigs"}


@functools.cache
def _validators(kind: str) -> dict[str, jsonschema.Draft7Validator]:
    """Validators of `kind` by apiVersion."""
    if not (DIRECTORY / ".complete").exists():
        if os.environ.get("CI"):
            pytest.fail(f"the CRDs of {VERSION} are required in CI but not installed (.ci/install-tools.sh)")
        pytest.skip(f"CRDs {VERSION} not installed: run `make setup` (.ci/install-tools.sh)")
    if kind not in FILES:
        return {}
    crd = yaml.load((DIRECTORY / f"monitoring.coreos.com_{FILES[kind]}.yaml").read_text(), Loader=_Loader)
    group = crd["spec"]["group"]
    return {f"{group}/{v['name']}": jsonschema.Draft7Validator(_closed(v["schema"]["openAPIV3Schema"]))
            for v in crd["spec"]["versions"]}


def _errors(validator: jsonschema.Draft7Validator, data: Any, prefix: str) -> list[str]:
    return [f"{'.'.join([prefix, *(str(p) for p in e.absolute_path)]).strip('.') or '<root>'}: {e.message}"
            for e in validator.iter_errors(data)]


def _routes(validator: jsonschema.Draft7Validator, route: dict[str, Any], path: str) -> list[str]:
    route_schema = validator.schema["properties"]["spec"]["properties"]["route"]
    child_validator = jsonschema.Draft7Validator(route_schema)
    out = []
    for i, child in enumerate(route.get("routes") or []):
        out += _errors(child_validator, child, f"{path}.routes.{i}")
        out += _routes(validator, child, f"{path}.routes.{i}") if isinstance(child, dict) else []
    return out


def problems(obj: dict[str, Any]) -> list[str]:
    """Every way `obj` departs from its CRD at VERSION, unknown fields included; [] when it is valid."""
    validator = _validators(obj.get("kind", "")).get(obj.get("apiVersion", ""))
    if validator is None:
        return [f"no CRD {obj.get('apiVersion')}/{obj.get('kind')} in prometheus-operator {VERSION}"]
    found = _errors(validator, obj, "")
    route = obj.get("spec", {}).get("route")
    if obj["kind"] == "AlertmanagerConfig" and isinstance(route, dict):
        found += _routes(validator, route, "spec.route")
    return found
