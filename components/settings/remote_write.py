"""Remote write to long-term stores: one target per store, with its kind's paths, tenants and credentials.

Credentials are secret config keys, mounted as files that prometheus.yml names (sigv4 reads the AWS
credential chain: the pod's role, or two secrets as environment variables). Each target names its
keys (`secretKeys`); the defaults serve one target, and a second target with the same kind of
credential names its own.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from components.settings import relabel
from components.settings.types import (
    DnsName,
    Duration,
    FieldProblemError,
    HttpUrl,
    LabelValue,
    Model,
    StoreUrl,
    Text,
    _matching,
)

RemoteWriteKind = Literal["mimir", "cortex", "thanos", "victoriametrics", "generic"]
# Write path each kind's store serves, when the URL names only the host (the first one), and the others it accepts:
# Grafana Cloud documents its Mimir's push endpoint as /api/prom/push (Cortex's legacy path, which Mimir serves).
WRITE_PATHS = {"mimir": ("/api/v1/push", "/api/prom/push"), "cortex": ("/api/v1/push", "/api/prom/push"),
               "thanos": ("/api/v1/receive",)}
_VM_CLUSTER = re.compile(r"/insert/(?P<tenant>[^/]+)/prometheus(/api/v1/write)?/?")
_VM_TENANT = re.compile(r"[0-9]+(:[0-9]+)?")
# A remote-write credential's secret config key: `remoteWrite` and a capitalised name.
SECRET_KEY = re.compile(r"remoteWrite[A-Z][A-Za-z0-9]{0,40}")
SecretKeyName = Annotated[str, _matching(SECRET_KEY.pattern, "is not a remote-write secret key (remoteWrite and a "
                                         "capitalised name, e.g. remoteWriteEuPassword)", "secret key")]


class RemoteWriteSecretKeys(Model):
    """The secret config keys of a target's credentials (`pulumi config set --secret <key> ...`)."""

    password: SecretKeyName = Field("remoteWritePassword", description="auth basic: the password.")
    token: SecretKeyName = Field("remoteWriteToken", description="auth bearer: the token.")
    oauth2_client_secret: SecretKeyName = Field("remoteWriteOauth2ClientSecret",
                                                description="auth oauth2: the client secret.")
    ca: SecretKeyName = Field("remoteWriteCa", description="tls.caFromSecret: the PEM CA bundle.")
    client_cert: SecretKeyName = Field("remoteWriteClientCert", description="tls.clientCertFromSecret: the PEM "
                                                                             "client certificate.")
    client_key: SecretKeyName = Field("remoteWriteClientKey", description="tls.clientCertFromSecret: its PEM key.")
    sigv4_access_key: SecretKeyName = Field("remoteWriteSigv4AccessKey",
                                            description="sigv4.credentialsFromSecrets: the AWS access key id.")
    sigv4_secret_key: SecretKeyName = Field("remoteWriteSigv4SecretKey",
                                            description="sigv4.credentialsFromSecrets: the AWS secret access key.")


class RemoteWriteTls(Model):
    server_name: DnsName | None = Field(None, description="Server name to verify (SNI), when the URL's host is not it.")
    insecure_skip_verify: bool = Field(False, description="Skip certificate verification (test stores only).")
    ca_from_secret: bool = Field(False, description="Verify the store against the PEM bundle in secret remoteWriteCa "
                                                     "(secretKeys.ca).")
    client_cert_from_secret: bool = Field(
        False, description="Authenticate with a client certificate: secrets remoteWriteClientCert and "
                           "remoteWriteClientKey (secretKeys.clientCert, secretKeys.clientKey).")


class RemoteWriteOauth2(Model):
    client_id: Text = Field(description="OAuth 2 client id (the client secret is secret remoteWriteOauth2ClientSecret).")
    token_url: HttpUrl = Field(description="The token endpoint.")
    scopes: list[Text] = Field(default_factory=list, description="Scopes to request.")
    endpoint_params: dict[str, str] = Field(default_factory=dict, description="Extra token request parameters.")


class RemoteWriteSigv4(Model):
    """AWS Signature v4 (Amazon Managed Service for Prometheus)."""

    region: Annotated[str, _matching(r"[a-z]{2}(-[a-z]+)+-[0-9]", "is not an AWS region, e.g. eu-west-1",
                                     "AWS region")] = Field(description="The workspace's region.")
    role_arn: Annotated[str, _matching(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+", "is not an IAM role ARN",
                                       "IAM role ARN")] | None = Field(None, description="Role to assume.")
    credentials_from_secrets: bool = Field(
        False, description="Take the access key from secrets remoteWriteSigv4AccessKey/remoteWriteSigv4SecretKey "
                           "(as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). false: the default AWS chain (the pod's "
                           "IAM role, e.g. EKS IRSA).")


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

    url: StoreUrl = Field(description="Write URL; with a kind, the store's base URL is enough (the kind adds its path).",
                         examples=["https://mimir.example.com"])
    kind: RemoteWriteKind = Field(
        "generic", description="mimir, cortex (/api/v1/push, tenant in X-Scope-OrgID, HA dedup on cluster/__replica__), "
                               "thanos (/api/v1/receive, tenant in THANOS-TENANT), victoriametrics (/api/v1/write; "
                               "cluster: /insert/<accountID>/prometheus/api/v1/write), generic (the URL as given).")
    name: LabelValue | None = Field(None, description="Name of the queue (remote_name in its metrics) and of the "
                                                      "long-term datasource; defaults to the kind.")
    tenant: LabelValue | None = Field(None, description="Tenant: a header (mimir, cortex, thanos) or the account ID in "
                                                        "the path (victoriametrics cluster).")
    auth: Literal["none", "basic", "bearer", "oauth2", "sigv4"] = Field(
        "none", description="basic: username below, password from secret remoteWritePassword; bearer: token from "
                            "secret remoteWriteToken; oauth2: client credentials (oauth2 below, secret "
                            "remoteWriteOauth2ClientSecret); sigv4: AWS (sigv4 below). Secrets are mounted as files, "
                            "never written into prometheus.yml. A client certificate is tls.clientCertFromSecret.")
    username: Text | None = Field(None, description="basic auth user name.")
    oauth2: RemoteWriteOauth2 | None = Field(None, description="auth oauth2: the client and token endpoint.")
    sigv4: RemoteWriteSigv4 | None = Field(None, description="auth sigv4: the region and role.")
    secret_keys: RemoteWriteSecretKeys = Field(
        default_factory=RemoteWriteSecretKeys, description="The secret keys of this target's credentials; a second "
                                                           "target with the same kind of credential names its own.")
    send_exemplars: bool | None = Field(
        None, description="Send exemplars (Tempo's trace ids) too. Unset: yes for mimir, cortex and thanos when "
                          "Prometheus stores exemplars; no for victoriametrics and generic.")
    query_url: StoreUrl | None = Field(
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
        relabel.check(self.write_relabel_configs, "writeRelabelConfigs")
        path = re.sub(r"^https?://[^/]+", "", self.url).rstrip("/")
        kind = self.kind
        if kind in WRITE_PATHS and path and not path.endswith(WRITE_PATHS[kind]):
            raise FieldProblemError("url", f"{kind}'s write path is {' or '.join(WRITE_PATHS[kind])} ({path!r} given); "
                                    "give the store's base URL and the kind adds it",
                                    example=self.url[: len(self.url) - len(path)])
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
        for auth, block in (("oauth2", self.oauth2), ("sigv4", self.sigv4)):
            if self.auth == auth and block is None:
                raise FieldProblemError(auth, f"auth {auth} needs its {auth} block",
                                        example='{"clientId": "shannon", "tokenUrl": "https://idp.example.com/token"}'
                                        if auth == "oauth2" else '{"region": "eu-west-1"}')
            if self.auth != auth and block is not None:
                raise FieldProblemError(auth, f"{auth} only applies to auth: {auth}", example="null")
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
        return base + (WRITE_PATHS[self.kind][0] if self.kind in WRITE_PATHS else "")

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

    def secrets(self) -> list[str]:
        """The secret config keys this target's credentials come from."""
        keys = self.secret_keys
        out = {"basic": [keys.password], "bearer": [keys.token], "oauth2": [keys.oauth2_client_secret],
               "sigv4": [keys.sigv4_access_key, keys.sigv4_secret_key]
               if self.sigv4 is not None and self.sigv4.credentials_from_secrets else []}.get(self.auth, [])
        if self.tls is not None and self.tls.ca_from_secret:
            out.append(keys.ca)
        if self.tls is not None and self.tls.client_cert_from_secret:
            out += [keys.client_cert, keys.client_key]
        return out

    def exemplars(self, stored: bool) -> bool:
        if self.send_exemplars is not None:
            return self.send_exemplars
        return stored and self.kind in ("mimir", "cortex", "thanos")
