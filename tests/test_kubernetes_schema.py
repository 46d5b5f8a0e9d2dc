"""Every Kubernetes object of the prod mock run validates strictly against the Kubernetes 1.31 schema."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.conftest import StackRun

KUBERNETES_VERSION = "1.31.0"


def _ints(value: Any) -> Any:
    """Pulumi's mocks turn integers into floats; the schema wants integers back."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def strict_failures(run: StackRun) -> list[str]:
    """Every recorded built-in Kubernetes object of `run` that fails strict validation (unknown fields rejected),
    with the reason; custom resources are left to their CRD check (tests/crd.py)."""
    failures = []
    for resource in run.kubernetes_objects():
        if "monitoring.coreos.com" in resource.type:
            continue
        try:
            kubernetes_validate.validate(_ints(resource.inputs), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{resource.type} {resource.name}: {error.message}")
    return failures


def test_prod_objects_validate_strictly(prod_run: StackRun):
    """Strict validation (unknown fields rejected) of every recorded Kubernetes object; all failures reported."""
    assert len(prod_run.kubernetes_objects()) > 40
    failures = strict_failures(prod_run)
    assert not failures, "\n".join(failures)


def test_validator_rejects_a_broken_object(prod_run: StackRun):
    """The strict schema check is live: a misspelt field in a real object fails it."""
    sts = next(r for r in prod_run.kubernetes_objects() if r.type.endswith(":StatefulSet"))
    broken = _ints(sts.inputs)
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)



def test_no_network_policy_sends_an_empty_rule_list(prod_run: StackRun):
    """No NetworkPolicy carries an empty `ingress` or `egress` list: the API server stores none, so a server-side
    apply of `ingress: []` is a change on every `pulumi up` (the deny-all policy bumped its generation on every
    apply against kube-apiserver 1.36, tests/e2e/test_apiserver.py). Deny-all is `policyTypes` without rules."""
    found = [f"{r.name}: {key}" for r in prod_run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
             for key in ("ingress", "egress") if r.inputs["spec"].get(key) == []]
    assert not found, found
