"""Prometheus: scraping, rules evaluation, storage and remote write."""

from __future__ import annotations

from pydantic import (
    Field,
    model_validator,
)

from components import defaults
from components.settings.remote_write import (
    RemoteWriteSecretKeys,
    RemoteWriteTarget,
)
from components.settings.types import (
    AbsolutePath,
    Duration,
    FieldProblemError,
    HttpUrl,
    LabelValue,
    Model,
    Port,
    PrometheusResources,
    PromSize,
    Quantity,
    _resources,
)
from components.units import (
    prom_duration_seconds,
    prom_size_bytes,
    prom_size_from_bytes,
    quantity_bytes,
)


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
    retention: Duration = Field(
        "30d", description="Time-based retention (--storage.tsdb.retention.time); at least the longest rule window "
                           "(the SLOs read 30 days).", examples=["30d"])
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
    secrets_dir: AbsolutePath = Field("/etc/prometheus-secrets",
                             description="Where the remote-write credential files are mounted.")
    expected_series: int = Field(
        100_000, ge=1, description="Active series the remote-write queues are sized for "
                                   "(venv/bin/python -m components.capacity --remote-write).")
    cluster: LabelValue | None = Field(
        None, description="This Prometheus's cluster identity: the `cluster` external label (added to series that lack "
                          "one) and the HA group of mimir and cortex stores. Required with remoteWrite: two clusters "
                          "writing one store or tenant must be told apart.", examples=["eu-west-1-prod"])

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
        users: dict[str, tuple[int, bool]] = {}  # secret key -> (target, named explicitly)
        sigv4_env: tuple[int, tuple[str, str]] | None = None
        for i, target in enumerate(self.remote_write):
            if target.queue_name in names:
                raise FieldProblemError(f"remoteWrite[{i}].name", f"{target.queue_name!r} is also remoteWrite"
                                        f"[{names[target.queue_name]}]'s name: queues need distinct names",
                                        example=f"{target.queue_name}-2")
            names[target.queue_name] = i
            explicit = {getattr(target.secret_keys, f) for f in target.secret_keys.model_fields_set}
            for key in target.secrets():
                if key in users and not (users[key][1] and key in explicit):
                    field_name = next(n for n, v in target.secret_keys if v == key)
                    alias = RemoteWriteSecretKeys.model_fields[field_name].alias
                    raise FieldProblemError(
                        f"remoteWrite[{i}].secretKeys.{alias}", f"remoteWrite[{users[key][0]}] already uses secret {key}: "
                        "give this target's credential its own key (or name the same key in both targets' secretKeys "
                        "to share it)", example=f"{key}{target.queue_name.title().replace('-', '').replace('.', '')}")
                users.setdefault(key, (i, key in explicit))
            if target.sigv4 is not None and target.sigv4.credentials_from_secrets:
                keys = (target.secret_keys.sigv4_access_key, target.secret_keys.sigv4_secret_key)
                if sigv4_env is not None and sigv4_env[1] != keys:
                    raise FieldProblemError(f"remoteWrite[{i}].sigv4.credentialsFromSecrets", "sigv4 keys from secrets "
                                            "are Prometheus's AWS environment, one per process; remoteWrite"
                                            f"[{sigv4_env[0]}] sets them already: use the pod's IAM role here",
                                            example="false")
                sigv4_env = (i, keys)
        if self.remote_write and self.cluster is None:
            raise FieldProblemError("cluster", "remote write needs this Prometheus's cluster identity: the store tells "
                                    "clusters (and a Mimir or Cortex HA pair's group) apart by it",
                                    example="eu-west-1-prod")
        return self

    @property
    def effective_retention_size(self) -> str:
        """The configured retention size, or 85% of the volume rounded down."""
        if self.retention_size is not None:
            return self.retention_size
        return prom_size_from_bytes(int(quantity_bytes(self.volume_size) * defaults.RETENTION_SIZE_SHARE))
