"""`make up-dev`, `make down-dev`, `make status-dev`: the CLI installer, the passphrase, the preflight and the
order of the steps, with stand-ins for `docker` and `pulumi` on PATH.

A real Docker engine and the Pulumi engine cannot run here: every step up to `pulumi up` itself
(`pulumi destroy` for down-dev) runs for real; from the provider plugins on, a stand-in `pulumi`
records the calls it gets.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from components import devstack
from tests.conftest import ROOT

VERSION = "9.9.9"


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _release(tmp_path: Path, version: str = VERSION) -> tuple[Path, Path]:
    """A release directory with pulumi-v<version>-linux-x64.tar.gz, and a checksums file listing it."""
    releases = tmp_path / "releases"
    releases.mkdir()
    name = f"pulumi-v{version}-linux-x64.tar.gz"
    script = f"#!/bin/sh\n[ \"$1\" = version ] && echo v{version}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    (releases / name).write_bytes(buffer.getvalue())
    checksums = tmp_path / "checksums.txt"
    checksums.write_text(f"# test\n{hashlib.sha256(buffer.getvalue()).hexdigest()}  {name}\n")
    return releases, checksums


@pytest.fixture
def no_pulumi_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_installer_verifies_installs_and_then_does_nothing(tmp_path: Path, no_pulumi_on_path: None):
    """A good checksum installs the CLI from a file:// release; a second run is a no-op (the same binary)."""
    releases, checksums = _release(tmp_path)
    tools = tmp_path / "tools"
    cli = devstack.install_cli(VERSION, tools, f"file://{releases}", checksums, "linux", "x86_64")
    assert cli == tools / f"pulumi-{VERSION}" / "pulumi" / "pulumi"
    assert subprocess.run([str(cli), "version"], capture_output=True, text=True).stdout.strip() == f"v{VERSION}"
    before = cli.stat().st_mtime_ns
    (releases / f"pulumi-v{VERSION}-linux-x64.tar.gz").unlink()  # a second run needs no download at all
    assert devstack.install_cli(VERSION, tools, f"file://{releases}", checksums, "linux", "x86_64") == cli
    assert cli.stat().st_mtime_ns == before


def test_installer_refuses_a_bad_checksum_and_leaves_nothing(tmp_path: Path, no_pulumi_on_path: None):
    """An archive whose SHA-256 differs from the committed one is refused; nothing is left in the tools dir."""
    releases, checksums = _release(tmp_path)
    checksums.write_text(f"{'0' * 64}  pulumi-v{VERSION}-linux-x64.tar.gz\n")
    tools = tmp_path / "tools"
    with pytest.raises(devstack.DevStackError, match="is not the committed"):
        devstack.install_cli(VERSION, tools, f"file://{releases}", checksums, "linux", "x86_64")
    assert not list(tools.iterdir())


def test_installer_offline_or_unknown_platform_gives_the_manual_steps(tmp_path: Path, no_pulumi_on_path: None):
    """Offline (the archive cannot be fetched) and an unknown platform each end in one message with the manual
    install; a version without a committed checksum is refused before any download."""
    releases, checksums = _release(tmp_path)
    with pytest.raises(devstack.DevStackError, match=r"offline\? Install the Pulumi CLI"):
        devstack.install_cli(VERSION, tmp_path / "t1", f"file://{tmp_path}/nowhere", checksums, "linux", "x86_64")
    with pytest.raises(devstack.DevStackError, match=r"install the Pulumi CLI .* by hand"):
        devstack.install_cli(VERSION, tmp_path / "t2", f"file://{releases}", checksums, "windows", "x86_64")
    with pytest.raises(devstack.DevStackError, match=r"no SHA-256 for pulumi-v1\.0\.0-linux-arm64\.tar\.gz"):
        devstack.install_cli("1.0.0", tmp_path / "t3", f"file://{releases}", checksums, "linux", "aarch64")


def test_archive_names_cover_the_three_platforms():
    """linux-x64, linux-arm64 and darwin-arm64 (and darwin-x64) map to Pulumi's archive names."""
    assert devstack.archive_name("3.272.0", "Linux", "x86_64") == "pulumi-v3.272.0-linux-x64.tar.gz"
    assert devstack.archive_name("3.272.0", "Linux", "aarch64") == "pulumi-v3.272.0-linux-arm64.tar.gz"
    assert devstack.archive_name("3.272.0", "Darwin", "arm64") == "pulumi-v3.272.0-darwin-arm64.tar.gz"


def test_the_cli_version_is_named_once():
    """The CLI the dev stack uses is the pulumi SDK's version in requirements.txt, as the workflows' is; plugins
    follow the provider packages' versions."""
    sdk = devstack.pinned("pulumi")
    assert sdk == (ROOT / "requirements.txt").read_text().split("pulumi==")[1].split()[0]
    assert "plugin install resource kubernetes " + devstack.pinned("pulumi-kubernetes") in devstack.plugin_commands()


def test_passphrase_is_generated_once_and_private(tmp_path: Path):
    """The local passphrase file is made once, mode 0600, and never rewritten."""
    path = devstack.passphrase_file(tmp_path / ".pulumi-local")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_text().strip()) >= 40
    first = path.read_text()
    assert devstack.passphrase_file(tmp_path / ".pulumi-local").read_text() == first


# --- preflight and the whole target, on a copy of the repository --------------------------------

FAKE_DOCKER = r"""#!/bin/sh
# A stand-in docker: FAKE_DOCKER_MODE chooses what it simulates.
case "$FAKE_DOCKER_MODE:$1" in
  down:*) echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1 ;;
  old:version) echo '{"ApiVersion": "1.40", "Version": "19.03.15"}' ;;
  *:version) echo '{"ApiVersion": "1.47", "Version": "27.3.1"}' ;;
  nonetwork:network) echo "Error: network shannon_shannon-net not found" >&2; exit 1 ;;
  *:network) echo '[{"Name": "shannon_shannon-net"}]' ;;
  *:ps) ;;
  *) ;;
esac
"""

FAKE_PULUMI = """#!/bin/sh
# A stand-in pulumi: records each call; `version` answers the pinned version.
echo "$@" >> "$FAKE_PULUMI_LOG"
[ "$1" = version ] && echo "v{version}"
exit 0
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("devstack") / "repo"
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        "venv", ".venv", ".git", "build", ".work", "__pycache__", ".pytest_cache", ".ruff_cache", ".pulumi-state",
        ".pulumi-local", ".tools", "Pulumi.dev-local.yaml"))
    return dest


def _target(repo: Path, tmp_path: Path, command: str, docker_mode: str | None, with_pulumi: bool = True,
            extra_env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    if docker_mode is not None:
        _executable(bin_dir / "docker", FAKE_DOCKER)
    if with_pulumi:
        _executable(bin_dir / "pulumi", FAKE_PULUMI.replace("{version}", devstack.pinned("pulumi")))
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "pulumi.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "DOCKER_"))}
    # Only the stand-ins: a docker or pulumi installed on this machine must not answer instead.
    env.update({"PATH": str(bin_dir), "FAKE_DOCKER_MODE": docker_mode or "", "FAKE_PULUMI_LOG": str(log),
                "PULUMI_RELEASES_URL": f"file://{tmp_path}/no-releases", **(extra_env or {})})
    result = subprocess.run([sys.executable, "-m", "components.devstack", command], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=300)
    return result, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(("mode", "message"), [
    (None, "no `docker` command: install Docker Engine"),
    ("down", "the Docker daemon does not answer (Cannot connect"),
    ("old", "Docker Engine API 1.40 is older than 1.41"),
    ("nonetwork", "Shannon's compose network 'shannon_shannon-net' does not exist: start Shannon first"),
])
@pytest.mark.parametrize("command", ["up", "preview"])
def test_up_dev_stops_at_preflight_before_any_stack_state(repo: Path, tmp_path: Path, mode: str | None, message: str,
                                                          command: str):
    """With the CLI and a failing precondition, `up` (and `preview`, make preview-dev) prints that precondition's
    message and fix, exits 1, and writes nothing: no stack state, no local stack file, no passphrase; the CLI was
    asked for nothing but its version."""
    for made in (".pulumi-state", ".pulumi-local"):
        shutil.rmtree(repo / made, ignore_errors=True)
    (repo / "Pulumi.dev-local.yaml").unlink(missing_ok=True)
    result, calls = _target(repo, tmp_path, command, mode)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "nothing was written or created" in result.stderr and "Traceback" not in result.stderr
    assert calls == ["version"] and not (repo / ".pulumi-state").exists()
    assert not (repo / ".pulumi-local").exists() and not (repo / "Pulumi.dev-local.yaml").exists()


def test_up_dev_stops_when_a_local_port_is_taken(repo: Path, tmp_path: Path):
    """A published port already in use (not by the stack's own containers) is named with the setting that moves it."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack_file = repo / "Pulumi.dev.yaml"
        original = stack_file.read_text()
        try:
            stack_file.write_text(original.replace("  shannon-observability:grafana:\n",
                                                   f"  shannon-observability:grafana:\n    localPort: {port}\n", 1))
            result, _ = _target(repo, tmp_path, "up", "ok")
        finally:
            stack_file.write_text(original)
    assert result.returncode == 1
    assert f"127.0.0.1:{port} (grafana.localPort) is in use" in result.stderr, result.stderr


def test_up_dev_without_a_cli_and_offline_prints_the_manual_steps(repo: Path, tmp_path: Path):
    """No Pulumi CLI on PATH and no committed checksum (or no network): one message with the manual install."""
    result, _ = _target(repo, tmp_path, "up", "ok", with_pulumi=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "install the CLI by hand" in result.stderr or "Install the Pulumi CLI" in result.stderr


def test_up_dev_runs_every_step_up_to_the_engine(repo: Path, tmp_path: Path):
    """With every precondition met, `up` installs the plugins at the packages' versions, creates the passphrase
    file and the dev-local stack file (never touching Pulumi.dev.yaml), and ends at `pulumi up --stack dev-local`:
    the first step that needs the real engine."""
    tracked = (repo / "Pulumi.dev.yaml").read_bytes()
    result, calls = _target(repo, tmp_path, "up", "ok")
    assert result.returncode == 0, result.stderr
    assert calls[0] == "version"
    assert calls[1:5] == devstack.plugin_commands()
    assert calls[5:] == ["stack select dev-local --create --secrets-provider passphrase",
                         "config --show-secrets --stack dev-local", "up --stack dev-local"]
    assert (repo / "Pulumi.dev-local.yaml").exists() and (repo / "Pulumi.dev.yaml").read_bytes() == tracked
    assert stat.S_IMODE((repo / ".pulumi-local" / "passphrase").stat().st_mode) == 0o600


def test_preview_dev_takes_the_steps_of_up_and_ends_at_preview(repo: Path, tmp_path: Path):
    """`make preview-dev` (devstack preview) goes through the same steps as `up` and ends at `pulumi preview
    --diff`, never at `up`."""
    result, calls = _target(repo, tmp_path, "preview", "ok")
    assert result.returncode == 0, result.stderr
    assert calls[1:5] == devstack.plugin_commands()
    assert calls[-1] == "preview --diff --stack dev-local" and not any(c.startswith("up ") for c in calls)


def test_up_dev_can_skip_shannon_network(repo: Path, tmp_path: Path):
    """NO_SHANNON_NETWORK=1 deploys without joining Shannon's network: its absence is then no failure."""
    result, calls = _target(repo, tmp_path, "up", "nonetwork", extra_env={"NO_SHANNON_NETWORK": "1"})
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "up --stack dev-local"
    assert "shannonNetwork" not in (repo / "Pulumi.dev-local.yaml").read_text()


def test_down_dev_keeps_volumes_unless_purged(repo: Path, tmp_path: Path):
    """down destroys the stack (after unprotecting the generated credentials) and says which data volumes it kept."""
    result, calls = _target(repo, tmp_path, "down", "ok")
    assert result.returncode == 0, result.stderr
    assert calls[1:] == ["state unprotect --all --yes --stack dev-local", "destroy --yes --stack dev-local"]
    assert "kept the data volumes (PURGE=1 removes them): shannon-prometheus-data" in result.stderr


def test_status_dev_shows_the_outputs_and_the_password_command(repo: Path, tmp_path: Path):
    """status prints the stack outputs and how to read the generated Grafana password."""
    result, calls = _target(repo, tmp_path, "status", "ok")
    assert result.returncode == 0 and calls[1:] == ["stack output --stack dev-local"]
    assert "pulumi stack output grafana_admin_password --show-secrets --stack dev-local" in result.stderr
