"""Tempo: retention, storage (local or S3) and the metrics-generator."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from components import defaults
from components.settings.types import (
    BucketName,
    FieldProblemError,
    GoDuration,
    HostPort,
    Model,
    Port,
    Quantity,
    TempoResources,
    _resources,
)


class S3Settings(Model):
    bucket: BucketName = Field(description="Bucket for trace blocks.")
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
        if self.storage == "local" and self.s3 is not None:
            raise FieldProblemError("s3", "has no effect: storage is local, so traces stay on the volume. Set "
                                    "tempo.storage: s3 to use the bucket, or remove tempo.s3 (pulumi config)",
                                    example="s3")
        return self
