"""CrossGuard policy pack: `pulumi preview --stack prod --policy-pack policy`."""

from pack import build_policies
from pulumi_policy import PolicyPack

PolicyPack(name="shannon-observability-hardening", policies=build_policies())
