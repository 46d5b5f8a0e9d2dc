"""The live binaries are the pinned ones: what every promtool/amtool check and e2e test runs on."""

from __future__ import annotations

import re

import pytest

from tests import tools
from tests.conftest import tool


@pytest.mark.parametrize("name", sorted(tools.pins()))
def test_binary_reports_pinned_version(name: str):
    """Each binary in $SHANNON_TOOLS reports the upstream version .ci/tools.lock pins for it."""
    tool(name)  # skips locally, fails in CI, when it is not installed
    pin = tools.pins()[name]
    reported = tools.reported_version(name)
    assert re.search(rf"(?<![\d.]){re.escape(pin.upstream)}(?![\d.])", reported), (
        f"{name}: expected {pin.upstream} ({pin.package} {pin.version}), got: {reported[:200]}")


def test_version_check_rejects_another_version():
    """The comparison is exact on the version number: 3.5.3 is not 3.5.30 nor 13.5.3."""
    pattern = rf"(?<![\d.]){re.escape('3.5.3')}(?![\d.])"
    assert re.search(pattern, "prometheus, version 3.5.3+ds1 (branch: debian/sid)")
    assert not re.search(pattern, "prometheus, version 3.5.30")
    assert not re.search(pattern, "prometheus, version 13.5.3")


def test_alertmanager_templates_match_the_binary():
    """Debian's Alertmanager reads its default templates from /usr/share/prometheus/alertmanager:
    the installed ones are those of the pinned package, or Slack and PagerDuty messages lose fields."""
    tool("prometheus-alertmanager")
    pin = tools.pins()["prometheus-alertmanager"]
    shipped = tools.TOOLS / f"{pin.package}_{pin.version}" / "usr/share/prometheus/alertmanager/default.tmpl"
    installed = tools.TEMPLATES / "default.tmpl"
    assert installed.read_bytes() == shipped.read_bytes()
