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
_HOST = (r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
         r"|\[[0-9A-Fa-f:.]+\])")
_URL = re.compile(r"(?P<scheme>https?)://(?P<authority>[^\s/?#]+)(?P<path>/[^\s?#]*)?")


def _port_ok(port: str) -> bool:
    return port.isascii() and port.isdigit() and 1 <= int(port) <= 65535


def http_url_problem(value: str, secret: str | None = None) -> str | None:
    """Why `value` is not an http(s) URL the consumers take (no credentials in it, a valid port); None if it is."""
    match = _URL.fullmatch(value)
    if match is None:
        return f"{value!r} is not an http(s) URL, e.g. https://prometheus.example.com"
    authority = match["authority"]
    if "@" in authority:
        where = f"the secret {secret}" if secret else "a Pulumi secret"
        return ("has credentials in it (user:password@), which would be written in plain text into the rendered "
                f"configuration: remove them and give them as {where}")
    host, _, port = authority.rpartition(":") if not authority.endswith("]") else (authority, "", "")
    if not host:
        host, port = authority, ""
    if port and not _port_ok(port):
        return f"{value!r}: port {port} is not between 1 and 65535"
    if not re.fullmatch(_HOST, host):
        return f"{value!r}: {host!r} is not a host name or address"
    return None


def _url_type(secret: str | None) -> AfterValidator:
    @_kind("http(s) URL")
    def check(value: str) -> str:
        if (problem := http_url_problem(value, secret)) is not None:
            raise ValueError(problem)
        return value
    return AfterValidator(check)


HttpUrl = Annotated[str, _url_type(None)]
# URLs whose credentials have a secret of their own, named in the refusal.
ReceiverUrl = Annotated[str, _url_type("deadmanUrl (a webhook deadman) or the receiver's secret (pagerdutyRoutingKey, "
                                       "slackApiUrl)")]
StoreUrl = Annotated[str, _url_type("remoteWritePassword (auth: basic, with username) or remoteWriteToken "
                                    "(auth: bearer)")]


@_kind("host:port")
def _host_port_address(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not re.fullmatch(_HOST, host) or not _port_ok(port):
        raise ValueError(f"{value!r} is not host:port (a host name or address, and a port from 1 to 65535)")
    return value


Address = Annotated[str, AfterValidator(_host_port_address)]


@_kind("absolute path")
def _absolute_path(value: str) -> str:
    parts = value.split("/")
    if not value.startswith("/") or any(p in (".", "..") for p in parts) or re.search(r"\s", value) or value == "/":
        raise ValueError(f"{value!r} is not an absolute path without '.' or '..' (e.g. /etc/prometheus-secrets)")
    return value


AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]


@_kind("text without templates")
def _no_template(value: str) -> str:
    if "{{" in value or "}}" in value:
        raise ValueError(f"{value!r} holds template syntax ({{{{ }}}}), which Alertmanager or Prometheus would "
                         "expand (or fail on): give the plain value")
    return value


NoTemplate = AfterValidator(_no_template)

# Alertmanager matchers as amtool, alertmanager.yml and the operator's AlertmanagerConfig all read them: a label
# name, an operator and a double-quoted value (the one form every Alertmanager matcher parser accepts alike).
MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')
_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")


@_kind("Alertmanager matcher")
def _alert_matcher(value: str) -> str:
    match = MATCHER.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not an Alertmanager matcher: a label name, one of = != =~ !~, and a "
                         'double-quoted value, e.g. team="payments" or alertname=~"LLM.*"')
    _, op, pattern = match.groups()
    if op in ("=~", "!~"):
        if _RE2_UNSUPPORTED.search(pattern):
            raise ValueError(f"{value!r}: Alertmanager's regular expressions (Go RE2) have no lookaround and no "
                             "back-references")
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"{value!r}: the regular expression does not compile ({error})") from None
    return value


AlertMatcher = Annotated[str, AfterValidator(_alert_matcher)]
PromLabelName = Annotated[str, _matching(r"[a-zA-Z_][a-zA-Z0-9_]*", "is not a Prometheus label name (letters, "
                                         "digits and '_', not starting with a digit)", "label name")]

# Kubernetes: label and annotation keys are qualified names ([prefix/]name), label values at most 63
# characters (apimachinery validation.IsQualifiedName, IsValidLabelValue).
_QUALIFIED = re.compile(r"(?:(?=.{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"(?=.{1,63}\Z)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
QualifiedName = Annotated[str, _matching(_QUALIFIED.pattern, "is not a Kubernetes label or annotation key ([prefix/]"
                                         "name: letters, digits, '-', '_', '.', at most 63, starting and ending with "
                                         "a letter or digit)", "label key")]
K8sLabelValue = Annotated[str, _matching(r"(?:(?=.{1,63}\Z)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?",
                                         "is not a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', "
                                         "starting and ending with a letter or digit)", "label value")]
# S3 bucket names (AWS's rules, which MinIO follows): 3-63 lowercase letters, digits, '.', '-'.
BucketName = Annotated[str, _matching(r"(?=.{3,63}\Z)(?!.*\.\.)[a-z0-9][a-z0-9.-]*[a-z0-9]",
                                      "is not an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-', "
                                      "starting and ending with a letter or digit)", "bucket name")]
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
DockerName = Annotated[str, _matching(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*",
                                      "is not a Docker network name (letters, digits, '_', '.', '-'; starting with a "
                                      "letter or digit)", "Docker name")]


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
