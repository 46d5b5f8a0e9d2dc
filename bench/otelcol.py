"""`python -m bench.otelcol`: what one OpenTelemetry Collector replica with the stack's config sustains.

The collector built by .ci/install-tools.sh (.ci/otelcol) runs the dev stack's rendered config (tail sampling,
scrubbing, span metrics, the queued exporter; only listen addresses and Tempo's endpoint changed) pinned to
`--cpus` cores with taskset. Senders push OTLP gRPC export requests of Shannon-shaped traces (orchestrator ->
agent-core -> llm-service, `--error-share` of them failing) as fast as they can for `--seconds`; a counting sink
stands in for Tempo. Printed: spans/s accepted and refused, traces/s, spans/s sent on to Tempo, peak RSS.
A benchmark, not a test: nothing asserts a figure. The senders run on this machine too, so the figure is a
lower bound of the collector's own capacity when they share its cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import requests
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from components.builders.otel_collector import build_collector_config
from components.stackfile import load_stack
from components.units import prom_duration_seconds, quantity_bytes
from tests.e2e.harness import free_port
from tests.tools import TOOLS

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("orchestrator", "agent-core", "llm-service")


class CountingSink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = 0
        self.lock = threading.Lock()

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,  # noqa: N802 (the gRPC method)
               context: grpc.ServicerContext) -> trace_service_pb2.ExportTraceServiceResponse:
        n = sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)
        with self.lock:
            self.spans += n
        return trace_service_pb2.ExportTraceServiceResponse()


def _request(traces: int, error_share: float, seed: int) -> trace_service_pb2.ExportTraceServiceRequest:
    """`traces` three-span traces, each service's spans under its own resource, as Shannon's SDKs send them."""
    now = time.time_ns()
    per_service: dict[str, list[Span]] = {s: [] for s in SERVICES}
    for i in range(traces):
        trace_id = os.urandom(16)
        failed = (seed + i) % max(1, round(1 / error_share)) == 0 if error_share > 0 else False
        parent = b""
        for depth, service in enumerate(SERVICES):
            span_id = os.urandom(8)
            span = Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=f"{service}.op",
                        kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=now + depth * 1_000_000,
                        end_time_unix_nano=now + 50_000_000 - depth * 1_000_000,
                        attributes=[KeyValue(key="url.full",
                                             value=AnyValue(string_value="https://api.example/v1?key=secret"))])
            if failed and service == "llm-service":
                span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR))
            per_service[service].append(span)
            parent = span_id
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=s))]),
                      scope_spans=[ScopeSpans(spans=spans)]) for s, spans in per_service.items()])


def _metric(port: int, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.otelcol", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (default 30)")
    parser.add_argument("--senders", type=int, default=2, help="sending threads (default 2)")
    parser.add_argument("--traces-per-request", type=int, default=100, help="traces per export request (100)")
    parser.add_argument("--error-share", type=float, default=0.05, help="share of failing traces (0.05)")
    parser.add_argument("--cpus", default="0", help="cores the collector may use, for taskset (default 0)")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 3600 and 1 <= args.senders <= 64 and 1 <= args.traces_per_request <= 10_000
            and 0 <= args.error_share <= 1):
        print("error: --seconds 0-3600, --senders 1-64, --traces-per-request 1-10000, --error-share 0-1",
              file=sys.stderr)
        return 2
    binary = TOOLS / "bin" / "otelcol-shannon"
    if not binary.exists():
        print(f"error: {binary} missing: run `bash .ci/install-tools.sh`", file=sys.stderr)
        return 2
    sink = CountingSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    sink_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    settings, _ = load_stack("dev", ROOT)
    ports = {k: free_port() for k in ("grpc", "http", "metrics", "health", "spanmetrics")}
    config = build_collector_config(settings.tracing.collector, f"127.0.0.1:{sink_port}", listen_host="127.0.0.1",
                                    ports=ports)
    # In the container the limiter takes its percentages of the cgroup's memory limit; on this host there is
    # none, so the same share of the production limit is given in MiB.
    limit = settings.tracing.collector.resources.memory_limit
    limit_mib = quantity_bytes(limit) / 2**20
    config["processors"]["memory_limiter"] = {"check_interval": "1s", "limit_mib": int(limit_mib * 0.8),
                                              "spike_limit_mib": int(limit_mib * 0.2)}
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        process = subprocess.Popen(["taskset", "-c", args.cpus, str(binary), f"--config={work}/config.yaml"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{ports['health']}/", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    print("error: the collector did not become healthy", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            stop = time.monotonic() + args.seconds
            peak = [0]

            def send() -> None:
                channel = grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}")
                export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                             request_serializer=lambda b: b,
                                             response_deserializer=lambda b: b)
                i = 0
                while time.monotonic() < stop:
                    with contextlib.suppress(grpc.RpcError):  # refused (memory limiter): the collector counts it
                        # Fresh trace ids every time: a repeated id meets a cached decision, not the sampler.
                        export(_request(args.traces_per_request, args.error_share, i).SerializeToString(),
                               timeout=10)
                    i += 1
                    peak[0] = max(peak[0], _rss(process.pid))
            started = time.monotonic()
            threads = [threading.Thread(target=send) for _ in range(args.senders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            accepted = _metric(ports["metrics"], "otelcol_receiver_accepted_spans")
            refused = _metric(ports["metrics"], "otelcol_receiver_refused_spans")
            on_memory = _metric(ports["metrics"], "otelcol_processor_tail_sampling_sampling_traces_on_memory")
            early = _metric(ports["metrics"], "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early")
            time.sleep(prom_duration_seconds(settings.tracing.collector.sampling.decision_wait) + 5)
            kept = sink.spans
        finally:
            process.terminate()
            process.wait(timeout=30)
            server.stop(0)
    print(f"collector {binary.resolve().parent.name} on cpus {args.cpus} ({os.cpu_count()} on the machine), "
          f"memory limit {limit} in production, dev stack config, {args.senders} senders, {elapsed:.0f} s:")
    print(f"  accepted {accepted / elapsed:,.0f} spans/s ({accepted / elapsed / 3:,.0f} traces/s), "
          f"refused {refused / elapsed:,.0f} spans/s, sent to Tempo {kept / elapsed:,.0f} spans/s "
          f"({kept / max(accepted, 1):.1%} kept), peak RSS {peak[0] / 2**20:,.0f} MiB")
    sampling = settings.tracing.collector.sampling
    held = sampling.num_traces / prom_duration_seconds(sampling.decision_wait)
    print(f"  traces held at the end {on_memory:,.0f}, spans of traces already decided {early:,.0f}; by the "
          f"settings one replica holds "
          f"numTraces/decisionWait = {held:,.0f} traces/s before deciding early")
    return 0


if __name__ == "__main__":
    sys.exit(main())
