"""Value types of the settings: durations, sizes, names and URLs as their consumers accept them, the
base model, and requests and limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import defaults
from components.units import (
    cpu_millis,
    go_duration_seconds,
    prom_duration_seconds,
    prom_size_bytes,
    quantity_bytes,
)

PROJECT = "shannon-observability"


class FieldProblemError(ValueError):
    """A cross-field check that names the exact key at fault (relative to its model)."""

    def __init__(self, field: str, message: str, example: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.example = example


def _kind(kind: str) -> Callable[[Callable[[str], str]], Callable[[str], str]]:
    """Name what a validator accepts, for the settings reference (components/docs.py)."""
    def mark(func: Callable[[str], str]) -> Callable[[str], str]:
        func.kind = kind  # type: ignore[attr-defined]
        return func
    return mark


def _positive(value: str, amount: float, what: str) -> str:
    if amount <= 0:
        raise ValueError(f"{value!r}: {what} must be more than zero")
    return value


@_kind("duration (e.g. 30s, 15d)")
def _prom_duration(value: str) -> str:
    return _positive(value, prom_duration_seconds(value), "a duration")


@_kind("duration (e.g. 30s; 0s allowed)")
def _prom_duration_or_zero(value: str) -> str:
    prom_duration_seconds(value)
    return value


@_kind("Go duration (e.g. 336h)")
def _go_duration(value: str) -> str:
    return _positive(value, go_duration_seconds(value), "a duration")


@_kind("quantity (e.g. 512Mi)")
def _quantity(value: str) -> str:
    return _positive(value, quantity_bytes(value), "a size")


@_kind("CPU (e.g. 250m)")
def _cpu(value: str) -> str:
    return _positive(value, cpu_millis(value), "a CPU request")


@_kind("size (e.g. 42GB)")
def _prom_size(value: str) -> str:
    return _positive(value, prom_size_bytes(value), "a size")


Duration = Annotated[str, AfterValidator(_prom_duration)]
DurationOrZero = Annotated[str, AfterValidator(_prom_duration_or_zero)]  # group waits: 0s sends at once
GoDuration = Annotated[str, AfterValidator(_go_duration)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Cpu = Annotated[str, AfterValidator(_cpu)]
PromSize = Annotated[str, AfterValidator(_prom_size)]
Port = Annotated[int, Field(ge=1, le=65535)]

_JOB_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")


def _matching(pattern: str, explain: str, kind: str) -> AfterValidator:
    """A validator: the whole value (no trailing newline) matches `pattern`, or `explain` says what it is not."""
    compiled = re.compile(pattern)

    @_kind(kind)
    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} {explain}")
        return value
    return AfterValidator(check)


DnsLabel = Annotated[str, _matching(r"(?=.{1,63}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?",
                                    "is not a DNS label (lowercase letters, digits and '-', at most 63 characters)",
                                    "DNS label")]
# Tempo's S3 client takes a bare host[:port] (minio-go's endpoint, see getEndpointURL and
# isValidEndpointURL): with a scheme or a path Tempo exits at start.
HostPort = Annotated[str, _matching(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?",
                                    "is not host[:port] (no scheme, no path), e.g. s3.eu-west-1.amazonaws.com or "
                                    "minio.storage:9000; use `insecure: true` for plain HTTP", "host[:port]")]
HttpUrl = Annotated[str, _matching(r"https?://[^\s/?#]+(/[^\s?#]*)?",
                                   "is not an http(s) URL, e.g. https://prometheus.example.com", "http(s) URL")]
DnsName = Annotated[str, _matching(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                                   "is not a DNS name (lowercase labels of letters, digits and '-', joined by '.')",
                                   "DNS name")]
Text = Annotated[str, _matching(r"\S(.*\S)?", "is empty, or has leading or trailing white space", "text")]
LabelValue = Annotated[str, _matching(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
                                      "is not a plain label value (letters, digits, '_', '.', '-'; starting with a "
                                      "letter or digit; at most 63)", "label value")]
# Docker container and volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*
NamePrefix = Annotated[str, _matching(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*",
                                      "cannot start a Docker container or volume name (letters, digits, '_', '.', "
                                      "'-'; starting with a letter or digit)", "name prefix")]


class Model(BaseModel):
    """Base for every settings model: camelCase keys as Pulumi config uses, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class Resources(Model):
    """CPU and memory requests plus a memory limit."""

    cpu: Cpu = Field(description="CPU request.", examples=["250m"])
    memory: Quantity = Field(description="Memory request.", examples=["512Mi"])
    memory_limit: Quantity = Field(description="Memory limit; the container is OOM-killed above it.", examples=["1Gi"])

    @model_validator(mode="after")
    def _limit_covers_request(self) -> Resources:
        if quantity_bytes(self.memory_limit) < quantity_bytes(self.memory):
            raise FieldProblemError("memoryLimit", f"memory limit {self.memory_limit} is below the request {self.memory}",
                               example=self.memory)
        return self


def default_resources(component: str) -> Resources:
    return Resources.model_validate(defaults.RESOURCES[component])


def _resources(component: str) -> Any:
    return Field(default_factory=lambda: default_resources(component),
                 description=f"Requests and memory limit for {component}; each key left out keeps its default.")


def _with_defaults(component: str) -> Any:
    """A partial `resources` object keeps the component's default for every key it leaves out."""
    def fill(value: Any) -> Any:
        return {**defaults.RESOURCES[component], **value} if isinstance(value, dict) else value
    return BeforeValidator(fill)


PrometheusResources = Annotated[Resources, _with_defaults("prometheus")]
AlertmanagerResources = Annotated[Resources, _with_defaults("alertmanager")]
GrafanaResources = Annotated[Resources, _with_defaults("grafana")]
TempoResources = Annotated[Resources, _with_defaults("tempo")]


LabelName = Annotated[str, _matching(r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
                                     "is not a Kubernetes label key", "label key")]
