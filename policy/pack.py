"""Adapts the pure policies to pulumi-policy, all MANDATORY, honouring allowlist.yaml."""

from __future__ import annotations

from typing import Any

from policies import (
    RESOURCE_POLICIES,
    STACK_POLICY_DESCRIPTION,
    STACK_POLICY_NAME,
    Policy,
    Resource,
    allowed,
    load_allowlist,
    pdb_for_replicated,
)
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)


def _resource_policy(policy: Policy, allowlist: list[dict[str, str]]) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if allowed(policy.name, args.name, allowlist):
            return
        for message in policy.check(Resource(args.resource_type, args.name, dict(args.props))):
            report_violation(message, None)

    return ResourceValidationPolicy(name=policy.name, description=policy.description, validate=validate,
                                    enforcement_level=EnforcementLevel.MANDATORY)


def _stack_policy(allowlist: list[dict[str, str]]) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, dict(r.props)) for r in args.resources]
        by_name: dict[str, Any] = {r.name: r for r in args.resources}
        for name, message in pdb_for_replicated(resources):
            if not allowed(STACK_POLICY_NAME, name, allowlist):
                report_violation(f"{name}: {message}", by_name[name].urn)

    return StackValidationPolicy(name=STACK_POLICY_NAME, description=STACK_POLICY_DESCRIPTION, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    allowlist = load_allowlist()
    return [*(_resource_policy(p, allowlist) for p in RESOURCE_POLICIES), _stack_policy(allowlist)]
