"""30 days of Shannon-like series, written as OpenMetrics and imported into a real TSDB.

The fleet follows catalog/metrics.yaml: every metric family Shannon's code writes, per
endpoint (orchestrator, gateway, agent-core, llm-service), with its label names, the label
values the code writes (stand-ins where it computes them) and the buckets it registers, on
several instances of each, plus one instance of each standard component so every dashboard
has data (tests/e2e/shannon.py, shared with the e2e fleet).

Values move like production counters: per-series rates with a daily cycle and jitter,
cumulative across the whole month; histogram buckets are cumulative and monotonic in `le`.

Scale: `plan_scale` measures how fast this machine generates and imports, and picks the
number of instances that fits the time budget (never fewer than 10,000 series).
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from components.catalog import Family, load_catalog
from tests.e2e import shannon

STEP = 60  # seconds between samples
DAY = 86400
# Files and blocks cover windows aligned to 54h: one of promtool's block ranges
# (2h x 3^n), so each file becomes exactly one block and is parsed twice, not per 2h.
WINDOW = 54 * 3600
SHANNON = ("orchestrator", "gateway", "agent-core", "llm-service")
PORTS = {"orchestrator": 2112, "gateway": 8080, "agent-core": 2113, "llm-service": 8000}
# One instance each of the components the other dashboards read.
SINGLE = {"prometheus": "prometheus:9090", "alertmanager": "alertmanager:9093", "node-exporter": "node:9100",
          "tempo": "tempo:3200", "postgres-exporter": "postgres-exporter:9187",
          "redis-exporter": "redis-exporter:9121", "blackbox-exporter": "blackbox-exporter:9115"}
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MAX_COMBOS = 24  # label combinations per family and instance
COUNTER, GAUGE, CONSTANT = 0, 1, 2


@dataclass
class Series:
    """One output series: its exposition prefix and how its values derive from a base process."""

    name: str
    prefix: str  # `name{labels} `
    base: int  # index of the base process (a counter's events, a gauge's level)
    factor: float  # value = base x factor (bucket share, mean for _sum)


@dataclass
class Fleet:
    instances: int  # per Shannon service
    series: list[Series] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # per base: events/s, or gauge level
    kinds: list[int] = field(default_factory=list)  # per base: COUNTER, GAUGE or CONSTANT

    @property
    def size(self) -> int:
        return len(self.series)


def _combos(family: Family) -> list[dict[str, str]]:
    names = sorted(family.labels)
    values = [shannon.values(family, n) for n in names]
    stored = [f"exported_{n}" if n in ("service", "component") else n for n in names]
    combos = [dict(zip(stored, combo, strict=True)) for combo in itertools.islice(itertools.product(*values), MAX_COMBOS)]
    return combos or [{}]


def _fmt(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def build_fleet(instances: int, seed: int = 7) -> Fleet:
    """The series of `instances` instances of each Shannon service, plus the single components."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    fleet = Fleet(instances)
    by_source: dict[str, list[Family]] = {source: list(families) for source, families in catalog.by_source.items()}
    by_source.update(shannon.written_families(catalog))
    targets: list[tuple[str, str, str]] = []  # (source, job, instance)
    for source in SHANNON:
        targets += [(source, source, f"{source}-{i}:{PORTS[source]}") for i in range(instances)]
    jobs = {"node-exporter": "node-exporter", "postgres-exporter": "postgres", "redis-exporter": "redis",
            "blackbox-exporter": "blackbox"}
    targets += [(source, jobs.get(source, source), address) for source, address in SINGLE.items()]

    def add(name: str, labels: str, base: int, factor: float) -> None:
        fleet.series.append(Series(name, f"{name}{{{labels}}} ", base, factor))

    for source, job, instance in targets:
        # The constant target labels service and component are left out: they are the same on every
        # series of a job, select nothing the dashboards use, and cost a third of promtool's import.
        target = {"job": job, "instance": instance}
        add("up", _fmt(target), _base(fleet, 1.0, CONSTANT), 1.0)
        for family in sorted(by_source.get(source, []), key=lambda f: f.name):
            for combo in _combos(family):
                labels = _fmt({**target, **combo})
                rate = float(rng.lognormal(0.5, 1.0))
                if family.type == "histogram":
                    base = _base(fleet, rate, COUNTER)
                    buckets = shannon.buckets(family)
                    positive = [b for b in buckets if b > 0]
                    median = positive[max(0, len(positive) // 2 - 1)]
                    for le in buckets:
                        share = 0.5 * (1 + math.erf(math.log(le / median) / (0.8 * math.sqrt(2)))) if le > 0 else 0.0
                        add(f"{family.name}_bucket", f'{labels},le="{le}"', base, share)
                    add(f"{family.name}_bucket", f'{labels},le="+Inf"', base, 1.0)
                    add(f"{family.name}_count", labels, base, 1.0)
                    add(f"{family.name}_sum", labels, base, median * 1.3)
                elif family.type == "counter":
                    add(family.name, labels, _base(fleet, rate, COUNTER), 1.0)
                else:
                    add(family.name, labels, _base(fleet, rate * 10, GAUGE), 1.0)
    # Metrics-generator series arrive by remote write: no target labels.
    for family in sorted(by_source.get("tempo-metrics-generator", []), key=lambda f: f.name):
        for combo in _combos(family):
            labels = _fmt(combo)
            base = _base(fleet, float(rng.lognormal(0.5, 1.0)), COUNTER)
            if family.type == "histogram":
                for le in DEFAULT_BUCKETS:
                    add(f"{family.name}_bucket", f'{labels},le="{le}"', base, min(1.0, le / 2))
                add(f"{family.name}_bucket", f'{labels},le="+Inf"', base, 1.0)
                add(f"{family.name}_count", labels, base, 1.0)
                add(f"{family.name}_sum", labels, base, 0.4)
            else:
                add(family.name, labels, base, 1.0)
    # OpenMetrics needs each metric's samples together.
    fleet.series.sort(key=lambda s: s.name)
    return fleet


def _base(fleet: Fleet, rate: float, kind: int) -> int:
    fleet.rates.append(rate)
    fleet.kinds.append(kind)
    return len(fleet.rates) - 1


def windows(start: int, end: int) -> list[tuple[int, int]]:
    """[from, to) ranges covering [start, end), split at multiples of WINDOW."""
    out, t = [], start
    while t < end:
        stop = min(end, (t // WINDOW + 1) * WINDOW)
        out.append((t, stop))
        t = stop
    return out


class Writer:
    """Writes consecutive windows of the fleet as OpenMetrics, carrying counter state across them."""

    def __init__(self, fleet: Fleet, seed: int = 11) -> None:
        self.fleet = fleet
        self.rng = np.random.default_rng(seed)
        self.rates = np.array(fleet.rates)
        self.kinds = np.array(fleet.kinds)
        self.state = np.zeros(len(fleet.rates))
        self.base_index = np.array([s.base for s in fleet.series])
        self.factor = np.array([s.factor for s in fleet.series])

    def write(self, path: Path, start: int, stop: int) -> int:
        """Write samples at start, start+STEP, ... < stop; returns the number of samples."""
        times = np.arange(start, stop, STEP)
        cycle = 1 + 0.35 * np.sin(2 * np.pi * (times % DAY) / DAY - np.pi / 2)
        jitter = self.rng.uniform(0.8, 1.2, (len(self.rates), len(times)))
        increments = self.rates[:, None] * STEP * cycle[None, :] * jitter
        counters = self.state[:, None] + np.cumsum(increments, axis=1)
        self.state = counters[:, -1].copy()
        levels = self.rates[:, None] * cycle[None, :] * jitter
        constant = np.broadcast_to(self.rates[:, None], counters.shape)
        kinds = self.kinds[:, None]
        base = np.where(kinds == COUNTER, counters, np.where(kinds == GAUGE, levels, constant))
        stamps = [f" {t}\n" for t in times.tolist()]
        with path.open("w") as out:
            chunk = 2048
            for lo in range(0, self.fleet.size, chunk):
                rows = slice(lo, lo + chunk)
                values = np.floor(base[self.base_index[rows]] * self.factor[rows, None]).astype(np.int64)
                for series, row in zip(self.fleet.series[lo:lo + chunk], values.tolist(), strict=True):
                    prefix = series.prefix
                    out.write("".join([prefix + str(v) + s for v, s in zip(row, stamps, strict=True)]))
            out.write("# EOF\n")
        return self.fleet.size * len(times)


def import_file(promtool: str, path: Path, output: Path) -> None:
    subprocess.run([promtool, "tsdb", "create-blocks-from", "--max-block-duration=54h", "openmetrics", "--quiet",
                    str(path), str(output)], check=True, capture_output=True)


@dataclass
class SynthResult:
    series: int
    instances: int
    samples: int
    seconds: float
    start: int
    end: int


def synthesize(fleet: Fleet, start: int, end: int, work: Path, output: Path, promtool: str,
               progress: Callable[[str], None] = print, parallel_imports: int = 2) -> SynthResult:
    """Generate every window and import it: promtool imports earlier windows while the next one is generated."""
    writer = Writer(fleet)
    began = time.monotonic()
    samples = 0
    slots = threading.Semaphore(parallel_imports)
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []
    parts = windows(start, end)

    def run(path: Path) -> None:
        try:
            import_file(promtool, path, output)
            path.unlink()
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)
        finally:
            slots.release()

    for i, (lo, hi) in enumerate(parts):
        slots.acquire()  # at most `parallel_imports` files waiting on disk
        if errors:
            break
        path = work / f"window-{i}.om"
        samples += writer.write(path, lo, hi)
        thread = threading.Thread(target=run, args=(path,))
        thread.start()
        threads.append(thread)
        progress(f"  window {i + 1}/{len(parts)} generated ({samples / 1e6:.0f}M samples, "
                 f"{time.monotonic() - began:.0f}s)")
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return SynthResult(fleet.size, fleet.instances, samples, time.monotonic() - began, start, end)


def plan_scale(work: Path, promtool: str, budget_s: float, days: int, minimum: int = 10_000) -> tuple[int, str]:
    """Instances per Shannon service that fit `budget_s` of generation and import on this machine.

    Times a 6-hour window of a one-instance fleet, generated and imported, and extrapolates:
    generation and imports run side by side on all cores, so the wall time is about the total
    CPU time over the cores, and never less than the (single-threaded) generation.
    """
    small = build_fleet(1)
    per_instance = build_fleet(2).size - small.size
    lo = (int(time.time()) // WINDOW) * WINDOW - WINDOW
    path, out = work / "calibrate.om", work / "calibrate-blocks"
    t0 = time.monotonic()
    samples = Writer(small).write(path, lo, lo + 6 * 3600)
    gen = (time.monotonic() - t0) / samples
    t0 = time.monotonic()
    import_file(promtool, path, out)
    imp = (time.monotonic() - t0) / samples
    path.unlink()
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cores = os.cpu_count() or 1
    per_sample = max(gen, (gen + imp) / min(cores, 3)) * 1.1
    series = budget_s / per_sample / (days * DAY / STEP)
    instances = max(1, int((series - small.size) / per_instance) + 1)
    while build_fleet(instances).size < minimum:
        instances += 1
    note = (f"calibration: generation {1 / gen:,.0f} samples/s, promtool import {1 / imp:,.0f} samples/s "
            f"per process, {cores} cores -> about {1 / per_sample:,.0f} samples/s together")
    return instances, note
