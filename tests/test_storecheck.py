"""The store-side HA check (`python -m components.storecheck`), live against Debian's VictoriaMetrics 1.145.

The store is loaded with what an HA pair writes: two replicas scraping the same target 3 s apart, either
with `__replica__` kept (a Mimir or Cortex tenant without HA tracking stores it) or with identical labels
(victoriametrics). A store that deduplicates passes; one that does not fails, naming the store-side fix.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from components import storecheck
from tests.conftest import edited_stack_file, tool
from tests.e2e.harness import Process, free_port, ready

CLUSTER = "eu-west-1-prod"  # Pulumi.prod-longterm.yaml's prometheus.cluster


class Store:
    def __init__(self, work: Path, *flags: str) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = Process("vm", [tool("victoria-metrics"), f"-storageDataPath={work / 'data'}",
                                      f"-httpListenAddr={self.url.removeprefix('http://')}",
                                      "-search.latencyOffset=0s", "-search.disableCache", *flags], work / "vm.log")

    def __enter__(self) -> Store:
        self.process.start()
        deadline = time.monotonic() + 30
        while not ready(f"{self.url}/health"):
            assert self.process.alive and time.monotonic() < deadline, self.process.tail()
            time.sleep(0.2)
        return self

    def __exit__(self, *_: Any) -> None:
        self.process.stop()

    def load_pair(self, replica_label: str | None) -> None:
        """Ten minutes of `up` from both replicas of the pair, every 15 s, the second 3 s after the first."""
        now = int(time.time()) - 5
        lines = []
        for i, offset in enumerate((0, 3)):
            extra = f',{replica_label}="prometheus-{i}"' if replica_label else ""
            labels = f'cluster="{CLUSTER}",job="orchestrator",instance="10.0.0.5:2112"{extra}'
            lines += [f"up{{{labels}}} 1 {(now - 600 + t + offset) * 1000}" for t in range(0, 600, 15)]
        requests.post(f"{self.url}/api/v1/import/prometheus", data="\n".join(lines) + "\n",
                      timeout=30).raise_for_status()
        requests.get(f"{self.url}/internal/force_flush", timeout=30).raise_for_status()


@pytest.fixture()
def vm_stack(tmp_path: Path) -> Path:
    """prod-longterm writing to a VictoriaMetrics store instead of Mimir."""
    def edit(config: dict[str, Any]) -> None:
        config["shannon-observability:prometheus"]["remoteWrite"] = [
            {"url": "https://vm.example.com", "kind": "victoriametrics", "name": "vm"}]
    return edited_stack_file(tmp_path / "stack", "prod-longterm", edit)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = storecheck.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture()
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    with Store(tmp_path / "vm", *getattr(request, "param", ())) as running:
        yield running


def test_a_mimir_tenant_without_ha_tracking_fails(store: Store, capsys: pytest.CaptureFixture[str]):
    """Both replicas stored with `__replica__` (the tenant's HA tracker off): the check fails and names
    accept_ha_samples; the Mimir stack's own data shape (one replica kept) passes on another store."""
    store.load_pair("__replica__")
    code, out = _run(capsys, "--stack", "prod-longterm", "--query-url", store.url)
    assert code == 1 and "FAIL    one replica" in out and "accept_ha_samples" in out, out
    assert "ok    arriving" in out, out


def test_a_deduplicating_store_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """What an HA-tracking Mimir keeps (one replica, no `__replica__`): every check passes."""
    with Store(tmp_path / "one") as one:
        now = int(time.time()) - 5
        lines = [f'up{{cluster="{CLUSTER}",job="orchestrator",instance="10.0.0.5:2112"}} 1 {(now - 600 + t) * 1000}'
                 for t in range(0, 600, 15)]
        requests.post(f"{one.url}/api/v1/import/prometheus", data="\n".join(lines) + "\n", timeout=30)
        requests.get(f"{one.url}/internal/force_flush", timeout=30)
        code, out = _run(capsys, "--stack", "prod-longterm", "--query-url", one.url)
    assert code == 0 and "FAIL" not in out, out


def test_victoriametrics_without_dedup_fails_and_with_it_passes(tmp_path: Path, vm_stack: Path,
                                                                 capsys: pytest.CaptureFixture[str]):
    """Identical series from both replicas: without -dedup.minScrapeInterval each sample is stored twice and the
    check fails naming the flag; with the flag at the scrape interval it passes."""
    with Store(tmp_path / "plain") as plain:
        plain.load_pair(None)
        code, out = _run(capsys, "--stack", "prod-longterm", "--stack-file", str(vm_stack), "--query-url", plain.url)
    assert code == 1 and "-dedup.minScrapeInterval=15s" in out, out
    with Store(tmp_path / "dedup", "-dedup.minScrapeInterval=15s") as dedup:
        dedup.load_pair(None)
        code, out = _run(capsys, "--stack", "prod-longterm", "--stack-file", str(vm_stack), "--query-url", dedup.url)
    assert code == 0, out


@pytest.mark.parametrize("args,fragment", [
    (("--stack", "prod"), "no prometheus.remoteWrite target"),
    (("--stack", "prod-longterm", "--target", "nope"), "no remote-write target named 'nope'"),
    (("--stack", "prod-longterm", "--window", "ten minutes"), "ten minutes"),
    (("--stack", "prod-longterm", "--query-url", "http://127.0.0.1:9"), "error: asking http://127.0.0.1:9"),
])
def test_bad_input_gets_one_line(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], fragment: str):
    """A stack without remote write, an unknown target, a bad window or an unreachable store: exit 2 and one
    error line, no traceback."""
    code, out = _run(capsys, *args)
    assert code == 2 and fragment in out and "Traceback" not in out, out
    assert len([line for line in out.splitlines() if line.startswith("error:")]) == 1, out
