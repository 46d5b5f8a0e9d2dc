"""`python -m bench`: the three benchmarks, side by side with Shannon's original configuration.

  (a) dashboard query cost over 30 days of synthetic Shannon series in a real TSDB;
  (b) alert delivery latency with production intervals;
  (c) Pulumi program cost under mocks at 10, 100 and 1000 scrape services.

Writes bench/results.md and prints one summary line. Needs `make setup` (Debian's
prometheus, alertmanager and promtool) and about an hour; `--only` picks benchmarks.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench import latency, program, queries, synth
from tests import tools
from tests.e2e.fleet import wait_until
from tests.e2e.harness import BINARIES, Process, free_port, ready

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "shannon"
RANGES = {"24h": 86400, "30d": 30 * 86400}
PANEL_TARGET_S = 0.2
RATIO_TARGET = 10.0
PAGE_TARGET_S = 90.0
PROGRAM_TARGET_S = 10.0


def log(message: str) -> None:
    print(message, flush=True)


def _promtool() -> str:
    """The pinned promtool (tests/tools.py)."""
    path = tools.binary("promtool")
    if not path.exists():
        raise SystemExit("promtool not found: run `make setup`")
    return str(path)


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


def _machine() -> dict[str, str]:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    return {"nproc": str(os.cpu_count()), "memory": f"{int(mem) / 2**20:.1f} GiB", "cpu": cpu,
            "python": platform.python_version(), "kernel": platform.release()}


# --- (a) dashboard query cost ------------------------------------------------------------


class BenchPrometheus:
    """Debian's Prometheus on the synthetic TSDB: no scraping, blocks up to 54h, a year of retention."""

    def __init__(self, data: Path, work: Path) -> None:
        self.port = free_port()
        config = work / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 60s\n  evaluation_interval: 60s\n")
        self.process = Process("bench-prometheus", [
            BINARIES["prometheus"], f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=400d",
            "--storage.tsdb.max-block-duration=54h", "--query.timeout=10m"], work / "prometheus.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        try:
            wait_until(lambda: ready(f"{self.url}/-/ready"), 600, "benchmark prometheus ready", interval=1)
        except AssertionError:
            raise SystemExit(f"prometheus did not start:\n{self.process.tail()}") from None

    def stop(self) -> None:
        self.process.stop(timeout=120)

    def restart(self) -> None:
        self.stop()
        self.start()

    def metric(self, name: str) -> float:
        text = requests.get(f"{self.url}/metrics", timeout=10).text
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
                   or line.startswith(name + "{"))

    def wait_compacted(self, limit: float = 1800) -> float:
        """Wait until compaction (one cycle a minute) has merged the backfilled blocks and stops."""
        began = time.monotonic()
        last: tuple[float, float] | None = None
        stable = 0
        while time.monotonic() - began < limit:
            time.sleep(15)
            now = (self.metric("prometheus_tsdb_compactions_total"), self.metric("prometheus_tsdb_blocks_loaded"))
            stable = stable + 1 if now == last else 0
            last = now
            if time.monotonic() - began > 90 and stable >= 4:
                break
        return time.monotonic() - began

    def query(self, expr: str, at: int) -> list[dict[str, Any]]:
        body = requests.get(f"{self.url}/api/v1/query", params={"query": expr, "time": at}, timeout=600).json()
        return body["data"]["result"]


@dataclass
class QueryBench:
    instances: int = 0
    series: int = 0
    raw_samples: int = 0
    recorded_series: int = 0
    tsdb_bytes: int = 0
    blocks: int = 0
    start: int = 0
    end: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    calibration: str = ""
    costs: list[queries.DashboardCost] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)


def run_queries(args: argparse.Namespace, work: Path) -> QueryBench:
    from components.builders.dashboards import collect_dashboards
    from components.render import render_files
    from components.stackfile import load_stack

    promtool = _promtool()
    result = QueryBench()
    work.mkdir(parents=True)
    data = work / "tsdb"
    data.mkdir()
    log("(a) dashboard query cost")
    calibrating = time.monotonic()
    if args.instances:
        result.instances, result.calibration = args.instances, "instances given with --instances"
    else:
        result.instances, result.calibration = synth.plan_scale(work, promtool, args.budget_minutes * 60, args.days)
    result.timings["calibration"] = time.monotonic() - calibrating
    log(f"  {result.calibration}; {result.instances} instances per Shannon service")
    fleet = synth.build_fleet(result.instances)
    result.end = int(time.time()) // 60 * 60
    result.start = result.end - args.days * 86400
    made = synth.synthesize(fleet, result.start, result.end, work, data, promtool, progress=log)
    result.series, result.raw_samples = made.series, made.samples
    result.timings["generate and import"] = made.seconds

    settings, present = load_stack("prod")
    rule_dir = work / "rules"
    rule_files = []
    for rel, text in render_files(settings, present).items():
        if str(rel).startswith("prometheus/rules/"):
            path = rule_dir / Path(rel).name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            rule_files.append(path)
    levels = queries.recording_levels(rule_files)
    server = BenchPrometheus(data, work)
    server.start()
    try:
        result.timings["backfill recording rules"] = queries.backfill_rules(
            promtool, levels, server.url, result.start, result.end, work, data, server.restart, progress=log)
        log("  waiting for compaction of the backfilled blocks")
        result.timings["compaction"] = server.wait_compacted()
        result.blocks = int(server.metric("prometheus_tsdb_blocks_loaded"))
        result.tsdb_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        count = server.query('count({__name__=~".+:.+"})', result.end)
        result.recorded_series = int(float(count[0]["value"][1])) if count else 0

        ours = collect_dashboards()
        boards: list[tuple[str, list[queries.Query]]] = []
        for name in ("policy.json", "enforcement.json"):
            boards.append((f"original {name}", queries.panel_queries(
                f"original {name}", queries.load_dashboard_file(args.reference / name))))
        for name, dashboard in sorted(ours.items()):
            boards.append((f"ours {name}", queries.panel_queries(f"ours {name}", dashboard)))
        t1 = time.monotonic()
        for label, range_s in RANGES.items():
            for name, qs in boards:
                timings = queries.time_queries(server.url, qs, result.end, range_s, scrape_s=synth.STEP)
                cost = queries.summarize(name, range_s, timings)
                result.costs.append(cost)
                log(f"  {label:>3} {name:<32} {len(qs):3d} queries  total {cost.total * 1000:9.0f} ms  "
                    f"max panel {cost.max[1] * 1000:8.0f} ms")
                if name.startswith("ours") and label == "30d":
                    result.slow += [f"{name} / {panel}: {s * 1000:.0f} ms" for panel, s in cost.panels.items()
                                    if s >= PANEL_TARGET_S]
        result.timings["queries"] = time.monotonic() - t1
    finally:
        server.stop()
    return result


# --- results --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _s(value: float | None, unit: str = "") -> str:
    return "never" if value is None else f"{value:.1f}{unit}"


def write_results(path: Path, args: argparse.Namespace, machine: dict[str, str], versions: dict[str, str],
                  qb: QueryBench | None, lat: list[latency.Run] | None, prog: list[program.ProgramRow] | None,
                  summary: str, elapsed: float) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench` (see `bench/__main__.py`); every figure below was measured in",
        f"the run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, which took {elapsed / 60:.0f} minutes.",
        "",
        "```bash",
        "make setup && venv/bin/python -m bench" + (f" {' '.join(args.argv)}" if args.argv else ""),
        "```",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items()],
        *[f"| {k} | {v} |" for k, v in versions.items()],
        "",
        f"**Summary:** {summary}",
        "",
    ]
    if qb is not None:
        lines += [
            "## (a) Dashboard query cost",
            "",
            f"Synthetic Shannon fleet: {qb.instances} instances each of orchestrator, agent-core and llm-service,"
            " plus one of each stack component, every catalog family with its label names",
            f"(`bench/synth.py`). {args.days} days at 60 s resolution, imported with"
            " `promtool tsdb create-blocks-from openmetrics`; this project's recording rules backfilled with",
            "`promtool tsdb create-blocks-from rules` (level by level, as rules read other rules) and compacted by"
            " Prometheus before any query ran.",
            "",
            "| Scale | |",
            "|---|---|",
            f"| raw series | {qb.series:,} |",
            f"| raw samples | {qb.raw_samples:,} |",
            f"| recorded series (backfilled) | {qb.recorded_series:,} |",
            f"| TSDB size on disk | {qb.tsdb_bytes / 2**20:,.0f} MiB ({qb.tsdb_bytes / max(qb.raw_samples, 1):.2f}"
            " bytes per raw sample, recorded series included) |",
            f"| blocks after compaction | {qb.blocks} |",
            f"| time range | {time.strftime('%Y-%m-%d %H:%M', time.gmtime(qb.start))} to "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(qb.end))} UTC |",
            *[f"| {k} | {v:,.0f} s |" for k, v in qb.timings.items()],
            f"| scale chosen by | {qb.calibration} |",
            "",
            "Each panel query ran as Grafana sends it: a range query ending at the data's last sample, the",
            "step from the panel's width on a 1920-pixel dashboard and Grafana's interval rounding, the",
            "datasource scrape interval set to the data's 60 s (`$__rate_interval` = max(step + 60s, 240s)),",
            "dashboard variables at \"All\". Each query ran once to warm the cache, then 3 times; the",
            "median counts. A panel's time is the sum of its queries. p50 and max are over panels.",
            "",
            "| Range | Dashboard | Queries | Panel p50 (ms) | Panel max (ms) | Slowest panel | Total (ms) | Errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for cost in qb.costs:
            label = next(k for k, v in RANGES.items() if v == cost.range_s)
            lines.append(f"| {label} | {cost.name} | {cost.queries} | {_ms(cost.p50)} | {_ms(cost.max[1])} | "
                         f"{cost.max[0]} | {_ms(cost.total)} | {len(cost.errors)} |")
        errors = [f"- {c.name} ({next(k for k, v in RANGES.items() if v == c.range_s)}): {e}"
                  for c in qb.costs for e in c.errors]
        if errors:
            lines += ["", "Query errors:", "", *errors]
        lines += ["", "Panels of this project at or over 200 ms at 30d: " + ("; ".join(qb.slow) or "none") + "."]
        lines.append("")
    if lat is not None:
        rows = latency.table(lat)
        lines += [
            "## (b) Alert delivery latency",
            "",
            "Fault injected to first notification received, over fresh stacks running side by side on",
            "loopback (`bench/latency.py`). **original**: Shannon's prometheus.yml and alerts.yml"
            " (scrape 15s, rule groups every 30s) and an Alertmanager at default timing (group_wait 30s);"
            " **ours**: this project's prod configuration (scrape 15s, evaluation 15s, pages with"
            " group_wait 10s, two Alertmanager peers). OrchestratorDown: both orchestrator instances stop"
            " answering. PolicyErrorRateHigh: 20% of policy evaluations fail, after 5 minutes of healthy"
            f" traffic. A run that delivered nothing within {args.latency_timeout:.0f} s counts as never.",
            "",
            "| Configuration | Alert | Delivered | Min (s) | Median (s) | Max (s) |",
            "|---|---|---|---|---|---|",
            *[f"| {r.config} | {r.alert} | {r.delivered}/{r.runs} | {_s(r.minimum)} | {_s(r.median)} | {_s(r.maximum)} |"
              for r in rows],
        ]
        errors = [f"- {r.config} {r.alert} #{r.index}: {r.error}" for r in lat if r.error]
        if errors:
            lines += ["", "Runs that failed to start:", "", *errors]
        if any(r.config == "original" and r.alert == "PolicyErrorRateHigh" and r.delivered == 0 for r in rows):
            lines += ["", "The original PolicyErrorRateHigh divides `shannon_policy_slo_errors_total` (labels"
                      " error_category, effective_mode) by `shannon_policy_evaluations_total` (decision, mode,"
                      " reason) without aggregating: one-to-one matching pairs no series, so it cannot fire."
                      " This project's rule aggregates both sides by job first."]
        notes = sorted({f"- {r.config} {r.alert}: {r.note}" for r in lat if r.note})
        if notes:
            lines += ["", "Runs that delivered nothing, with Prometheus's view of the rule at the timeout:", "", *notes]
        lines.append("")
    if prog is not None:
        lines += [
            "## (c) Program cost as Shannon grows",
            "",
            "The real `__main__.py` for prod under the suite's recording mocks (`bench/program.py`), each size"
            " in a fresh interpreter, 3 runs; time is the program's evaluation (median), memory the process's"
            " peak RSS (imports included; baseline is after imports).",
            "",
            "| Services | Dashboards | Resources | Time (s) | Time per service (ms) | Peak RSS (MiB) | Baseline RSS (MiB) |",
            "|---|---|---|---|---|---|---|",
            *[f"| {r.services} | {r.dashboards} | {r.resources} | {r.seconds:.2f} | {r.seconds / r.services * 1000:.1f} | "
              f"{r.peak_rss_mib:.0f} | {r.baseline_rss_mib:.0f} |" for r in prog],
        ]
        if len(prog) >= 3:
            a, b, c = prog[0], prog[1], prog[2]
            lines += ["", f"Growth: {(b.seconds - a.seconds) / (b.services - a.services) * 1000:.2f} ms per added "
                      f"service from {a.services} to {b.services}, "
                      f"{(c.seconds - b.seconds) / (c.services - b.services) * 1000:.2f} ms from {b.services} to "
                      f"{c.services}: a constant cost per service is linear growth."]
        lines.append("")
    if getattr(args, "previous", None):
        lines += compare_with_previous(args.previous, versions, qb, lat)
    path.write_text("\n".join(lines))


def _table_rows(text: str, header: str) -> list[list[str]]:
    """Cells of the markdown table whose header line starts with `header`."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    if start is None:
        return []
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def compare_with_previous(previous: Path, versions: dict[str, str], qb: QueryBench | None,
                          lat: list[latency.Run] | None) -> list[str]:
    """A section with the previous run's figures beside this run's: the change, shown."""
    text = previous.read_text()
    before_versions = {r[0]: r[1] for r in _table_rows(text, "| | |") if len(r) == 2}

    def version(table: dict[str, str], name: str) -> str:
        return table.get(name, "?").split(" (")[0]

    shown = previous.relative_to(ROOT) if previous.is_relative_to(ROOT) else previous
    lines = ["## Change from the previous run", "",
             f"Previous run: `{shown}`, on {version(before_versions, 'prometheus')} and "
             f"{version(before_versions, 'alertmanager')}; this run on {version(versions, 'prometheus')} and "
             f"{version(versions, 'alertmanager')}.", ""]
    if qb is not None:
        before = {(r[0], r[1]): r for r in _table_rows(text, "| Range | Dashboard |")}
        lines += ["| Range | Dashboard | Total before (ms) | Total now (ms) | Slowest panel before (ms) "
                  "| Slowest panel now (ms) |", "|---|---|---|---|---|---|"]
        for cost in qb.costs:
            label = next(k for k, v in RANGES.items() if v == cost.range_s)
            old = before.get((label, cost.name))
            lines.append(f"| {label} | {cost.name} | {old[6] if old else 'n/a'} | {_ms(cost.total)} | "
                         f"{old[4] if old else 'n/a'} | {_ms(cost.max[1])} |")
        lines.append("")
    if lat is not None:
        before_lat = {(r[0], r[1]): r for r in _table_rows(text, "| Configuration | Alert |")}
        lines += ["| Configuration | Alert | Median before (s) | Median now (s) | Delivered before | Delivered now |",
                  "|---|---|---|---|---|---|"]
        for row in latency.table(lat):
            old = before_lat.get((row.config, row.alert))
            lines.append(f"| {row.config} | {row.alert} | {old[4] if old else 'n/a'} | {_s(row.median)} | "
                         f"{old[2] if old else 'n/a'} | {row.delivered}/{row.runs} |")
        lines.append("")
    return lines


def _summary(qb: QueryBench | None, lat: list[latency.Run] | None, prog: list[program.ProgramRow] | None) -> str:
    parts = []
    if qb is not None:
        by = {(c.name, c.range_s): c for c in qb.costs}
        original = by.get(("original policy.json", RANGES["30d"]))
        ours = by.get(("ours policy.json", RANGES["30d"]))
        if original and ours and ours.total > 0:
            ratio = original.total / ours.total
            parts.append(f"policy dashboard 30d {_ms(original.total)} ms original vs {_ms(ours.total)} ms ours "
                         f"= {ratio:.0f}x (target >= {RATIO_TARGET:.0f}x: {'met' if ratio >= RATIO_TARGET else 'MISSED'})")
        worst = max((c.max[1] for c in qb.costs if c.name.startswith("ours") and c.range_s == RANGES["30d"]), default=0)
        parts.append(f"slowest panel of ours at 30d {_ms(worst)} ms (target < 200 ms: "
                     f"{'met' if worst < PANEL_TARGET_S else 'MISSED'}), {qb.series:,} series")
    if lat is not None:
        rows = {(r.config, r.alert): r for r in latency.table(lat)}
        ours, orig = rows[("ours", "OrchestratorDown")], rows[("original", "OrchestratorDown")]
        met = ours.median is not None and ours.median <= PAGE_TARGET_S
        parts.append(f"OrchestratorDown median {_s(ours.median, ' s')} ours vs {_s(orig.median, ' s')} original "
                     f"(target <= 90 s: {'met' if met else 'MISSED'})")
        ours, orig = rows[("ours", "PolicyErrorRateHigh")], rows[("original", "PolicyErrorRateHigh")]
        parts.append(f"PolicyErrorRateHigh median {_s(ours.median, ' s')} ours vs {_s(orig.median, ' s')} original")
    if prog:
        big = prog[-1]
        parts.append(f"program at {big.services} services {big.seconds:.1f} s, {big.peak_rss_mib:.0f} MiB "
                     f"(target < 10 s: {'met' if big.seconds < PROGRAM_TARGET_S else 'MISSED'})")
    return "; ".join(parts)


WORK_MARKER = ".bench-work"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help="directory with Shannon's original policy.json, enforcement.json, prometheus.yml, alerts.yml")
    parser.add_argument("--only", default="queries,latency,program", help="comma-separated: queries, latency, program")
    parser.add_argument("--budget-minutes", type=float, default=15, help="time for generating and importing the TSDB")
    parser.add_argument("--instances", type=int, help="instances per Shannon service (skips calibration)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-timeout", type=float, default=420, help="seconds to wait for a notification")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument("--previous", type=Path,
                        help="an earlier results file: its figures are shown beside the new ones")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    only = set(args.only.split(","))
    if unknown := only - {"queries", "latency", "program"}:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}")
    for flag, value, low in (("--budget-minutes", args.budget_minutes, 0.5), ("--instances", args.instances, 1),
                             ("--days", args.days, 1), ("--runs", args.runs, 1),
                             ("--latency-timeout", args.latency_timeout, 10)):
        if value is not None and not (value >= low and math.isfinite(value)):
            parser.error(f"{flag} must be at least {low} (got {value})")
    if args.days > 365:
        parser.error(f"--days {args.days}: at most 365 (the TSDB import is sized for a month or a year)")
    if args.previous is not None and not args.previous.is_file():
        parser.error(f"--previous {args.previous} is not a file: give an earlier bench/results*.md")
    # The work directory is removed before and after a run: never one the benchmark did not make.
    if args.work.exists() and (not args.work.is_dir() or (any(args.work.iterdir())
                                                          and not (args.work / WORK_MARKER).exists())):
        parser.error(f"--work {args.work} holds files the benchmark did not write; give a new directory")
    if not args.results.parent.is_dir():
        parser.error(f"--results {args.results}: {args.results.parent} is not a directory")
    missing = [n for n in ("policy.json", "enforcement.json", "prometheus.yml", "alerts.yml")
               if not (args.reference / n).exists()]
    if missing and only & {"queries", "latency"}:
        parser.error(f"{args.reference} lacks {missing}: pass --reference <dir with Shannon's originals>")
    for binary in (BINARIES["prometheus"], BINARIES["alertmanager"]):
        if only & {"queries", "latency"} and not Path(binary).exists():
            parser.error(f"{binary} is missing: run `make setup`")

    began = time.monotonic()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    (args.work / WORK_MARKER).write_text("made by python -m bench; removed after the run\n")
    machine = _machine()
    versions = {}
    if only & {"queries", "latency"}:
        versions = {"prometheus": _version(BINARIES["prometheus"]), "alertmanager": _version(BINARIES["alertmanager"]),
                    "promtool": _version(_promtool())}
    log(f"machine: {machine['nproc']} cores, {machine['memory']}")
    qb = run_queries(args, args.work / "queries") if "queries" in only else None
    lat = None
    if "latency" in only:
        log("(b) alert delivery latency")
        lat = latency.measure(args.work / "latency", args.reference, args.runs, args.latency_timeout, progress=log)
    prog = None
    if "program" in only:
        log("(c) program cost")
        (args.work / "program").mkdir()
        prog = program.measure((10, 100, 1000), args.work / "program", progress=log)
    summary = _summary(qb, lat, prog)
    write_results(args.results, args, machine, versions, qb, lat, prog, summary, time.monotonic() - began)
    shutil.rmtree(args.work, ignore_errors=True)
    log(f"wrote {args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT) else args.results}")
    print(f"bench: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
