"""Program cost as Shannon grows: the Pulumi program under mocks for prod with N scrape services.

Each size runs in a fresh interpreter (`python -m bench.program --services N ...`), so peak
memory is that run's own: the real `__main__.py` with `Pulumi.prod.yaml` plus N Shannon scrape
targets (the defaults and N minus their number more) and one more dashboard per ten services, evaluated
under the test suite's recording mocks. Time is the program's evaluation, imports excluded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE_DASHBOARDS = 8


def stack_file(services: int, directory: Path) -> Path:
    """Pulumi.prod.yaml with `services` Shannon scrape targets."""
    data = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    from components import defaults

    targets = [dict(t) for t in defaults.SHANNON_TARGETS]
    targets += [{"job": f"shannon-svc-{i:04d}", "port": 9000 + i % 1000} for i in range(services - len(targets))]
    data["config"]["shannon-observability:shannon"]["targets"] = targets
    path = directory / f"Pulumi.prod-{services}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: on Linux that
    carries over the parent's peak through fork and exec, so a child of a large bench process
    would report the parent's memory."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _child(services: int, extra_dashboards: int, path: Path) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import dashboards
    from tests.conftest import run_stack

    template = dashboards.BUILDERS["agent_core"] if "agent_core" in dashboards.BUILDERS else next(
        iter(dashboards.BUILDERS.values()))
    for i in range(extra_dashboards):
        dashboards.BUILDERS[f"bench-{i:04d}"] = lambda i=i: {**template(), "uid": f"bench-{i:04d}",
                                                              "title": f"Bench service {i:04d}"}
    baseline = _peak_rss_mib()
    t0 = time.perf_counter()
    run = run_stack("prod", stack_file=path)
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mib()
    return {"seconds": seconds, "peak_rss_mib": peak, "baseline_rss_mib": baseline,
            "resources": len(run.resources), "dashboards": BASE_DASHBOARDS + extra_dashboards}


@dataclass(frozen=True)
class ProgramRow:
    services: int
    dashboards: int
    resources: int
    seconds: float  # median over repetitions
    peak_rss_mib: float
    baseline_rss_mib: float


def measure(sizes: tuple[int, ...], work: Path, repeat: int = 3,
            progress: Callable[[str], None] = print) -> list[ProgramRow]:
    rows = []
    for services in sizes:
        path = stack_file(services, work)
        results = []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, "-m", "bench.program", "--services", str(services),
                                  "--extra-dashboards", str(services // 10), "--stack-file", str(path)],
                                 cwd=ROOT, check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = ProgramRow(services, int(results[0]["dashboards"]), int(results[0]["resources"]),
                         statistics.median(r["seconds"] for r in results), max(r["peak_rss_mib"] for r in results),
                         min(r["baseline_rss_mib"] for r in results))
        progress(f"  {services} services: {row.seconds:.2f}s, peak {row.peak_rss_mib:.0f} MiB, {row.resources} resources")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.program")
    parser.add_argument("--services", type=int, required=True)
    parser.add_argument("--extra-dashboards", type=int, default=0)
    parser.add_argument("--stack-file", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(_child(args.services, args.extra_dashboards, args.stack_file)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
