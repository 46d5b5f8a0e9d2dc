"""The change summary between two renders: each kind of change, secrets masked, no noise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.diff import main as diff_main
from components.diff import summarize
from components.render import main as render_main


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base")
    assert render_main(["--stack", "prod", "--out", str(out)]) == 0
    return out


@pytest.fixture
def head(base: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "head"
    shutil.copytree(base, copy)
    return copy


def _edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def _rule(data: dict, name: str) -> dict:
    return next(r for g in data["groups"] for r in g["rules"] if r.get("alert") == name or r.get("record") == name)


def _panel(data: dict, title: str) -> dict:
    return next(p for p in data["panels"] if p.get("title") == title)


def test_unchanged_render_says_no_changes(base: Path, head: Path):
    """Identical renders give exactly "no changes"."""
    assert summarize(base, head) == "no changes\n"


def test_threshold_and_dashboard_query_change_print_exactly_those_two(base: Path, head: Path, capsys):
    """One alert threshold and one dashboard query changed: the summary lists those two changes and nothing else."""
    _edit_yaml(head / "prometheus/rules/shannon-policy.yml",
               lambda d: _rule(d, "PolicyCacheHitRateLow").update(
                   expr=_rule(d, "PolicyCacheHitRateLow")["expr"].replace("< 0.80", "< 0.75")))
    _edit_json(head / "grafana/dashboards/llm.json",
               lambda d: _panel(d, "Tokens/s")["targets"][0].update(expr='sum(rate(llm_tokens_total{job="llm-service"}[5m]))'))
    assert diff_main([str(base), str(head)]) == 0
    out = capsys.readouterr().out
    assert out.count("**changed**") == 1 and out.count("query changed") == 1
    sections = [line for line in out.splitlines() if line.startswith("### ")]
    assert sections == ["### Alert and recording rules", "### Dashboards"]
    assert "- **changed** alert `PolicyCacheHitRateLow` (shannon-policy.yml):" in out
    rule = out.split("### Dashboards")[0]
    assert "< 0.80" in rule.split("- after:")[0] and "< 0.75" in rule.split("- after:")[1]
    assert ("  - panel **Tokens/s** query changed: `sum(job_provider_model_direction:llm_manager_tokens:rate5m)` -> "
            '`sum(rate(llm_tokens_total{job="llm-service"}[5m]))`') in out
    items = [line.strip() for line in out.splitlines() if line.lstrip().startswith("- ")]
    assert items[:5] == ["- **changed** alert `PolicyCacheHitRateLow` (shannon-policy.yml):", "- `expr`:", "- before:",
                         "- after:", "- `llm.json` (Shannon / LLM Usage and Cost):"]
    assert len(items) == 6 and items[5].startswith("- panel **Tokens/s** query changed:")


def test_scrape_job_added_removed_changed(base: Path, head: Path):
    """Scrape jobs added, removed and changed are listed by name, with the changed field."""
    def change(d: dict) -> None:
        jobs = d["scrape_configs"]
        jobs[:] = [j for j in jobs if j["job_name"] != "gateway"]
        next(j for j in jobs if j["job_name"] == "llm-service")["metrics_path"] = "/prom"
        jobs.append({"job_name": "diff-test-job", "static_configs": [{"targets": ["diff-test-job:8080"]}]})
    _edit_yaml(head / "prometheus/prometheus.yml", change)
    out = summarize(base, head)
    assert "- **added** job `diff-test-job`" in out
    assert "- **removed** job `gateway`" in out
    assert "- **changed** job `llm-service`:\n  - `metrics_path`: `/metrics` -> `/prom`" in out


def test_rule_added_removed_and_for_labels_annotations(base: Path, head: Path):
    """New and removed rules (a new alert with its severity, `for` and receiver), and for/labels/annotations
    changes with before and after."""
    def change(d: dict) -> None:
        rules = d["groups"][0]["rules"]
        rule = _rule(d, "PolicyLatencyHigh")
        rule["for"] = "10m"
        rule["labels"]["severity"] = "warning"
        rule["annotations"]["summary"] = "slow"
        rules[:] = [r for r in rules if r.get("alert") != "PolicyDenialRateHigh"]
        rules.append({"alert": "PolicyNew", "expr": "vector(1)", "labels": {"severity": "info"}})
    _edit_yaml(head / "prometheus/rules/shannon-policy.yml", change)
    out = summarize(base, head)
    assert ("- **added** alert `PolicyNew` (shannon-policy.yml) severity `info`, for `0s`, routed to **null**:"
            "\n  ```\n  vector(1)\n  ```") in out
    assert "- **removed** alert `PolicyDenialRateHigh`" in out
    assert "  - `for`: `2m` -> `10m`" in out
    assert "  - label `severity`: `critical` -> `warning`" in out
    assert "  - annotation `summary`:" in out and "slow" in out.split("annotation `summary`")[1]


def test_alertmanager_changes_never_show_secrets(base: Path, head: Path):
    """Route and receiver changes are listed; credential values are masked."""
    def change(d: dict) -> None:
        d["route"]["group_wait"] = "10s"
        pager = next(r for r in d["receivers"] if r["name"] == "pager")
        pager["pagerduty_configs"][0]["routing_key"] = "real-looking-routing-key-123"
        d["receivers"].append({"name": "email", "webhook_configs": [{"url": "https://user:hunter2@hooks.example/x"}]})
    _edit_yaml(head / "alertmanager/alertmanager.yml", change)
    out = summarize(base, head)
    assert "- route `group_wait`: `30s` -> `10s`" in out
    assert "- **changed** receiver `pager`" in out and "- **added** receiver `email`" in out
    assert "real-looking-routing-key-123" not in out and "hunter2" not in out
    assert "(secret)" in out


def test_datasource_change(base: Path, head: Path):
    """A datasource URL change is listed by uid and key."""
    _edit_yaml(head / "grafana/datasources.yml",
               lambda d: next(x for x in d["datasources"] if x["uid"] == "tempo").update(url="http://tempo-new:3200"))
    out = summarize(base, head)
    assert "- datasource `tempo` `url`: `http://tempo.monitoring.svc.cluster.local:3200` -> `http://tempo-new:3200`" in out


def test_dashboard_panels_added_removed_threshold_and_no_noise(base: Path, head: Path):
    """Panels are compared by title: added, removed, threshold changed; ids, positions and key order are ignored."""
    def change(d: dict) -> None:
        panels = d["panels"]
        error = _panel(d, "Error Rate SLO")
        error["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] = 0.02
        panels[:] = [p for p in panels if p.get("title") != "Denial Rate"]
        for p in panels:  # renumber ids and shift positions: pure noise
            p["id"] = p["id"] + 100
            p["gridPos"]["y"] += 1
        panels.append({"id": 999, "type": "stat", "title": "New Panel", "gridPos": {"x": 0, "y": 99, "w": 6, "h": 4},
                       "targets": [{"expr": "up", "refId": "A"}]})
        d["panels"] = [dict(reversed(list(p.items()))) for p in panels]  # key order: noise too
    _edit_json(head / "grafana/dashboards/policy.json", change)
    out = summarize(base, head)
    assert "panel **New Panel** added" in out
    assert "panel **Denial Rate** removed" in out
    assert "panel **Error Rate SLO** threshold changed:" in out
    assert out.count("  - panel") == 3, out


def test_tempo_setting_change(base: Path, head: Path):
    """A Tempo setting change shows the dotted key with before and after."""
    _edit_yaml(head / "tempo/tempo.yaml", lambda d: d["compactor"]["compaction"].update(block_retention="720h"))
    out = summarize(base, head)
    assert "### Tempo" in out and "- `compactor.compaction.block_retention`: `336h` -> `720h`" in out


def test_not_a_render_directory(tmp_path: Path, base: Path, capsys):
    """A directory that is not a render is refused with status 2."""
    assert diff_main([str(tmp_path), str(base)]) == 2
    assert "is not a render directory" in capsys.readouterr().err


def _render_with(tmp_path: Path, stack: str, edit) -> Path:
    from tests.conftest import edited_stack_file

    stack_file = edited_stack_file(tmp_path, stack, edit)
    out = tmp_path / f"render-{stack}"
    assert render_main(["--stack", stack, "--stack-file", str(stack_file), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(("stack", "key", "value", "expected"), [
    ("prod", ("kubernetes", "namespace"), "observability",
     "`kubernetes.namespace` `monitoring` -> `observability`: **replaces**"),
    ("prod", ("prometheus", "volumeSize"), "200Gi",
     "`prometheus.volumeSize` `100Gi` -> `200Gi`: **updates in place**: the claims are expanded"),
    ("prod", ("kubernetes", "storageClass"), "fast-ssd", "`kubernetes.storageClass` `null` -> `fast-ssd`: **does not apply"),
    ("dev", ("docker", "namePrefix"), "obs-", "`docker.namePrefix` `shannon-` -> `obs-`: **replaces**: containers and "
                                             "volumes get new names: the new volumes start empty"),
])
def test_diff_says_what_up_does_to_workloads_and_data(tmp_path: Path, stack: str, key: tuple[str, str], value: str,
                                                     expected: str):
    """A change to what identifies a workload or its data is named with its effect: a replacement and where the
    data goes, or an in-place update; nothing else in the summary."""
    def edit(config):
        config.setdefault(f"shannon-observability:{key[0]}", {})[key[1]] = value
    before = _render_with(tmp_path / "a", stack, lambda config: None)
    after = _render_with(tmp_path / "b", stack, edit)
    text = summarize(before, after)
    assert "### What `pulumi up` does to workloads and data" in text
    assert expected in text, text


@pytest.mark.parametrize(("labels", "receiver"), [
    ({"alertname": "X", "severity": "critical"}, "pager"), ({"alertname": "X", "severity": "warning"}, "chat"),
    ({"alertname": "Watchdog", "severity": "none"}, "deadman"), ({"alertname": "X"}, "chat")])
def test_route_receiver_follows_the_rendered_route_tree(base: Path, labels: dict, receiver: str):
    """The receiver the summary names is the one Alertmanager's route tree picks (as amtool's routes test does)."""
    from components.diff import route_receiver

    route = yaml.safe_load((base / "alertmanager/alertmanager.yml").read_text())["route"]
    assert route_receiver(labels, route) == receiver
