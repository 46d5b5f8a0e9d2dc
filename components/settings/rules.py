"""Rule rendering knobs (test stacks) and the runbook base URL."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
)

from components.settings.types import (
    Duration,
    HttpUrl,
    Model,
    NoTemplate,
)


class RulesSettings(Model):
    for_scale: float = Field(1.0, gt=0, le=1, description="Multiply every alert's `for:` by this (test stacks only).")
    max_for: Duration | None = Field(None, description="Cap every alert's `for:` (test stacks only).")
    range_overrides: dict[Duration, Duration] = Field(
        default_factory=dict, description="Replace PromQL range windows, e.g. {5m: 20s} (test stacks only).")
    runbook_base_url: Annotated[HttpUrl, NoTemplate] | None = Field(
        None, description="Base URL of docs/runbooks.md for runbook_url annotations, if the repository moved.")
