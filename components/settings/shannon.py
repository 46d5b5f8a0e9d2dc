"""Shannon's services: which jobs are scraped, where and how."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    field_validator,
)

from components import defaults
from components.settings.types import (
    _JOB_NAME,
    Address,
    DnsLabel,
    FieldProblemError,
    Model,
    Port,
)


class ScrapeTarget(Model):
    """One Shannon service Prometheus scrapes: an entry of `shannon.targets`, merged by job name into the defaults."""

    job: str = Field(description="Job name; rules and dashboards select on it. A default job's name changes that "
                                 "job; any other name adds one.")
    enabled: bool = Field(True, description="false removes a default job (orchestrator, gateway, agent-core, "
                                            "llm-service), which its alerts and dashboards then lose; true turns on "
                                            "temporal (off by default: Shannon's compose serves no Temporal metrics).")
    port: Port | None = Field(None, description="Metrics port; required for a job that is not a default.")
    path: str = Field("/metrics", description="Metrics path (no query string: Prometheus would escape it).")
    component: str | None = Field(None, description="component label; defaults to the job name.")
    service: DnsLabel | None = Field(None,
            description="Kubernetes Service whose endpoints are scraped; defaults to the job name.")
    port_name: DnsLabel | None = Field(
        None, description="Operator mode: the Service port's name to scrape. Unset: the pods' container port "
                          "number `port` (ServiceMonitor targetPort; the container must declare it).")
    host: str | None = Field(None, description="Docker container name; defaults to the job name.")
    addresses: list[Address] | None = Field(None, description="Static host:port list, overriding discovery.")

    @field_validator("job")
    @classmethod
    def _job_name(cls, value: str) -> str:
        if not _JOB_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid job name (letters, digits, '_' and '-')")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        if not re.fullmatch(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*", value):
            raise ValueError(f"{value!r} is not a URL path (no query string, '#' or white space: Prometheus would "
                             "request it escaped, e.g. /metrics%3Fformat=prom)")
        return value


# Jobs the stack defines for its own components; Shannon targets must not reuse them.
RESERVED_JOBS = frozenset({"prometheus", "alertmanager", "grafana", "tempo", "node-exporter",
                           "postgres", "redis", "blackbox"})


class ShannonSettings(Model):
    namespace: DnsLabel = Field("shannon",
            description="Kubernetes namespace Shannon runs in (service discovery, OTLP NetworkPolicy).")
    targets: list[ScrapeTarget] = Field(
        default_factory=list,
        description="Changes to the scraped Shannon services, merged by job name into the defaults (orchestrator "
                    ":2112, gateway :8080, agent-core :2113, llm-service :8000/metrics; temporal :8000 is off "
                    "until enabled): a new job is added, a default job's fields are changed, `enabled: false` "
                    "removes one.")

    @field_validator("targets")
    @classmethod
    def _unique_jobs(cls, targets: list[ScrapeTarget]) -> list[ScrapeTarget]:
        seen: dict[str, int] = {}
        defaults_ = {str(t["job"]) for t in defaults.SHANNON_TARGETS}
        for i, target in enumerate(targets):
            if target.job in RESERVED_JOBS:
                raise FieldProblemError(f"[{i}].job", f"job {target.job!r} is reserved for the stack's own components",
                                   example=f"{target.job}-app")
            if target.job in seen:
                raise FieldProblemError(f"[{i}].job",
                                   f"duplicate job name {target.job!r} (also targets[{seen[target.job]}].job); "
                                   "every job name must be unique", example=f"{target.job}-2")
            if target.job not in defaults_ and target.port is None and target.enabled:
                raise FieldProblemError(f"[{i}].port", f"{target.job!r} is a new job: it needs its metrics port",
                                        example="8080")
            seen[target.job] = i
        return targets

    @property
    def scrape_targets(self) -> list[ScrapeTarget]:
        """The jobs scraped: the defaults, changed or removed by `targets`, then the added ones, in order."""
        entries = {t.job: t for t in self.targets}
        out = []
        for default in defaults.SHANNON_TARGETS:
            base = ScrapeTarget.model_validate(default)
            entry = entries.pop(base.job, None)
            if entry is None:
                if base.enabled:
                    out.append(base)
            elif entry.enabled:
                given = entry.model_dump(exclude_unset=True, exclude={"enabled"})
                out.append(base.model_copy(update={k: getattr(entry, k) for k in given}))
        out += [t for t in entries.values() if t.enabled]
        return out
