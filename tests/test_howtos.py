"""README's how-tos, performed on a copy of the repository: following one keeps the quick check and the
suite's checks green, and keeps what was there before.

The scrape-target how-to's `pulumi config set --path` commands are read from the README and applied
as the Pulumi CLI applies them (a list item at an index one past the end is appended).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import defaults
from tests.conftest import ROOT, tool

PROJECT = "shannon-observability"


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        "venv", ".venv", ".git", "build", ".work", "__pycache__", ".pytest_cache", ".ruff_cache", ".pulumi-state"))
    return dest


def _run(repo: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=repo, capture_output=True, text=True, timeout=timeout)


def _section(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split(f"### {heading}\n")[1].split("\n### ")[0].split("\n## ")[0]


def config_set_path(config: dict[str, Any], path: str, value: str) -> None:
    """`pulumi config set --path <path> <value>`: create maps and lists on the way; an index may be one past the
    end of a list (append) but no further (the CLI's "index out of range")."""
    namespace_key, _, rest = path.partition(".")
    tokens: list[str | int] = [f"{PROJECT}:{namespace_key}"]
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", rest):
        tokens.append(int(part[1:-1]) if part.startswith("[") else part)
    value: Any = int(value) if value.isdigit() else value  # the CLI stores a number as a number
    node: Any = config
    for token, following in zip(tokens, [*tokens[1:], None], strict=True):
        leaf = following is None
        fresh: Any = value if leaf else ([] if isinstance(following, int) else {})
        if isinstance(token, int):
            if token > len(node):
                raise IndexError(f"{path}: index {token} out of range (the list has {len(node)} items)")
            if token == len(node):
                node.append(fresh)
            elif leaf:
                node[token] = value
            node = node[token]
        else:
            if leaf or token not in node:
                node[token] = fresh if leaf or token not in node else node[token]
            node = node[token]


def test_config_set_path_is_like_the_cli():
    """The emulation appends at the next index, refuses an index past it, and creates nested maps."""
    config: dict[str, Any] = {}
    config_set_path(config, "shannon.targets[0].job", "gateway")
    config_set_path(config, "shannon.targets[0].port", "8080")
    assert config == {f"{PROJECT}:shannon": {"targets": [{"job": "gateway", "port": 8080}]}}
    with pytest.raises(IndexError):
        config_set_path(config, "shannon.targets[4].job", "other")


def test_add_a_scrape_target_keeps_the_default_jobs(tmp_path: Path):
    """The README's commands add the job; every default job is still scraped, and the quick check passes."""
    repo = _copy(tmp_path)
    commands = re.findall(r"pulumi config set --path '([^']+)' (\S+) --stack (\w+)", _section("Add a scrape target"))
    assert commands, "the how-to has no `pulumi config set --path` commands"
    stack = commands[0][2]
    stack_file = repo / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(stack_file.read_text())
    for path, value, _ in commands:
        config_set_path(data["config"], path, value)
    stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
    render = _run(repo, "-m", "components.render", "--stack", stack, "--out", str(tmp_path / "out"))
    assert render.returncode == 0, render.stderr
    jobs = [j["job_name"] for j in yaml.safe_load((tmp_path / "out/prometheus/prometheus.yml").read_text())["scrape_configs"]]
    added = next(v for p, v, _ in commands if p.endswith(".job"))
    defaults_on = {str(t["job"]) for t in defaults.SHANNON_TARGETS if t.get("enabled", True)}
    assert added in jobs and added not in defaults_on and defaults_on <= set(jobs)
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode == 0, lint.stderr
    check = subprocess.run([tool("promtool"), "check", "config", str(tmp_path / "out/prometheus/prometheus.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    suite = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_diff.py", "tests/test_render.py",
                 "tests/test_builders.py")
    assert suite.returncode == 0, suite.stdout[-3000:]


def test_add_an_alert_with_runbook_and_promtool_cases(tmp_path: Path):
    """An alert added as the how-to says (rule, runbook section, firing and silent promtool cases) passes the quick
    check, promtool, and the suite's rule checks."""
    repo = _copy(tmp_path)
    section = _section("Add an alert")
    assert "runbook_url" in section and "alert_rule_test" in section
    (repo / "rules/howto.yml").write_text(textwrap.dedent("""\
        groups:
          - name: howto
            rules:
              - alert: HowtoWorkflowsStalled
                expr: sum by (job) (rate(shannon_workflows_started_total{job="orchestrator"}[5m])) == 0
                for: 5m
                labels:
                  severity: warning
                  service: shannon
                  component: orchestrator
                annotations:
                  summary: No workflow started for 5 minutes
                  description: The orchestrator fleet started no workflow over the last 5 minutes.
                  runbook_url: https://github.com/shannon-observability/shannon-observability/blob/main/docs/runbooks.md#howtoworkflowsstalled
        """))
    runbooks = repo / "docs/runbooks.md"
    runbooks.write_text(runbooks.read_text() + textwrap.dedent("""
        ## HowtoWorkflowsStalled

        **Meaning** No workflow was started by the orchestrator fleet for 5 minutes.

        **Impact** Users' requests are not reaching the agents.

        **First queries**
        ```promql
        sum by (instance) (rate(shannon_workflows_started_total{job="orchestrator"}[5m]))
        ```

        **Mitigation** Check the gateway in front of the orchestrator and its logs.
        """))
    (repo / "rules/tests/howto.test.yml").write_text(textwrap.dedent("""\
        rule_files: [../howto.yml]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - series: 'shannon_workflows_started_total{job="orchestrator", instance="orchestrator-0:2112"}'
                values: '0+6x5 30+0x15'
            alert_rule_test:
              - eval_time: 12m
                alertname: HowtoWorkflowsStalled
                exp_alerts: []
              - eval_time: 16m
                alertname: HowtoWorkflowsStalled
                exp_alerts:
                  - exp_labels: {job: orchestrator, severity: warning, service: shannon, component: orchestrator}
                    exp_annotations:
                      summary: No workflow started for 5 minutes
                      description: The orchestrator fleet started no workflow over the last 5 minutes.
                      runbook_url: https://github.com/shannon-observability/shannon-observability/blob/main/docs/runbooks.md#howtoworkflowsstalled
          - interval: 1m
            input_series:
              - series: 'shannon_workflows_started_total{job="orchestrator", instance="orchestrator-0:2112"}'
                values: '0+6x20'
            alert_rule_test:
              - eval_time: 16m
                alertname: HowtoWorkflowsStalled
                exp_alerts: []
        """))
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode == 0, lint.stderr
    tests = sorted(str(p.relative_to(repo)) for p in (repo / "rules/tests").glob("*.yml"))
    promtool = subprocess.run([tool("promtool"), "test", "rules", *tests], cwd=repo, capture_output=True, text=True)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    suite = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_rules.py", "tests/test_render.py")
    assert suite.returncode == 0, suite.stdout[-3000:]


def test_add_a_dashboard_with_its_recorded_rules(tmp_path: Path):
    """A dashboard added as the how-to says (a module registered in dashboards/__init__.py, reading a recorded
    series, then `make rules`) passes the quick check and the suite's dashboard and rule checks."""
    repo = _copy(tmp_path)
    section = _section("Add a dashboard")
    assert "dashboards/__init__.py" in section and "make rules" in section
    (repo / "dashboards/howto.py").write_text(textwrap.dedent('''\
        """A how-to dashboard: workflows started, from a recorded 5m rate."""

        from __future__ import annotations

        from typing import Any

        from dashboards.lib import Dashboard, q, timeseries


        def build() -> dict[str, Any]:
            d = Dashboard("shannon-howto", "Shannon / How-to", "Workflows started.", ["howto"])
            d.add(timeseries("Workflows Started by Instance", [
                q("sum by (instance) (job_instance:shannon_workflows_started:rate5m)", "{{instance}}")], w=24))
            return d.build()
        '''))
    init = repo / "dashboards/__init__.py"
    text = init.read_text().replace("from dashboards import ", "from dashboards import howto, ", 1)
    text = text.replace('    "traces": traces.build,\n', '    "traces": traces.build,\n    "howto": howto.build,\n', 1)
    init.write_text(text)
    # Before `make rules` the quick check names the missing recorded series ...
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode == 1 and "make rules" in lint.stderr
    # ... and after it, everything passes.
    rules = _run(repo, "-m", "components.builders.dashboard_rules")
    assert rules.returncode == 0, rules.stderr
    assert "job_instance:shannon_workflows_started:rate5m" in (repo / "rules/dashboards.generated.yml").read_text()
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode == 0, lint.stderr
    suite = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dashboards.py", "tests/test_rules.py",
                 "tests/test_render.py", "tests/test_tempo_grafana.py")
    assert suite.returncode == 0, suite.stdout[-3000:]


def test_add_an_slo_in_one_entry(tmp_path: Path):
    """An SLO added as the how-to says (one entry in rules/slos.yaml, then `make rules`) gets its rules, promtool
    cases that fire and stay silent, and runbook sections: the quick check, promtool and the suite's rule,
    operator and docs checks pass on the copy, and the policy SLO is still there."""
    repo = _copy(tmp_path)
    section = _section("Add an SLO")
    assert "rules/slos.yaml" in section and "make rules" in section
    spec = repo / "rules/slos.yaml"
    entry = {"name": "llm-requests", "alertPrefix": "LLMRequestsErrorBudget", "component": "llm-service",
             "objective": 0.995, "description": "LLM requests served without error",
             "errors": 'llm_manager_requests_total{job="llm-service", status="error"}',
             "total": 'llm_manager_requests_total{job="llm-service"}'}
    spec.write_text(spec.read_text() + yaml.safe_dump([entry], sort_keys=False, indent=2).replace("\n", "\n  ")
                    .join(["  ", ""]).rstrip() + "\n")
    rules = _run(repo, "-m", "components.builders.slo_files")
    assert rules.returncode == 0, rules.stderr
    generated = (repo / "rules/tests/slo.generated.test.yml").read_text()
    assert "LLMRequestsErrorBudgetBurnFast" in generated and "PolicyErrorBudgetBurnFast" in generated
    assert "## LLMRequestsErrorBudgetBurnSlow" in (repo / "docs/runbooks.md").read_text()
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode == 0, lint.stderr
    tests = sorted(str(p.relative_to(repo)) for p in (repo / "rules/tests").glob("*.yml"))
    promtool = subprocess.run([tool("promtool"), "test", "rules", *tests], cwd=repo, capture_output=True, text=True)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    suite = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_rules.py", "tests/test_render.py",
                 "tests/test_operator.py", "tests/test_docs.py", timeout=900)
    assert suite.returncode == 0, suite.stdout[-3000:]


def test_add_a_route_sends_the_matching_alerts_to_its_receiver(tmp_path: Path):
    """The README's route commands, applied as the CLI applies them, render an alertmanager.yml that amtool
    accepts, where the team's warnings reach the pager, everything else keeps its route and the Watchdog stays
    first; the operator render of the same routes keeps them under Shannon's namespace matcher."""
    repo = _copy(tmp_path)
    commands = re.findall(r"pulumi config set --path '([^']+)' ('[^']*'|\S+) --stack (\w+)", _section("Add a route"))
    assert len(commands) >= 3, "the how-to has no `pulumi config set --path` commands"
    stack = commands[0][2]
    stack_file = repo / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(stack_file.read_text())
    for path, value, _ in commands:
        config_set_path(data["config"], path, value.strip("'"))
    stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    render = _run(repo, "-m", "components.render", "--stack", stack, "--out", str(out))
    assert render.returncode == 0, render.stderr
    config = str(out / "alertmanager/alertmanager.yml")
    check = subprocess.run([tool("amtool"), "check-config", config], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    def routed(*labels: str) -> str:
        result = subprocess.run([tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert routed("team=payments", "severity=warning", "alertname=PaymentsSlow") == "pager"
    assert routed("team=search", "severity=warning", "alertname=SearchSlow") == "chat"
    assert routed("team=payments", "alertname=Watchdog", "severity=none") == "deadman"
    tree = yaml.safe_load((out / "alertmanager/alertmanager.yml").read_text())["route"]["routes"]
    assert tree[1]["repeat_interval"] == "1h" and tree[1]["matchers"][0] == 'team="payments"'
    # Operator mode: the same routes in the AlertmanagerConfig, valid for the operator's CRD.
    operator_file = repo / "Pulumi.operator.yaml"
    operator = yaml.safe_load(operator_file.read_text())
    operator["config"][f"{PROJECT}:alertmanager"] = data["config"][f"{PROJECT}:alertmanager"]
    operator_file.write_text(yaml.safe_dump(operator, sort_keys=False))
    render = _run(repo, "-m", "components.render", "--stack", "operator", "--out", str(tmp_path / "op"))
    assert render.returncode == 0, render.stderr
    amc = yaml.safe_load((tmp_path / "op/operator/alertmanagerconfig-shannon.yaml").read_text())
    from tests import crd_schema

    assert crd_schema.problems(amc) == []
    own = amc["spec"]["route"]["routes"][1]
    assert own["receiver"] == "pager" and own["repeatInterval"] == "1h"
    assert own["matchers"][0] == {"name": "team", "value": "payments", "matchType": "="}


def _exported(datasource_plugin: str = "prometheus") -> dict[str, Any]:
    """A dashboard as Grafana's "Export for sharing externally" writes it."""
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "", "type": "datasource",
                      "pluginId": datasource_plugin, "pluginName": "Prometheus"},
                     {"name": "VAR_JOB", "type": "constant", "label": "job", "value": "gateway", "description": ""}],
        "__elements": {},
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "12.4.3"}],
        "id": None, "uid": "shared-sessions", "title": "Shared / Sessions", "schemaVersion": 41, "tags": [],
        "templating": {"list": []}, "time": {"from": "now-6h", "to": "now"},
        "panels": [{"id": 1, "type": "timeseries", "title": "Sessions created",
                    "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                    "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
                    "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                                 "expr": 'sum(job:openai_compat_sessions_created:rate5m{job="${VAR_JOB}"})'}]}],
    }


def test_import_a_dashboard_exported_for_sharing_externally(tmp_path: Path):
    """A dashboard exported "for sharing externally" saved as dashboards/<name>.json passes the quick check and
    renders with its ${DS_PROMETHEUS} on the provisioned Prometheus (renamed with it in operator mode), its
    constant filled in and the export-only keys gone; the suite's dashboard checks pass on the copy."""
    import json

    repo = _copy(tmp_path)
    assert "sharing externally" in _section("Add a dashboard")
    (repo / "dashboards/shared-sessions.json").write_text(json.dumps(_exported(), indent=2))
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode == 0, lint.stderr
    render = _run(repo, "-m", "components.render", "--stack", "prod", "--out", str(tmp_path / "out"))
    assert render.returncode == 0, render.stderr
    rendered = json.loads((tmp_path / "out/grafana/dashboards/shared-sessions.json").read_text())
    assert not {"__inputs", "__elements", "__requires"} & set(rendered)
    panel = rendered["panels"][0]
    # The Prometheus input became the dashboards' environment picker, which defaults to the provisioned uid.
    assert panel["datasource"]["uid"] == panel["targets"][0]["datasource"]["uid"] == "${datasource}"
    picker = {v["name"]: v for v in rendered["templating"]["list"]}["datasource"]
    assert picker["current"]["value"] == "prometheus" and picker["query"] == "prometheus"
    assert 'job="gateway"' in panel["targets"][0]["expr"]
    assert "shannon" in rendered["tags"] and rendered["editable"] is False
    render = _run(repo, "-m", "components.render", "--stack", "operator", "--out", str(tmp_path / "op"))
    assert render.returncode == 0, render.stderr
    configmap = yaml.safe_load((tmp_path / "op/operator/configmap-shannon-dashboard-shared-sessions.yaml").read_text())
    shared = json.loads(next(iter(configmap["data"].values())))
    from components.builders.operator import shared_uids
    from components.stackfile import load_stack

    settings, _ = load_stack("operator", repo)
    picker = {v["name"]: v for v in shared["templating"]["list"]}["datasource"]
    assert picker["current"]["value"] == shared_uids(settings).get("prometheus", "prometheus")
    # Scoped like the built dashboards: Shannon's series only.
    assert f'namespace="{settings.kubernetes.namespace}"' in shared["panels"][0]["targets"][0]["expr"]
    suite = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dashboards.py", "tests/test_render.py",
                 timeout=900)
    assert suite.returncode == 0, suite.stdout[-3000:]


def test_an_export_needing_a_datasource_the_stack_lacks_is_refused(tmp_path: Path):
    """An exported dashboard whose input needs a datasource type the stack does not provision (loki) is refused
    by the quick check and the render, naming the file and the input, and nothing is rendered."""
    import json

    repo = _copy(tmp_path)
    (repo / "dashboards/shared-logs.json").write_text(json.dumps(_exported("loki")))
    lint = _run(repo, "-m", "components.lint")
    assert lint.returncode != 0 and "shared-logs.json: input DS_PROMETHEUS needs a 'loki' datasource" in lint.stderr
    render = _run(repo, "-m", "components.render", "--stack", "prod", "--out", str(tmp_path / "out"))
    assert render.returncode == 2 and "shared-logs.json: input DS_PROMETHEUS" in render.stderr
    assert "Traceback" not in render.stderr + lint.stderr and not (tmp_path / "out").exists()
