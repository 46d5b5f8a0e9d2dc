"""Strict validation of the operator's custom resources against its CRD schemas at a pinned version.

The models are cloudcoil-models-prometheus-operator 0.80.1.0 (requirements-dev.txt), generated
from prometheus-operator v0.80.1's CRDs. Those schemas, and the models' pydantic config, accept
unknown fields and drop them silently; so an object is accepted only if it survives a round trip
through its model unchanged: a misspelled or unknown field, or a value the model coerces, is an error.
Route.routes is `List[Any]` in the CRD (a recursive type), so nested routes are checked one by one.
"""

from __future__ import annotations

from typing import Any

import pydantic
from cloudcoil.models.prometheus_operator import v1, v1alpha1

MODELS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): v1.PrometheusRule,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): v1.ServiceMonitor,
    ("monitoring.coreos.com/v1", "Probe"): v1.Probe,
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): v1alpha1.AlertmanagerConfig,
    ("monitoring.coreos.com/v1alpha1", "ScrapeConfig"): v1alpha1.ScrapeConfig,
}
OPERATOR_VERSION = "0.80.1"


def _differences(given: Any, kept: Any, path: str) -> list[str]:
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [f"{path}: became {kept!r}"]
        out = [f"{path}.{k}".lstrip(".") + ": unknown field" for k in given if k not in kept]
        for k in given:
            if k in kept:
                out += _differences(given[k], kept[k], f"{path}.{k}".lstrip("."))
        return out
    if isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            return [f"{path}: list changed"]
        return [d for i, (g, k) in enumerate(zip(given, kept, strict=True)) for d in _differences(g, k, f"{path}[{i}]")]
    if given != kept or type(given) is not type(kept):
        return [f"{path}: {given!r} became {kept!r}"]
    return []


def _strict(model: type[pydantic.BaseModel], data: Any, path: str) -> list[str]:
    try:
        parsed = model.model_validate(data)
    except pydantic.ValidationError as error:
        return [f"{path}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    return _differences(data, parsed.model_dump(by_alias=True, exclude_unset=True, mode="json"), path.rstrip("."))


def _routes(route: dict[str, Any], path: str) -> list[str]:
    out = []
    for i, child in enumerate(route.get("routes") or []):
        where = f"{path}.routes[{i}]"
        out += _strict(v1alpha1.Route, child, where + ".")
        out += _routes(child, where)
    return out


def problems(obj: dict[str, Any]) -> list[str]:
    """Every way `obj` departs from its CRD at OPERATOR_VERSION; [] when it is valid, strictly."""
    model = MODELS.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if model is None:
        return [f"no CRD model for {obj.get('apiVersion')}/{obj.get('kind')}"]
    found = _strict(model, obj, "")
    if obj["kind"] == "AlertmanagerConfig" and isinstance(obj.get("spec", {}).get("route"), dict):
        found += _routes(obj["spec"]["route"], "spec.route")
    return found
