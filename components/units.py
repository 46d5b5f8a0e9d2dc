"""Parsing of the duration and size formats the stack settings use.

Pure functions, shared by the settings model and the builders.
"""

from __future__ import annotations

import math
import re

# Prometheus durations: 1y2w3d4h5m6s7ms, units in descending order, at least one.
_PROM_DURATION = re.compile(
    r"^(?:(?P<y>[0-9]+)y)?(?:(?P<w>[0-9]+)w)?(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?"
    r"(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?(?:(?P<ms>[0-9]+)ms)?$"
)
_PROM_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}

# Go time.Duration as Tempo reads it: h, m, s, ms only (no days).
_GO_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:h|m|s|ms))+$")
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)")

_QUANTITY = re.compile(r"^(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
_QUANTITY_FACTORS = {
    None: 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}

# Prometheus --storage.tsdb.retention.size uses base-2 units spelled KB, MB, GB...
_PROM_SIZE = re.compile(r"^(?P<num>[0-9]+)(?P<unit>B|KB|MB|GB|TB|PB|EB)$")
_PROM_SIZE_FACTORS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50, "EB": 2**60}

# Both Prometheus's and Go's durations are int64 nanoseconds: about 292 years.
PROM_DURATION_MAX = (2**63 - 1) / 1e9

_CPU = re.compile(r"^(?:[0-9]+m|[0-9]+(?:\.[0-9]+)?)$")


def prom_duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `15d` or `1h30m`; ValueError if malformed."""
    match = _PROM_DURATION.fullmatch(value)
    if not value or match is None or not any(match.groupdict().values()):
        raise ValueError(f"{value!r} is not a Prometheus duration (examples: 30s, 5m, 12h, 15d)")
    seconds = sum(int(n) * _PROM_UNITS[u] for u, n in match.groupdict().items() if n)
    if seconds > PROM_DURATION_MAX:
        raise ValueError(f"{value!r} is beyond Prometheus's longest duration (about 292y, its int64 nanoseconds)")
    return seconds


def prom_duration(seconds: float) -> str:
    """The shortest whole-unit Prometheus duration for `seconds` (rounded): 86400 -> 1d, 90 -> 90s."""
    whole = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def go_duration_seconds(value: str) -> float:
    """Seconds in a Go duration such as `336h` (Tempo's format); ValueError if malformed."""
    if not _GO_DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a Go duration (examples: 336h, 90m, 30s; days are not allowed)")
    factors = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    seconds = sum(float(n) * factors[u] for n, u in _GO_PART.findall(value))
    if seconds > PROM_DURATION_MAX:
        raise ValueError(f"{value!r} is beyond Go's longest duration (2562047h, its int64 nanoseconds)")
    return seconds


def quantity_bytes(value: str) -> int:
    """Bytes in a Kubernetes memory/storage quantity such as `50Gi`; ValueError if malformed."""
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 512Mi, 50Gi, 1Ti)")
    return int(float(match["num"]) * _QUANTITY_FACTORS[match["unit"]])


def cpu_millis(value: str) -> float:
    """Millicores in a Kubernetes CPU quantity: `500m` -> 500, `1.5` -> 1500; ValueError if malformed."""
    if not _CPU.fullmatch(value):
        raise ValueError(f"{value!r} is not a CPU quantity (examples: 250m, 1, 1.5)")
    return float(value[:-1]) if value.endswith("m") else float(value) * 1000


def prom_size_bytes(value: str) -> int:
    """Bytes in a Prometheus retention size such as `42GB` (base 2); ValueError if malformed."""
    match = _PROM_SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a Prometheus size (examples: 512MB, 42GB, 1TB)")
    return int(match["num"]) * _PROM_SIZE_FACTORS[match["unit"]]


def prom_size_from_bytes(n: int) -> str:
    """The largest whole Prometheus size not exceeding `n` bytes, in GB or MB."""
    if n >= 2**30:
        return f"{math.floor(n / 2**30)}GB"
    return f"{max(1, math.floor(n / 2**20))}MB"


def megabytes(value: str) -> int:
    """A quantity in whole mebibytes, for Docker's `memory` (MB) argument."""
    return max(1, quantity_bytes(value) // 2**20)
