"""Render a stack's configuration files without Pulumi: `python -m components.render --stack prod --out build/prod`.

Reads `Pulumi.<stack>.yaml` through the same settings model and builders as the
Pulumi program, so the files are byte-identical to what `pulumi up` deploys,
except that credentials are visibly fake placeholders. Needs no Pulumi CLI,
engine or credentials. Invalid input exits with status 2 and writes nothing.

Layout of <out>:
  prometheus/prometheus.yml, prometheus/rules/*.yml
  alertmanager/alertmanager.yml
  grafana/datasources.yml, grafana/dashboards/*.json, grafana/grafana.ini,
  grafana/dashboard-provider.yml
  tempo/tempo.yaml (when Tempo is enabled)
  otel-collector/config.yaml (when tracing.collector is enabled)
  exporters/blackbox.yml (when the blackbox exporter is enabled)
  operator/<kind>-<name>.yaml: operator mode's custom resources and ConfigMaps, instead of the
    prometheus/, alertmanager/ and grafana/ directories
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from components.builders import operator
from components.builders.artifacts import build_artifacts, placeholder_secrets, render_alertmanager_yaml
from components.builders.dashboards import DashboardError
from components.builders.deployment import build_deployment_summary
from components.builders.rules import RuleFileError
from components.builders.serialize import dump_yaml
from components.settings import SettingsError, StackSettings, required_secrets
from components.stackfile import REPO, StackFileError, load_stack


def render_files(settings: StackSettings, secrets_present: set[str]) -> dict[str, str]:
    """Relative path -> file text for a whole stack, with placeholder secrets."""
    artifacts = build_artifacts(settings)
    files: dict[str, str] = {}
    if settings.operator.enabled:
        # The custom resources and sidecar ConfigMaps, one object per file, as the program creates them.
        config = operator.alertmanager_config(settings, placeholder_secrets(settings, secrets_present))
        for obj in [*(o for objs in artifacts.operator.values() for o in objs), config]:
            files[f"operator/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"] = dump_yaml(obj)
    else:
        files.update({f"prometheus/{path}": text for path, text in artifacts.prometheus.items()})
        files["alertmanager/alertmanager.yml"] = render_alertmanager_yaml(
            settings, placeholder_secrets(settings, secrets_present))
        files["grafana/datasources.yml"] = artifacts.grafana_datasources
        files["grafana/grafana.ini"] = artifacts.grafana_ini
        files["grafana/dashboard-provider.yml"] = artifacts.grafana_dashboard_provider
        files.update({f"grafana/dashboards/{name}": text for name, text in artifacts.grafana_dashboards.items()})
    files["deployment.yaml"] = dump_yaml(build_deployment_summary(settings))
    files.update({f"tempo/{path}": text for path, text in artifacts.tempo.items()})
    files.update({f"otel-collector/{path}": text for path, text in artifacts.otel_collector.items()})
    files.update({f"exporters/{path}": text for path, text in artifacts.exporters.items()})
    return files


MARKER = ".shannon-render"  # in an output directory: the top-level entries the render wrote there


def check_out(out: Path) -> str | None:
    """Why `out` cannot take a render, or None: render only writes into a new or empty directory, or one it
    wrote before, so it never deletes what it did not write."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a directory"
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        return (f"--out {out} holds files the render did not write; give a new or empty directory (or one an "
                "earlier render wrote), so nothing of yours is replaced")
    # The nearest directory that exists must take new entries, or the render would stop half-way.
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"--out {out} cannot be created: {existing} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"--out {out} cannot be written: {existing} is not writable by this user; give a directory you own"
    return None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def write_files(files: dict[str, str], out: Path) -> None:
    """Write all files, replacing the component directories in `out` only once everything is written, and
    removing those an earlier render wrote that this one does not."""
    if (problem := check_out(out)) is not None:
        raise ValueError(problem)
    out.mkdir(parents=True, exist_ok=True)
    earlier = set((out / MARKER).read_text().split()) if (out / MARKER).is_file() else set()
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=out))
    try:
        for rel, text in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        written = {rel.split("/")[0] for rel in files}
        for top in sorted(written):
            _remove(out / top)
            (staging / top).rename(out / top)
        for stale in sorted(earlier - written):
            _remove(out / stale)
        (out / MARKER).write_text("\n".join(sorted(written)) + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--stack-file", type=Path, help="read this stack file instead of Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    if (problem := check_out(args.out)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return 2
    try:
        settings, secrets = load_stack(args.stack, REPO, args.stack_file)
        files = render_files(settings, secrets)
    except (StackFileError, SettingsError, RuleFileError, DashboardError) as error:
        print(f"error: {error}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return 2
    missing = [k for k in required_secrets(settings) if k not in secrets]
    if missing:
        print(f"note: Pulumi.{args.stack}.yaml does not set the secrets {', '.join(missing)} yet; "
              "the render uses placeholders, `pulumi up` will refuse until they are set", file=sys.stderr)
    try:
        write_files(files, args.out)
    except OSError as error:
        # A full disk or a filesystem that refuses the names: the staging directory is gone again.
        print(f"error: cannot write the render into --out {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"rendered {len(files)} files for stack '{args.stack}' into {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
