"""The operator's documentation stays true: the generated settings reference, the secrets,
the quick start, the how-tos, and the capacity-planning example in docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components import capacity
from components.docs import END, START, update_readme
from components.settings import SECRETS, StackSettings, load_settings
from components.stackfile import read_stack_config
from components.units import prom_size_bytes, quantity_bytes

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
OPERATIONS = (ROOT / "docs/operations.md").read_text()


def test_settings_reference_is_in_sync_with_the_model():
    """README's settings reference is exactly what `python -m components.docs` generates from the model."""
    assert update_readme(README) == README, "run `python -m components.docs` and commit README.md"


def test_settings_reference_lists_every_top_level_key():
    """Each StackSettings field appears as a key row (by its camelCase config name)."""
    table = README.split(START)[1].split(END)[0]
    for name, field in StackSettings.model_fields.items():
        if field.exclude:  # the stack name: not a config key
            continue
        key = field.alias or name
        assert re.search(rf"^\| `{re.escape(key)}[`.]", table, re.M), f"{key} missing from the settings reference"


def test_readme_shows_the_command_for_every_secret():
    """Every secret the program can use has its `pulumi config set --secret` command in README."""
    prod = README.split("### Secrets for prod")[1].split("\n### ")[0]
    for key in SECRETS:
        assert f"pulumi config set --secret {key} " in prod, f"README lacks the command for secret {key}"


def test_quick_start_is_the_two_commands_and_they_exist():
    """The quick start runs `make test` and `make up-dev`, and `up-dev` runs `pulumi up` on the local dev stack."""
    quick = README.split("## Quick start")[1].split("\n## ")[0]
    assert "make test" in quick and "make up-dev" in quick
    makefile = (ROOT / "Makefile").read_text()
    up_dev = makefile.split("\nup-dev:")[1].split("\n\n")[0]
    assert "components.devstack up" in up_dev
    assert "make down-dev" in quick and "\ndown-dev:" in makefile and "\nstatus-dev:" in makefile
    assert "export" not in quick.split("```bash")[1].split("```")[0], "the quick start needs nothing exported"
    assert "\ntest: setup" in makefile


def test_architecture_diagram_shows_components_and_ports():
    """The mermaid diagram names each component with its port and the main data flows."""
    diagram = README.split("```mermaid")[1].split("```")[0]
    for text in ("Prometheus :9090", "Alertmanager :9093", "Grafana :3000", ":4317", "node-exporter :9100",
                 "orchestrator :2112", "agent-core :2113", "llm-service :8000", "PagerDuty", "Slack", "OTLP"):
        assert text in diagram, text


@pytest.mark.parametrize("heading", ["### Add a scrape target", "### Add an alert", "### Add a dashboard"])
def test_how_tos_exist(heading: str):
    """README explains adding a target, an alert (with its promtool test) and a dashboard."""
    assert heading in README
    if heading == "### Add an alert":
        section = README.split(heading)[1].split("\n### ")[0]
        assert "promtool test rules" in section and "alert_rule_test" in section


@pytest.mark.parametrize("heading", ["## Upgrades", "## Capacity planning", "## Backup and restore",
                                     "## Rotating secrets", "## Pointing Shannon at the stack",
                                     "## When to add a long-term store"])
def test_operations_guide_sections(heading: str):
    """docs/operations.md has each section the operator needs, with content under it."""
    assert heading in OPERATIONS
    body = OPERATIONS.split(heading)[1].split("\n## ")[0]
    assert len(body.split()) > 60


def test_operations_rotation_covers_every_secret():
    """The rotation table says how to rotate each secret."""
    rotation = OPERATIONS.split("## Rotating secrets")[1].split("\n## ")[0]
    for key in SECRETS:
        assert f"`{key}`" in rotation, key


def test_worked_example_matches_the_calculator(capsys):
    """The worked example's output block is what `python -m components.capacity` prints for it."""
    block = OPERATIONS.split("$ venv/bin/python -m components.capacity --series 60000 --scrape-interval 15s --retention 30d\n")[1]
    block = block.split("```")[0]
    assert capacity.main(["--series", "60000", "--scrape-interval", "15s", "--retention", "30d"]) == 0
    assert capsys.readouterr().out == block


def test_capacity_formulas():
    """Volume covers the TSDB with 15% headroom plus WAL; memory and volume grow with series; results are valid settings."""
    small, big = capacity.plan(10_000, "15s", "30d"), capacity.plan(100_000, "15s", "30d")
    assert small.samples_per_second == pytest.approx(10_000 / 15)
    assert small.tsdb_bytes == int(10_000 / 15 * 30 * 86400 * 2.0)
    for p in (small, big):
        volume = p.volume_gi * 2**30
        assert volume * 0.85 >= p.tsdb_bytes and volume >= p.tsdb_bytes * 1.1 + p.wal_bytes
        assert prom_size_bytes(p.retention_size) <= volume * 0.85
        assert p.memory_limit_mi == 2 * p.memory_request_mi
    assert big.volume_gi > small.volume_gi and big.memory_request_mi > small.memory_request_mi
    # Halving the interval doubles the samples and so the disk.
    fast = capacity.plan(10_000, "7s500ms", "30d")
    assert fast.tsdb_bytes == pytest.approx(2 * small.tsdb_bytes, rel=1e-6)

    config, _ = read_stack_config(ROOT / "Pulumi.prod.yaml")
    config["prometheus"] = {**config["prometheus"], "volumeSize": f"{big.volume_gi}Gi",
                            "retentionSize": big.retention_size,
                            "resources": {"cpu": "1", "memory": f"{big.memory_request_mi}Mi",
                                          "memoryLimit": f"{big.memory_limit_mi}Mi"}}
    settings = load_settings("prod", config, secrets_present=set(SECRETS))
    assert quantity_bytes(settings.prometheus.volume_size) == big.volume_gi * 2**30


@pytest.mark.parametrize("heading", ["### Growing a volume", "### Moving to an existing namespace",
                                     "### Rotating the Grafana admin password"])
def test_day2_procedures_describe_what_the_program_does(heading: str, prod_run):
    """The day-2 procedures name what the program really creates: the claims it sizes (data-<component>-<n>),
    the setting that skips namespaces, the protected credential resources."""
    assert heading in OPERATIONS
    body = OPERATIONS.split(heading)[1].split("\n## ")[0].split("\n### ")[0]
    if heading == "### Growing a volume":
        claims = {r.inputs["metadata"]["name"] for r in prod_run.of_type("kubernetes:core/v1:PersistentVolumeClaim")}
        assert "data-prometheus-0" in claims and "`data-<component>-<n>`" in body
        from components.builders.deployment import EFFECTS
        assert EFFECTS[("kubernetes", "volumeSize")][0] in body
    elif heading == "### Moving to an existing namespace":
        assert "`kubernetes.createNamespace: false`" in body and "retain_on_delete" in body
    else:
        protected = [r.name for r in prod_run.of_type("random:index/randomPassword:RandomPassword") if r.options.protect]
        assert "shannon-grafana-admin-password" in protected and "`shannon-grafana-admin-password`" in body
        assert "reset-admin-password" in body


def test_every_file_the_docs_name_exists():
    """Every tests/, components/, rules/, dashboards/ or docs/ path that README.md, docs/, the catalog header,
    rules/slos.yaml or the Makefile names exists, so no instruction points at a file that is gone."""
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "catalog/metrics.yaml",
               ROOT / "rules/slos.yaml", ROOT / "Makefile"]
    pattern = re.compile(r"(?<![\w/.-])((?:tests|components|rules|dashboards|docs|bench|\.ci)/[\w./-]*\w)")
    missing = set()
    for source in sources:
        for path in pattern.findall(source.read_text()[:200_000]):
            if any(ch in path for ch in "*<>") or path.endswith("/"):
                continue
            if not (ROOT / path).exists():
                missing.add(f"{source.name}: {path}")
    assert not missing, sorted(missing)
