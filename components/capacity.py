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

Remote write (`--remote-write`), queue settings per long-term store:

* max_samples_per_send = 2000 (Prometheus's default; the stores accept it)
* capacity        = 5 x max_samples_per_send (the tuning guide: 3 to 10 x)
* one shard sends about 4 requests/s (250 ms per round trip, planning), 8000 samples/s
* min_shards      = samples/s / 8000, rounded up
* max_shards      = 10 x samples/s / 8000, rounded up, at least 10: after an outage the backlog
                    drains at up to ten times the ingest rate
* extra memory    = the larger of 25% of the memory request (the guide: most users see about
                    25% more) and max_shards x (capacity + max_samples_per_send) x 128 bytes

`--limits` inverts the plan: the most series one Prometheus (each replica of the HA pair holds
all of them) takes on given resources, the point at which a long-term store takes over.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from components.defaults import RETENTION_SIZE_SHARE
from components.units import prom_duration_seconds, prom_size_from_bytes, quantity_bytes

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


# Beyond this no single Prometheus is the answer (the largest run tens of millions of series):
# shard by team or service, or write to a long-term store.
MAX_SERIES = 10**9
MAX_BYTES_PER_SAMPLE = 16.0


def _check_series(series: int) -> None:
    if series <= 0:
        raise ValueError("--series must be positive")
    if series > MAX_SERIES:
        raise ValueError(f"--series {series:,} is beyond any one Prometheus (at most {MAX_SERIES:,} here): "
                         "shard the targets across Prometheus servers or write to a long-term store")


def _check_window(scrape_interval: str, retention: str, bytes_per_sample: float) -> tuple[float, float]:
    """Interval and retention in seconds, after refusing what no Prometheus runs with."""
    if not math.isfinite(bytes_per_sample) or not 0 < bytes_per_sample <= MAX_BYTES_PER_SAMPLE:
        raise ValueError(f"--bytes-per-sample must be a number above 0 and at most {MAX_BYTES_PER_SAMPLE:g} "
                         f"(got {bytes_per_sample:g}); Prometheus stores 1 to 2")
    interval_s = prom_duration_seconds(scrape_interval)
    retention_s = prom_duration_seconds(retention)
    if interval_s <= 0 or retention_s <= 0:
        raise ValueError(f"--scrape-interval and --retention must be longer than zero (got {scrape_interval}, {retention})")
    return interval_s, retention_s


def plan(series: int, scrape_interval: str, retention: str,
         bytes_per_sample: float = PLANNING_BYTES_PER_SAMPLE) -> Plan:
    """Size Prometheus for `series` active series scraped every `scrape_interval`, kept for `retention`."""
    _check_series(series)
    interval_s, retention_s = _check_window(scrape_interval, retention, bytes_per_sample)
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


SAMPLES_PER_SEND = 2000
CAPACITY_FACTOR = 5
SHARD_SAMPLES_PER_SECOND = 4 * SAMPLES_PER_SEND
CATCH_UP_FACTOR = 10
MIN_MAX_SHARDS = 10
QUEUED_SAMPLE_BYTES = 128
REMOTE_WRITE_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class Queue:
    """Prometheus queue_config for one remote-write target, and the memory it adds."""

    capacity: int
    max_shards: int
    min_shards: int
    max_samples_per_send: int
    batch_send_deadline: str
    min_backoff: str
    max_backoff: str
    extra_memory_mi: int

    def queue_config(self) -> dict[str, object]:
        return {"capacity": self.capacity, "max_shards": self.max_shards, "min_shards": self.min_shards,
                "max_samples_per_send": self.max_samples_per_send, "batch_send_deadline": self.batch_send_deadline,
                "min_backoff": self.min_backoff, "max_backoff": self.max_backoff,
                # Stores answer 429 when a tenant is over its limits: retry instead of dropping the samples.
                "retry_on_http_429": True}


def remote_write_queue(series: int, scrape_interval: str) -> Queue:
    """Queue settings for writing `series` active series scraped every `scrape_interval` to a store."""
    rate = series / prom_duration_seconds(scrape_interval)
    max_shards = max(MIN_MAX_SHARDS, math.ceil(CATCH_UP_FACTOR * rate / SHARD_SAMPLES_PER_SECOND))
    capacity = CAPACITY_FACTOR * SAMPLES_PER_SEND
    queued = max_shards * (capacity + SAMPLES_PER_SEND) * QUEUED_SAMPLE_BYTES
    base = BASE_MEMORY + series * MEMORY_PER_SERIES
    return Queue(capacity=capacity, max_shards=max_shards, min_shards=max(1, math.ceil(rate / SHARD_SAMPLES_PER_SECOND)),
                 max_samples_per_send=SAMPLES_PER_SEND, batch_send_deadline="5s", min_backoff="30ms", max_backoff="5s",
                 extra_memory_mi=math.ceil(max(base * REMOTE_WRITE_MEMORY_SHARE, queued) / MI))


@dataclass(frozen=True)
class Limits:
    by_memory: int  # series the memory request covers
    by_volume: int  # series whose retention fits the volume
    samples_per_second: float

    @property
    def series(self) -> int:
        return min(self.by_memory, self.by_volume)


def limits(memory_request: str, volume_size: str, scrape_interval: str, retention: str,
           bytes_per_sample: float = PLANNING_BYTES_PER_SAMPLE) -> Limits:
    """The most active series one Prometheus takes with this memory request and volume (the plan, inverted)."""
    interval_s, retention_s = _check_window(scrape_interval, retention, bytes_per_sample)
    memory = quantity_bytes(memory_request)
    if memory <= BASE_MEMORY:
        raise ValueError(f"--memory {memory_request} leaves nothing for series: Prometheus needs about "
                         f"{BASE_MEMORY // MI}Mi before its first series; give more than that")
    by_memory = int((memory - BASE_MEMORY) // MEMORY_PER_SERIES)
    # The volume holds the TSDB within the retention share and beside compaction and the WAL.
    volume = quantity_bytes(volume_size)
    if volume < GI:
        raise ValueError(f"--volume {volume_size} is below 1Gi: too small to hold a Prometheus TSDB and its WAL")
    per_series = retention_s / interval_s * bytes_per_sample
    wal_per_series = WAL_SECONDS / interval_s * WAL_BYTES_PER_SAMPLE
    by_volume = int(min(volume * RETENTION_SIZE_SHARE / per_series,
                        volume / (per_series * (1 + COMPACTION_SHARE) + wal_per_series)))
    return Limits(by_memory=by_memory, by_volume=by_volume,
                  samples_per_second=min(by_memory, by_volume) / interval_s)


def _count(text: str) -> int:
    """An argparse type: a whole number of series, written 60000 or 60_000."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of series (example: 60000)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=_count, help="active series, required unless --limits (count(up) is not "
                        "it: use prometheus_tsdb_head_series)")
    parser.add_argument("--scrape-interval", default="15s")
    parser.add_argument("--retention", default="30d")
    parser.add_argument("--bytes-per-sample", type=float, default=PLANNING_BYTES_PER_SAMPLE)
    parser.add_argument("--remote-write", action="store_true",
                        help="also print the queue settings and extra memory of writing to a long-term store")
    parser.add_argument("--limits", action="store_true",
                        help="print the most series one Prometheus takes on --memory and --volume instead")
    parser.add_argument("--memory", default="2Gi", help="memory request, with --limits (default: the stack default)")
    parser.add_argument("--volume", default="50Gi", help="volume size, with --limits (default: the stack default)")
    args = parser.parse_args(argv)
    if args.limits:
        try:
            lim = limits(args.memory, args.volume, args.scrape_interval, args.retention, args.bytes_per_sample)
        except ValueError as error:
            parser.error(str(error))
        print(f"memory request {args.memory}: up to {lim.by_memory:,} series")
        print(f"volume {args.volume}, {args.retention} at {args.scrape_interval}: up to {lim.by_volume:,} series")
        print(f"one Prometheus: up to {lim.series:,} active series ({lim.samples_per_second:,.0f} samples/s)")
        return 0
    if args.series is None:
        parser.error("--series is required (the active series: prometheus_tsdb_head_series), unless --limits")
    try:
        p = plan(args.series, args.scrape_interval, args.retention, args.bytes_per_sample)
    except ValueError as error:
        parser.error(str(error))
    print(f"samples/s:       {p.samples_per_second:,.0f}")
    print(f"TSDB:            {p.tsdb_bytes / GI:,.1f} GiB over {args.retention}")
    print(f"WAL:             {p.wal_bytes / GI:,.2f} GiB")
    print(f"volumeSize:      {p.volume_gi}Gi (retention.size {p.retention_size})")
    print(f"memory:          {p.memory_request_mi}Mi request, {p.memory_limit_mi}Mi limit")
    if args.remote_write:
        q = remote_write_queue(args.series, args.scrape_interval)
        print(f"remote write:    +{q.extra_memory_mi}Mi memory per Prometheus; queue_config: capacity {q.capacity}, "
              f"max_shards {q.max_shards}, min_shards {q.min_shards}, max_samples_per_send {q.max_samples_per_send}")
    print()
    print(p.settings_yaml(), end="")
    if args.remote_write:
        print(f"    expectedSeries: {args.series}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
