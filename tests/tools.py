"""Where the live binaries are, and which versions they must be: one source, `.ci/tools.lock`.

`.ci/install-tools.sh` extracts the pinned Debian packages into $SHANNON_TOOLS; the tests,
the end-to-end harness and the benchmarks all run the binaries from there, never whatever
older `prometheus` a machine may have on PATH.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / ".ci" / "tools.lock"
TOOLS = Path(os.environ.get("SHANNON_TOOLS", "/opt/shannon-observability/tools"))
# Compiled into Debian's Alertmanager: where it reads default.tmpl.
TEMPLATES = Path("/usr/share/prometheus/alertmanager")


@dataclass(frozen=True)
class Pin:
    package: str
    version: str  # the Debian version, e.g. 3.5.3+ds1-6
    suite: str
    binaries: tuple[str, ...]

    @property
    def upstream(self) -> str:
        """The upstream version the binary reports: 3.5.3+ds1-6 -> 3.5.3."""
        return re.split(r"[+-]", self.version, maxsplit=1)[0]


def pins() -> dict[str, Pin]:
    """Every pinned binary, by binary name."""
    out: dict[str, Pin] = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        package, version, suite, binaries = line.split()
        pin = Pin(package, version, suite, tuple(binaries.split(",")))
        out.update(dict.fromkeys(pin.binaries, pin))
    return out


def binary(name: str) -> Path:
    """Path of a pinned binary (it may not exist yet: see `missing`)."""
    if name not in pins():
        raise KeyError(f"{name} is not pinned in {LOCK}")
    return TOOLS / "bin" / name


def missing() -> list[str]:
    return [name for name in pins() if not binary(name).exists()]


def reported_version(name: str) -> str:
    """What the binary says of its version (`--version`; the Redis exporter logs it). Debian builds VictoriaMetrics
    without its version stamp, so for a binary that names none, the Debian changelog of the package the binary
    is linked from (its first line names the version) stands in."""
    out = subprocess.run([str(binary(name)), "--version"], capture_output=True, text=True, timeout=30)
    text = (out.stdout + out.stderr).strip()
    if re.search(r"\d+\.\d+\.\d+", text):
        return text
    package_dir = binary(name).resolve().parents[2]  # <tools>/<package>_<version>/usr/bin/<binary>
    for changelog in sorted(package_dir.glob("usr/share/doc/*/changelog.Debian.gz")):
        with gzip.open(changelog, "rt") as handle:
            return f"{name}: no version in --version; Debian changelog: {handle.readline().strip()}"
    return text
