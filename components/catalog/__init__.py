"""The metrics catalog: every series the stack's rules and dashboards may select, and whether anything writes it.

`catalog/metrics.yaml` lists, per source, the metric families it exports with their type
and labels. Shannon's sections (one per /metrics endpoint: orchestrator, gateway,
agent-core, llm-service) are read from Shannon's code by `python -m components.catalog
refresh --shannon PATH` and also record, per family, the line that registers it, the lines
that write it in code that can run (none: never written), the histogram buckets and the
label values the code spells out. The other sections list what this project uses of the
stack's standard components, each with the documentation it comes from.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CATALOG_FILE = REPO / "catalog" / "metrics.yaml"
SHANNON_SERVICES = ("orchestrator", "gateway", "agent-core", "llm-service")
# Among a label's values: also values computed at run time.
DYNAMIC_VALUE = "*"
# Labels every scraped series carries: target labels set by the scrape config and relabelling.
TARGET_LABELS = frozenset({"job", "instance", "service", "component", "namespace", "pod"})


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    labels: frozenset[str]
    source: str
    # Shannon's families only (None elsewhere): the write sites in code that can run; empty = never written.
    written: tuple[str, ...] | None = None
    registered: str = ""  # file:line of the registration
    values: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    buckets: tuple[float, ...] = ()
    note: str = ""

    @property
    def never_written(self) -> bool:
        return self.written is not None and not self.written

    def series(self, scraped: bool = True) -> dict[str, frozenset[str]]:
        """Series names this family exposes, with the labels each carries (as stored by Prometheus)."""
        labels = self.labels
        if scraped:
            # A metric's own label that meets a target label is renamed exported_<label>.
            labels = frozenset(f"exported_{label}" if label in ("service", "component") else label
                               for label in self.labels)
        if self.type == "histogram":
            return {f"{self.name}_bucket": labels | {"le"}, f"{self.name}_count": labels, f"{self.name}_sum": labels}
        if self.type == "summary":
            return {self.name: labels | {"quantile"}, f"{self.name}_count": labels, f"{self.name}_sum": labels}
        return {self.name: labels}


@dataclass(frozen=True)
class Catalog:
    families: dict[str, Family]  # name -> the family as its first source lists it
    remote_written: frozenset[str]  # sources whose series arrive by remote write: no target labels
    jobs: dict[str, str] = field(default_factory=dict)  # source -> the job that scrapes it
    by_source: dict[str, tuple[Family, ...]] = field(default_factory=dict)
    commit: str = ""  # the Shannon commit the Shannon sections were read from
    exemplar_sources: frozenset[str] = frozenset()  # sources whose series carry exemplars

    def series(self) -> dict[str, tuple[frozenset[str], str]]:
        """Series name -> (labels it may carry, first source)."""
        out: dict[str, tuple[frozenset[str], str]] = {}
        for source, families in self.by_source.items():
            scraped = source not in self.remote_written
            extra = TARGET_LABELS if scraped else frozenset()
            for family in families:
                for name, labels in family.series(scraped).items():
                    known = out.get(name)
                    out[name] = (labels | extra | (known[0] if known else frozenset()), known[1] if known else source)
        return out

    def series_families(self) -> dict[str, list[Family]]:
        """Series name -> every source's family it belongs to (a family can be served by several jobs)."""
        out: dict[str, list[Family]] = {}
        for families in self.by_source.values():
            for family in families:
                for name in family.series():
                    out.setdefault(name, []).append(family)
        return out


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalog file, parsed; cached per file content (a stack build reads it several times)."""
    return _parse_catalog(path, path.read_text())


@functools.lru_cache(maxsize=8)
def _parse_catalog(path: Path, text: str) -> Catalog:
    data = yaml.safe_load(text)
    families: dict[str, Family] = {}
    by_source: dict[str, tuple[Family, ...]] = {}
    remote = set()
    for source, body in data["sources"].items():
        if body.get("delivery") == "remote_write":
            remote.add(source)
        listed = []
        for name, spec in body["metrics"].items():
            written = spec.get("written")
            family = Family(name, spec["type"], frozenset(spec.get("labels", [])), source,
                            tuple(written) if written is not None else None, spec.get("registered", ""),
                            {k: tuple(str(v) for v in vals) for k, vals in (spec.get("values") or {}).items()},
                            tuple(float(b) for b in spec.get("buckets", []) if not isinstance(b, str))
                            if isinstance(spec.get("buckets"), list) else (), spec.get("note", ""))
            first = families.get(name)
            if first is not None and (first.registered != family.registered or not family.registered):
                raise ValueError(f"{path.name}: {name} listed under both {first.source} and {source}")
            families.setdefault(name, family)
            listed.append(family)
        by_source[source] = tuple(listed)
    jobs = {source: body["job"] for source, body in data["sources"].items() if "job" in body}
    commit = (data.get("shannon") or {}).get("commit", "")
    exemplars = frozenset(source for source, body in data["sources"].items() if body.get("exemplars"))
    return Catalog(families, frozenset(remote), jobs, by_source, commit, exemplars)
