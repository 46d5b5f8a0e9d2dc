"""Remote write to long-term stores: one target per store, with its kind's paths, tenants and credentials."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from components.settings.types import (
    DnsName,
    Duration,
    FieldProblemError,
    HttpUrl,
    LabelValue,
    Model,
    Text,
)

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
