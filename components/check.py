"""A render directory checked by the programs that consume it: `python -m components.check build/<stack>`.

What `make check STACK=<stack>` runs after the render, for every kind of stack:

* `prometheus/prometheus.yml` (own mode): `promtool check config`, which also checks the rule files it loads;
* `operator/prometheusrule-*.yaml` (operator mode): each PrometheusRule's `spec` by `promtool check rules`;
* `alertmanager/alertmanager.yml`: `amtool check-config`;
* `exporters/blackbox.yml`: `blackbox_exporter --config.check`.

The binaries are the pinned Debian ones that `.ci/install-tools.sh` extracts (`--tools`, default
`$SHANNON_TOOLS/bin`). A missing binary is a refusal naming the install command, not a skipped check.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_TOOLS = Path(os.environ.get("SHANNON_TOOLS", "/opt/shannon-observability/tools")) / "bin"


@dataclass(frozen=True)
class Check:
    what: str  # the file or files checked, as shown
    command: list[str]


def planned_checks(render: Path, tools: Path, scratch: Path) -> list[Check]:
    """The consumer checks this render directory calls for; operator rules are unwrapped into `scratch`."""
    checks: list[Check] = []
    prometheus = render / "prometheus" / "prometheus.yml"
    if prometheus.is_file():
        checks.append(Check(str(prometheus), [str(tools / "promtool"), "check", "config", str(prometheus)]))
    rules = sorted((render / "operator").glob("prometheusrule-*.yaml"))
    if rules:
        unwrapped = []
        for path in rules:
            spec = (yaml.safe_load(path.read_text()) or {}).get("spec") or {}
            target = scratch / f"{path.stem}.yml"
            target.write_text(yaml.safe_dump(spec, sort_keys=False))
            unwrapped.append(str(target))
        checks.append(Check(f"{len(rules)} PrometheusRules in {render / 'operator'}",
                            [str(tools / "promtool"), "check", "rules", *unwrapped]))
    alertmanager = render / "alertmanager" / "alertmanager.yml"
    if alertmanager.is_file():
        checks.append(Check(str(alertmanager), [str(tools / "amtool"), "check-config", str(alertmanager)]))
    blackbox = render / "exporters" / "blackbox.yml"
    if blackbox.is_file():
        checks.append(Check(str(blackbox), [str(tools / "prometheus-blackbox-exporter"),
                                            f"--config.file={blackbox}", "--config.check"]))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("render", type=Path, help="a render directory (python -m components.render --out)")
    parser.add_argument("--tools", type=Path, default=DEFAULT_TOOLS, help="where promtool and amtool are")
    args = parser.parse_args(argv)
    if not (args.render / "deployment.yaml").is_file():
        print(f"error: {args.render} is not a render directory (no deployment.yaml); "
              "run `make render STACK=<stack>` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="shannon-check-") as scratch:
        try:
            checks = planned_checks(args.render, args.tools, Path(scratch))
        except (OSError, yaml.YAMLError, AttributeError) as error:
            print(f"error: {args.render} holds a file a render did not write ({error}); re-render it",
                  file=sys.stderr)
            return 2
        missing = sorted({c.command[0] for c in checks if not Path(c.command[0]).is_file()})
        if missing:
            print(f"error: {', '.join(missing)} not installed; run `bash .ci/install-tools.sh` (or pass --tools)",
                  file=sys.stderr)
            return 2
        failed = 0
        for check in checks:
            result = subprocess.run(check.command, capture_output=True, text=True, timeout=300)
            status = "ok" if result.returncode == 0 else "FAILED"
            print(f"{status}: {Path(check.command[0]).name} on {check.what}", file=sys.stderr)
            if result.returncode != 0:
                failed += 1
                sys.stderr.write(result.stdout + result.stderr)
    if not checks:
        print(f"error: {args.render} holds nothing a consumer checks", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
