"""The metrics catalog: every series the stack's rules and dashboards may select.

`catalog/metrics.yaml` lists, per source, the metric families it exports with
their type and labels: Shannon's three services (written from the catalog
extracted from Shannon's sources, see `python -m components.catalog`), and the
standard components of the stack (Prometheus itself, Alertmanager, Tempo,
node-exporter, the exporters), each with the documentation it comes from.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CATALOG_FILE = REPO / "catalog" / "metrics.yaml"
SHANNON_SERVICES = ("orchestrator", "agent-core", "llm-service")
# Labels every scraped series carries: target labels set by the scrape config and relabelling.
TARGET_LABELS = frozenset({"job", "instance", "service", "component", "namespace", "pod"})


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    labels: frozenset[str]
    source: str

    def series(self, scraped: bool = True) -> dict[str, frozenset[str]]:
        """Series names this family exposes, with the labels each carries (as stored by Prometheus)."""
        labels = self.labels
        if scraped:
            # A scraped metric's own `service` label collides with the target label and is renamed.
            labels = frozenset("exported_service" if label == "service" else label for label in self.labels)
        if self.type == "histogram":
            return {f"{self.name}_bucket": labels | {"le"}, f"{self.name}_count": labels, f"{self.name}_sum": labels}
        if self.type == "summary":
            return {self.name: labels | {"quantile"}, f"{self.name}_count": labels, f"{self.name}_sum": labels}
        return {self.name: labels}


@dataclass(frozen=True)
class Catalog:
    families: dict[str, Family]
    remote_written: frozenset[str]  # sources whose series arrive by remote write: no target labels
    jobs: dict[str, str] = field(default_factory=dict)  # source -> the job that scrapes it

    def series(self) -> dict[str, tuple[frozenset[str], str]]:
        """Series name -> (labels it may carry, source)."""
        out: dict[str, tuple[frozenset[str], str]] = {}
        for family in self.families.values():
            scraped = family.source not in self.remote_written
            extra = TARGET_LABELS if scraped else frozenset()
            for name, labels in family.series(scraped).items():
                out[name] = (labels | extra, family.source)
        return out


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalog file, parsed; cached per file content (a stack build reads it several times)."""
    return _parse_catalog(path, path.read_text())


@functools.lru_cache(maxsize=8)
def _parse_catalog(path: Path, text: str) -> Catalog:
    data = yaml.safe_load(text)
    families: dict[str, Family] = {}
    remote = set()
    for source, body in data["sources"].items():
        if body.get("delivery") == "remote_write":
            remote.add(source)
        for name, spec in body["metrics"].items():
            if name in families:
                raise ValueError(f"{path.name}: {name} listed under both {families[name].source} and {source}")
            families[name] = Family(name, spec["type"], frozenset(spec.get("labels", [])), source)
    jobs = {source: body["job"] for source, body in data["sources"].items() if "job" in body}
    return Catalog(families, frozenset(remote), jobs)


def shannon_sections(reference: dict[str, Any]) -> dict[str, Any]:
    """Our catalog sections for Shannon's services, from the catalog extracted from Shannon's sources."""
    sections: dict[str, Any] = {}
    for service in SHANNON_SERVICES:
        metrics = sorted((m for m in reference["metrics"] if m["service"] == service), key=lambda m: m["name"])
        if not metrics:
            continue
        port = metrics[0]["port"]
        sections[service] = {
            "source": f"Shannon {service} (:{port}), metric registrations in "
                      + ", ".join(sorted({m["source"] for m in metrics})),
            "job": service,
            "metrics": {m["name"]: {"type": m["type"], "labels": list(m["labels"])} for m in metrics},
        }
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite the Shannon sections of catalog/metrics.yaml "
                                                 "from the catalog extracted from Shannon's sources.")
    parser.add_argument("--from", dest="reference", type=Path, required=True,
                        help="metrics-catalog.json extracted from Shannon's sources")
    args = parser.parse_args(argv)
    current = yaml.safe_load(CATALOG_FILE.read_text())
    sections = shannon_sections(json.loads(args.reference.read_text()))
    others = {k: v for k, v in current["sources"].items() if k not in SHANNON_SERVICES}
    current["sources"] = {**sections, **others}
    header = CATALOG_FILE.read_text().split("\nsources:", 1)[0] + "\n"
    body = yaml.safe_dump({"sources": current["sources"]}, sort_keys=False, width=4096, default_flow_style=None)
    CATALOG_FILE.write_text(header + body)
    print(f"wrote {CATALOG_FILE.relative_to(REPO)}: {sum(len(s['metrics']) for s in sections.values())} "
          "Shannon metric families", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
