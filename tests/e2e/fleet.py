"""A simulated Shannon fleet on loopback, and a receiver for Alertmanager's notifications.

Each simulated service is a small HTTP server answering as Shannon's does: `/metrics` with
exactly the families catalog/metrics.yaml records as written by that service's code (never a
family Shannon only registers), with the label values and buckets the code uses
(tests/e2e/shannon.py), in the text format, or OpenMetrics where Shannon negotiates it
(llm-service); `/health` as Shannon's health endpoints answer (llm-service redirects `/health`
and `/metrics` to their trailing-slash paths, as its FastAPI mounts do). No exemplars: Shannon
records none. A ticker moves the counters and histograms at healthy rates; faults change them:

  stop()/start()          a service stops answering (connection refused), then returns
  policy_error_ratio      share of policy lookups that fail (orchestrator)
  kill_switch             route policy decisions through the emergency kill switch
  policy_latency          seconds each policy evaluation takes
  token_multiplier        multiplies LLM token and cost rates (llm-service)

Components that cannot run on this machine get stand-in endpoints: Grafana and Tempo
(self-monitoring jobs). The Tempo stand-in exposes the Tempo self-metrics the catalog lists.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics import exposition as openmetrics

from components.catalog import Family, load_catalog
from tests.e2e import shannon

# prometheus_client's `_created` series are a process-wide switch; Shannon's Go and Rust services
# expose none, and no rule or panel reads llm-service's.
disable_created_metrics()

# Shannon's Go endpoints also serve client_golang's process collector.
GO_SERVICES = frozenset({"orchestrator", "gateway"})
STARTED = time.time()


def _metric_name(family: Family) -> str:
    return family.name.removesuffix("_total") if family.type == "counter" else family.name


@dataclass
class Faults:
    policy_error_ratio: float = 0.0
    kill_switch: bool = False
    policy_latency: float = 0.0008
    token_multiplier: float = 1.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if self.server.slash_mounts and path in ("/metrics", "/health"):
            # Starlette's Mount and a router prefix answer the bare path with a redirect.
            self.send_response(307)
            self.send_header("Location", path + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.startswith("/metrics") and self.server.openmetrics and \
                "application/openmetrics-text" in self.headers.get("Accept", ""):
            body, ctype = openmetrics.generate_latest(self.server.registry), openmetrics.CONTENT_TYPE_LATEST
        elif path.startswith("/metrics"):
            body, ctype = generate_latest(self.server.registry), CONTENT_TYPE_LATEST
        elif path.startswith("/health"):
            body, ctype = b'{"status":"healthy"}', "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, registry: CollectorRegistry, slash_mounts: bool, openmetrics: bool) -> None:
        self.registry, self.slash_mounts, self.openmetrics = registry, slash_mounts, openmetrics
        super().__init__(("127.0.0.1", port), _Handler)


class SimulatedService:
    """One process of the fleet: its metrics, its HTTP server, and whether it answers."""

    def __init__(self, name: str, job: str, port: int, families: list[Family]) -> None:
        self.name, self.job, self.port = name, job, port
        self.registry = CollectorRegistry()
        self.families = {f.name: f for f in families}
        self.metrics: dict[str, Any] = {}
        for family in families:
            labels = list(family.labels)
            cls = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}[family.type]
            kwargs: dict[str, Any] = {"registry": self.registry}
            if family.type == "histogram":
                kwargs["buckets"] = shannon.buckets(family)
            self.metrics[family.name] = cls(_metric_name(family), family.name, labels, **kwargs)
        if job in GO_SERVICES:
            Gauge("process_start_time_seconds", "Start time of the process.", registry=self.registry).set(STARTED)
        self._server: _Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._server is None:
            self._server = _Server(self.port, self.registry, self.job == "llm-service", self.job == "llm-service")
            threading.Thread(target=self._server.serve_forever, name=f"fleet-{self.name}", daemon=True).start()

    def stop(self) -> None:
        """Stop answering: the listening socket is closed, so scrapes get connection refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def child(self, name: str, /, **labels: str) -> Any:
        """The series of a family with these label values (unnamed ones: the healthy value Shannon writes).
        A value Shannon's code never writes, where the catalog knows them all, is refused."""
        family, metric = self.families[name], self.metrics[name]
        if not family.labels:
            return metric
        chosen = {}
        for label in family.labels:
            value = labels.get(label, shannon.healthy(family, label))
            assert not shannon.complete(family, label) or value in family.values[label], \
                f"{name}{{{label}={value!r}}}: Shannon writes only {family.values[label]}"
            chosen[label] = value
        return metric.labels(**chosen)

    def has(self, name: str) -> bool:
        return name in self.families

    def inc(self, name: str, amount: float, /, **labels: str) -> None:
        if self.has(name):
            self.child(name, **labels).inc(max(0.0, amount))

    def observe(self, name: str, value: float, count: int = 1, /, **labels: str) -> None:
        if self.has(name):
            child = self.child(name, **labels)
            for _ in range(count):
                child.observe(value)

    def set(self, name: str, value: float, /, **labels: str) -> None:
        if self.has(name):
            self.child(name, **labels).set(value)

    def touch_all(self) -> None:
        """One series for every value Shannon writes of every label (the others at their healthy value), so
        every query that selects a value Shannon writes finds a series: counters at 0, gauges at 1."""
        for name, family in self.families.items():
            # Histograms only where traffic goes: a histogram with one observation and no traffic since has no
            # quantile (NaN), which a long-term store drops and Prometheus keeps, and shows nothing anyway.
            combos = [{}] if not family.labels or family.type == "histogram" else [
                {label: value} for label in sorted(family.labels) for value in shannon.values(family, label)]
            for combo in combos:
                child = self.child(name, **combo)
                if family.type == "counter":
                    child.inc(0)
                elif family.type == "gauge":
                    child.set(1)
                else:
                    child.observe(shannon.buckets(family)[0])


@dataclass
class Fleet:
    """The simulated services and the ticker that moves their metrics."""

    ports: dict[str, int]
    faults: Faults = field(default_factory=Faults)
    services: dict[str, SimulatedService] = field(default_factory=dict)
    policy_rate: float = 40.0  # policy lookups per second per orchestrator
    token_rate: float = 2000.0  # tokens per second
    cost_rate: float = 0.0005  # USD per second
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        catalog = load_catalog()
        written = shannon.written_families(catalog)
        for name, port in self.ports.items():
            kind = name.rsplit("-", 1)[0] if name[-1].isdigit() else name
            families = written.get(kind) or list(catalog.by_source.get(kind, ()))
            self.services[name] = SimulatedService(name, kind, port, families)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        for service in self.services.values():
            service.touch_all()
            self._static(service)
            service.start()
        self._thread = threading.Thread(target=self._run, name="fleet-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for service in self.services.values():
            service.stop()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.2):
            now = time.monotonic()
            dt, last = now - last, now
            with self._lock:
                for service in self.services.values():
                    self._tick(service, dt)

    # --- behaviour -----------------------------------------------------------------------

    def _static(self, s: SimulatedService) -> None:
        """Gauges with a meaning: healthy levels, a policy set loaded when the process started."""
        for family in ("shannon_circuit_breaker_state", "shannon_circuit_breaker_open_since_seconds"):
            for child in s.metrics[family]._metrics.values() if s.has(family) else ():
                child.set(0)  # closed
        if s.job == "orchestrator":
            s.set("shannon_degradation_level", 0)
            s.set("shannon_policy_load_timestamp_seconds", STARTED + 1)
            s.set("shannon_policy_files_loaded", 3)
            s.set("shannon_policy_cache_entries", 120)
            s.set("shannon_session_cache_size", 40)
        elif s.job == "gateway":
            s.set("daemon_connections_active", 2)
        elif s.job == "agent-core":
            s.set("agent_core_memory_pool_total_bytes", 512 * 2**20)
            s.set("agent_core_memory_pool_used_bytes", 128 * 2**20)
        elif s.job == "tempo":
            s.inc("tempo_distributor_spans_received_total", 0, tenant="single-tenant")

    def _tick(self, s: SimulatedService, dt: float) -> None:
        f = self.faults
        if s.job == "orchestrator":
            self._policy(s, dt)
            s.inc("shannon_grpc_requests_total", 3 * dt, method="SubmitTask")
            s.inc("shannon_grpc_requests_total", 2 * dt, method="GetTaskStatus")
            s.observe("shannon_grpc_request_duration_seconds", 0.05, method="SubmitTask")
            s.inc("shannon_workflows_started_total", 2 * dt, workflow_type="DAGWorkflow", mode="standard")
            s.inc("shannon_workflows_started_total", 1 * dt, workflow_type="SimpleTaskWorkflow", mode="simple")
            # Recorded per status poll of a finished workflow.
            s.inc("shannon_workflows_completed_total", 1.94 * dt, status="COMPLETED")
            s.inc("shannon_workflows_completed_total", 0.06 * dt, status="FAILED")
            s.observe("shannon_workflow_duration_seconds", random.uniform(2, 8))
            s.observe("shannon_task_tokens_used", random.choice([800, 2000, 4000]))
            s.observe("shannon_task_cost_usd", 0.004)
            s.observe("shannon_rate_limit_delay_seconds", 0.1)
            for family in ("shannon_memory_fetches_total", "shannon_vector_search_total", "shannon_embedding_requests_total",
                           "shannon_session_cache_hits_total", "shannon_sessions_created_total",
                           "shannon_pattern_executions_total", "shannon_compression_events_total"):
                s.inc(family, 1.5 * dt)
            s.inc("shannon_session_cache_misses_total", 0.1 * dt)
            s.inc("shannon_session_tokens_total", 500 * dt)
            s.inc("shannon_prompt_cache_savings_usd_total", 0.0001 * dt)
            for family in ("shannon_vector_search_latency_seconds", "shannon_embedding_latency_seconds",
                           "shannon_pattern_duration_seconds", "shannon_memory_items_retrieved"):
                s.observe(family, 0.02 if family.endswith("_seconds") else 5)
        elif s.job == "gateway":
            s.inc("openai_compat_requests_total", 3 * dt)
            s.observe("openai_compat_latency_seconds", random.uniform(1, 4))
            s.observe("openai_compat_time_to_first_token_seconds", 0.4)
            s.inc("openai_compat_tokens_total", 600 * dt, type="prompt")
            s.inc("openai_compat_tokens_total", 200 * dt, type="completion")
            s.observe("openai_compat_tokens_per_request", 300)
            s.inc("openai_compat_stream_chunks_total", 20 * dt)
            s.observe("openai_compat_stream_duration_seconds", 3)
            s.inc("openai_compat_model_requests_total", 3 * dt)
            s.inc("openai_compat_sessions_created_total", 0.2 * dt)
            s.inc("daemon_claims_total", 0.1 * dt)
            s.observe("daemon_reply_latency_seconds", 2)
        elif s.job == "agent-core":
            s.inc("agent_core_enforcement_allowed_total", 8 * dt)
            s.inc("agent_core_enforcement_drops_total", 0.04 * dt, reason="rate_limit")
            s.inc("agent_core_tool_executions_total", 2 * dt)
            s.observe("agent_core_tool_duration_seconds", 0.2)
            s.inc("agent_core_memory_allocations_total", 4 * dt)
            s.observe("agent_core_memory_allocation_size_bytes", 20000)
        elif s.job == "llm-service":
            tokens = self.token_rate * f.token_multiplier * dt
            s.inc("llm_manager_tokens_total", tokens * 0.7, direction="prompt")
            s.inc("llm_manager_tokens_total", tokens * 0.3, direction="completion")
            s.inc("llm_manager_cost_usd_total", self.cost_rate * f.token_multiplier * dt)
            s.inc("llm_manager_requests_total", 4 * dt)
            s.inc("llm_manager_requests_total", 0.02 * dt, status="error", model="")
            s.observe("llm_manager_latency_ms", random.uniform(800, 2500))
            # The /completions API: a share of the traffic, with its response cache.
            s.inc("llm_requests_total", 0.6 * dt, cache_status="miss")
            s.inc("llm_requests_total", 0.2 * dt, cache_status="hit")
            s.inc("llm_tokens_total", 100 * dt, type="prompt")
            s.inc("llm_tokens_total", 40 * dt, type="completion")
            s.inc("llm_cost_total", self.cost_rate * 0.05 * dt)
            s.observe("llm_request_duration_seconds", random.uniform(0.8, 2.0))
            s.inc("llm_mcp_requests_total", 0.5 * dt)
            s.observe("llm_mcp_request_duration_seconds", 0.1)
            s.inc("anthropic_cache_read_tokens_total", 50 * dt)
        elif s.job == "tempo":
            s.inc("tempo_distributor_spans_received_total", 50 * dt, tenant="single-tenant")
            s.inc("tempo_ingester_traces_created_total", 5 * dt, tenant="single-tenant")
            s.set("tempo_metrics_generator_registry_active_series", 120, tenant="single-tenant")

    def _policy(self, s: SimulatedService, dt: float) -> None:
        """The orchestrator's policy engine, counter by counter as engine.go writes them: every lookup a cache
        hit or a miss; a miss evaluated (or failing: slo_errors and errors, no evaluation)."""
        f = self.faults
        lookups = self.policy_rate * dt
        # A failed evaluation is not cached: failing inputs miss the cache every time.
        errors = lookups * (f.policy_error_ratio + 0.002)
        evaluated = lookups * 0.1
        misses = evaluated + errors
        hits = max(0.0, lookups - misses)
        mode = "dry-run"  # Shannon's default policy mode (config/shannon.yaml); the kill switch forces it too
        routing = "emergency_kill_switch" if f.kill_switch else "percentage_rollout"
        s.inc("shannon_policy_cache_hits_total", hits, effective_mode="dry-run")
        s.inc("shannon_policy_cache_misses_total", misses, effective_mode="dry-run")
        s.inc("shannon_policy_slo_errors_total", errors, error_category="policy_evaluation")
        s.inc("shannon_policy_errors_total", errors, error_type="policy_evaluation")
        s.inc("shannon_policy_evaluations_total", evaluated * 0.9, decision="allow", mode=mode)
        s.inc("shannon_policy_evaluations_total", evaluated * 0.1, decision="deny", mode=mode)
        s.inc("shannon_policy_canary_decisions_total", evaluated, routing_reason=routing, effective_mode=mode)
        s.inc("shannon_policy_mode_comparison_total", evaluated)
        s.inc("shannon_policy_deny_reasons_total", evaluated * 0.1)
        n = max(1, round(lookups))
        s.observe("shannon_policy_latency_slo_seconds", f.policy_latency * random.uniform(0.8, 1.2), n, cache_hit="hit")
        s.observe("shannon_policy_evaluation_duration_seconds", f.policy_latency, 1, mode=mode)

    def inject(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self.faults, key, value)

    def recover(self) -> None:
        with self._lock:
            self.faults = Faults()


@dataclass(frozen=True)
class Notification:
    receiver: str  # pager, chat or deadman (the path Alertmanager posted to)
    alertnames: tuple[str, ...]
    status: str  # firing or resolved
    at: float


class Receiver:
    """Records every notification Alertmanager delivers: PagerDuty events, Slack messages, webhooks."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.notifications: list[Notification] = []
        self.payloads: list[tuple[str, dict[str, Any]]] = []
        self.reject_chat = False
        self._dedup: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = json.loads(body)
                status, content_type, answer = receiver._answer(self.path, payload)
                if status < 300:
                    receiver._record(self.path, payload)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _answer(self, path: str, payload: dict[str, Any]) -> tuple[int, str, bytes]:
        """Status, content type and body, as the real services answer.

        Alertmanager checks them: since 0.26 (prometheus/alertmanager#3121) a Slack answer that is
        neither JSON `{"ok": true}` nor the incoming webhook's plain `ok` is a failed, unretried
        notification (notify/slack/slack.go, checkTextResponseError), and a group whose firing
        notification failed never sends its resolved one. `reject_chat` answers as Slack does
        for a revoked webhook.
        """
        if path.startswith("/pagerduty"):  # Events API v2: 202 with a JSON status
            answer = {"status": "success", "message": "Event processed", "dedup_key": payload.get("dedup_key", "")}
            return 202, "application/json", json.dumps(answer).encode()
        if path.startswith("/slack"):  # an incoming webhook: 200 and the text "ok"
            if self.reject_chat:
                return 403, "text/html", b"invalid_token"
            return 200, "text/html", b"ok"
        return 200, "text/plain", b""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, path: str, payload: dict[str, Any]) -> None:
        now = time.monotonic()
        self.payloads.append((path, payload))
        if path.startswith("/pagerduty"):
            key = payload.get("dedup_key", "")
            if payload.get("event_action") == "trigger":
                details = payload.get("payload", {}).get("custom_details", {})
                names = tuple(sorted(set(details.get("alertnames", "").split())))
                self._dedup[key] = names
                entry = Notification("pager", names, "firing", now)
            else:
                entry = Notification("pager", self._dedup.get(key, ()), "resolved", now)
        elif path.startswith("/slack"):
            title = payload["attachments"][0]["title"]
            status = "resolved" if title.startswith("[RESOLVED") else "firing"
            name = title.split("] ", 1)[1].split(" (", 1)[0]
            entry = Notification("chat", (name,), status, now)
        else:
            names = tuple(sorted({a["labels"]["alertname"] for a in payload.get("alerts", [])}))
            entry = Notification(payload.get("receiver", path.strip("/")), names, payload.get("status", ""), now)
        with self._lock:
            self.notifications.append(entry)

    def find(self, receiver: str, alertname: str, status: str = "firing", since: float = 0.0) -> list[Notification]:
        with self._lock:
            return [n for n in self.notifications if n.receiver == receiver and alertname in n.alertnames
                    and n.status == status and n.at >= since]

    def names_in(self, receiver: str, since: float = 0.0) -> set[str]:
        with self._lock:
            return {name for n in self.notifications if n.receiver == receiver and n.at >= since for name in n.alertnames}


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll until `predicate` returns something truthy; fail after `timeout` seconds with `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


# --- Tempo's metrics-generator stand-in: span metrics and service graphs by remote write -------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _labels(labels: dict[str, str]) -> bytes:
    return b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in sorted(labels.items()))


def encode_write_request(series: list[tuple[dict[str, str], float, int]],
                         exemplars: dict[int, tuple[dict[str, str], float]] | None = None) -> bytes:
    """A Prometheus remote-write WriteRequest (protobuf), one sample per series; `exemplars` maps a
    series' index to an exemplar (labels, value), stamped with the sample's timestamp."""
    import struct

    body = b""
    for i, (labels, value, timestamp_ms) in enumerate(series):
        sample = _varint(1 << 3 | 1) + struct.pack("<d", value) + _varint(2 << 3 | 0) + _varint(timestamp_ms)
        ts = _labels(labels) + _field(2, sample)
        if exemplars and i in exemplars:
            ex_labels, ex_value = exemplars[i]
            ts += _field(3, _labels(ex_labels) + _varint(2 << 3 | 1) + struct.pack("<d", ex_value)
                         + _varint(3 << 3 | 0) + _varint(timestamp_ms))
        body += _field(1, ts)
    return body


class MetricsGenerator:
    """Remote-writes what Tempo's metrics-generator would derive from Shannon's traces.

    It posts to the remote-write URL of the rendered tempo.yaml, which checks that the
    URL is Prometheus's and that Prometheus runs with its remote-write receiver on.
    """

    SERVICES = ("orchestrator", "agent-core", "llm-service")
    EDGES = (("orchestrator", "agent-core"), ("orchestrator", "llm-service"), ("agent-core", "llm-service"))
    BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)

    def __init__(self, url: str, external_labels: dict[str, str]) -> None:
        self.url = url
        self.external_labels = external_labels
        self.sent = 0
        self.errors: list[str] = []
        self._counts: dict[tuple[tuple[str, str], ...], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-generator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _add(self, name: str, labels: dict[str, str], amount: float) -> tuple[dict[str, str], float]:
        full = {"__name__": name, **self.external_labels, **labels}
        key = tuple(sorted(full.items()))
        self._counts[key] = self._counts.get(key, 0.0) + amount
        return full, self._counts[key]

    def _batch(self, dt: float) -> tuple[list[tuple[dict[str, str], float, int]], dict[int, tuple[dict[str, str], float]]]:
        """The series to write, and exemplars: a trace id on each span latency series, as Tempo attaches."""
        now = int(time.time() * 1000)
        out: list[tuple[dict[str, str], float, int]] = []
        exemplars: dict[int, tuple[dict[str, str], float]] = {}
        for service in self.SERVICES:
            for status, rate in (("STATUS_CODE_UNSET", 20.0), ("STATUS_CODE_ERROR", 0.2)):
                labels = {"service": service, "span_name": f"{service}.handle", "span_kind": "SPAN_KIND_SERVER",
                          "status_code": status}
                out.append((*self._add("traces_spanmetrics_calls_total", labels, rate * dt), now))
                for le in (*self.BUCKETS, float("inf")):
                    share = 0.2 if le < 0.05 else (0.7 if le < 0.5 else 1.0)
                    bucket = {**labels, "le": "+Inf" if le == float("inf") else repr(le)}
                    if le == 0.5:
                        exemplars[len(out)] = ({"traceID": random.randbytes(16).hex()}, 0.3)
                    out.append((*self._add("traces_spanmetrics_latency_bucket", bucket, rate * dt * share), now))
        for client, server in self.EDGES:
            labels = {"client": client, "server": server, "connection_type": ""}
            out.append((*self._add("traces_service_graph_request_total", labels, 10.0 * dt), now))
            out.append((*self._add("traces_service_graph_request_failed_total", labels, 0.1 * dt), now))
        return out, exemplars

    def _run(self) -> None:
        import cramjam
        import requests

        last = time.monotonic()
        while not self._stop.wait(2.0):
            now = time.monotonic()
            (batch, exemplars), last = self._batch(now - last), now
            body = bytes(cramjam.snappy.compress_raw(encode_write_request(batch, exemplars)))
            try:
                response = requests.post(self.url, data=body, timeout=5, headers={
                    "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0"})
                if response.status_code >= 300:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                else:
                    self.sent += 1
            except requests.RequestException as error:
                self.errors.append(str(error))
