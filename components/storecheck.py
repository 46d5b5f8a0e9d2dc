"""Check a long-term store's side of remote write: does it deduplicate this cluster's HA pair?

    python -m components.storecheck --stack prod-longterm [--target NAME] [--query-url URL]

The program cannot configure the store, and a store that does not deduplicate fails silently: both
replicas' series are kept, sums and counts double. This asks the store (its Prometheus query API, the
long-term datasource's URL unless --query-url says otherwise) three questions about the series of
`prometheus.cluster`:

* arriving: `up` of this cluster is there at all (else writes fail, or the cluster label differs);
* one replica: mimir and cortex keep one of the pair when the tenant's HA tracker is on
  (`accept_ha_samples`); series still carrying `__replica__` (or two values of `replica`) mean it is off;
* one sample per scrape: victoriametrics keeps one sample per `-dedup.minScrapeInterval`; with the flag
  unset each sample is stored twice and `count_over_time` gives twice what the scrape interval allows.

thanos and generic stores keep `replica` by design (the querier deduplicates): only the first check applies.
Credentials come from the environment (SHANNON_STORE_USER and SHANNON_STORE_PASSWORD, or SHANNON_STORE_TOKEN),
never from the command line. Exit status: 0 all good, 1 a check failed, 2 the store could not be asked.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from components.settings import RemoteWriteTarget, SettingsError, StackSettings
from components.stackfile import REPO, StackFileError, load_stack
from components.units import prom_duration_seconds


@dataclass(frozen=True)
class Check:
    name: str
    query: str
    applies: bool


def checks(settings: StackSettings, target: RemoteWriteTarget, window: str = "10m") -> list[Check]:
    """The store-side checks for `target`, as PromQL over the cluster's own `up` series."""
    cluster = settings.prometheus.cluster
    selector = f'up{{cluster="{cluster}"}}'
    return [
        Check("arriving", f"count({selector})", True),
        Check("one replica", f"count(count by (__replica__, replica) ({selector}))",
              target.kind in ("mimir", "cortex", "victoriametrics")),
        Check("one sample per scrape", f"max(count_over_time({selector}[{window}]))", True),
    ]


def verdict(check: Check, value: float | None, settings: StackSettings, target: RemoteWriteTarget,
            window: str = "10m") -> str | None:
    """None when the store passes `check` with `value` (the query's result, None for no data); else the problem."""
    cluster = settings.prometheus.cluster
    if check.name == "arriving":
        return None if value else (f"no `up` series with cluster=\"{cluster}\" in the store: writes are not "
                                   "arriving (PrometheusRemoteWriteFailing?), or this is not the store's query URL")
    if value is None:
        return None  # nothing to judge; "arriving" reports it
    if check.name == "one replica" and value > 1:
        fix = ("enable the HA tracker for the tenant (Mimir: -distributor.ha-tracker.enable and the tenant's "
               "accept_ha_samples; Cortex: -distributor.ha-tracker.enable-for-all-users or the same limit)")
        return f"the store keeps {value:.0f} replicas of cluster {cluster}: {fix}"
    if check.name == "one sample per scrape":
        expected = prom_duration_seconds(window) / prom_duration_seconds(settings.prometheus.scrape_interval)
        if value > 1.5 * expected:
            fix = (f"set -dedup.minScrapeInterval={settings.prometheus.scrape_interval} on the store"
                   if target.kind == "victoriametrics" else "deduplicate the HA pair on the store or at query time")
            return (f"{value:.0f} samples of one series in {window}, {expected:.0f} expected at "
                    f"{settings.prometheus.scrape_interval}: each sample is stored more than once: {fix}")
    return None


def _session(target: RemoteWriteTarget) -> requests.Session:
    session = requests.Session()
    session.headers.update(target.headers)
    if token := os.environ.get("SHANNON_STORE_TOKEN"):
        session.headers["Authorization"] = f"Bearer {token}"
    elif user := os.environ.get("SHANNON_STORE_USER"):
        session.auth = (user, os.environ.get("SHANNON_STORE_PASSWORD", ""))
    return session


def _value(session: requests.Session, url: str, query: str) -> float | None:
    response = session.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _target(settings: StackSettings, name: str | None) -> RemoteWriteTarget:
    targets = settings.prometheus.remote_write
    if not targets:
        raise LookupError(f"stack {settings.stack} has no prometheus.remoteWrite target")
    if name is None:
        if len(targets) > 1:
            raise LookupError(f"stack {settings.stack} writes to {len(targets)} stores: choose one with --target "
                              f"({', '.join(t.queue_name for t in targets)})")
        return targets[0]
    for target in targets:
        if target.queue_name == name:
            return target
    raise LookupError(f"no remote-write target named {name!r} (the names: "
                      f"{', '.join(t.queue_name for t in targets)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.storecheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--stack-file", help="read this stack file instead of Pulumi.<stack>.yaml")
    parser.add_argument("--target", help="the remote-write target's name, when the stack writes to several")
    parser.add_argument("--query-url", help="the store's Prometheus query API base (default: the long-term "
                                            "datasource's URL)")
    parser.add_argument("--window", default="10m", help="window of the sample count (default 10m)")
    args = parser.parse_args(argv)
    try:
        settings, _ = load_stack(args.stack, REPO, Path(args.stack_file) if args.stack_file else None)
        target = _target(settings, args.target)
        prom_duration_seconds(args.window)
    except (StackFileError, SettingsError, LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    url = args.query_url or target.read_url
    if url is None:
        print(f"error: target {target.queue_name} ({target.kind}) has no query URL: set its queryUrl or pass "
              "--query-url", file=sys.stderr)
        return 2
    session, failed = _session(target), 0
    for check in checks(settings, target, args.window):
        if not check.applies:
            print(f"skip  {check.name}: a {target.kind} store keeps `replica` (the querier deduplicates)")
            continue
        try:
            value = _value(session, url, check.query)
        except (requests.RequestException, KeyError, ValueError) as error:
            print(f"error: asking {url} ({check.query}): {error}", file=sys.stderr)
            return 2
        problem = verdict(check, value, settings, target, args.window)
        print(f"{'FAIL' if problem else 'ok'}    {check.name}: {problem or check.query}")
        failed += bool(problem)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
