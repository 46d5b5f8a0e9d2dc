"""The OpenTelemetry Collector config (components/builders/otel_collector.py) run for real: the collector built
from the Go module proxy by .ci/install-tools.sh (.ci/otelcol, v0.161.0), traces sent with the OpenTelemetry
Python SDK as Shannon's three services send them (their service names, W3C traceparent from the orchestrator
through agent-core to llm-service), and an OTLP gRPC sink in the test standing in for Tempo.

Only the listen addresses and Tempo's endpoint are changed from what the builder returns (loopback ports of
this test); the sampling decision wait and retry budget are shortened to keep the test short. The last test
runs a real Prometheus scraping the collector with the stack's collector alerts (rules/otel-collector.yml),
their `for:` shortened to 0s and nothing else changed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from components.builders.prometheus import scrape_jobs
from components.settings.tracing import CollectorSettings
from components.stackfile import load_stack
from tests.e2e import conftest as e2e_conftest
from tests.e2e.fleet import wait_until
from tests.e2e.harness import ROOT, Process, free_port
from tests.e2e.otlp import Collector, run_collector
from tests.tools import TOOLS

pytestmark = pytest.mark.e2e
SERVICES = ("orchestrator", "agent-core", "llm-service")  # Shannon's OTEL service names
SECRET = "sk-live-do-not-store"


def _settings() -> CollectorSettings:
    return CollectorSettings.model_validate({"sampling": {"decisionWait": "2s", "percentage": 20},
                                             "maxElapsedTime": "8s"})


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    with run_collector(tmp_path_factory.mktemp("otelcol"), _settings()) as running:
        try:
            yield running
        finally:
            # Before the collector goes: no exporter thread left retrying (with random jitter) into later tests.
            for provider in PROVIDERS:
                provider.shutdown()
            PROVIDERS.clear()


PROVIDERS: list[TracerProvider] = []


def _providers(port: int) -> dict[str, TracerProvider]:
    out = {}
    for service in SERVICES:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
        out[service] = provider
        PROVIDERS.append(provider)
    return out


def _send(providers: dict[str, TracerProvider], kind: str, count: int) -> set[str]:
    """`count` traces orchestrator -> agent-core -> llm-service, the context crossing each hop as a W3C
    traceparent header. kind: ok (50 ms), error (llm-service fails), slow (3 s end to end)."""
    ids = set()
    tracers = {s: p.get_tracer("shannon") for s, p in providers.items()}
    for _ in range(count):
        start = time.time_ns()
        end = start + (3_000_000_000 if kind == "slow" else 50_000_000)
        root = tracers["orchestrator"].start_span("workflow.execute", start_time=start)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(root))
        assert carrier["traceparent"].startswith("00-")
        agent = tracers["agent-core"].start_span("agent.execute_task", context=propagate.extract(carrier),
                                                 start_time=start + 1_000_000)
        carrier = {}
        propagate.inject(carrier, context=trace.set_span_in_context(agent))
        llm = tracers["llm-service"].start_span("POST", context=propagate.extract(carrier),
                                                start_time=start + 2_000_000, attributes={
                                                    "url.full": f"https://api.openai.com/v1/chat/completions?key={SECRET}",
                                                    "http.request.header.authorization": f"Bearer {SECRET}",
                                                    "http.response.status_code": "500" if kind == "error" else "200"})
        if kind == "error":
            llm.set_status(Status(StatusCode.ERROR, "upstream 500"))
        llm.end(end_time=end - 2_000_000)
        agent.end(end_time=end - 1_000_000)
        root.end(end_time=end)
        ids.add(format(root.get_span_context().trace_id, "032x"))
    for provider in providers.values():
        provider.force_flush()
    return ids


def test_errors_and_slow_traces_are_kept_whole_and_the_rest_sampled(collector: Collector):
    """Every error trace and every slow trace arrives with its three spans; healthy traces arrive at the configured
    20% within a binomial tolerance; no stored span holds the query string or the authorization header; the
    collector counted every span it was sent."""
    providers = _providers(collector.grpc_port)
    accepted_before = collector.metric("otelcol_receiver_accepted_spans")
    errors, slow = _send(providers, "error", 30), _send(providers, "slow", 30)
    healthy = _send(providers, "ok", 600)
    wait_until(lambda: (errors | slow) <= set(collector.sink.traces()), 60, "every error and slow trace")
    time.sleep(4)  # two decision waits: every healthy trace decided
    traces = collector.sink.traces()
    for trace_id in errors | slow:
        assert sorted(s["service"] for s in traces[trace_id]) == sorted(SERVICES), trace_id
    kept = len(healthy & set(traces))
    e2e_conftest.MEASUREMENTS.append(f"sent/kept per policy: errors {len(errors)}/{len(errors & set(traces))}, slow {len(slow)}/"
          f"{len(slow & set(traces))}, healthy {len(healthy)}/{kept} (20% configured)")
    assert 0.2 * 600 - 4 * (600 * 0.2 * 0.8) ** 0.5 <= kept <= 0.2 * 600 + 4 * (600 * 0.2 * 0.8) ** 0.5
    for spans in traces.values():
        for span in spans:
            assert SECRET not in repr(span["attributes"]), span
            assert "http.request.header.authorization" not in span["attributes"]
    llm_urls = {s["attributes"].get("url.full") for spans in traces.values() for s in spans if s["service"] == "llm-service"}
    assert llm_urls == {"https://api.openai.com/v1/chat/completions"}
    sent = 3 * (len(errors) + len(slow) + len(healthy))
    wait_until(lambda: collector.metric("otelcol_receiver_accepted_spans") - accepted_before >= sent, 30,
               "the spans counted as accepted")
    assert collector.metric("otelcol_receiver_accepted_spans") - accepted_before == sent


def test_a_tempo_outage_shorter_than_the_retry_budget_loses_nothing(collector: Collector):
    """Tempo unavailable for 4 s (inside maxElapsedTime 8s): the queued, retried batches all arrive afterwards."""
    providers = _providers(collector.grpc_port)
    collector.sink.down = True
    try:
        errors = _send(providers, "error", 20)
        time.sleep(4)
    finally:
        collector.sink.down = False
    wait_until(lambda: errors <= set(collector.sink.traces()), 60, "the queued traces after the outage")
    assert all(len(collector.sink.traces()[t]) == 3 for t in errors)


def test_a_longer_outage_drops_spans_and_the_collector_counts_them(collector: Collector):
    """Tempo unavailable beyond the retry budget: the batches are dropped, and the collector's own metrics say
    so (otelcol_exporter_send_failed_spans), which is what the dropped-spans alert reads."""
    failed_before = collector.metric("otelcol_exporter_send_failed_spans")
    errors = _dropping_outage(collector, _providers(collector.grpc_port))
    assert not errors & set(collector.sink.traces())
    e2e_conftest.MEASUREMENTS.append(f"dropped after the retry budget: {collector.metric('otelcol_exporter_send_failed_spans') - failed_before:.0f} spans")


def _dropping_outage(collector: Collector, providers: dict[str, TracerProvider]) -> set[str]:
    """Tempo down until the collector has given up on 10 error traces (30 spans); their trace ids."""
    failed_before = collector.metric("otelcol_exporter_send_failed_spans")
    collector.sink.down = True
    try:
        errors = _send(providers, "error", 10)
        wait_until(lambda: collector.metric("otelcol_exporter_send_failed_spans") >= failed_before + 30, 45,
                   "30 spans given up on")
    finally:
        collector.sink.down = False
    return errors


@dataclass
class Prometheus:
    port: int
    process: Process

    def api(self, path: str, **params: str) -> Any:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", params=params, timeout=5).json()["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        try:
            return self.api("/api/v1/query", query=expr)["result"]
        except (requests.RequestException, ValueError):
            return []

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        try:
            alerts = self.api("/api/v1/alerts")["alerts"]
        except (requests.RequestException, ValueError):
            return []
        return [a for a in alerts if a["state"] == "firing" and a["labels"]["alertname"] == alertname]


@contextlib.contextmanager
def _prometheus(work: Path, scrape_configs: list[dict[str, Any]], rules: dict[str, Any] | None = None
                ) -> Iterator[Prometheus]:
    """A real Prometheus (the pinned Debian build) scraping every second."""
    binary = TOOLS / "bin" / "prometheus"
    if not binary.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is required in CI (.ci/install-tools.sh installs it)")
        pytest.skip(f"{binary} missing: run `bash .ci/install-tools.sh`")
    config: dict[str, Any] = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                              "scrape_configs": scrape_configs}
    if rules is not None:
        (work / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        config["rule_files"] = [str(work / "rules.yml")]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    process = Process("prometheus", [str(binary), f"--config.file={work / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={work / 'data'}", "--enable-feature=exemplar-storage",
                                     f"--web.listen-address=127.0.0.1:{port}"], work / "prometheus.log")
    process.start()
    try:
        yield Prometheus(port, process)
    finally:
        process.stop()


def test_a_longer_outage_fires_the_dropped_spans_alert_in_prometheus(collector: Collector, tmp_path: Path):
    """A real Prometheus scraping the collector and evaluating the stack's collector alerts: silent while
    delivery works, OtelCollectorDroppingSpans firing after an outage longer than the retry budget, with the
    collector's job and exporter on the alert."""
    providers = _providers(collector.grpc_port)
    if collector.metric("otelcol_exporter_send_failed_spans") == 0:
        _dropping_outage(collector, providers)  # the counter exists once something failed; increase() needs it
    rules = yaml.safe_load((ROOT / "rules" / "otel-collector.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    scrape = [{"job_name": "otel-collector", "static_configs": [{"targets": [f"127.0.0.1:{collector.metrics_port}"]}]}]
    with _prometheus(tmp_path, scrape, rules) as prometheus:
        wait_until(lambda: prometheus.query("otelcol_exporter_send_failed_spans"), 30, "the first scrape")
        _send(providers, "ok", 5)  # delivered: the alerts stay silent
        time.sleep(5)
        assert prometheus.firing("OtelCollectorDroppingSpans") == [], prometheus.process.tail()
        _dropping_outage(collector, providers)
        wait_until(lambda: prometheus.firing("OtelCollectorDroppingSpans"), 30, "OtelCollectorDroppingSpans firing")
        (alert,) = prometheus.firing("OtelCollectorDroppingSpans")
        assert alert["labels"]["job"] == "otel-collector" and alert["labels"]["exporter"] == "otlp_grpc/tempo"
        e2e_conftest.MEASUREMENTS.append(f"OtelCollectorDroppingSpans firing in Prometheus: {alert['annotations']['description']}")


def test_span_metrics_count_every_span_before_sampling(collector: Collector, tmp_path: Path):
    """The collector's span metrics, scraped by a real Prometheus with the stack's scrape job for them (its
    metric relabeling unchanged), count every span sent, kept or not, under the names and labels the Traces
    dashboard reads (traces_spanmetrics_calls_total and _latency_bucket by `service`), with exemplars."""
    settings, _ = load_stack("dev", ROOT)
    (job,) = [j for j in scrape_jobs(settings) if j.job == "otel-collector-spanmetrics"]
    scrape = [{"job_name": job.job, "static_configs": [{"targets": [f"127.0.0.1:{collector.spanmetrics_port}"]}],
               "metric_relabel_configs": [dict(r) for r in job.metric_relabel]}]
    providers = _providers(collector.grpc_port)
    calls = 'sum(traces_spanmetrics_calls_total{service="llm-service", span_name="POST"})'
    with _prometheus(tmp_path, scrape) as prometheus:
        wait_until(lambda: prometheus.query("up"), 30, "the first scrape")
        before = float(prometheus.query(calls)[0]["value"][1]) if prometheus.query(calls) else 0.0
        kept_before = len(collector.sink.traces())
        ok = _send(providers, "ok", 200)
        wait_until(lambda: prometheus.query(calls) and float(prometheus.query(calls)[0]["value"][1]) - before >= len(ok),
                   60, "every call counted")
        counted = float(prometheus.query(calls)[0]["value"][1]) - before
        time.sleep(3)  # the sampling decision (decisionWait 2s)
        kept = len(collector.sink.traces()) - kept_before
        assert counted == len(ok) and kept < len(ok)
        series = prometheus.query('traces_spanmetrics_latency_bucket{service="orchestrator", le="+Inf"}')
        assert series and {"span_name", "span_kind", "status_code", "source"} <= set(series[0]["metric"])
        assert series[0]["metric"]["source"] == "otel-collector" and "service_name" not in series[0]["metric"]
        exemplars = prometheus.api("/api/v1/query_exemplars", query="traces_spanmetrics_latency_bucket",
                                   start=str(time.time() - 600), end=str(time.time()))
        assert any(e["labels"].get("trace_id") in ok for s in exemplars for e in s["exemplars"])
        e2e_conftest.MEASUREMENTS.append(f"span metrics before sampling: {counted:.0f} llm-service calls counted of {len(ok)} sent, "
              f"{kept} traces kept by sampling")
