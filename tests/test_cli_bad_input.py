"""Every command of the project refuses bad arguments and broken inputs with one message and exit 2, never a
traceback, and writes nothing when it refuses: capacity, render, diff, docs, lint, check, devstack, catalog,
storecheck, the SLO generator and bench."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from components import capacity, diff, docs, lint, render
from tests.conftest import ROOT


def _exit_code(main: Callable[[list[str]], int], args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exit_:  # argparse's refusals
        return int(exit_.code or 0)


@pytest.mark.parametrize(("args", "message"), [
    (["--series", "60000", "--bytes-per-sample", "inf"], "--bytes-per-sample must be a number above 0"),
    (["--series", "60000", "--bytes-per-sample", "nan"], "--bytes-per-sample must be a number above 0"),
    (["--series", "60000", "--bytes-per-sample", "1000"], "at most 16"),
    (["--series", "1e3"], "'1e3' is not a whole number of series"),
    (["--series", str(10**24), "--remote-write"], "beyond any one Prometheus"),
    (["--limits", "--scrape-interval", "0s"], "--scrape-interval and --retention must be longer than zero"),
    (["--limits", "--memory", "0"], "--memory 0 leaves nothing for series"),
    (["--limits", "--memory", "512Mi"], "leaves nothing for series"),
    (["--limits", "--volume", "0Gi"], "--volume 0Gi is below 1Gi"),
    (["--limits", "--volume", "lots"], "'lots' is not a Kubernetes quantity"),
    (["--series", "60000", "--retention", "100000y"], "beyond Prometheus's longest duration"),
    ([], "--series is required"),
])
def test_capacity_refuses_what_it_cannot_plan(args: list[str], message: str, capsys: pytest.CaptureFixture[str]):
    """Capacity arguments no Prometheus runs with (infinite or absurd sizes, zero windows, memory below the base)
    exit 2 with a message naming the argument, instead of a traceback or a plan of zero or 10^21 MiB."""
    assert _exit_code(capacity.main, args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_capacity_limits_need_no_series(capsys: pytest.CaptureFixture[str]):
    """`--limits` answers from --memory and --volume alone: --series is not asked for."""
    assert capacity.main(["--limits"]) == 0
    assert "one Prometheus: up to" in capsys.readouterr().out


def test_render_refuses_an_out_path_it_cannot_create(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """`--out` below a file is refused before anything is rendered or created."""
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    assert render.main(["--stack", "dev", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{blocker} is a file, not a directory" in err and "nothing was written" in err
    assert blocker.read_text() == "mine"


def test_render_reports_a_failed_write_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]):
    """A write that fails midway (a full disk) exits 2 naming --out and the reason, and leaves no staging
    directory behind."""
    real_write_text = Path.write_text
    calls = {"n": 0}

    def full_disk(self: Path, *args: object, **kwargs: object) -> int:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full_disk)
    out = tmp_path / "out"
    assert render.main(["--stack", "dev", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the render into --out {out}: No space left on device" in err and "Traceback" not in err
    assert not [p for p in out.iterdir() if p.name.startswith(".render-")]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "prod"
    assert render.main(["--stack", "prod", "--out", str(out)]) == 0
    return out


def _first(root: Path, pattern: str) -> Path:
    return sorted(root.glob(pattern))[0]


CORRUPTIONS: list[tuple[str, Callable[[Path], Path], str]] = [
    ("truncated-yaml", lambda r: _write(r / "prometheus/prometheus.yml", "scrape_configs: ["), "does not parse (line 1"),
    ("yaml-list", lambda r: _write(r / "prometheus/prometheus.yml", "- 1\n"), "holds a list, where a render writes"),
    ("directory", lambda r: _mkdir(r / "alertmanager/alertmanager.yml"), "is a directory, not a file"),
    ("binary", lambda r: _write_bytes(r / "prometheus/prometheus.yml", bytes(range(128, 256))), "is not UTF-8 text"),
    ("bad-json", lambda r: _write(_first(r, "grafana/dashboards/*.json"), "{"), "does not parse (line 1"),
    ("json-list", lambda r: _write(_first(r, "grafana/dashboards/*.json"), "[]"), "holds a list"),
    ("python-tag", lambda r: _write(r / "deployment.yaml", "a: !!python/object:os.system x\n"), "could not determine"),
    ("wrong-shape", lambda r: _write(r / "prometheus/prometheus.yml", "scrape_configs: [{interval: 1}]\n"),
     "not shaped like a render's"),
    ("rules-wrong-shape", lambda r: _write(_first(r, "prometheus/rules/*.yml"), "groups: [{rules: [5]}]\n"),
     "not shaped like a render's"),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.unlink()
    path.mkdir()
    return path


@pytest.mark.parametrize(("corrupt", "message"), [(c, m) for _, c, m in CORRUPTIONS], ids=[i for i, _, _ in CORRUPTIONS])
def test_diff_refuses_a_broken_render_directory(rendered: Path, tmp_path: Path, corrupt: Callable[[Path], Path],
                                                message: str, capsys: pytest.CaptureFixture[str]):
    """A render directory with a file no render writes (unparseable, binary, a list, a directory, the wrong
    shape) makes the diff exit 2 with the file named where it can be, and print no summary."""
    head = tmp_path / "head"
    shutil.copytree(rendered, head)
    corrupt(head)
    assert diff.main([str(rendered), str(head)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err and captured.out == ""


def test_docs_help_and_check_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]):
    """`python -m components.docs --help` and `--check` never write README.md; --check exits 1 on a stale
    reference and 0 on a current one, and the plain command brings it up to date."""
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text().replace("| `prometheus.retention`", "| `prometheus.stale`", 1))
    stale = readme.read_text()
    monkeypatch.setattr(docs, "README", readme)
    assert _exit_code(docs.main, ["--help"]) == 0
    assert _exit_code(docs.main, ["--check"]) == 1
    assert readme.read_text() == stale and "out of date" in capsys.readouterr().err
    assert docs.main([]) == 0 and readme.read_text() != stale
    assert docs.main(["--check"]) == 0


def test_lint_refuses_arguments_it_does_not_take(capsys: pytest.CaptureFixture[str]):
    """`python -m components.lint --stack prod` is refused (exit 2), not silently ignored."""
    assert _exit_code(lint.main, ["--stack", "prod"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["components.capacity", "--series", "60000", "--bytes-per-sample", "inf"],
    ["components.diff", "/nonexistent-base", "/nonexistent-head"],
    ["components.render", "--stack", "no-such-stack", "--out", "/tmp/never-written"],
    ["components.storecheck", "--stack", "prod"],
    ["components.devstack", "no-such-command"],
    ["components.catalog", "no-such-command"],
    ["components.lint", "--bogus"],
    ["components.check", "/nonexistent-render"],
    ["components.builders.slo_files", "--bogus"],
    ["bench", "--runs", "0"],
    ["bench", "--work", "/etc"],  # never a directory the benchmark would remove and did not make
])
def test_commands_exit_2_without_a_traceback(args: list[str]):
    """As a user runs them: each command given a wrong argument exits 2 with an `error:` line, no traceback."""
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "error" in result.stderr and "Traceback" not in result.stderr
    assert not Path("/tmp/never-written").exists()
