"""`python -m components.catalog refresh --shannon PATH`: the Shannon sections of catalog/metrics.yaml, from the code.

For each of Shannon's metrics endpoints (the binary, its port and path, checked against the
lines of Shannon's code that set them), the families it registers and, for each family,
where it is written in code that can run, and the label values that code spells out. The
facts are written, with the commit they were read from; none of Shannon's code is.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.catalog import golang, python, rust
from components.catalog.scan import DYNAMIC, FamilyFacts, Program, family_facts
from components.catalog.treesitter import ScanError

REPOSITORY = "https://github.com/Kocoro-lab/Shannon"


@dataclass(frozen=True)
class Endpoint:
    """One /metrics endpoint of Shannon: the program behind it and where it listens."""

    job: str
    language: str  # go, rust, python
    root: str  # the Go module, Rust crate or Python service directory
    main: str  # the main package directory (Go) or entry module (Python); unused for Rust
    port: int
    path: str
    exposition: str
    # (file, text) pairs that must be in Shannon's code: where the port and path are set.
    evidence: tuple[tuple[str, str], ...]
    description: str


ENDPOINTS = (
    Endpoint("orchestrator", "go", "go/orchestrator", ".", 2112, "/metrics",
             "text format only (client_golang promhttp.Handler(): no OpenMetrics, no exemplars)",
             (("go/orchestrator/main.go", "cfg.MetricsPort(2112)"),
              ("go/orchestrator/main.go", 'http.Handle("/metrics", promhttp.Handler())')),
             "Shannon orchestrator (Go), its metrics server"),
    Endpoint("gateway", "go", "go/orchestrator", "cmd/gateway", 8080, "/metrics",
             "text format only (client_golang promhttp.Handler(): no OpenMetrics, no exemplars)",
             (("go/orchestrator/cmd/gateway/main.go", 'getEnvOrDefaultInt("PORT", 8080)'),
              ("go/orchestrator/cmd/gateway/main.go", 'mux.Handle("GET /metrics", promhttp.Handler())')),
             "Shannon gateway (Go; the REST and OpenAI-compatible API), on its API port"),
    Endpoint("agent-core", "rust", "rust/agent-core", "", 2113, "/metrics",
             "text format only (prometheus crate TextEncoder, any path answers): no exemplars",
             (("rust/agent-core/src/config.rs", "Metrics server port (default: 2113)"),
              ("rust/agent-core/src/metrics.rs", "TextEncoder::new()")),
             "Shannon agent-core (Rust), its metrics server"),
    Endpoint("llm-service", "python", "python/llm-service", "main.py", 8000, "/metrics",
             "text or OpenMetrics as Prometheus asks (prometheus_client make_asgi_app), with _created "
             "series; no exemplars recorded. GET /metrics answers 307 to /metrics/ (Starlette mount), "
             "which Prometheus follows",
             (("python/llm-service/main.py", 'app.mount("/metrics", metrics_app)'),
              ("python/llm-service/main.py", "port=8000")),
             "Shannon llm-service (Python, FastAPI)"),
)


def _evidence(checkout: Path, endpoint: Endpoint) -> list[str]:
    """`file:line` of each evidence text; refuses if Shannon no longer says it."""
    found = []
    for relative, needle in endpoint.evidence:
        path = checkout / relative
        lines = path.read_text().splitlines() if path.is_file() else []
        number = next((i for i, text in enumerate(lines, 1) if needle in text), None)
        if number is None:
            raise ScanError(f"{relative}: no longer contains {needle!r}: check {endpoint.job}'s port and path "
                            "in Shannon and update ENDPOINTS in components/catalog/refresh.py")
        found.append(f"{relative}:{number}")
    return found


def grpc_services(checkout: Path) -> dict[str, frozenset[str]]:
    """Shannon's gRPC services and their methods, from its .proto files."""
    services: dict[str, frozenset[str]] = {}
    for proto in sorted((checkout / "protos").rglob("*.proto")):
        for name, body in re.findall(r"^service\s+(\w+)\s*\{(.*?)^\}", proto.read_text(), re.M | re.S):
            services[name] = frozenset(re.findall(r"^\s*rpc\s+(\w+)", body, re.M))
    return services


def read(checkout: Path, endpoint: Endpoint) -> Program:
    if endpoint.language == "go":
        return golang.read_program(checkout, endpoint.root, endpoint.main, endpoint.job, grpc_services(checkout))
    if endpoint.language == "rust":
        return rust.read_program(checkout, endpoint.root, endpoint.job)
    return python.read_program(checkout, endpoint.root, endpoint.main, endpoint.job)


def commit_of(checkout: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        raise ScanError(f"{checkout}: not a git checkout (the catalog records the commit it was read from); "
                        "clone Shannon with git, or pass --commit") from None
    return out.stdout.strip()


def _family_entry(facts: FamilyFacts) -> dict[str, Any]:
    reg = facts.registration
    entry: dict[str, Any] = {"type": "gauge" if reg.type == "info" else reg.type, "labels": list(reg.labels),
                             "registered": f"{reg.file}:{reg.line}"}
    if isinstance(reg.buckets, tuple):
        entry["buckets"] = [int(b) if float(b).is_integer() else b for b in reg.buckets]
    elif reg.buckets:
        entry["buckets"] = reg.buckets
    if facts.initialised_only:
        entry["written"] = []
        entry["note"] = "set once where it is registered (a start value), never updated: " + ", ".join(
            f"{w.file}:{w.line}" for w in facts.writes)
    else:
        entry["written"] = sorted({f"{w.file}:{w.line}" for w in facts.writes}, key=_site_order)
        if not facts.writes and facts.dead_writes:
            entry["note"] = "written only in code nothing running calls: " + ", ".join(
                sorted({f"{w.file}:{w.line}" for w in facts.dead_writes}, key=_site_order))
    if entry["written"]:
        values = {label: list(vals) for label, vals in facts.values.items() if vals != (DYNAMIC,)}
        if values:
            entry["values"] = values
    return entry


def _site_order(site: str) -> tuple[str, int]:
    path, _, number = site.rpartition(":")
    return path, int(number)


def sections(checkout: Path, endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `shannon:` header and the Shannon sections, one per endpoint."""
    out: dict[str, Any] = {}
    listed: set[str] = set()
    programs = []
    for endpoint in endpoints:
        where = _evidence(checkout, endpoint)
        programs.append((endpoint, where, family_facts(read(checkout, endpoint))))
    written_anywhere = {name for _, _, facts in programs for name, f in facts.items() if f.written and not f.initialised_only}
    for endpoint, where, facts in programs:
        metrics: dict[str, Any] = {}
        for name, fact in sorted(facts.items()):
            # An endpoint lists what it writes; a family nobody writes is listed once, where it is first registered.
            if (fact.written and not fact.initialised_only) or (name not in written_anywhere and name not in listed):
                metrics[name] = _family_entry(fact)
                listed.add(name)
        out[endpoint.job] = {
            "source": f"{endpoint.description}: {endpoint.path} on :{endpoint.port} ({', '.join(where)})",
            "job": endpoint.job,
            "serves": {"port": endpoint.port, "path": endpoint.path, "exposition": endpoint.exposition},
            "metrics": metrics,
        }
    header = {"repository": REPOSITORY, "commit": commit_of(checkout),
              "method": "python -m components.catalog refresh --shannon <checkout> (components/catalog/)"}
    return header, out
