"""Prometheus capacity planning: volume, retention size and memory from series and interval.

    python -m components.capacity --series 60000 --scrape-interval 15s --retention 30d

Prints the `prometheus.*` settings to put in `Pulumi.<stack>.yaml`. The formulas,
and why they hold, are in docs/operations.md ("Capacity planning"):

* samples/s       = series / scrape interval
* TSDB bytes      = samples/s x retention seconds x bytes per sample (Prometheus
                    compresses to 1-2 bytes; 2.0 plans for the worst case, and
                    `python -m bench` reports the figure measured on Shannon-like data)
* WAL bytes       = samples/s x 3 h x 4 bytes (about 2-3 h of samples, snappy-compressed)
* volume          = max(TSDB / 0.85, TSDB x 1.1 + WAL), rounded up to a whole Gi
                    (0.85 is RETENTION_SIZE_SHARE: retention.size keeps this share of the
                    volume; compaction briefly rewrites up to a tenth of the TSDB)
* retention.size  = 85% of the volume (what the program derives when unset)
* memory request  = 512 MiB + series x 8 KiB (head chunks, index, series churn, Go GC)
* memory limit    = 2 x request (query and compaction spikes)
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from components.defaults import RETENTION_SIZE_SHARE
from components.units import prom_duration_seconds, prom_size_from_bytes

GI = 2**30
MI = 2**20
PLANNING_BYTES_PER_SAMPLE = 2.0
WAL_SECONDS = 3 * 3600
WAL_BYTES_PER_SAMPLE = 4.0
COMPACTION_SHARE = 0.1
BASE_MEMORY = 512 * MI
MEMORY_PER_SERIES = 8 * 2**10


@dataclass(frozen=True)
class Plan:
    series: int
    scrape_interval_s: float
    retention_s: float
    samples_per_second: float
    tsdb_bytes: int
    wal_bytes: int
    volume_gi: int
    retention_size: str
    memory_request_mi: int
    memory_limit_mi: int

    def settings_yaml(self) -> str:
        """The `prometheus` block of a stack file for this plan."""
        return (
            "  shannon-observability:prometheus:\n"
            f"    volumeSize: {self.volume_gi}Gi\n"
            f"    resources:\n"
            f"      memory: {self.memory_request_mi}Mi\n"
            f"      memoryLimit: {self.memory_limit_mi}Mi\n"
        )


def plan(series: int, scrape_interval: str, retention: str,
         bytes_per_sample: float = PLANNING_BYTES_PER_SAMPLE) -> Plan:
    """Size Prometheus for `series` active series scraped every `scrape_interval`, kept for `retention`."""
    if series <= 0:
        raise ValueError("--series must be positive")
    if bytes_per_sample <= 0:
        raise ValueError(f"--bytes-per-sample must be positive (got {bytes_per_sample:g}); Prometheus stores 1 to 2")
    interval_s = prom_duration_seconds(scrape_interval)
    retention_s = prom_duration_seconds(retention)
    if interval_s <= 0 or retention_s <= 0:
        raise ValueError(f"--scrape-interval and --retention must be longer than zero (got {scrape_interval}, {retention})")
    rate = series / interval_s
    tsdb = int(rate * retention_s * bytes_per_sample)
    wal = int(rate * WAL_SECONDS * WAL_BYTES_PER_SAMPLE)
    volume_bytes = max(tsdb / RETENTION_SIZE_SHARE, tsdb * (1 + COMPACTION_SHARE) + wal)
    volume_gi = max(1, math.ceil(volume_bytes / GI))
    request_mi = math.ceil((BASE_MEMORY + series * MEMORY_PER_SERIES) / MI)
    return Plan(
        series=series, scrape_interval_s=interval_s, retention_s=retention_s, samples_per_second=rate,
        tsdb_bytes=tsdb, wal_bytes=wal, volume_gi=volume_gi,
        retention_size=prom_size_from_bytes(int(volume_gi * GI * RETENTION_SIZE_SHARE)),
        memory_request_mi=request_mi, memory_limit_mi=2 * request_mi,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, required=True, help="active series (count(up) is not it: "
                        "use prometheus_tsdb_head_series)")
    parser.add_argument("--scrape-interval", default="15s")
    parser.add_argument("--retention", default="30d")
    parser.add_argument("--bytes-per-sample", type=float, default=PLANNING_BYTES_PER_SAMPLE)
    args = parser.parse_args(argv)
    try:
        p = plan(args.series, args.scrape_interval, args.retention, args.bytes_per_sample)
    except ValueError as error:
        parser.error(str(error))
    print(f"samples/s:       {p.samples_per_second:,.0f}")
    print(f"TSDB:            {p.tsdb_bytes / GI:,.1f} GiB over {args.retention}")
    print(f"WAL:             {p.wal_bytes / GI:,.2f} GiB")
    print(f"volumeSize:      {p.volume_gi}Gi (retention.size {p.retention_size})")
    print(f"memory:          {p.memory_request_mi}Mi request, {p.memory_limit_mi}Mi limit")
    print()
    print(p.settings_yaml(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
