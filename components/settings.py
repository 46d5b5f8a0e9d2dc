"""Typed stack settings: everything a `Pulumi.<stack>.yaml` can set.

`__main__.py` (through `pulumi.Config`) and the render command (reading the
stack file directly) both call `load_settings`, so a stack file means exactly
the same thing to a deployment and to a render. Components receive the parsed
model and never read configuration themselves.

Secrets are not part of the model: they are top-level config keys listed in
`SECRETS`, read with `Config.get_secret` and passed on as Pulumi secrets. The
model only decides which of them a stack requires (`required_secrets`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import defaults
from components.units import (
    cpu_millis,
    go_duration_seconds,
    prom_duration_seconds,
    prom_size_bytes,
    prom_size_from_bytes,
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


RemoteWriteKind = Literal["mimir", "cortex", "thanos", "victoriametrics", "generic"]
# Write path each kind's store serves, when the URL names only the host.
WRITE_PATHS = {"mimir": "/api/v1/push", "cortex": "/api/v1/push", "thanos": "/api/v1/receive"}
_VM_CLUSTER = re.compile(r"/insert/(?P<tenant>[^/]+)/prometheus(/api/v1/write)?/?")
_VM_TENANT = re.compile(r"\d+(:\d+)?")
# One authenticated target per stack: its credentials are these secrets.
REMOTE_WRITE_SECRETS = {"basic": "remoteWritePassword", "bearer": "remoteWriteToken"}


class RemoteWriteTls(Model):
    server_name: DnsName | None = Field(None, description="Server name to verify (SNI), when the URL's host is not it.")
    insecure_skip_verify: bool = Field(False, description="Skip certificate verification (test stores only).")
    ca_from_secret: bool = Field(False, description="Verify the store against the PEM bundle in secret remoteWriteCa.")


class RemoteWriteQueue(Model):
    """Overrides of the queue settings the capacity model derives from prometheus.expectedSeries."""

    capacity: int | None = Field(None, ge=1, description="Samples buffered per shard.")
    max_shards: int | None = Field(None, ge=1, description="Most parallel senders (the catch-up speed after an outage).")
    min_shards: int | None = Field(None, ge=1, description="Parallel senders at start.")
    max_samples_per_send: int | None = Field(None, ge=1, description="Samples per request.")
    batch_send_deadline: Duration | None = Field(None, description="Longest wait to fill a request.")
    max_backoff: Duration | None = Field(None, description="Longest wait between retries.")


class RemoteWriteTarget(Model):
    """One long-term store Prometheus writes every sample to."""

    url: HttpUrl = Field(description="Write URL; with a kind, the store's base URL is enough (the kind adds its path).",
                         examples=["https://mimir.example.com"])
    kind: RemoteWriteKind = Field(
        "generic", description="mimir, cortex (/api/v1/push, tenant in X-Scope-OrgID, HA dedup on cluster/__replica__), "
                               "thanos (/api/v1/receive, tenant in THANOS-TENANT), victoriametrics (/api/v1/write; "
                               "cluster: /insert/<accountID>/prometheus/api/v1/write), generic (the URL as given).")
    name: LabelValue | None = Field(None, description="Name of the queue (remote_name in its metrics) and of the "
                                                      "long-term datasource; defaults to the kind.")
    tenant: LabelValue | None = Field(None, description="Tenant: a header (mimir, cortex, thanos) or the account ID in "
                                                        "the path (victoriametrics cluster).")
    auth: Literal["none", "basic", "bearer"] = Field(
        "none", description="basic: username below, password from secret remoteWritePassword; bearer: token from "
                            "secret remoteWriteToken. Both are mounted as files, never written into prometheus.yml.")
    username: Text | None = Field(None, description="basic auth user name.")
    query_url: HttpUrl | None = Field(
        None, description="The store's Prometheus-compatible query URL, for Grafana's long-term datasource. Unset: "
                          "<base>/prometheus (mimir, cortex), the base (victoriametrics single-node); thanos and a "
                          "victoriametrics cluster need it (Thanos Query, vmselect).")
    write_relabel_configs: list[dict[str, Any]] = Field(
        default_factory=list, description="Prometheus write_relabel_configs, e.g. [{action: drop, source_labels: "
                                          "[__name__], regex: 'go_.*'}], applied before the kind's HA labels.")
    queue: RemoteWriteQueue = Field(default_factory=RemoteWriteQueue, description="Queue overrides.")
    tls: RemoteWriteTls | None = Field(None, description="TLS to the store.")

    @model_validator(mode="after")
    def _kind_fits(self) -> RemoteWriteTarget:
        path = re.sub(r"^https?://[^/]+", "", self.url).rstrip("/")
        kind = self.kind
        if kind in WRITE_PATHS and path and not path.endswith(WRITE_PATHS[kind]):
            raise FieldProblemError("url", f"{kind}'s write path is {WRITE_PATHS[kind]} ({path!r} given); give the "
                                    "store's base URL and the kind adds it", example=self.url[: len(self.url) - len(path)])
        if kind == "victoriametrics":
            cluster = _VM_CLUSTER.fullmatch(path + "/") or _VM_CLUSTER.fullmatch(path)
            if path.startswith("/insert/") and (cluster is None or not _VM_TENANT.fullmatch(cluster["tenant"])):
                raise FieldProblemError("url", "a VictoriaMetrics cluster URL needs the account ID: "
                                        "/insert/<accountID>/prometheus/api/v1/write",
                                        example="http://vminsert:8480/insert/0/prometheus/api/v1/write")
            if self.tenant is not None and not _VM_TENANT.fullmatch(self.tenant):
                raise FieldProblemError("tenant", "a VictoriaMetrics account ID is a number (accountID[:projectID])",
                                        example="0")
            if cluster and self.tenant is not None and cluster["tenant"] != self.tenant:
                raise FieldProblemError("tenant", f"the URL names account {cluster['tenant']}, the tenant "
                                        f"{self.tenant}", example=cluster["tenant"])
            if path and not cluster and self.tenant is not None:
                raise FieldProblemError("tenant", "a single-node VictoriaMetrics URL has no tenant; a cluster's is "
                                        "vminsert:8480/insert/<accountID>/prometheus", example="null")
            if self.query_url is None and (cluster or self.tenant is not None):
                raise FieldProblemError("queryUrl", "a VictoriaMetrics cluster is queried through vmselect: give its "
                                        "URL", example=f"http://vmselect:8481/select/{self.tenant or 0}/prometheus")
        if kind == "generic" and self.tenant is not None:
            raise FieldProblemError("tenant", "kind generic does not know where a tenant goes: set the kind",
                                    example="mimir")
        if kind == "thanos" and self.query_url is None:
            raise FieldProblemError("queryUrl", "Thanos Receive does not serve queries: give Thanos Query's URL",
                                    example="http://thanos-query:9090")
        if self.auth == "basic" and self.username is None:
            raise FieldProblemError("username", "basic auth needs the user name (the password is secret "
                                    "remoteWritePassword)", example="shannon")
        if self.auth != "basic" and self.username is not None:
            raise FieldProblemError("username", "username only applies to auth: basic", example="null")
        return self

    @property
    def queue_name(self) -> str:
        return self.name or self.kind

    @property
    def write_url(self) -> str:
        base = self.url.rstrip("/")
        path = re.sub(r"^https?://[^/]+", "", base)
        if path:
            if self.kind == "victoriametrics" and _VM_CLUSTER.fullmatch(path + "/") and not path.endswith("/write"):
                return base + "/api/v1/write"
            return base
        if self.kind == "victoriametrics":
            return base + (f"/insert/{self.tenant}/prometheus/api/v1/write" if self.tenant else "/api/v1/write")
        return base + WRITE_PATHS.get(self.kind, "")

    @property
    def headers(self) -> dict[str, str]:
        if self.tenant is None:
            return {}
        if self.kind in ("mimir", "cortex"):
            return {"X-Scope-OrgID": self.tenant}
        if self.kind == "thanos":
            return {"THANOS-TENANT": self.tenant}
        return {}

    @property
    def read_url(self) -> str | None:
        if self.query_url is not None:
            return self.query_url
        base = re.match(r"https?://[^/]+", self.url)
        assert base is not None
        if self.kind in ("mimir", "cortex"):
            return base.group(0) + "/prometheus"
        if self.kind == "victoriametrics":
            return base.group(0)
        return None

    @property
    def secret_key(self) -> str | None:
        return REMOTE_WRITE_SECRETS.get(self.auth)


class PrometheusSettings(Model):
    replicas: int = Field(1, ge=1, le=10, description="Prometheus replicas; 2 makes an HA pair deduplicated by Alertmanager.")
    scrape_interval: Duration = Field("15s", description="How often every target is scraped.", examples=["15s"])
    scrape_timeout: Duration = Field("10s",
            description="Per-scrape timeout; must not exceed the scrape interval.", examples=["10s"])
    evaluation_interval: Duration = Field("15s", description="How often rules are evaluated.", examples=["15s"])
    alert_resend_delay: Duration = Field("1m", description="How often Prometheus re-sends firing alerts to Alertmanager.")
    external_url: HttpUrl | None = Field(
        None, description="URL people reach Prometheus at (--web.external-url): the alerts' source links in Slack and "
                          "PagerDuty. Unset: the Service URL (Kubernetes) or http://127.0.0.1:<localPort> (Docker).")
    enable_lifecycle: bool = Field(
        False, description="Serve /-/reload and /-/quit (--web.enable-lifecycle) to anything that reaches the port. "
                           "Config changes roll the pods without it.")
    retention: Duration = Field("15d", description="Time-based retention (--storage.tsdb.retention.time).", examples=["15d"])
    volume_size: Quantity = Field(defaults.VOLUME_SIZES["prometheus"],
            description="Persistent volume size for the TSDB.", examples=["50Gi"])
    retention_size: PromSize | None = Field(
        None, description="Size-based retention; at most 85% of volumeSize. Unset: derived as 85% of volumeSize.",
        examples=["42GB"])
    resources: PrometheusResources = _resources("prometheus")
    local_port: Port = Field(9090, description="Docker only: port published on 127.0.0.1.")
    remote_write: list[RemoteWriteTarget] = Field(
        default_factory=list, description="Long-term stores every sample is also written to (Mimir, Cortex, Thanos "
                                          "Receive, VictoriaMetrics); see README \"Long-term storage\".")
    secrets_dir: str = Field("/etc/prometheus-secrets",
                             description="Where the remote-write credential files are mounted.")
    expected_series: int = Field(
        100_000, ge=1, description="Active series the remote-write queues are sized for "
                                   "(python -m components.capacity --remote-write).")

    @model_validator(mode="after")
    def _consistent(self) -> PrometheusSettings:
        if prom_duration_seconds(self.scrape_timeout) > prom_duration_seconds(self.scrape_interval):
            raise FieldProblemError("scrapeTimeout", f"scrape timeout {self.scrape_timeout} exceeds the scrape interval "
                               f"{self.scrape_interval}", example=self.scrape_interval)
        if self.retention_size is not None:
            limit = quantity_bytes(self.volume_size) * defaults.RETENTION_SIZE_SHARE
            if prom_size_bytes(self.retention_size) > limit:
                raise FieldProblemError(
                    "retentionSize",
                    f"retention size {self.retention_size} is larger than 85% of the volume "
                    f"({self.volume_size} allows at most {prom_size_from_bytes(int(limit))}); "
                    "Prometheus would fill the disk before deleting old blocks",
                    example=prom_size_from_bytes(int(limit)))
        return self

    @model_validator(mode="after")
    def _remote_writes_distinct(self) -> PrometheusSettings:
        names: dict[str, int] = {}
        authenticated = None
        for i, target in enumerate(self.remote_write):
            if target.queue_name in names:
                raise FieldProblemError(f"remoteWrite[{i}].name", f"{target.queue_name!r} is also remoteWrite"
                                        f"[{names[target.queue_name]}]'s name: queues need distinct names",
                                        example=f"{target.queue_name}-2")
            names[target.queue_name] = i
            if target.auth != "none":
                if authenticated is not None:
                    raise FieldProblemError(f"remoteWrite[{i}].auth", "only one remote-write target per stack can "
                                            "authenticate (its credential is secret remoteWritePassword or "
                                            f"remoteWriteToken; remoteWrite[{authenticated}] has it)", example="none")
                authenticated = i
        return self

    @property
    def effective_retention_size(self) -> str:
        """The configured retention size, or 85% of the volume rounded down."""
        if self.retention_size is not None:
            return self.retention_size
        return prom_size_from_bytes(int(quantity_bytes(self.volume_size) * defaults.RETENTION_SIZE_SHARE))


class Receiver(Model):
    """One Alertmanager receiver integration."""

    type: Literal["pagerduty", "slack", "webhook", "null"] = Field(
        description="pagerduty (routing key from secret pagerdutyRoutingKey), slack (webhook URL from secret "
                    "slackApiUrl), webhook (url below, or secret deadmanUrl for the deadman receiver), or null.")
    url: str | None = Field(None, description="webhook: the URL to POST to. pagerduty: an Events API URL override.")
    channel: Text | None = Field(None, description="slack: channel to post into, e.g. #shannon-alerts.")

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Receiver:
        if self.url is not None and not re.fullmatch(r"https?://[^\s]+", self.url):
            raise FieldProblemError("url", f"{self.url!r} is not an http(s) URL", example="http://127.0.0.1:9099/")
        if self.channel is not None and self.type != "slack":
            raise FieldProblemError("channel", "channel only applies to slack receivers")
        return self


class Receivers(Model):
    pager: Receiver = Field(default_factory=lambda: Receiver(type="pagerduty"),
                            description="Receives severity=critical alerts.")
    chat: Receiver = Field(default_factory=lambda: Receiver(type="slack", channel="#shannon-alerts"),
                           description="Receives severity=warning alerts.")
    deadman: Receiver = Field(default_factory=lambda: Receiver(type="webhook"),
                              description="Receives the always-firing Watchdog. A stack that pages (pager type "
                                          "pagerduty) requires its URL (url, or the secret deadmanUrl) unless "
                                          "deadmanOptOut says why not.")
    deadman_opt_out: str | None = Field(
        None, description="Why this paging stack runs without a dead-man's switch (then the Watchdog goes nowhere and "
                          "nobody learns that alerting itself is down).")

    @model_validator(mode="after")
    def _roles_fit(self) -> Receivers:
        for role in ("pager", "chat"):
            receiver: Receiver = getattr(self, role)
            if receiver.type == "webhook" and receiver.url is None:
                raise FieldProblemError(f"{role}.url", f"the {role} webhook receiver needs a url",
                                   example="http://127.0.0.1:9099/" + role)
            if receiver.type == "null":
                raise FieldProblemError(f"{role}.type", f"the {role} receiver cannot be null: its alerts would be dropped",
                                   example="webhook")
        if self.deadman_opt_out is not None and not self.deadman_opt_out.strip():
            raise FieldProblemError("deadmanOptOut", "the opt-out needs its reason", example="staging: no heartbeat service")
        if self.pages and self.deadman.type not in ("webhook", "null") and self.deadman_opt_out is None:
            raise FieldProblemError("deadman.type", "a paging stack's dead-man's switch is a webhook (a heartbeat service)",
                                    example="webhook")
        return self

    @property
    def pages(self) -> bool:
        """Whether critical alerts reach a pager: then silence of the alerting path must be noticed."""
        return self.pager.type == "pagerduty"

    @property
    def needs_deadman_secret(self) -> bool:
        """A paging stack with a webhook deadman without a URL needs the deadmanUrl secret (unless it opted out)."""
        return self.pages and self.deadman.type == "webhook" and self.deadman.url is None and self.deadman_opt_out is None


class RouteTiming(Model):
    group_wait: DurationOrZero = Field("30s", description="Wait before the first notification of a new group.")
    page_group_wait: DurationOrZero = Field(
        "10s", description="groupWait of the critical (pager) route: pages go out sooner than chat batches.")
    group_interval: Duration = Field("5m", description="Wait before notifying about new alerts in a group.")
    repeat_interval: Duration = Field("4h", description="Re-send a still-firing group after this long.")
    deadman_repeat_interval: Duration = Field("1m", description="Heartbeat period of the Watchdog to the deadman receiver.")


class AlertmanagerSettings(Model):
    replicas: int = Field(1, ge=1, le=7, description="Alertmanager replicas; more than 1 forms a gossip cluster on port 9094.")
    volume_size: Quantity = Field(defaults.VOLUME_SIZES["alertmanager"],
            description="Volume for silences and the notification log.")
    resources: AlertmanagerResources = _resources("alertmanager")
    local_port: Port = Field(9093, description="Docker only: port published on 127.0.0.1.")
    external_url: HttpUrl | None = Field(
        None, description="URL people reach Alertmanager at (--web.external-url): the links in Slack and PagerDuty "
                          "messages. Unset: the Service URL (Kubernetes) or http://127.0.0.1:<localPort> (Docker).")
    route: RouteTiming = Field(default_factory=RouteTiming, description="Notification timing of the route tree.")
    receivers: Receivers = Field(default_factory=Receivers, description="The pager, chat and deadman receivers.")
    secrets_dir: str = Field("/etc/alertmanager/secrets",
                             description="Where the receivers' credential files are mounted.")


class GrafanaIngress(Model):
    host: DnsName = Field(description="Public host name of Grafana, e.g. grafana.example.com.")
    class_name: str | None = Field(None, description="IngressClass to use.")
    tls_secret: str | None = Field(
        None, description="TLS Secret of the host: existing, issued by cert-manager (annotations), or created from the "
                          "secrets grafanaTlsCert/grafanaTlsKey (tlsFromSecrets).")
    tls_from_secrets: bool = Field(
        False, description="Create the tlsSecret from the secrets grafanaTlsCert and grafanaTlsKey (PEM).")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Ingress annotations, e.g. {\"cert-manager.io/cluster-issuer\": \"letsencrypt\"} "
                                          "to have cert-manager issue tlsSecret.")
    controller_namespace: DnsLabel = Field("ingress-nginx", description="Namespace of the ingress controller (NetworkPolicy).")
    controller_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "ingress-nginx"},
        description="Pod labels of the ingress controller (NetworkPolicy).")

    @model_validator(mode="after")
    def _tls_named(self) -> GrafanaIngress:
        issued = any(k.startswith("cert-manager.io/") for k in self.annotations)
        if (self.tls_from_secrets or issued) and self.tls_secret is None:
            raise FieldProblemError("tlsSecret", "name the TLS Secret that " + (
                "the secrets are written to" if self.tls_from_secrets else "cert-manager issues"), example="grafana-tls")
        return self


class GrafanaSettings(Model):
    content: Literal["api", "files"] = Field(
        "api", description="api: datasources, folder and dashboards through the Grafana API (pulumiverse grafana "
                           "provider); files: through provisioning files, for clusters whose Grafana API is not "
                           "reachable at deploy time.")
    url: str | None = Field(None, description="URL the Grafana provider uses with content=api, e.g. "
                                              "https://grafana.example.com; required on Kubernetes and with a remote "
                                              "Docker daemon. Unset on a local Docker: http://127.0.0.1:<localPort>.")
    root_url: str | None = Field(None, description="Grafana's public root URL (server.root_url).")
    admin_user: Text = Field("admin", description="Grafana admin user name.")
    local_port: Port = Field(3000, description="Docker only: port published on 127.0.0.1.")
    volume_size: Quantity = Field(defaults.VOLUME_SIZES["grafana"], description="Volume for Grafana's SQLite database.")
    resources: GrafanaResources = _resources("grafana")
    cookie_secure: bool = Field(False, description="Send cookies over HTTPS only (enable behind TLS).")
    cookie_samesite: Literal["lax", "strict", "none"] = Field(
        "lax", description="SameSite attribute of Grafana's cookies. lax keeps the session when a link from Slack or "
                           "PagerDuty opens Grafana; strict drops it, so every such link lands on the login page.")
    ingress: GrafanaIngress | None = Field(None, description="Expose Grafana through an Ingress (Kubernetes).")

    @model_validator(mode="after")
    def _url_shape(self) -> GrafanaSettings:
        for field, value in (("url", self.url), ("rootUrl", self.root_url)):
            if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
                raise FieldProblemError(field, f"{value!r} is not an http(s) URL", example="https://grafana.example.com")
        return self


class S3Settings(Model):
    bucket: str = Field(description="Bucket for trace blocks.")
    endpoint: HostPort = Field(description="S3 endpoint host[:port] without scheme or path, e.g. s3.eu-west-1.amazonaws.com "
                                           "or minio:9000.")
    region: str | None = Field(None, description="Bucket region.")
    insecure: bool = Field(False, description="Use plain HTTP (in-cluster MinIO only).")
    force_path_style: bool = Field(False, description="Path-style bucket addressing (MinIO).")


class TempoSettings(Model):
    enabled: bool = Field(True, description="Deploy Tempo and the OTLP endpoint.")
    retention: GoDuration = Field("336h", description="Trace block retention (Go duration, e.g. 336h for 14 days).")
    volume_size: Quantity = Field(defaults.VOLUME_SIZES["tempo"],
            description="Volume for the WAL, local blocks and generator WAL.")
    resources: TempoResources = _resources("tempo")
    metrics_generator: bool = Field(
        True, description="Service graphs and span metrics remote-written to Prometheus; turns on Prometheus's "
                          "remote-write receiver and exemplar storage with it.")
    storage: Literal["local", "s3"] = Field("local", description="Where trace blocks live.")
    s3: S3Settings | None = Field(None, description="Object storage; credentials from secrets s3AccessKey/s3SecretKey.")
    local_port: Port = Field(3200, description="Docker only: Tempo's HTTP API port published on 127.0.0.1.")
    otlp_grpc_local_port: Port = Field(4317, description="Docker only: OTLP gRPC port published on 127.0.0.1.")
    otlp_http_local_port: Port = Field(4318, description="Docker only: OTLP HTTP port published on 127.0.0.1.")

    @model_validator(mode="after")
    def _s3_when_needed(self) -> TempoSettings:
        if self.storage == "s3" and self.s3 is None:
            raise FieldProblemError("s3", "storage is s3 but no s3 bucket/endpoint is set",
                               example='{"bucket": "shannon-traces", "endpoint": "s3.amazonaws.com"}')
        return self


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


class ScrapeTarget(Model):
    """One Shannon service Prometheus scrapes: an entry of `shannon.targets`, merged by job name into the defaults."""

    job: str = Field(description="Job name; rules and dashboards select on it. A default job's name changes that "
                                 "job; any other name adds one.")
    enabled: bool = Field(True, description="false removes a default job (orchestrator, gateway, agent-core, "
                                            "llm-service), which its alerts and dashboards then lose; true turns on "
                                            "temporal (off by default: Shannon's compose serves no Temporal metrics).")
    port: Port | None = Field(None, description="Metrics port; required for a job that is not a default.")
    path: str = Field("/metrics", description="Metrics path.")
    component: str | None = Field(None, description="component label; defaults to the job name.")
    service: DnsLabel | None = Field(None,
            description="Kubernetes Service whose endpoints are scraped; defaults to the job name.")
    port_name: DnsLabel | None = Field(
        None, description="Operator mode: the Service port's name to scrape. Unset: the pods' container port "
                          "number `port` (ServiceMonitor targetPort; the container must declare it).")
    host: str | None = Field(None, description="Docker container name; defaults to the job name.")
    addresses: list[str] | None = Field(None, description="Static host:port list, overriding discovery.")

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
        return value

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        for i, address in enumerate(value or []):
            if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]:]+:\d+", address):
                raise FieldProblemError(f"[{i}]", f"{address!r} is not host:port", example="127.0.0.1:2112")
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


class KubernetesSettings(Model):
    namespace: DnsLabel = Field("monitoring", description="Namespace the stack is deployed into.")
    cluster_domain: DnsName = Field("cluster.local", description="Cluster DNS domain, for per-pod addresses.")
    storage_class: str | None = Field(None, description="StorageClass of the persistent volumes; cluster default if unset.")
    context: str | None = Field(None, description="kubeconfig context; the current context if unset.")
    create_namespace: bool = Field(
        True, description="Create (and own) the namespaces. false: deploy into existing ones the platform team owns, "
                          "labelled for Pod Security as the README says.")
    node_exporter_namespace: DnsLabel | None = Field(
        None, description="Namespace of node-exporter, the one workload that needs host access (Pod Security "
                          "privileged); defaults to <namespace>-node-exporter. The stack's namespace enforces restricted.")

    @property
    def host_namespace(self) -> str:
        return self.node_exporter_namespace or f"{self.namespace}-node-exporter"


class DockerSettings(Model):
    host: str | None = Field(None, description="Docker daemon address; DOCKER_HOST or the local socket if unset.")
    network: str = Field("shannon-observability", description="Network the stack creates for its containers.")
    shannon_network: str | None = Field(
        None, description="Existing network of Shannon's compose project (see `docker network ls`), joined by "
                          "Prometheus and Tempo so they reach Shannon's containers by name.")
    name_prefix: NamePrefix = Field("shannon-", description="Prefix of container and volume names.")

    @property
    def remote(self) -> bool:
        """A daemon on another machine: its published 127.0.0.1 ports are that machine's loopback, not ours."""
        if self.host is None or self.host.startswith(("unix://", "npipe://")):
            return False
        return not re.fullmatch(r"tcp://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/?", self.host)


class RulesSettings(Model):
    for_scale: float = Field(1.0, gt=0, le=1, description="Multiply every alert's `for:` by this (test stacks only).")
    max_for: Duration | None = Field(None, description="Cap every alert's `for:` (test stacks only).")
    range_overrides: dict[Duration, Duration] = Field(
        default_factory=dict, description="Replace PromQL range windows, e.g. {5m: 20s} (test stacks only).")
    runbook_base_url: str | None = Field(
        None, description="Base URL of docs/runbooks.md for runbook_url annotations, if the repository moved.")


LabelName = Annotated[str, _matching(r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
                                     "is not a Kubernetes label key", "label key")]


class SelectorRequirement(Model):
    key: LabelName = Field(description="Label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How the key's value is tested.")
    values: list[str] = Field(default_factory=list, description="Values for In and NotIn.")


class LabelSelector(Model):
    """A Kubernetes label selector, as a Prometheus or Alertmanager custom resource holds it."""

    match_labels: dict[LabelName, str] = Field(default_factory=dict, description="Labels that must all be present.")
    match_expressions: list[SelectorRequirement] = Field(default_factory=list, description="Further requirements.")


# What each selector of the operator's Prometheus / Alertmanager picks, by settings key.
OPERATOR_SELECTORS = ("rules", "ruleNamespaces", "serviceMonitors", "serviceMonitorNamespaces",
                      "alertmanagerConfigs", "alertmanagerConfigNamespaces")


class OperatorSelectors(Model):
    """The target Prometheus's and Alertmanager's selectors, as their custom resources hold them.

    A key left out takes kube-prometheus-stack's default for `operator.release`; `null` is the
    operator's null: nothing (resource selectors) or the Prometheus's own namespace (namespace selectors).
    """

    rules: LabelSelector | None = Field(None, description="Prometheus ruleSelector.")
    rule_namespaces: LabelSelector | None = Field(None, description="Prometheus ruleNamespaceSelector.")
    service_monitors: LabelSelector | None = Field(None, description="Prometheus serviceMonitorSelector.")
    service_monitor_namespaces: LabelSelector | None = Field(
        None, description="Prometheus serviceMonitorNamespaceSelector.")
    alertmanager_configs: LabelSelector | None = Field(None, description="Alertmanager alertmanagerConfigSelector.")
    alertmanager_config_namespaces: LabelSelector | None = Field(
        None, description="Alertmanager alertmanagerConfigNamespaceSelector.")


def _selector_field(key: str) -> str:
    return next(n for n, f in OperatorSelectors.model_fields.items() if f.alias == key)


class OperatorSettings(Model):
    """Prometheus Operator mode: Shannon's part as custom resources for the cluster's own operator."""

    enabled: bool = Field(False, description="Emit PrometheusRules, ServiceMonitors, an AlertmanagerConfig and "
                                             "Grafana sidecar ConfigMaps instead of deploying Prometheus, "
                                             "Alertmanager and Grafana (platform kubernetes only).")
    release: DnsLabel | None = Field(
        None, description="Helm release name of kube-prometheus-stack: its Prometheus selects rules and "
                          "ServiceMonitors labelled release=<name>, and its Services are named after it.")
    namespace: DnsLabel = Field("monitoring", description="Namespace of the operator's Prometheus, Alertmanager "
                                                          "and Grafana (the Grafana datasources go there).")
    prometheus_version: str = Field(
        "3.0.0", description="Version of the cluster's Prometheus; 3.0.0 or newer (the operator drops rule group "
                             "labels for older ones, and Shannon's alerts would lose their namespace label).",
        examples=["3.5.0"])
    matcher_strategy: Literal["OnNamespace", "None"] = Field(
        "OnNamespace", description="The Alertmanager's alertmanagerConfigMatcherStrategy.type. Either way the "
                                   "config receives exactly the alerts labelled namespace=<kubernetes.namespace>.")
    selectors: OperatorSelectors = Field(
        default_factory=OperatorSelectors, description="The operator's selectors, where they differ from "
                                                       "kube-prometheus-stack's defaults for `release`.")
    labels: dict[LabelName, str] = Field(default_factory=dict,
                                         description="Extra labels on every custom resource, for custom selectors.")
    namespace_labels: dict[LabelName, str] = Field(
        default_factory=dict, description="Labels the stack's namespace carries (set on it when the program "
                                          "creates it), for namespace selectors other than {}.")
    prometheus_url: HttpUrl | None = Field(
        None, description="In-cluster URL of the operator's Prometheus (Grafana datasource, Tempo's remote write). "
                          "Unset: kube-prometheus-stack's Service for `release`.")
    alertmanager_url: HttpUrl | None = Field(
        None, description="In-cluster URL of the operator's Alertmanager. Unset: kube-prometheus-stack's Service.")
    grafana: Literal["sidecar", "api"] = Field(
        "sidecar", description="sidecar: dashboards and datasources as ConfigMaps for kube-prometheus-stack's "
                               "Grafana sidecar; api: through the Grafana API (grafana.url, secret "
                               "grafanaAdminPassword).")
    release_datasources: bool = Field(
        True, description="The release's Grafana already provisions the Prometheus and Alertmanager datasources "
                          "(uids prometheus and alertmanager, kube-prometheus-stack's defaults): only Tempo's is "
                          "added. false: this stack provisions all three.")
    dashboard_folder: Text = Field("Shannon", description="Grafana folder of the dashboards (sidecar folder "
                                                          "annotation; needs the sidecar's folderAnnotation).")

    @field_validator("prometheus_version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", value)
        if not match:
            raise ValueError(f"{value!r} is not a version like 3.5.0")
        if int(match.group(1)) < 3:
            raise ValueError(f"Prometheus {value} is older than 3.0.0: the operator drops rule group labels for it, "
                             "so Shannon's alerts would not carry the namespace label their routing needs")
        return value.removeprefix("v")

    def selector(self, key: str) -> dict[str, Any] | None:
        """The selector at settings key `key` as the custom resource holds it (None: the operator's null)."""
        field_name = _selector_field(key)
        if field_name in self.selectors.model_fields_set:
            chosen: LabelSelector | None = getattr(self.selectors, field_name)
            return None if chosen is None else chosen.model_dump(by_alias=True, exclude_defaults=True)
        # kube-prometheus-stack: rules and ServiceMonitors by release label, everything else {} (all).
        if key in ("rules", "serviceMonitors") and self.release is not None:
            return {"matchLabels": {"release": self.release}}
        return {}

    @property
    def release_fullname(self) -> str | None:
        """kube-prometheus-stack's fullname: the release name if it contains the chart name, else
        <release>-kube-prometheus-stack, cut to 26 characters (its _helpers.tpl)."""
        if self.release is None:
            return None
        name = self.release if "kube-prometheus-stack" in self.release else f"{self.release}-kube-prometheus-stack"
        return name[:26].rstrip("-")


class StackSettings(Model):
    """Everything a stack can set. The stack name is not config; `load_settings` adds it."""

    stack: str = Field(description="The Pulumi stack name (not a config key).", exclude=True)
    platform: Literal["docker", "kubernetes"] = Field(
            description="docker (dev, pulumi-docker) or kubernetes (prod, pulumi-kubernetes).")
    environment: LabelValue | None = Field(None, description="environment external label; defaults to the stack name.")
    test_stack: bool = Field(
        False, description="A stack for tests only (the e2e suite): allows the rules.forScale, rules.maxFor and "
                           "rules.rangeOverrides knobs, which would stop real alerts from working.")
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings, description="Kubernetes platform settings.")
    docker: DockerSettings = Field(default_factory=DockerSettings, description="Docker platform settings.")
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings, description="Prometheus.")
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings, description="Alertmanager.")
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings, description="Grafana.")
    tempo: TempoSettings = Field(default_factory=TempoSettings, description="Tempo.")
    exporters: ExportersSettings = Field(default_factory=ExportersSettings, description="Exporters.")
    shannon: ShannonSettings = Field(default_factory=ShannonSettings, description="The Shannon services to watch.")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Rule rendering (test stacks).")
    operator: OperatorSettings = Field(default_factory=OperatorSettings,
                                       description="Prometheus Operator mode (kube-prometheus-stack clusters).")
    images: dict[str, str] = Field(default_factory=dict, description="Image overrides by component; exact tags only.")
    self_addresses: dict[str, list[str]] = Field(
        default_factory=dict, alias="addresses",
        description="Static host:port overrides for the stack's own components (prometheus, alertmanager, "
                    "alertmanager-peers, grafana, tempo, node-exporter, postgres, redis, blackbox-exporter); for test "
                    "stacks that run the binaries directly.")

    @field_validator("self_addresses")
    @classmethod
    def _known_addresses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = ("prometheus", "alertmanager", "alertmanager-peers", "grafana", "tempo", "node-exporter", "postgres",
                 "redis", "blackbox-exporter")
        for job, addresses in value.items():
            if job not in known:
                raise FieldProblemError(job, f"unknown job {job!r}; known: {', '.join(known)}")
            for i, address in enumerate(addresses):
                if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]:]+:\d+", address):
                    raise FieldProblemError(f"{job}[{i}]", f"{address!r} is not host:port", example="127.0.0.1:9090")
        return value

    @field_validator("images")
    @classmethod
    def _pinned(cls, images: dict[str, str]) -> dict[str, str]:
        for component, image in images.items():
            if component not in defaults.IMAGES:
                raise FieldProblemError(component, f"unknown component {component!r}; known: {', '.join(defaults.IMAGES)}")
            if not _is_pinned(image):
                raise FieldProblemError(component, f"image {image!r} is not pinned to an exact version",
                                   example=defaults.IMAGES[component])
        return images

    @model_validator(mode="after")
    def _test_knobs_on_test_stacks(self) -> StackSettings:
        rules = self.rules
        for key, used in (("forScale", rules.for_scale != 1), ("maxFor", rules.max_for is not None),
                          ("rangeOverrides", bool(rules.range_overrides))):
            if used and not self.test_stack:
                raise FieldProblemError(f"rules.{key}", "shortens alerts for tests; on a real stack it would stop "
                                        "alerts from working. Remove it, or declare a test stack with testStack: true",
                                        example="true")
        return self

    @model_validator(mode="after")
    def _local_ports_distinct(self) -> StackSettings:
        if self.platform != "docker":
            return self
        ports: dict[int, str] = {}
        for key, port in self.local_ports:
            if port in ports:
                raise FieldProblemError(key, f"local port {port} is also {ports[port]}'s", example=str(max(ports) + 1))
            ports[port] = key
        return self

    @property
    def own_components(self) -> bool:
        """Whether the stack runs its own Prometheus, Alertmanager and Grafana (not in operator mode)."""
        return not self.operator.enabled

    @property
    def local_ports(self) -> list[tuple[str, int]]:
        """Docker: (setting, port) of every port published on 127.0.0.1; replicas take the next ports."""
        ports = [("prometheus.localPort", self.prometheus.local_port + i) for i in range(self.prometheus.replicas)]
        ports += [("alertmanager.localPort", self.alertmanager.local_port + i) for i in range(self.alertmanager.replicas)]
        ports += [("grafana.localPort", self.grafana.local_port)]
        if self.tempo.enabled:
            ports += [("tempo.localPort", self.tempo.local_port), ("tempo.otlpGrpcLocalPort", self.tempo.otlp_grpc_local_port),
                      ("tempo.otlpHttpLocalPort", self.tempo.otlp_http_local_port)]
        return ports

    @model_validator(mode="after")
    def _operator_mode(self) -> StackSettings:
        op = self.operator
        if not op.enabled:
            return self
        if self.platform != "kubernetes":
            raise FieldProblemError("operator.enabled", "Prometheus Operator mode needs platform kubernetes",
                                    example="false")
        unset = [key for key in OPERATOR_SELECTORS if _selector_field(key) not in op.selectors.model_fields_set]
        if op.release is None and unset:
            raise FieldProblemError(
                "operator.release", "name kube-prometheus-stack's Helm release (its selectors are then known), or "
                f"give every selector explicitly (missing: {', '.join('operator.selectors.' + k for k in unset)})",
                example="kube-prometheus-stack")
        if op.release is None and (op.prometheus_url is None or op.alertmanager_url is None):
            raise FieldProblemError("operator.prometheusUrl", "without operator.release the Prometheus and "
                                    "Alertmanager URLs must be given (operator.prometheusUrl, operator.alertmanagerUrl)",
                                    example="http://prometheus-operated.monitoring.svc:9090")
        if self.prometheus.remote_write:
            raise FieldProblemError("prometheus.remoteWrite", "in operator mode the cluster's Prometheus writes to "
                                    "long-term storage: set remoteWrite on its Prometheus resource (kube-prometheus-"
                                    "stack: prometheus.prometheusSpec.remoteWrite)", example="[]")
        for key, exporter, why in (
                ("exporters.node.enabled", self.exporters.node.enabled,
                 "kube-prometheus-stack runs node-exporter (its job label is node-exporter, which Shannon's "
                 "node rules select)"),
                ("exporters.blackbox.enabled", self.exporters.blackbox.enabled,
                 "probes belong in the operator's Probe resources, which this mode does not emit yet")):
            if exporter:
                raise FieldProblemError(key, f"not in operator mode: {why}", example="false")
        return self

    @model_validator(mode="after")
    def _grafana_reachable(self) -> StackSettings:
        if self.operator.enabled:
            if self.operator.grafana == "api" and self.grafana.url is None:
                raise FieldProblemError("grafana.url", "operator.grafana=api needs the URL of the cluster's Grafana "
                                        "API", example="https://grafana.example.com")
            return self
        if self.grafana.content != "api" or self.grafana.url is not None:
            return self
        if self.platform == "kubernetes":
            raise FieldProblemError(
                "grafana.url", "with grafana.content=api on Kubernetes the program must reach Grafana's API: "
                "set its URL (e.g. the ingress), or use grafana.content=files", example="https://grafana.example.com")
        if self.docker.remote:
            raise FieldProblemError(
                "grafana.url", f"the Docker daemon is remote ({self.docker.host}), so Grafana is not on this machine's "
                "127.0.0.1: set the URL this machine reaches it at (e.g. through `ssh -N -L 3000:127.0.0.1:3000 "
                "<host>`: http://127.0.0.1:3000), or use grafana.content=files", example="http://127.0.0.1:3000")
        return self

    @property
    def environment_label(self) -> str:
        return self.environment or self.stack

    def image(self, component: str) -> str:
        return self.images.get(component, defaults.IMAGES[component])


def _is_pinned(image: str) -> bool:
    """An image reference with a digest, or a tag that names a version (not latest, not empty)."""
    name, _, tag = image.rpartition(":")
    # A digest is sha256 and 64 hex digits; a tag names a release to its patch: 12.4.3, not 12 or 12.4.
    if "@" in image:
        return bool(re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", image))
    return bool(name) and "/" not in tag and bool(re.fullmatch(r"v?\d+\.\d+\.\d+([-.+][\w.]+)?", tag))


# --- secrets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretSpec:
    key: str
    description: str
    example: str


SECRETS: dict[str, SecretSpec] = {s.key: s for s in [
    SecretSpec("grafanaAdminPassword", "Grafana admin password (optional: generated with RandomPassword if unset)",
               "'<a long random password>'"),
    SecretSpec("pagerdutyRoutingKey", "PagerDuty Events v2 integration (routing) key of the pager receiver",
               "'<32-character routing key>'"),
    SecretSpec("slackApiUrl", "Slack incoming-webhook URL of the chat receiver",
               "https://hooks.slack.com/services/T000/B000/XXXX"),
    SecretSpec("deadmanUrl", "Heartbeat URL the Watchdog is sent to (required where the pager is PagerDuty, unless "
                             "alertmanager.receivers.deadmanOptOut says why not)",
               "'https://hc-ping.com/<uuid>'"),
    SecretSpec("postgresDsn", "Postgres DSN for postgres-exporter",
               "'postgresql://exporter:<password>@postgres:5432/shannon?sslmode=disable'"),
    SecretSpec("redisAddr", "Redis address for redis-exporter, with password if any",
               "'redis://:<password>@redis:6379'"),
    SecretSpec("grafanaTlsCert", "PEM certificate (chain) of Grafana's ingress host (with grafana.ingress.tlsFromSecrets)",
               '"$(cat grafana.crt)"'),
    SecretSpec("grafanaTlsKey", "PEM private key of that certificate (with grafana.ingress.tlsFromSecrets)",
               '"$(cat grafana.key)"'),
    SecretSpec("remoteWritePassword", "Password of the remote-write target with auth: basic (and of its long-term "
                                      "datasource)", "'<password>'"),
    SecretSpec("remoteWriteToken", "Bearer token of the remote-write target with auth: bearer", "'<token>'"),
    SecretSpec("remoteWriteCa", "PEM CA bundle the remote-write store is verified against (tls.caFromSecret)",
               '"$(cat store-ca.pem)"'),
    SecretSpec("s3AccessKey", "Access key of Tempo's object storage", "'<access key id>'"),
    SecretSpec("s3SecretKey", "Secret key of Tempo's object storage", "'<secret access key>'"),
]}


def required_secrets(settings: StackSettings) -> list[str]:
    """Secret keys this stack cannot deploy without."""
    receivers = settings.alertmanager.receivers
    needed = []
    if receivers.pager.type == "pagerduty":
        needed.append("pagerdutyRoutingKey")
    if "slack" in (receivers.pager.type, receivers.chat.type):
        needed.append("slackApiUrl")
    if settings.exporters.postgres.enabled:
        needed.append("postgresDsn")
    if settings.exporters.redis.enabled:
        needed.append("redisAddr")
    for target in settings.prometheus.remote_write:
        if target.secret_key is not None:
            needed.append(target.secret_key)
        if target.tls is not None and target.tls.ca_from_secret and "remoteWriteCa" not in needed:
            needed.append("remoteWriteCa")
    if settings.tempo.enabled and settings.tempo.storage == "s3":
        needed += ["s3AccessKey", "s3SecretKey"]
    if receivers.needs_deadman_secret:
        needed.append("deadmanUrl")
    if settings.operator.enabled and settings.operator.grafana == "api":
        needed.append("grafanaAdminPassword")
    if settings.grafana.ingress is not None and settings.grafana.ingress.tls_from_secrets:
        needed += ["grafanaTlsCert", "grafanaTlsKey"]
    return needed


def used_secrets(settings: StackSettings, present: set[str]) -> list[str]:
    """Secret keys the deployment reads: the required ones plus optional ones that are set."""
    optional = []
    if "grafanaAdminPassword" in present and settings.own_components:
        optional.append("grafanaAdminPassword")
    deadman = settings.alertmanager.receivers.deadman
    if deadman.type == "webhook" and deadman.url is None and "deadmanUrl" in present \
            and not settings.alertmanager.receivers.needs_deadman_secret:
        optional.append("deadmanUrl")
    return required_secrets(settings) + optional


# --- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    key: str  # dotted config path, e.g. prometheus.retention or shannon.targets[2].job
    message: str
    fix: str


# Config namespaces other than the project's that a stack file may hold (provider settings).
PROVIDER_NAMESPACES = frozenset({"kubernetes", "docker", "grafana", "random", "pulumi", "aws", "gcp", "azure-native"})


def misspelled_namespace(namespace: str) -> bool:
    """A namespace that is not the project's nor a provider's, but close to the project's: a typo that
    would make every setting under it silently ignored."""
    if namespace == PROJECT or namespace in PROVIDER_NAMESPACES:
        return False
    return difflib.SequenceMatcher(None, namespace.lower(), PROJECT).ratio() >= 0.75


def misspelled_namespace_problems(keys: list[str], stack: str) -> list[Problem]:
    out = []
    for full_key in sorted(keys):
        namespace, _, key = full_key.partition(":")
        if key and misspelled_namespace(namespace):
            out.append(Problem(full_key, f"namespace {namespace!r} is not this project's ({PROJECT!r}): everything "
                                         "under it would be ignored",
                               f"pulumi config rm '{full_key}' --stack {stack}, then set it as '{PROJECT}:{key}'"))
    return out


def plain_credential_problem(key: str, stack: str) -> Problem:
    return Problem(key, "is a credential but is stored in plain text",
                   f"pulumi config set --secret {key} {SECRETS[key].example} --stack {stack}")


def secret_setting_problem(key: str, stack: str) -> Problem:
    return Problem(key, "is stored as a secret, but settings are written into plain configuration files",
                   f"`pulumi config rm {key} --stack {stack}`, then set its fields again without --secret "
                   f"(`pulumi config set --path '{key}.<field>' <value> --stack {stack}`); credentials belong in "
                   f"the secret keys ({', '.join(SECRETS)})")


class SettingsError(Exception):
    """Every problem with a stack's settings, each naming its key and the command that fixes it."""

    def __init__(self, stack: str, problems: list[Problem], missing_secrets: list[Problem] | None = None,
                 source: str | None = None) -> None:
        self.stack = stack
        self.problems = problems
        self.missing_secrets = missing_secrets or []
        self.source = source or f"Pulumi.{stack}.yaml"  # the stack file the settings came from
        super().__init__(self.render())

    def render(self) -> str:
        lines: list[str] = []
        if self.problems:
            lines.append(f"Invalid settings in stack '{self.stack}' ({self.source}), "
                         f"{len(self.problems)} problem(s):")
            for p in self.problems:
                lines += [f"  - {p.key}: {p.message}", f"      fix: {p.fix}"]
        if self.missing_secrets:
            lines.append(f"Missing required secrets in stack '{self.stack}', {len(self.missing_secrets)}:")
            for p in self.missing_secrets:
                lines += [f"  - {p.key}: {p.message}", f"      fix: {p.fix}"]
        return "\n".join(lines)


def _set_command(stack: str, key: str, example: str) -> str:
    if re.match(r"^[A-Za-z0-9]+$", key):
        return f"pulumi config set {key} {example} --stack {stack}"
    return f"pulumi config set --path '{key}' {example} --stack {stack}"


def _rm_command(stack: str, key: str) -> str:
    if re.match(r"^[A-Za-z0-9]+$", key):
        return f"pulumi config rm {key} --stack {stack}"
    return f"pulumi config rm --path '{key}' --stack {stack}"


def _join_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _example(parts: list[str | int]) -> str | None:
    """An example value for the field at `parts`, from its declared examples or default."""
    model: Any = StackSettings
    field = None
    for part in parts:
        if isinstance(part, int):
            continue
        fields = {(f.alias or name): f for name, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif inner:
            model = inner[0]
    if field is None:
        return None
    if field.examples:
        return str(field.examples[0])
    if field.default is not None and not callable(field.default) and str(field.default) != "PydanticUndefined":
        value = field.default
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def _problems_from(error: ValidationError, stack: str) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc: list[str | int] = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        # Pydantic names union/literal branches in the location; keep only real keys.
        loc = [p for p in loc if not (isinstance(p, str) and (p.startswith("literal[") or p in {"str", "int", "list[str]"}))]
        message = item["msg"].removeprefix("Value error, ")
        example = None
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, FieldProblemError):
            loc = loc + _split_path(ctx_error.field)
            message, example = ctx_error.message, ctx_error.example
        if item["type"] == "extra_forbidden":
            key = _join_path(loc)
            problems.append(Problem(key, "unknown key (a typo?); see the settings reference in README.md",
                                    _rm_command(stack, key)))
            continue
        if item["type"] == "missing":
            message = "required key is not set"
        key = _join_path(loc)
        if item["type"] == "literal_error" and "expected" in (item.get("ctx") or {}):
            options = [o.strip().strip("'") for o in re.split(r",| or ", str(item["ctx"]["expected"])) if o.strip()]
            close = difflib.get_close_matches(str(item["input"]), options, n=1, cutoff=0)
            example = close[0] if close else options[0]
        elif "ctx" in item and any(k in item["ctx"] for k in ("ge", "gt", "le", "lt")):
            message = f"{message} (got {item['input']!r})"
        example = example or _example(loc) or "<value>"
        if item["type"] == "literal_error" and message.startswith("Input should be"):
            message = f"{item['input']!r} is not allowed; {message[0].lower()}{message[1:]}"
        problems.append(Problem(key, message, _set_command(stack, key, _quote(example))))
    return problems


def _quote(value: str) -> str:
    return f"'{value}'" if re.search(r"[\s#{}\[\]\"$*]", value) else value


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts


def load_settings(stack: str, values: Mapping[str, Any], *, secrets_present: set[str] | None = None,
                  require_secrets: bool = True) -> StackSettings:
    """Parse a stack's config (top-level key -> value, without the project prefix).

    Raises SettingsError listing every invalid key and, when `require_secrets`,
    every required secret missing from `secrets_present`, each with its fix.
    """
    plain = {k: v for k, v in values.items() if k not in SECRETS}
    try:
        settings = StackSettings.model_validate({**plain, "stack": stack})
    except ValidationError as error:
        raise SettingsError(stack, _problems_from(error, stack)) from None
    if require_secrets:
        present = secrets_present or set()
        missing = [SECRETS[k] for k in required_secrets(settings) if k not in present]
        if missing:
            raise SettingsError(stack, [], [
                Problem(s.key, s.description, f"pulumi config set --secret {s.key} {s.example} --stack {stack}")
                for s in missing])
    return settings
