"""The OpenTelemetry Collector built by .ci/install-tools.sh (.ci/otelcol) run for a test, and an OTLP gRPC sink
standing in for Tempo."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from components.builders.otel_collector import build_collector_config
from components.settings.tracing import CollectorSettings
from tests.e2e.harness import free_port
from tests.tools import TOOLS

BINARY = TOOLS / "bin" / "otelcol-shannon"


@dataclass
class Sink(trace_service_pb2_grpc.TraceServiceServicer):
    """Tempo's OTLP gRPC receiver, as far as the collector can tell: stores spans, or answers UNAVAILABLE."""

    down: bool = False
    spans: dict[str, list[dict[str, object]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,
               context: grpc.ServicerContext) -> trace_service_pb2.ExportTraceServiceResponse:
        if self.down:
            context.abort(grpc.StatusCode.UNAVAILABLE, "tempo is restarting")
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                service = resource.get("service.name", "")
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        attributes = {a.key: a.value.string_value for a in span.attributes}
                        self.spans[span.trace_id.hex()].append({"service": service, "name": span.name,
                                                                "attributes": attributes,
                                                                "resource": resource})
        return trace_service_pb2.ExportTraceServiceResponse()

    def traces(self) -> dict[str, list[dict[str, object]]]:
        with self.lock:
            return {k: list(v) for k, v in self.spans.items()}


@dataclass
class Collector:
    grpc_port: int
    metrics_port: int
    spanmetrics_port: int
    sink: Sink

    def metric(self, name: str) -> float:
        """Sum of a collector metric's samples."""
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


@contextmanager
def run_collector(work: Path, settings: CollectorSettings, enrich_namespace: str | None = None,
                  edit: Any = None, env: dict[str, str] | None = None) -> Iterator[Collector]:
    """The collector with the builder's config for `settings`: only the listen addresses (loopback ports) and
    Tempo's endpoint (the sink) changed, then `edit(config)` if given."""
    if not BINARY.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{BINARY} is required in CI (.ci/install-tools.sh builds it)")
        pytest.skip(f"{BINARY} missing: run `bash .ci/install-tools.sh`")
    sink = Sink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    sink_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    ports = {"grpc": free_port(), "http": free_port(), "metrics": free_port(), "health": free_port(),
             "spanmetrics": free_port()}
    config = build_collector_config(settings, f"127.0.0.1:{sink_port}", listen_host="127.0.0.1", ports=ports,
                                    enrich_namespace=enrich_namespace)
    if edit is not None:
        edit(config)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    log = (work / "collector.log").open("w")
    process = subprocess.Popen([str(BINARY), f"--config={work / 'config.yaml'}"], stdout=log,
                               stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{ports['health']}/", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, (work / "collector.log").read_text()
            time.sleep(0.2)
        else:
            raise AssertionError("the collector did not become healthy:\n" + (work / "collector.log").read_text())
        yield Collector(ports["grpc"], ports["metrics"], ports["spanmetrics"], sink)
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.stop(0)
        log.close()
