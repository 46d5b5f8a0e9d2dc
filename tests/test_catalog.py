"""The catalog read from Shannon's code: registrations, write sites in code that can run, label values.

The readers run on small programs written here in Go, Rust and Python, each with the idiom it
guards; the repository's catalog itself is checked for what the lint and the simulations rely on.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components.catalog import SHANNON_SERVICES, golang, load_catalog, python, rust
from components.catalog.refresh import Endpoint, grpc_services, sections
from components.catalog.scan import DYNAMIC, family_facts
from tests.conftest import ROOT


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


GO = {
    "svc/go.mod": "module example.com/svc\n\ngo 1.24\n",
    "svc/main.go": """\
        package main

        import "example.com/svc/internal/metrics"

        func main() {
            serve()
            metrics.RecordRequest("GetThing", statusOf(true))
        }

        func serve() { metrics.RequestsDone.WithLabelValues("ok").Inc() }

        func statusOf(ok bool) string {
            if ok {
                return "OK"
            }
            return "FAILED"
        }
        """,
    "svc/internal/metrics/metrics.go": """\
        package metrics

        import (
            "github.com/prometheus/client_golang/prometheus"
            "github.com/prometheus/client_golang/prometheus/promauto"
        )

        const modeDefault = "standard"

        var (
            Requests = promauto.NewCounterVec(prometheus.CounterOpts{
                Name: "svc_requests_total", Help: "Requests.",
            }, []string{"method", "status", "mode"})
            RequestsDone = promauto.NewCounterVec(prometheus.CounterOpts{Name: "svc_done_total"}, []string{"result"})
            Latency = promauto.NewHistogram(prometheus.HistogramOpts{
                Name: "svc_latency_seconds", Buckets: prometheus.ExponentialBuckets(0.001, 2, 4),
            })
            Never = promauto.NewCounter(prometheus.CounterOpts{Name: "svc_never_total"})
        )

        // RecordRequest is called by main: its label values come from the callers.
        func RecordRequest(method, status string) {
            Requests.WithLabelValues(method, status, modeDefault).Inc()
        }

        // recordLatency is called by nothing.
        func recordLatency(seconds float64) { Latency.Observe(seconds) }
        """,
    "svc/internal/metrics/metrics_test.go": """\
        package metrics

        func TestNever() { Never.Inc() }
        """,
}


def test_go_reader_follows_writes_through_helpers_and_values_through_callers(tmp_path: Path):
    """A Go family is written only where code that can run writes it (a helper nothing calls, or a test, does not
    count); label values come from literals, constants, callers' arguments and what called functions return."""
    checkout = _write(tmp_path, GO)
    facts = family_facts(golang.read_program(checkout, "svc", ".", "svc"))
    assert facts["svc_requests_total"].written
    assert facts["svc_requests_total"].values == {"method": ("GetThing",), "status": ("FAILED", "OK"),
                                                  "mode": ("standard",)}
    assert facts["svc_done_total"].values == {"result": ("ok",)}
    assert not facts["svc_latency_seconds"].written and facts["svc_latency_seconds"].dead_writes
    assert facts["svc_latency_seconds"].registration.buckets == (0.001, 0.002, 0.004, 0.008)
    assert not facts["svc_never_total"].written and not facts["svc_never_total"].dead_writes
    assert facts["svc_requests_total"].registration.file == "svc/internal/metrics/metrics.go"


def test_go_rpc_servers_are_entry_points_only_when_registered(tmp_path: Path):
    """A gRPC method is called by generated code once a running main registers its server; a client's call of the
    same name does not make the server's implementation run."""
    files = dict(GO)
    files["svc/main.go"] = """\
        package main

        import "example.com/svc/internal/metrics"

        type server struct{}

        func (s *server) GetThing() { metrics.RecordRequest("GetThing", "OK") }

        func main() { client.GetThing() }
        """
    checkout = _write(tmp_path, files)
    services = {"Things": frozenset({"GetThing"})}
    assert not family_facts(golang.read_program(checkout, "svc", ".", "svc", services))["svc_requests_total"].written
    (checkout / "svc/main.go").write_text((checkout / "svc/main.go").read_text().replace(
        "func main() { client.GetThing() }", "func main() { RegisterThingsServer(nil, &server{}) }"))
    assert family_facts(golang.read_program(checkout, "svc", ".", "svc", services))["svc_requests_total"].written


RUST = {
    "crate/Cargo.toml": "[package]\nname = \"crate\"\n",
    "crate/src/main.rs": """\
        mod metrics;
        mod work;
        fn main() { metrics::init(); work::run("fast"); }
        """,
    "crate/src/metrics.rs": """\
        use std::sync::OnceLock;
        pub static DROPS: OnceLock<CounterVec> = OnceLock::new();
        pub static ALLOWED: OnceLock<CounterVec> = OnceLock::new();
        pub static STATE: OnceLock<Gauge> = OnceLock::new();
        pub static TASKS: OnceLock<CounterVec> = OnceLock::new();
        pub fn init() {
            let drops = register_counter_vec!("c_drops_total", "Drops", &["reason"]).unwrap();
            DROPS.set(drops).ok();
            ALLOWED.set(register_counter_vec!("c_allowed_total", "Allowed", &["outcome"]).unwrap()).ok();
            STATE.set(register_gauge!("c_state", "State").unwrap()).ok();
            TASKS.set(register_counter_vec!("c_tasks_total", "Tasks", &["mode"]).unwrap()).ok();
            if let Some(s) = STATE.get() { s.set(0.0); }
        }
        pub struct Timer { mode: String }
        impl Timer {
            pub fn done(self) {
                if let Some(t) = TASKS.get() { t.with_label_values(&[&self.mode]).inc(); }
            }
        }
        """,
    "crate/src/work.rs": """\
        use crate::metrics::{ALLOWED, DROPS};
        pub fn run(speed: &str) {
            if speed == "slow" {
                if let Some(c) = DROPS.get() { c.with_label_values(&["timeout"]).inc(); }
                return;
            }
            if let Some(c) = ALLOWED.get() { c.with_label_values(&["success"]).inc(); }
        }
        #[cfg(test)]
        mod tests {
            #[test]
            fn timer() { crate::metrics::Timer { mode: "x".into() }.done(); }
        }
        """,
}


def test_rust_reader_scopes_aliases_and_sees_start_values_and_dead_methods(tmp_path: Path):
    """Rust: the same local name bound to two statics in two `if let`s writes each with its own values; a gauge set
    only where it is registered is a start value; a method only tests call writes nothing."""
    checkout = _write(tmp_path, RUST)
    facts = family_facts(rust.read_program(checkout, "crate", "crate"))
    assert facts["c_drops_total"].values == {"reason": ("timeout",)}
    assert facts["c_allowed_total"].values == {"outcome": ("success",)}
    assert facts["c_state"].initialised_only
    assert not facts["c_tasks_total"].written and facts["c_tasks_total"].dead_writes


PY = {
    "svc/main.py": """\
        from app import api
        from app.metrics import collector
        """,
    "svc/app/__init__.py": "",
    "svc/app/metrics.py": """\
        from prometheus_client import Counter as PromCounter, Gauge, Histogram

        CALLS = PromCounter("py_calls_total", "Calls", labelnames=("provider", "status"))
        TOKENS = PromCounter("py_tokens", "Tokens", ["direction"])
        ACTIVE = Gauge("py_active", "Active")
        LATENCY = Histogram("py_latency_ms", "Latency", buckets=(100, 1000))

        class Collector:
            def record(self, provider, ok):
                CALLS.labels(provider, "ok" if ok else "error").inc()

            def set_active(self, n):
                ACTIVE.set(n)

        collector = Collector()
        """,
    "svc/app/api.py": """\
        from app.metrics import TOKENS, collector

        @router.post("/complete")
        async def complete(request):
            collector.record(provider="openai", ok=True)
            TOKENS.labels(direction="prompt").inc(5)
        """,
}


def test_python_reader_follows_keywords_conditionals_and_decorated_handlers(tmp_path: Path):
    """Python: a route handler (decorated) runs; keyword arguments reach the helper's parameters; a conditional
    expression gives both literals; a counter's exposed name ends in _total; a method nobody calls writes nothing."""
    checkout = _write(tmp_path, PY)
    facts = family_facts(python.read_program(checkout, "svc", "main.py", "svc"))
    assert facts["py_calls_total"].values == {"provider": ("openai",), "status": ("error", "ok")}
    assert facts["py_tokens_total"].values == {"direction": ("prompt",)}
    assert not facts["py_active"].written and facts["py_active"].dead_writes
    assert not facts["py_latency_ms"].written and facts["py_latency_ms"].registration.buckets == (100.0, 1000.0)


def test_refresh_records_the_commit_and_refuses_a_moved_endpoint(tmp_path: Path):
    """`refresh` writes the commit it read and every family's registration and write lines; an endpoint whose port
    line Shannon no longer has is refused with the file and the text it looked for."""
    checkout = _write(tmp_path / "shannon", GO)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "-c", "user.email=t@t", "-c", "user.name=t", "add", "."], check=True)
    subprocess.run(["git", "-C", str(checkout), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
                   check=True)
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    endpoint = Endpoint("svc", "go", "svc", ".", 9000, "/metrics", "text", (("svc/main.go", "func main()"),), "A service")
    header, out = sections(checkout, (endpoint,))
    assert header["commit"] == commit
    done = out["svc"]["metrics"]["svc_requests_total"]
    assert done["registered"].startswith("svc/internal/metrics/metrics.go:") and done["written"]
    assert out["svc"]["metrics"]["svc_never_total"]["written"] == []
    moved = Endpoint("svc", "go", "svc", ".", 9000, "/metrics", "text", (("svc/main.go", "ListenAndServe(\":9000\""),), "")
    from components.catalog.treesitter import ScanError
    with pytest.raises(ScanError, match=r"svc/main.go: no longer contains 'ListenAndServe"):
        sections(checkout, (moved,))


def test_refresh_command_refuses_a_missing_checkout(tmp_path: Path):
    """The command names a missing checkout in one line and exits 2, with no traceback and nothing written."""
    catalog = ROOT / "catalog" / "metrics.yaml"
    before = catalog.read_text()
    result = subprocess.run([sys.executable, "-m", "components.catalog", "refresh", "--shannon", str(tmp_path / "nope")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --shannon") and len(result.stderr.strip().splitlines()) == 1
    assert catalog.read_text() == before


def test_the_catalog_says_where_every_shannon_family_comes_from():
    """Every Shannon family names the commit, its registration line and its write lines (empty: never written);
    the gateway is its own source on :8080; label values are recorded only for written families."""
    catalog = load_catalog()
    assert len(catalog.commit) == 40
    assert catalog.jobs["gateway"] == "gateway"
    for source in SHANNON_SERVICES:
        assert catalog.by_source[source], source
        for family in catalog.by_source[source]:
            assert family.registered.count(":") == 1 and family.written is not None, family.name
            assert not (family.never_written and family.values), family.name
            for label, values in family.values.items():
                assert label in family.labels and values and (values == (DYNAMIC,) or values[0] != DYNAMIC), family.name
    assert any(f.name.startswith("openai_compat_") for f in catalog.by_source["gateway"])


def test_grpc_services_are_read_from_the_protos(tmp_path: Path):
    """Each `service` of a .proto gives its RPC names, the methods generated code calls."""
    _write(tmp_path, {"protos/a.proto": "syntax = \"proto3\";\nservice Things {\n  rpc GetThing(A) returns (B);\n"
                                        "  rpc ListThings(A) returns (stream B);\n}\n"})
    assert grpc_services(tmp_path) == {"Things": frozenset({"GetThing", "ListThings"})}


def test_lint_command_fails_on_a_planted_panel_over_a_never_written_family(tmp_path: Path):
    """`python -m components.lint` (make check) fails on a dashboard panel reading a family Shannon registers and
    never writes, naming the family and its registration line; the repository itself passes."""
    import json
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns("venv", ".git", "build", "__pycache__", ".pytest_cache",
                                                              ".ruff_cache", ".pulumi-state", ".work"))
    family = load_catalog().families["agent_core_tasks_total"]
    assert family.never_written
    panel = {"id": 1, "type": "stat", "title": "Tasks", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
             "datasource": {"type": "prometheus", "uid": "prometheus"},
             "targets": [{"refId": "A", "expr": 'sum(agent_core_tasks_total{job="agent-core"})', "instant": True,
                          "datasource": {"type": "prometheus", "uid": "prometheus"}}]}
    (repo / "dashboards/planted.json").write_text(json.dumps({"uid": "planted", "title": "Planted", "panels": [panel],
                                                              "tags": ["shannon"], "schemaVersion": 39}))
    result = subprocess.run([sys.executable, "-m", "components.lint"], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"reads agent_core_tasks_total, which Shannon registers ({family.registered}) but never writes" in result.stderr
    (repo / "dashboards/planted.json").unlink()
    clean = subprocess.run([sys.executable, "-m", "components.lint"], cwd=repo, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr


def test_every_never_written_family_is_handed_to_shannon():
    """docs/shannon-instrumentation.md, the list handed to Shannon's owners, names every family the catalog records
    as registered and never written, and the commit the catalog was read from."""
    text = (ROOT / "docs" / "shannon-instrumentation.md").read_text()
    catalog = load_catalog()
    missing = [f.name for s in SHANNON_SERVICES for f in catalog.by_source[s] if f.never_written and f.name not in text]
    assert not missing, f"docs/shannon-instrumentation.md does not mention {missing}"
    assert catalog.commit in text
