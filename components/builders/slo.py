"""SLO rules from a typed spec (`rules/slos.yaml`): SLI recordings and burn-rate alerts.

Multi-window, multi-burn-rate alerting as in the Google SRE workbook: a fast burn
(14.4x the sustainable error rate over 1h, confirmed over 5m) pages, a slow burn
(6x over 6h, confirmed over 30m) opens a ticket. Long windows are computed from
the 5-minute recorded rates (`sum_over_time` of one series) instead of raw
30-day `rate()` over every series, which is what made the original error-budget
panel slow.

`make rules` (python -m components.builders.slo_files) regenerates `rules/slo.generated.yml`, and the
promtool cases and runbook sections every SLO gets (components/builders/slo_files.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from components.builders.serialize import dump_yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_FILE = REPO / "rules" / "slos.yaml"
GENERATED_FILE = REPO / "rules" / "slo.generated.yml"
RUNBOOK = "https://github.com/shannon-observability/shannon-observability/blob/main/docs/runbooks.md"

WINDOWS = ["5m", "30m", "1h", "6h", "1d", "30d"]
# (name, severity, long window, short window, burn factor, for)
BURN_ALERTS = [
    ("Fast", "critical", "1h", "5m", 14.4, "2m"),
    ("Slow", "warning", "6h", "30m", 6.0, "15m"),
]


class SLO(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="SLO id, the `slo` label of its series.")
    alert_prefix: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", description="Alert names: <prefix>BurnFast/BurnSlow.")
    component: str = Field(description="component label of the alerts (the service exporting the SLI).")
    objective: float = Field(gt=0, lt=1, description="Target success ratio, e.g. 0.99.")
    description: str = Field(description="What the good events are, e.g. 'policy evaluations that complete'.")
    errors: str = Field(description="Counter selector of bad events.")
    total: str | tuple[str, ...] = Field(description="Counter selector of all events, or several whose sum they are.")
    mitigation: str | None = Field(default=None, description="The runbook's mitigation for its burn alerts "
                                   "(default: find the error series that grew).")

    @field_validator("objective")
    @classmethod
    def _reachable(cls, value: float) -> float:
        fastest = max(factor for *_, factor, _ in BURN_ALERTS)
        if (1 - value) * fastest >= 1:
            raise ValueError(f"objective {value} leaves an error budget so large that the {fastest}x burn alert "
                             f"could never fire (it needs an error ratio above 100%); use at least "
                             f"{1 - 1 / fastest:.4f}, or alert on the error ratio directly")
        return value

    @field_validator("errors", "total")
    @classmethod
    def _selector(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for selector in (value,) if isinstance(value, str) else value:
            expr = promql_parser.parse(selector)
            if type(expr).__name__ != "VectorSelector":
                raise ValueError(f"{selector!r} must be a plain series selector, e.g. metric_total{{job=\"x\"}}")
        return value

    def total_rate(self) -> str:
        """The rate of all events: one selector's, or the sum of several (each counted as 0 while absent)."""
        if isinstance(self.total, str):
            return f"sum(rate({self.total}[5m]))"
        return " + ".join(f"(sum(rate({s}[5m])) or vector(0))" for s in self.total)


class SLOSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slos: list[SLO]


def load_slo_spec(path: Path = SPEC_FILE) -> list[SLO]:
    return SLOSpec.model_validate(yaml.safe_load(path.read_text())).slos


def _group(slo: SLO) -> dict[str, Any]:
    sel = f'{{slo="{slo.name}"}}'
    labels = {"slo": slo.name}
    budget = round(1 - slo.objective, 10)
    rules: list[dict[str, Any]] = [
        {"record": "slo:sli_errors:rate5m",
         "expr": f"sum(rate({slo.errors}[5m])) or ({slo.total_rate()}) * 0", "labels": labels},
        {"record": "slo:sli_total:rate5m", "expr": slo.total_rate(), "labels": labels},
        {"record": "slo:sli_error:ratio_rate5m",
         "expr": f"slo:sli_errors:rate5m{sel} / (slo:sli_total:rate5m{sel} > 0)"},
    ]
    for window in WINDOWS[1:]:
        rules.append({
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": f"sum_over_time(slo:sli_errors:rate5m{sel}[{window}])\n"
                    f"  / (sum_over_time(slo:sli_total:rate5m{sel}[{window}]) > 0)",
        })
    rules += [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.objective})", "labels": labels},
        {"record": "slo:error_budget:remaining_ratio30d",
         "expr": f"1 - slo:sli_error:ratio_rate30d{sel} / {budget}"},
    ]
    for speed, severity, long_w, short_w, factor, for_ in BURN_ALERTS:
        name = f"{slo.alert_prefix}Burn{speed}"
        threshold = f"({factor} * {budget})"
        rules.append({
            "alert": name,
            "expr": f"slo:sli_error:ratio_rate{long_w}{sel} > {threshold}\n"
                    f"and\nslo:sli_error:ratio_rate{short_w}{sel} > {threshold}",
            "for": for_,
            "labels": {"severity": severity, "service": "shannon", "component": slo.component, "slo": slo.name},
            "annotations": {
                "summary": f"{slo.name} is burning its error budget {factor}x faster than sustainable",
                "description": (
                    f"The {slo.name} error ratio over {long_w} is {{{{ $value | humanizePercentage }}}} and stays "
                    f"above {factor}x the {budget:.2%} error budget over {short_w} too. SLO: {slo.objective:.2%} of "
                    f"{slo.description}. At this rate the 30-day budget is gone in {30 / factor:.1f} days."),
                "runbook_url": f"{RUNBOOK}#{name.lower()}",
            },
        })
    return {"name": f"slo-{slo.name}", "rules": rules}


def build_slo_rule_file(slos: list[SLO]) -> dict[str, Any]:
    return {"groups": [_group(slo) for slo in slos]}


HEADER = ("# GENERATED by `make rules` (python -m components.builders.slo_files) from rules/slos.yaml. Do not edit:\n"
          "# change the spec and run `make rules`.\n")


def render_slo_rule_file(slos: list[SLO]) -> str:
    return HEADER + dump_yaml(build_slo_rule_file(slos))


if __name__ == "__main__":
    # The command moved with the files an SLO generates; say so instead of doing nothing.
    print("error: run `make rules` (python -m components.builders.slo_files)", file=sys.stderr)
    raise SystemExit(2)
