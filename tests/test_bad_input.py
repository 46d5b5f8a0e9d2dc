"""A corpus of bad inputs: each is refused with one clear message naming the key (or file) and its fix.

Every stack-file case runs twice: through the render command, which must exit non-zero, print
no traceback and leave its output directory exactly as it was (a sentinel file included), and
through the Pulumi program under mocks, which must raise the same problems and create nothing.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components import capacity
from components.render import main as render_main
from tests.conftest import ROOT, RecordingMocks, edited_stack_file, run_stack

P = "shannon-observability:"


@dataclass(frozen=True)
class Case:
    id: str
    stack: str  # the stack file it starts from
    edit: Callable[[dict[str, Any]], None] | None  # changes the `config:` mapping
    key: str  # the key or file the message must name
    fix: str  # what the fix line must say
    raw: str | None = None  # the whole stack file instead of an edit
    program: bool = True  # the Pulumi program reads this input too


def setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a nested setting: setting("prometheus.resources.cpu", "0")."""
    top, *rest = path.split(".")

    def edit(config: dict[str, Any]) -> None:
        if not rest:
            config[P + top] = value
            return
        node = config.setdefault(P + top, {})
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value
    return edit


def both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        for e in edits:
            e(config)
    return edit


def rename(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        config[new] = config.pop(old)
    return edit


CASES = [
    # zero, negative and malformed durations and sizes
    Case("retention-zero", "prod", setting("prometheus.retention", "0d"), "prometheus.retention", "pulumi config set"),
    Case("scrape-negative", "prod", setting("prometheus.scrapeInterval", "-5s"), "prometheus.scrapeInterval", "pulumi config set"),
    Case("volume-zero", "prod", setting("prometheus.volumeSize", "0Gi"), "prometheus.volumeSize", "pulumi config set"),
    Case("cpu-zero", "prod", setting("prometheus.resources.cpu", "0"), "prometheus.resources.cpu", "pulumi config set"),
    Case("memory-zero", "prod", setting("alertmanager.resources.memory", "0Mi"), "alertmanager.resources.memory", "pulumi config set"),
    Case("group-interval-zero", "prod", setting("alertmanager.route.groupInterval", "0s"), "alertmanager.route.groupInterval", "pulumi config set"),
    Case("repeat-interval-zero", "prod", setting("alertmanager.route.repeatInterval", "0m"), "alertmanager.route.repeatInterval", "pulumi config set"),
    Case("tempo-retention-days", "prod", setting("tempo.retention", "14d"), "tempo.retention", "pulumi config set"),
    Case("timeout-over-interval", "prod", setting("prometheus.scrapeTimeout", "30s"), "prometheus.scrapeTimeout", "pulumi config set"),
    Case("replicas-zero", "prod", setting("prometheus.replicas", 0), "prometheus.replicas", "pulumi config set"),
    # names that a consumer would reject later
    Case("namespace-newline", "prod", setting("kubernetes.namespace", "monitoring\n"), "kubernetes.namespace", "pulumi config set"),
    Case("node-exporter-namespace", "prod", setting("kubernetes.nodeExporterNamespace", "Bad_NS"), "kubernetes.nodeExporterNamespace", "pulumi config set"),
    Case("cluster-domain", "prod", setting("kubernetes.clusterDomain", "cluster..local"), "kubernetes.clusterDomain", "pulumi config set"),
    Case("ingress-host", "prod", setting("grafana.ingress.host", "Grafana_Example.com"), "grafana.ingress.host", "pulumi config set"),
    Case("name-prefix", "dev", setting("docker.namePrefix", "-bad"), "docker.namePrefix", "pulumi config set"),
    Case("environment-empty", "prod", setting("environment", ""), "environment", "pulumi config set"),
    Case("environment-brackets", "prod", setting("environment", "[prod]"), "environment", "pulumi config set"),
    Case("admin-user-empty", "prod", setting("grafana.adminUser", ""), "grafana.adminUser", "pulumi config set"),
    Case("channel-blank", "prod", setting("alertmanager.receivers.chat.channel", "  "), "alertmanager.receivers.chat.channel", "pulumi config set"),
    Case("job-name", "prod", setting("shannon.targets", [{"job": "bad job", "port": 1}]), "shannon.targets[0].job", "pulumi config set"),
    # images
    Case("floating-tag", "prod", setting("images.grafana", "grafana/grafana:12"), "images.grafana", "grafana/grafana:12.4.3"),
    Case("latest-tag", "prod", setting("images.tempo", "grafana/tempo:latest"), "images.tempo", "grafana/tempo:2.9.5"),
    Case("short-digest", "prod", setting("images.prometheus", "prom/prometheus@sha256:1234"), "images.prometheus", "pulumi config set"),
    Case("unknown-image", "prod", setting("images.loki", "grafana/loki:3.0.0"), "images.loki", "pulumi config set"),
    # URLs and endpoints
    Case("s3-endpoint-scheme", "prod", setting("tempo", {"storage": "s3", "s3": {"bucket": "t", "endpoint": "https://s3.amazonaws.com"}}),
         "tempo.s3.endpoint", "pulumi config set"),
    Case("grafana-url-scheme", "prod", setting("grafana.url", "ftp://grafana.example.com"), "grafana.url", "pulumi config set"),
    Case("external-url", "prod", setting("prometheus.externalUrl", "prometheus.example.com"), "prometheus.externalUrl", "pulumi config set"),
    Case("blackbox-target-url", "prod", setting("exporters.blackbox.targets", ["not a url"]), "exporters.blackbox.targets[0]", "pulumi config set"),
    Case("remote-docker-no-url", "dev", setting("docker.host", "ssh://deploy@dev-box"), "grafana.url", "ssh -N -L"),
    Case("cert-manager-no-secret", "prod", setting("grafana.ingress", {"host": "grafana.example.com", "annotations": {
        "cert-manager.io/cluster-issuer": "letsencrypt"}}), "grafana.ingress.tlsSecret", "pulumi config set"),
    # what would quietly weaken alerting
    Case("range-overrides-on-prod", "prod", setting("rules.rangeOverrides", {"5m": "1s"}), "rules.rangeOverrides", "testStack"),
    Case("for-scale-on-prod", "prod", setting("rules.forScale", 0.1), "rules.forScale", "testStack"),
    Case("max-for-on-prod", "prod", setting("rules.maxFor", "10s"), "rules.maxFor", "testStack"),
    Case("pager-null", "prod", setting("alertmanager.receivers.pager.type", "null"), "alertmanager.receivers.pager.type", "pulumi config set"),
    Case("deadman-opt-out-blank", "prod", setting("alertmanager.receivers.deadmanOptOut", " "), "alertmanager.receivers.deadmanOptOut", "pulumi config set"),
    Case("blackbox-no-targets", "dev", setting("exporters.blackbox", {"enabled": True, "targets": []}), "exporters.blackbox.targets", "pulumi config set"),
    Case("local-ports-clash", "dev", setting("grafana.localPort", 9090), "grafana.localPort", "pulumi config set"),
    # keys
    Case("unknown-key", "prod", setting("prometheus.retension", "30d"), "prometheus.retension", "pulumi config rm"),
    Case("unknown-platform", "prod", setting("platform", "swarm"), "platform", "pulumi config set"),
    Case("misspelled-namespace", "prod", rename(P + "prometheus", "shannon-observabilty:prometheus"),
         "shannon-observabilty:prometheus", "shannon-observability:prometheus"),
    Case("credential-in-plain-text", "prod", lambda c: c.update({P + "pagerdutyRoutingKey": "abc"}), "pagerdutyRoutingKey",
         "pulumi config set --secret pagerdutyRoutingKey"),
    # stack files that are not stack files
    Case("yaml-list", "prod", None, "Pulumi.prod.yaml", "a stack file is a mapping", raw="- a\n- b\n", program=False),
    Case("empty-file", "prod", None, "Pulumi.prod.yaml", "kubernetes", raw="", program=False),
    Case("not-yaml", "prod", None, "Pulumi.prod.yaml", "is not valid YAML", raw="config: [unclosed\n", program=False),
    Case("config-not-mapping", "prod", None, "Pulumi.prod.yaml", "'config' must be a mapping", raw="config: 3\n", program=False),
]


def _write_stack(case: Case, directory: Path) -> Path:
    if case.raw is None:
        assert case.edit is not None
        return edited_stack_file(directory, case.stack, case.edit)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Pulumi.{case.stack}.yaml"
    path.write_text(case.raw)
    return path


def _tree(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def earlier_render(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An output directory per stack holding an earlier good render and a file of the user's."""
    out = {}
    for stack in ("dev", "prod"):
        directory = tmp_path_factory.mktemp(f"out-{stack}")
        assert render_main(["--stack", stack, "--out", str(directory)]) == 0
        (directory / "SENTINEL-mine.txt").write_text("the user's own file\n")
        out[stack] = directory
    return out


def _problem_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(("- ", "fix:"))]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_render_refuses_bad_input(case: Case, tmp_path: Path, earlier_render: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]):
    """Non-zero exit, one message naming the key or file with its fix, no traceback, the output untouched."""
    stack_file = _write_stack(case, tmp_path / "stack")
    out = earlier_render[case.stack]
    before = _tree(out)
    code = render_main(["--stack", case.stack, "--stack-file", str(stack_file), "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    assert [line.startswith("error:") for line in err.splitlines()].count(True) == 1, err
    assert case.key in err and case.fix in err, err
    assert "nothing was written" in err
    assert _tree(out) == before and (out / "SENTINEL-mine.txt").exists()


@pytest.mark.parametrize("case", [c for c in CASES if c.program], ids=[c.id for c in CASES if c.program])
def test_program_refuses_bad_input_with_the_same_message(case: Case, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]):
    """The Pulumi program, reading the same stack file, raises the same problems and creates no resource."""
    stack_file = _write_stack(case, tmp_path / "stack")
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError) as error:
        run_stack(case.stack, stack_file=stack_file, mocks=mocks)
    message = str(error.value)
    assert case.key in message and case.fix in message, message
    assert not [r for r in mocks.resources if r.custom]
    render_main(["--stack", case.stack, "--stack-file", str(stack_file), "--out", str(tmp_path / "out")])
    rendered = capsys.readouterr().err
    assert _problem_lines(rendered) == _problem_lines(message)


def test_render_into_a_file_or_a_directory_of_someone_else(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """--out naming a file, or a non-empty directory the render did not write, is refused before anything is read
    or written; the user's files stay."""
    a_file = tmp_path / "out.txt"
    a_file.write_text("mine")
    assert render_main(["--stack", "dev", "--out", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err and a_file.read_text() == "mine"
    theirs = tmp_path / "theirs"
    (theirs / "prometheus").mkdir(parents=True)
    (theirs / "prometheus" / "mine.yml").write_text("mine")
    assert render_main(["--stack", "dev", "--out", str(theirs)]) == 2
    err = capsys.readouterr().err
    assert "holds files the render did not write" in err and "Traceback" not in err
    assert (theirs / "prometheus" / "mine.yml").read_text() == "mine"


def test_render_removes_only_what_it_wrote(tmp_path: Path):
    """A later render into its own directory replaces its files and drops those it no longer writes (Tempo
    disabled), and leaves a file of the user's beside them."""
    out = tmp_path / "out"
    assert render_main(["--stack", "prod", "--out", str(out)]) == 0
    (out / "notes.md").write_text("mine")
    stack_file = edited_stack_file(tmp_path, "prod", lambda config: config[P + "tempo"].update(enabled=False))
    assert render_main(["--stack", "prod", "--stack-file", str(stack_file), "--out", str(out)]) == 0
    assert not (out / "tempo").exists() and (out / "notes.md").read_text() == "mine"


@pytest.mark.parametrize(("args", "message"), [
    (["--series", "60000", "--scrape-interval", "0s"], "--scrape-interval and --retention must be longer than zero"),
    (["--series", "60000", "--bytes-per-sample", "-1"], "--bytes-per-sample must be a number above 0"),
    (["--series", "0"], "--series must be positive"),
    (["--series", "60000", "--retention", "thirty days"], "is not a Prometheus duration"),
])
def test_capacity_refuses_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]):
    """The capacity calculator exits 2 with one message naming the argument, no traceback."""
    with pytest.raises(SystemExit) as exit_:
        capacity.main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_render_command_line_prints_no_traceback(tmp_path: Path):
    """End to end, as a user runs it: a bad stack file gives exit 2 and the message, no traceback."""
    stack_file = _write_stack(CASES[0], tmp_path)
    result = subprocess.run([sys.executable, "-m", "components.render", "--stack", "prod", "--stack-file", str(stack_file),
                             "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "prometheus.retention" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_corpus_covers_every_kind_of_bad_input():
    """At least 40 stack-file cases, each with a distinct id."""
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


def test_the_capacity_settings_block_pastes_into_a_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """What `python -m components.capacity` prints (volumeSize, memory, memoryLimit, no cpu) pastes into a stack
    file and renders: the keys it leaves out keep their defaults."""
    assert capacity.main(["--series", "60000"]) == 0
    block = capsys.readouterr().out.split("\n\n", 1)[1]
    pasted = yaml.safe_load(block)
    stack_file = edited_stack_file(tmp_path, "prod", lambda config: config.update(pasted))
    assert render_main(["--stack", "prod", "--stack-file", str(stack_file), "--out", str(tmp_path / "out")]) == 0
    from components.stackfile import load_stack

    settings, _ = load_stack("prod", ROOT, stack_file)
    assert settings.prometheus.resources.cpu == "500m"  # the default it left out
    assert settings.prometheus.resources.memory == pasted[P + "prometheus"]["resources"]["memory"]


def test_errors_name_the_stack_file_actually_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """With --stack-file, the message names that file, not the repository's Pulumi.<stack>.yaml."""
    stack_file = _write_stack(CASES[0], tmp_path / "elsewhere")
    assert render_main(["--stack", "prod", "--stack-file", str(stack_file), "--out", str(tmp_path / "out")]) == 2
    assert f"({stack_file})" in capsys.readouterr().err
