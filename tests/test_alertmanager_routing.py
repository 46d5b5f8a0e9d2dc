"""Alertmanager routing of the rendered configs, proven with `amtool config routes test`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import tool

CASES = [
    # (labels, receiver)
    (["alertname=OrchestratorDown", "severity=critical", "service=shannon", "component=orchestrator"], "pager"),
    (["alertname=PolicyErrorRateHigh", "severity=critical", "service=shannon", "component=orchestrator"], "pager"),
    (["alertname=PolicyCacheHitRateLow", "severity=warning", "service=shannon", "component=orchestrator"], "chat"),
    (["alertname=TargetDown", "severity=warning", "service=shannon", "component=grafana"], "chat"),
    (["alertname=Watchdog", "severity=none"], "deadman"),
    (["alertname=SomethingInformational", "severity=info"], "null"),
    (["alertname=Unlabelled"], "chat"),
]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize(("labels", "receiver"), CASES, ids=[c[0][0].split("=")[1] + "-" + c[1] for c in CASES])
def test_route(rendered: dict[str, Path], stack: str, labels: list[str], receiver: str):
    """critical -> pager, warning -> chat, Watchdog -> deadman, info/none -> null, anything else -> chat."""
    config = rendered[stack] / "alertmanager/alertmanager.yml"
    result = subprocess.run([tool("amtool"), "config", "routes", "test", f"--config.file={config}",
                             f"--verify.receivers={receiver}", *labels],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{labels} routed to {result.stdout.strip()!r}, expected {receiver}"
    assert result.stdout.strip() == receiver


def test_route_test_fails_on_a_wrong_receiver(rendered: dict[str, Path]):
    """amtool's verification is live: asserting the wrong receiver fails."""
    config = rendered["prod"] / "alertmanager/alertmanager.yml"
    result = subprocess.run([tool("amtool"), "config", "routes", "test", f"--config.file={config}",
                             "--verify.receivers=chat", "severity=critical"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
