"""The collector config builder: what the real collector (built from .ci/otelcol) accepts, the pipeline order,
and the settings it refuses."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from components.builders.otel_collector import build_collector_config
from components.settings.tracing import CollectorSettings
from tests.tools import TOOLS

BINARY = TOOLS / "bin" / "otelcol-shannon"


def _binary() -> Path:
    if not BINARY.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{BINARY} is required in CI (.ci/install-tools.sh builds it)")
        pytest.skip(f"{BINARY} missing: run `bash .ci/install-tools.sh`")
    return BINARY


@pytest.mark.parametrize("values", [
    {},
    {"sampling": {"keepErrors": False, "percentage": 0}},
    {"scrub": {"stripQueryStrings": False, "dropAttributes": []}},
    {"maxElapsedTime": "5s", "queueSize": 100},
    {"sampling": {"latencyThreshold": "500ms", "percentage": 100, "decisionWait": "30s", "numTraces": 1000}},
], ids=["defaults", "no-error-policy", "no-scrubbing", "short-retry-budget", "everything-kept"])
def test_the_collector_accepts_every_config_the_settings_allow(values: dict[str, Any], tmp_path: Path):
    """`otelcol-shannon validate` (the collector's own config check, the same release as the pinned image)
    accepts the config for the defaults and for each corner the settings allow."""
    config = build_collector_config(CollectorSettings.model_validate(values), "tempo:4317")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run([str(_binary()), "validate", f"--config={path}"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deprecated" not in result.stderr


def test_the_pipeline_limits_memory_first_scrubs_before_sampling_and_batches_last():
    """memory_limiter refuses data before anything holds it, nothing unscrubbed is buffered by tail sampling,
    and batching follows the sampling decision."""
    config = build_collector_config(CollectorSettings(), "tempo:4317")
    chain = config["service"]["pipelines"]["traces"]["processors"]
    assert chain == ["memory_limiter", "transform/scrub", "tail_sampling", "batch"]
    statements = config["processors"]["transform/scrub"]["trace_statements"][0]["statements"]
    assert 'delete_key(attributes, "http.request.header.authorization")' in statements
    assert 'replace_pattern(attributes["url.full"], "[?].*", "")' in statements


@pytest.mark.parametrize(("values", "where"), [
    ({"scrub": {"dropAttributes": ['x") or true or ("']}}, "dropAttributes"),
    ({"sampling": {"percentage": 101}}, "percentage"),
    ({"sampling": {"latencyThreshold": "fast"}}, "latencyThreshold"),
    ({"queueSize": 0}, "queueSize"),
])
def test_settings_that_would_break_the_config_are_refused(values: dict[str, Any], where: str):
    """An attribute key that would escape its OTTL string, a share above 100%, a duration that is none and an
    empty queue are refused by the model, naming the field."""
    with pytest.raises(pydantic.ValidationError) as error:
        CollectorSettings.model_validate(values)
    assert where in str(error.value)
