"""Dashboards exported "for sharing externally": inputs resolved as Grafana's import resolves them, or refused."""

from __future__ import annotations

from typing import Any

import pytest

from components.builders.dashboard_inputs import resolve_inputs
from components.builders.grafana import TEMPO_UID


def _export(inputs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"__inputs": inputs, "__requires": [], "uid": "x", "title": "X", "tags": ["team"],
            "panels": [{"datasource": {"type": "tempo", "uid": "${DS_TEMPO}"}, "title": "${VAR_TITLE}"}], **extra}


def test_tempo_and_constants_resolve_and_conventions_apply():
    """A Tempo input maps to the provisioned Tempo uid, a constant is replaced wherever it is referenced, the
    export-only keys go, the Prometheus picker is added, and the dashboard is tagged shannon and read-only."""
    model, problems = resolve_inputs("x.json", _export([
        {"name": "DS_TEMPO", "type": "datasource", "pluginId": "tempo"},
        {"name": "VAR_TITLE", "type": "constant", "value": "Spans"}]))
    assert problems == []
    assert model["panels"][0] == {"datasource": {"type": "tempo", "uid": TEMPO_UID}, "title": "Spans"}
    assert "__inputs" not in model and "__requires" not in model
    assert model["templating"]["list"][0]["name"] == "datasource"
    assert model["tags"] == ["team", "shannon"] and model["editable"] is False


def test_a_model_without_export_keys_is_returned_unchanged():
    """A dashboard saved with plain "Export" (no __inputs) is not touched."""
    model = {"uid": "x", "panels": [{"datasource": {"uid": "${DS_UNDECLARED}"}}]}
    assert resolve_inputs("x.json", model) == (model, [])


@pytest.mark.parametrize(("inputs", "extra", "message"), [
    ([{"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"}], {}, "input DS_LOKI needs a 'loki' datasource"),
    ([{"name": "X", "type": "interval"}], {}, "input X is of type 'interval'"),
    ([{"type": "constant"}], {}, "has no name"),
    ([], {"__elements": {"abc": {"name": "library"}}}, "holds library panels"),
])
def test_what_the_stack_cannot_provide_is_refused(inputs: list[dict[str, Any]], extra: dict[str, Any], message: str):
    """An input of a datasource type the stack does not provision, an input type exports never have, a nameless
    input, and library panels are each refused with the file named."""
    _, problems = resolve_inputs("x.json", _export(inputs, **extra))
    assert len(problems) == 1 and problems[0].startswith("x.json: ") and message in problems[0]
