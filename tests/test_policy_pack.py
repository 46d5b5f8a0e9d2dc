"""The policy pack over every resource of the real dev and prod mock runs: zero violations."""

from __future__ import annotations

import sys

from tests.conftest import ROOT, StackRun

sys.path.insert(0, str(ROOT / "policy"))

import policies


def _resources(run: StackRun) -> list[policies.Resource]:
    return [policies.Resource(r.type, r.name, r.inputs) for r in run.resources if r.custom]


def test_prod_has_no_policy_violations(prod_run: StackRun):
    """Every policy passes on every recorded prod resource (exceptions only from policy/allowlist.yaml)."""
    assert policies.evaluate(_resources(prod_run)) == []


def test_dev_has_no_policy_violations(dev_run: StackRun):
    """Every policy passes on every recorded dev resource."""
    assert policies.evaluate(_resources(dev_run)) == []


def test_the_allowlist_is_needed(prod_run: StackRun):
    """Without the allow-list the node-exporter's host access is reported: the exception is real, not stale."""
    found = policies.evaluate(_resources(prod_run), allowlist=[])
    assert found and all(v.startswith("no-host-access: shannon-node-exporter-daemonset") for v in found)
