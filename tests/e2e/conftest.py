"""Fixtures of the end-to-end tests: one live stack per session (see harness.py), and a
timing table of the checks at the end of the run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Stack, build_stack, missing_binaries, start_stack, stop_stack


def _require_binaries() -> None:
    missing = missing_binaries()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"e2e binaries missing in CI: {missing} (.ci/run installs them)")
        pytest.skip(f"e2e binaries missing: {missing}; run `make setup`")


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _require_binaries()
    work = tmp_path_factory.mktemp("e2e")
    stack = build_stack(work)
    try:
        start_stack(stack)
        yield stack
    finally:
        stop_stack(stack)
        if os.environ.get("E2E_KEEP_LOGS"):
            shutil.copytree(work / "logs", Path(os.environ["E2E_KEEP_LOGS"]), dirs_exist_ok=True)


_TIMINGS: list[tuple[str, str, float]] = []
MEASUREMENTS: list[str] = []  # figures the checks measured (drain times), printed at the end of the run


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/e2e/" in report.nodeid:
        _TIMINGS.append((report.nodeid.split("::")[-1], report.outcome, report.duration))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIMINGS:
        terminalreporter.section("e2e checks")
        for name, outcome, duration in _TIMINGS:
            terminalreporter.write_line(f"{duration:7.1f}s  {outcome:7s}  {name}")
        terminalreporter.write_line(f"{sum(d for _, _, d in _TIMINGS):7.1f}s  total (checks, without start-up)")
    if MEASUREMENTS:
        terminalreporter.section("e2e measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
