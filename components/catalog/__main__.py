"""`python -m components.catalog refresh --shannon PATH`: rewrite Shannon's sections of catalog/metrics.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from components.catalog import CATALOG_FILE, SHANNON_SERVICES, _parse_catalog
from components.catalog import refresh as refresher
from components.catalog.treesitter import ScanError

HEADER = """\
# Metric families the stack's rules and dashboards may select, by source.
#
# Shannon's sections (one per /metrics endpoint) are read from Shannon's code, at the commit
# below, by `python -m components.catalog refresh --shannon <checkout>` (components/catalog/):
# per family the line that registers it, `written`: the lines that write it in code that can
# run (empty: never written, so nothing can ever show it), `values`: the label values the code
# spells out ("*": also values computed at run time), and the buckets. Do not edit them by hand:
# refresh. The other sections list what this project uses of the standard components, each with
# the documentation it comes from. A series a rule or dashboard selects must be listed here, be
# written, or be a recording rule (components/lint.py, run by `make check` and the suite).
#
# Histograms expose <name>_bucket{le}, <name>_count and <name>_sum. Every scraped series also
# carries the target labels job, instance, service, component (and namespace, pod on
# Kubernetes); a metric's own `service` or `component` label is stored as `exported_<label>`.
"""


def write_catalog(header: dict, shannon: dict, path: Path = CATALOG_FILE) -> int:
    current = yaml.safe_load(path.read_text())
    others = {k: v for k, v in current["sources"].items() if k not in SHANNON_SERVICES}
    body = yaml.safe_dump({"shannon": header, "sources": {**shannon, **others}}, sort_keys=False, width=4096,
                          default_flow_style=None, allow_unicode=True)
    text = HEADER + body
    _parse_catalog(path, text)  # what is written must load
    path.write_text(text)
    return sum(len(s["metrics"]) for s in shannon.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.catalog",
                                     description="The metrics catalog, read from Shannon's code.")
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser("refresh", help="rewrite Shannon's sections of catalog/metrics.yaml from a checkout")
    refresh.add_argument("--shannon", type=Path, required=True, help="a git checkout of github.com/Kocoro-lab/Shannon")
    refresh.add_argument("--catalog", type=Path, default=CATALOG_FILE, help="the catalog file to rewrite")
    args = parser.parse_args(argv)
    if not args.shannon.is_dir():
        print(f"error: --shannon {args.shannon}: no such directory (clone Shannon first)", file=sys.stderr)
        return 2
    try:
        header, shannon = refresher.sections(args.shannon.resolve())
        count = write_catalog(header, shannon, args.catalog)
    except (ScanError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    never = sum(1 for s in shannon.values() for m in s["metrics"].values() if not m["written"])
    print(f"wrote {args.catalog}: {count} Shannon families from {header['commit'][:12]}, "
          f"{never} never written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
