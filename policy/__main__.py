"""CrossGuard policy pack: `pulumi preview --stack prod --policy-pack policy`."""

from pulumi_policy import PolicyPack

from pack import build_policies

PolicyPack(name="shannon-observability-hardening", policies=build_policies())
