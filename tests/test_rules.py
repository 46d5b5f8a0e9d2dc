"""Alert and recording rules: promtool checks, unit-test coverage, catalog lint, runbooks, SLO generation."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.builders import promql
from components.builders.alertmanager import COMPONENT_DOWN_ALERTS
from components.builders.dashboards import collect_dashboards
from components.builders.rules import RuleFileError, iter_rules, load_rule_files
from components.builders.slo import GENERATED_FILE, load_slo_spec, render_slo_rule_file
from components.catalog import load_catalog
from components.lint import (
    Expression,
    content_problems,
    lint_expressions,
    recorded_labels,
    repository_expressions,
    repository_jobs,
)
from components.stackfile import load_stack
from components.units import prom_duration_seconds
from tests.conftest import ROOT, tool

RULES = load_rule_files()
ALERTS = {rule["alert"]: rule for _, _, rule in iter_rules(RULES) if "alert" in rule}
RUNBOOKS = ROOT / "docs" / "runbooks.md"
TEST_FILES = sorted((ROOT / "rules" / "tests").glob("*.yml"))
ALWAYS_FIRING = {"Watchdog"}  # by design: its silence is the deadman receiver's signal
ORIGINAL_ALERTS = ["PolicyErrorRateHigh", "PolicyLatencyHigh", "PolicyEmergencyKillSwitch", "PolicyCacheHitRateLow",
                   "PolicyDenialRateHigh", "OrchestratorDown", "AgentCoreDown", "LLMServiceDown", "WorkflowErrorRateHigh",
                   "WorkflowLatencyHigh", "TokenBudgetExceededRate", "TokenUsageSpike"]


def _run(*cmd: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)


def test_original_alert_names_kept():
    """All 12 alerts of Shannon's original alerts.yml exist under their original names."""
    assert set(ORIGINAL_ALERTS) <= set(ALERTS)


def test_original_thresholds_kept():
    """The original thresholds survive the fixes: 5% errors, 5ms P95, 80% cache, 20% denials, 10% workflows, 1s."""
    def threshold(name: str) -> str:
        return re.sub(r"\s+", " ", ALERTS[name]["expr"]).strip()

    assert threshold("PolicyErrorRateHigh").endswith("> 0.05")
    assert threshold("PolicyLatencyHigh").endswith("> 0.005")
    assert threshold("PolicyCacheHitRateLow").endswith("< 0.80")
    assert threshold("PolicyDenialRateHigh").endswith("> 0.20")
    assert threshold("WorkflowErrorRateHigh").endswith("> 0.10")
    assert threshold("WorkflowLatencyHigh").endswith("> 1")
    assert threshold("TokenBudgetExceededRate").endswith("> 0.1")
    assert threshold("TokenUsageSpike").endswith("> 10000")
    for name in ("OrchestratorDown", "AgentCoreDown", "LLMServiceDown"):
        assert ALERTS[name]["for"] == "1m"


def test_fixed_defects_stay_fixed():
    """Ratios aggregate both sides before dividing; quantiles take sum by (le); no invented metrics remain."""
    for name in ("PolicyErrorRateHigh", "PolicyDenialRateHigh", "PolicyCacheHitRateLow", "WorkflowErrorRateHigh"):
        expr = re.sub(r"\s+", " ", ALERTS[name]["expr"])
        assert expr.count("sum by (job)") >= 2, name
        assert "> 0 )" in expr or "> 0)" in expr, f"{name}: the denominator must be filtered to > 0"
    for name in ("PolicyLatencyHigh", "WorkflowLatencyHigh"):
        assert "sum by (job, le)" in ALERTS[name]["expr"]
    invented = ["temporal_workflow_failed_total", "temporal_workflow_completed_total",
                "temporal_workflow_task_schedule_to_start_latency_seconds_bucket", "shannon_budget_exceeded_total",
                "shannon_tokens_used_total"]
    for _, _, rule in iter_rules(RULES):
        assert not any(m in rule["expr"] for m in invented), rule_name(rule)


def rule_name(rule: dict[str, Any]) -> str:
    return rule.get("alert") or rule.get("record")


def test_every_alert_carries_severity_and_annotations():
    """Every alert has a severity (critical/warning/info/none), summary, description and a runbook URL."""
    for name, rule in ALERTS.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info", "none"}, name
        for key in ("summary", "description", "runbook_url"):
            assert rule.get("annotations", {}).get(key), f"{name}: missing {key}"


def _anchors(markdown: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.M):
        anchors.add(re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def test_runbook_urls_point_at_existing_sections():
    """Each alert's runbook_url anchor is a heading in docs/runbooks.md, and each section has its four parts."""
    text = RUNBOOKS.read_text()
    anchors = _anchors(text)
    for name, rule in ALERTS.items():
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"docs/runbooks.md#{name.lower()}"), name
        assert name.lower() in anchors, f"docs/runbooks.md has no section for {name}"
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("Meaning", "Impact", "First queries", "Mitigation"):
            assert f"**{part}**" in section, f"runbook {name}: missing {part}"


def test_down_alerts_used_by_inhibition_exist():
    """The alerts Alertmanager treats as 'component down' exist and carry the component label they inhibit on."""
    for name in COMPONENT_DOWN_ALERTS:
        assert ALERTS[name]["labels"]["component"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_promtool_check_rules(rendered: dict[str, Path], stack: str):
    """`promtool check rules` accepts every rendered rule file."""
    files = sorted(str(p) for p in (rendered[stack] / "prometheus/rules").glob("*.yml"))
    result = _run(tool("promtool"), "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests():
    """`promtool test rules rules/tests/*.yml` passes."""
    result = _run(tool("promtool"), "test", "rules", *[str(p.relative_to(ROOT)) for p in TEST_FILES])
    assert result.returncode == 0, result.stdout + result.stderr


def _test_cases() -> dict[str, dict[str, list[tuple[int, float, bool]]]]:
    """alertname -> test file -> [(group index, eval seconds, fires)]."""
    cases: dict[str, dict[str, list[tuple[int, float, bool]]]] = {}
    for path in TEST_FILES:
        for gi, group in enumerate(yaml.safe_load(path.read_text())["tests"]):
            for case in group.get("alert_rule_test", []):
                entry = (gi, prom_duration_seconds(case["eval_time"]), bool(case.get("exp_alerts")))
                cases.setdefault(case["alertname"], {}).setdefault(path.name, []).append(entry)
    return cases


def test_every_alert_has_firing_and_silent_cases():
    """Each alert has a case where it fires and one where it stays silent, including just before `for:` elapses."""
    cases = _test_cases()
    problems = []
    for name, rule in ALERTS.items():
        entries = [e for per_file in cases.get(name, {}).values() for e in per_file]
        if not any(fires for _, _, fires in entries):
            problems.append(f"{name}: no promtool case where it fires")
        if name in ALWAYS_FIRING:
            continue
        if not any(not fires for _, _, fires in entries):
            problems.append(f"{name}: no promtool case where it stays silent")
        duration = prom_duration_seconds(str(rule.get("for", "0s")))
        if duration > 0:
            # In some test group: silent at t, firing at t' with t < t' <= t + for (still pending at t).
            pending = any(not f1 and f2 and g1 == g2 and t1 < t2 <= t1 + duration
                          for per_file in cases.get(name, {}).values()
                          for g1, t1, f1 in per_file for g2, t2, f2 in per_file)
            if not pending:
                problems.append(f"{name}: no silent case just before its for: {rule['for']} elapses")
    assert not problems, "\n".join(problems)


def test_coverage_check_catches_a_missing_case(tmp_path: Path):
    """The coverage rule is live: an alert without any test case is reported."""
    cases = _test_cases()
    assert "PolicyErrorRateHigh" in cases
    assert "AnAlertWithoutTests" not in cases


def _recorded_labels() -> dict[str, frozenset[str]]:
    return recorded_labels(RULES, load_catalog())


def _jobs() -> set[str]:
    return repository_jobs(ROOT)


def _all_expressions() -> list[Expression]:
    return repository_expressions(RULES, collect_dashboards(), ROOT)


def test_catalog_lint_passes():
    """Every rule, dashboard and datasource query selects only exported or recorded series, labels and jobs."""
    expressions = _all_expressions()
    assert len(expressions) > 100
    problems = lint_expressions(expressions, load_catalog(), _recorded_labels(), _jobs())
    assert not problems, "\n".join(problems)


def test_quick_lint_finds_nothing_in_the_repository():
    """`python -m components.lint` (what `make check` runs) reports no problem for the repository as it is."""
    assert content_problems() == []


@pytest.mark.parametrize(("expr", "message"), [
    ("rate(shannon_invented_requests_total[5m])", "'shannon_invented_requests_total', which no component exports"),
    ('rate(shannon_policy_evaluations_total{decison="deny"}[5m])', "has no label 'decison'"),
    ('up{job="orchestrater"}', "job 'orchestrater' is not defined"),
    ("rate(temporal_workflow_failed_total[5m])", "'temporal_workflow_failed_total', which no component exports"),
])
def test_catalog_lint_rejects_invented_series(expr: str, message: str):
    """The lint rejects an invented metric, a misspelt label and an undefined job."""
    problems = lint_expressions([Expression("test", expr)], load_catalog(), _recorded_labels(), _jobs())
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize(("expr", "message"), [
    # agent-core registers its task counter, but only a TaskTimer nothing outside a stress test uses writes it.
    ('rate(agent_core_tasks_total{job="agent-core"}[5m])',
     "reads agent_core_tasks_total, which Shannon registers (rust/agent-core/src/metrics.rs:"),
    ('sum(shannon_tasks_submitted_total{job="orchestrator"})', "never writes"),
    # The orchestrator writes TIMEOUT, not timed_out; the gRPC status only OK.
    ('rate(shannon_workflows_completed_total{job="orchestrator", status="timed_out"}[5m])',
     'status="timed_out"}} matches no value Shannon writes'.replace("}}", "}")),
    ('rate(shannon_grpc_requests_total{job="orchestrator", status=~"Unavailable|Internal"}[5m])', "matches no value"),
    # The family is written by the orchestrator, not by the gateway that also registers it.
    ('rate(shannon_workflows_completed_total{job="gateway"}[5m])', "of a job that never writes it (written by: orchestrator"),
])
def test_catalog_lint_rejects_what_shannon_never_writes(expr: str, message: str):
    """The lint refuses a family Shannon registers but never writes (for the job selected), naming its registration
    line, and a label value the code never writes where the catalog knows them all."""
    problems = lint_expressions([Expression("test", expr)], load_catalog(), _recorded_labels(), _jobs())
    assert any(message in p for p in problems), problems


def test_promtool_cases_feed_series_shannon_writes():
    """Every input series of rules/tests that is a Shannon family is one Shannon's code writes, with label values
    it writes: a case on an invented series or value would test a Shannon that does not exist."""
    catalog = load_catalog()
    owners = catalog.series_families()
    problems = []
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for item in case.get("input_series", []):
                selector = next(iter(promql.selectors(item["series"])))
                families = owners.get(selector.metric or "", [])
                if not any(f.written is not None for f in families):
                    continue
                labels = {label: value for label, _, value in selector.matchers}
                chosen = [f for f in families if catalog.jobs.get(f.source) == labels.get("job")] or families
                written = [f for f in chosen if not f.never_written]
                if not written:
                    problems.append(f"{path.name}: {item['series']}: never written")
                    continue
                for label, value in labels.items():
                    stored = label.removeprefix("exported_")
                    known = written[0].values.get(stored)
                    if known and "*" not in known and value not in known and label != "le":
                        problems.append(f"{path.name}: {item['series']}: {label}={value!r} not among {known}")
    assert not problems, "\n".join(problems)


def test_slo_rules_are_generated_from_the_spec():
    """rules/slo.generated.yml, its promtool cases and the SLO runbook sections are exactly what the SLO spec
    generates (run `make rules` after editing it)."""
    assert GENERATED_FILE.read_text() == render_slo_rule_file(load_slo_spec())
    from components.builders.slo_files import RUNBOOKS, generated_files

    for path, text in generated_files(load_slo_spec(), RUNBOOKS.read_text()).items():
        assert Path(path).read_text() == text, f"{path} is stale: run `make rules`"


def test_dashboard_rules_are_generated_from_the_dashboards():
    """rules/dashboards.generated.yml records exactly the <labels>:<metric>:rate5m series the dashboards read."""
    from components.builders import dashboard_rules

    assert dashboard_rules.GENERATED_FILE.read_text() == dashboard_rules.render_rule_file(dashboard_rules.dashboard_exprs()), \
        "run `make rules` after changing dashboards"


def test_dashboard_rule_names_derive_their_rules():
    """The recorded name alone gives the rule: labels split against the catalog, counters, histogram parts, quantiles, remote series."""
    from components.builders.dashboard_rules import DashboardRuleError, recording_rule
    from components.catalog import load_catalog

    catalog = load_catalog()
    assert recording_rule("job_tool_name_status:agent_core_tool_executions:rate5m", catalog) == {
        "record": "job_tool_name_status:agent_core_tool_executions:rate5m",
        "expr": 'sum by (job, tool_name, status) (rate(agent_core_tool_executions_total{job="agent-core"}[5m]))'}
    assert recording_rule("job_le:shannon_task_tokens_used_bucket:rate5m", catalog)["expr"] == \
        'sum by (job, le) (rate(shannon_task_tokens_used_bucket{job="orchestrator"}[5m]))'
    assert recording_rule("service_le:traces_spanmetrics_latency_bucket:rate5m", catalog)["expr"] == \
        "sum by (service, le) (rate(traces_spanmetrics_latency_bucket[5m]))"
    assert recording_rule("job_tool_name:agent_core_tool_duration_seconds:p95_rate5m", catalog)["expr"] == (
        "histogram_quantile(0.95, sum by (job, tool_name, le) "
        '(rate(agent_core_tool_duration_seconds_bucket{job="agent-core"}[5m])))')
    assert recording_rule("job:shannon_workflow_duration_seconds:p50_rate5m", catalog)["expr"].startswith(
        "histogram_quantile(0.50, sum by (job, le) ")
    for bad in ("job_colour:agent_core_tasks:rate5m", "job:agent_core_nonexistent:rate5m", "mode:agent_core_tasks:rate5m",
                "job:agent_core_tasks:p95_rate5m", "job_le:agent_core_tool_duration_seconds:p95_rate5m"):
        with pytest.raises(DashboardRuleError):
            recording_rule(bad, catalog)


def test_slo_spec_adds_an_slo_in_one_entry():
    """One more spec entry yields its own SLI recordings and fast/slow burn alerts."""
    from components.builders.slo import SLO, build_slo_rule_file

    slos = [*load_slo_spec(), SLO(name="llm-requests", alert_prefix="LLMRequestsErrorBudget", component="llm-service",
                                  objective=0.995, description="LLM requests served without error",
                                  errors='llm_service_errors_total{job="llm-service"}',
                                  total='llm_requests_total{job="llm-service"}')]
    groups = build_slo_rule_file(slos)["groups"]
    assert len(groups) == len(slos) and groups[-1]["name"] == "slo-llm-requests"
    alerts = [r["alert"] for r in groups[1]["rules"] if "alert" in r]
    assert alerts == ["LLMRequestsErrorBudgetBurnFast", "LLMRequestsErrorBudgetBurnSlow"]
    assert "(14.4 * 0.005)" in groups[1]["rules"][-2]["expr"]


def test_broken_rule_file_is_rejected_with_file_and_rule(tmp_path: Path):
    """A rule with invalid PromQL or a bad `for:` is rejected, naming the file, group and rule; all at once."""
    (tmp_path / "good.yml").write_text((ROOT / "rules/meta.yml").read_text())
    (tmp_path / "bad.yml").write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [
        {"alert": "Broken", "expr": "rate(up[5m]", "for": "5m", "labels": {"severity": "warning"}},
        {"alert": "BadFor", "expr": "up == 0", "for": "5 minutes"},
    ]}]}))
    with pytest.raises(RuleFileError) as info:
        load_rule_files(tmp_path)
    text = str(info.value)
    assert "bad.yml: group 'broken', rule 'Broken': expr is not valid PromQL" in text
    assert "bad.yml: group 'broken', rule 'BadFor': 'for':" in text
    assert "good.yml" not in text


def test_duplicate_group_names_are_rejected(tmp_path: Path):
    """Two files defining one group name are rejected (Prometheus would reject them at load)."""
    text = (ROOT / "rules/meta.yml").read_text()
    (tmp_path / "a.yml").write_text(text)
    (tmp_path / "b.yml").write_text(text)
    with pytest.raises(RuleFileError, match="duplicate group name"):
        load_rule_files(tmp_path)


# Prometheus 3 made range selectors left-open (prometheus.io/docs/prometheus/latest/migration,
# "PromQL"): `[1m]` over a 15s scrape holds 4 samples, not 5, and a window of one or two sample
# intervals can hold fewer than the two samples rate() needs, so the rule silently returns
# nothing. Prometheus's own guidance is a window of at least 4 sample intervals.
MIN_SAMPLES_PER_WINDOW = 4


@pytest.mark.parametrize("stack", ["dev", "prod", "e2e"])
def test_rule_windows_hold_enough_samples_on_prometheus_3(stack: str):
    """Every range a rule reads spans at least 4 scrape (and evaluation) intervals of the stack that loads it."""
    from components.builders.rules import build_rule_files

    settings, _ = load_stack(stack, ROOT)
    prom = settings.prometheus
    interval = max(prom_duration_seconds(prom.scrape_interval), prom_duration_seconds(prom.evaluation_interval))
    short = [f"{file}/{rule_name(rule)}: {function}[{seconds:g}s]"
             for file, _, rule in iter_rules(build_rule_files(settings))
             for function, seconds in promql.range_windows(rule["expr"])
             if seconds < MIN_SAMPLES_PER_WINDOW * interval]
    assert not short, f"windows shorter than {MIN_SAMPLES_PER_WINDOW} x {interval:g}s: {short}"


def test_rule_window_check_sees_a_short_window():
    """The window check is live: rate(x[30s]) reads 30 seconds."""
    assert list(promql.range_windows('sum(rate(x{job="a"}[30s])) / sum(increase(y[5m]))')) == [
        ("rate", 30.0), ("increase", 300.0)]


@pytest.mark.parametrize(("entry", "message"), [
    ({"objective": 0.9}, "could never fire"),
    ({"errors": 'llm_manager_requests_total{job="llm-service", status=~"error|timeout"}'},
     "only label=value matchers can be turned into test series"),
])
def test_slo_files_refuse_an_slo_they_cannot_test(tmp_path: Path, entry: dict[str, str], message: str):
    """An SLO whose fast burn alert can never fire, or whose selector no generated series can match, is refused
    with its reason by `make rules` (exit 2), and nothing is written."""
    from components.builders import slo_files

    spec = yaml.safe_load((ROOT / "rules/slos.yaml").read_text())
    spec["slos"].append({"name": "llm-requests", "alertPrefix": "LLMRequestsErrorBudget", "component": "llm-service",
                         "objective": 0.99, "description": "LLM requests served without error",
                         "errors": 'llm_manager_requests_total{job="llm-service", status="error"}',
                         "total": 'llm_manager_requests_total{job="llm-service"}', **entry})
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump(spec))
    try:
        slos = load_slo_spec(path)
        slo_files.generated_files(slos, "")
    except ValueError as error:  # pydantic's ValidationError is one
        assert message in str(error)
    else:
        raise AssertionError(f"{entry} was accepted")
