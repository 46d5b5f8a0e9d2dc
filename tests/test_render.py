"""The render command, and the real consumers (promtool, amtool) checking what it writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.render import main as render_main
from tests.conftest import ROOT, tool


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_render_layout(rendered: dict[str, Path]):
    """The render writes the documented files for both stacks."""
    for stack, out in rendered.items():
        assert (out / "prometheus/prometheus.yml").is_file()
        assert sorted(p.name for p in (out / "prometheus/rules").glob("*.yml")) == sorted(
            p.name for p in (ROOT / "rules").glob("*.yml"))
        assert (out / "alertmanager/alertmanager.yml").is_file()
        assert (out / "grafana/datasources.yml").is_file()
        assert len(list((out / "grafana/dashboards").glob("*.json"))) >= 8
        assert (out / "tempo/tempo.yaml").is_file(), stack


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_promtool_check_config(rendered: dict[str, Path], stack: str):
    """`promtool check config` accepts the rendered prometheus.yml and every rule file it loads."""
    result = _run(tool("promtool"), "check", "config", str(rendered[stack] / "prometheus/prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "warn" not in (result.stdout + result.stderr).lower()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_amtool_check_config(rendered: dict[str, Path], stack: str):
    """`amtool check-config` of the pinned Alertmanager accepts the rendered alertmanager.yml without a warning
    (since 0.27 it warns about matchers the UTF-8 parser reads differently from the classic one)."""
    result = _run(tool("amtool"), "check-config", str(rendered[stack] / "alertmanager/alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warn" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr


def test_render_uses_placeholders(rendered: dict[str, Path]):
    """Rendered files carry visibly fake placeholders, never a credential from the stack file."""
    text = (rendered["prod"] / "alertmanager/alertmanager.yml").read_text()
    assert "routing_key_file: /etc/alertmanager/secrets/pagerduty-routing-key" in text


def test_render_unknown_stack_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """An unknown stack exits with status 2, names the known stacks and writes nothing."""
    out = tmp_path / "out"
    assert render_main(["--stack", "staging", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no stack file Pulumi.staging.yaml" in err and "dev" in err and "prod" in err
    assert not out.exists()


def test_render_invalid_settings_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Invalid settings exit with status 2, listing the problems, and write nothing."""
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text((ROOT / "Pulumi.prod.yaml").read_text().replace("retention: 30d", "retention: 30x"))
    out = tmp_path / "out"
    assert render_main(["--stack", "prod", "--out", str(out), "--stack-file", str(stack_file)]) == 2
    assert "prometheus.retention: '30x'" in capsys.readouterr().err
    assert not out.exists()


def test_render_rejects_plaintext_credential(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """A credential stored in plain text in the stack file is refused, with the --secret command."""
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text((ROOT / "Pulumi.prod.yaml").read_text()
                          + "  shannon-observability:slackApiUrl: https://hooks.slack.com/x\n")
    assert render_main(["--stack", "prod", "--out", str(tmp_path / "o"), "--stack-file", str(stack_file)]) == 2
    assert "pulumi config set --secret slackApiUrl" in capsys.readouterr().err


def test_render_is_deterministic(tmp_path: Path):
    """Two renders of one stack are byte-identical (stable diffs in pull requests)."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert render_main(["--stack", "prod", "--out", str(a)]) == 0
    assert render_main(["--stack", "prod", "--out", str(b)]) == 0
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_render_rejects_invalid_promql_in_a_rule_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]):
    """A rule with PromQL that does not parse stops the render (exit 2), naming file, group and rule; nothing written."""
    import shutil

    from components.builders import rules

    copy = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", copy, ignore=shutil.ignore_patterns("tests"))
    target = copy / "shannon-services.yml"
    target.write_text(target.read_text().replace('up{job="agent-core"} == 0', 'up{job="agent-core"} == ', 1))
    monkeypatch.setattr(rules, "RULES_DIR", copy)
    out = tmp_path / "out"
    assert render_main(["--stack", "prod", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "shannon-services.yml: group 'shannon-service-health', rule 'AgentCoreDown': expr is not valid PromQL" in err
    assert not out.exists()


def test_render_rejects_a_dashboard_query_that_does_not_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]):
    """An exported dashboard whose query does not parse stops the render (exit 2), naming file and panel."""
    import json

    from components.builders import dashboards

    bad = {"uid": "team-board", "title": "Team", "templating": {"list": []}, "panels": [
        {"id": 1, "type": "timeseries", "title": "Broken rate", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
         "datasource": {"type": "prometheus", "uid": "prometheus"},
         "targets": [{"refId": "A", "expr": "sum(rate(shannon_tasks_submitted_total[$__rate_interval])"}]}]}
    (tmp_path / "team.json").write_text(json.dumps(bad))
    monkeypatch.setattr(dashboards, "DASHBOARDS_DIR", tmp_path)
    out = tmp_path / "out"
    assert render_main(["--stack", "dev", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "team.json: panel 'Broken rate': query does not parse as PromQL" in err
    assert not out.exists()
