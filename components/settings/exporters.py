"""The exporters: node, Postgres, Redis and blackbox."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from components.settings.types import (
    FieldProblemError,
    Model,
    Resources,
)


class Exporter(Model):
    enabled: bool = Field(False, description="Deploy this exporter.")
    resources: Resources | None = Field(None, description="Override the default requests and limit (all three keys).")


class NodeExporter(Exporter):
    enabled: bool = Field(True, description="Deploy node-exporter (DaemonSet on Kubernetes, one container on Docker).")


class BlackboxExporter(Exporter):
    targets: list[str] = Field(default_factory=list,
                               description="HTTP health URLs of Shannon services to probe, e.g. http://orchestrator:8081/health.")

    @model_validator(mode="after")
    def _something_to_probe(self) -> BlackboxExporter:
        if self.enabled and not self.targets:
            raise FieldProblemError("targets", "blackbox is enabled with nothing to probe",
                                    example='["http://orchestrator:8081/health"]')
        return self

    @field_validator("targets")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for i, url in enumerate(value):
            if not re.fullmatch(r"https?://[^\s]+", url):
                raise FieldProblemError(f"[{i}]", f"{url!r} is not an http(s) URL", example="http://orchestrator:8081/health")
        return value


class ExportersSettings(Model):
    node: NodeExporter = Field(default_factory=NodeExporter, description="Host metrics.")
    postgres: Exporter = Field(default_factory=Exporter, description="Postgres metrics; DSN from secret postgresDsn.")
    redis: Exporter = Field(default_factory=Exporter, description="Redis metrics; address from secret redisAddr.")
    blackbox: BlackboxExporter = Field(default_factory=BlackboxExporter, description="HTTP probes of Shannon health endpoints.")
