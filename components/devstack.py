"""`python -m components.devstack`: `make up-dev`, `make down-dev` and `make status-dev`, and their steps.

  up           install-cli, passphrase, the local stack file (components.localstack), preflight, the
               provider plugins, then `pulumi stack select --create` and `pulumi up` of stack dev-local
  down         `pulumi destroy` of dev-local; the data volumes stay unless PURGE=1
  status       the URLs and how to read the Grafana password

  install-cli  the Pulumi CLI at the version of the pulumi SDK in requirements.txt, into .tools/
               (gitignored), from Pulumi's release archive, verified against the SHA-256 committed in
               .ci/pulumi-checksums.txt; never a script piped into a shell
  passphrase   the local stack's passphrase file, .pulumi-local/passphrase (mode 0600), made once
  preflight    before any resource: the Docker daemon answers and is recent enough, Shannon's compose
               network exists, the local ports are free; one message per failure, with its fix
  plugins      the `pulumi plugin install` commands for the provider versions in requirements.txt

Each prints what it did, or one clear message and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from components.settings import SettingsError
from components.stackfile import StackFileError

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".tools"
CHECKSUMS = REPO / ".ci" / "pulumi-checksums.txt"
RELEASES = "https://get.pulumi.com/releases/sdk"
LOCAL = REPO / ".pulumi-local"
# The oldest Docker Engine API pulumi-docker 5 talks to (Docker 20.10).
MIN_DOCKER_API = (1, 41)
# Provider plugins of the Python packages in requirements.txt: package -> plugin name.
PLUGINS = {"pulumi-kubernetes": "kubernetes", "pulumi-docker": "docker", "pulumi-random": "random",
           "pulumiverse-grafana": "grafana"}


class DevStackError(Exception):
    """One precondition that failed, with what to do about it."""


def pinned(package: str, requirements: Path = REPO / "requirements.txt") -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", requirements.read_text(), re.M)
    if match is None:
        raise DevStackError(f"{package} is not pinned in {requirements.name}")
    return match.group(1)


def archive_name(version: str, system: str | None = None, machine: str | None = None) -> str:
    """pulumi-v<version>-<os>-<arch>.tar.gz of this machine; an unknown platform gets the manual steps."""
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if system not in ("linux", "darwin") or arch is None:
        raise DevStackError(f"no Pulumi release archive for {system}/{machine} here: install the Pulumi CLI "
                            f"{version} by hand (https://www.pulumi.com/docs/install/) and put it on PATH")
    return f"pulumi-v{version}-{system}-{arch}.tar.gz"


def expected_sha256(name: str, checksums: Path = CHECKSUMS) -> str:
    for line in checksums.read_text().splitlines() if checksums.exists() else []:
        parts = line.split()
        if len(parts) == 2 and parts[1] == name and not line.startswith("#"):
            return parts[0]
    raise DevStackError(
        f"no SHA-256 for {name} in {checksums.relative_to(REPO) if checksums.is_relative_to(REPO) else checksums}: "
        f"add its line from the release's pulumi-<version>-checksums.txt "
        f"(https://github.com/pulumi/pulumi/releases), or install the CLI by hand and put it on PATH")


def installed_cli(version: str, tools: Path = TOOLS) -> Path | None:
    """The pinned CLI: on PATH at that version, or installed in tools/."""
    local = tools / f"pulumi-{version}" / "pulumi" / "pulumi"
    for candidate in (shutil.which("pulumi"), str(local)):
        if candidate and Path(candidate).exists():
            out = subprocess.run([candidate, "version"], capture_output=True, text=True, timeout=60)
            if out.returncode == 0 and out.stdout.strip().removeprefix("v") == version:
                return Path(candidate)
    return None


def install_cli(version: str, tools: Path = TOOLS, releases: str | None = None, checksums: Path = CHECKSUMS,
                system: str | None = None, machine: str | None = None) -> Path:
    """Install the CLI into tools/pulumi-<version>/ unless the pinned one is there; verify before extracting."""
    found = installed_cli(version, tools)
    if found is not None:
        return found
    name = archive_name(version, system, machine)
    want = expected_sha256(name, checksums)
    url = f"{(releases or os.environ.get('PULUMI_RELEASES_URL') or RELEASES).rstrip('/')}/{name}"
    tools.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tools, prefix=".download-") as work:
        archive = Path(work) / name
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as error:
            raise DevStackError(f"cannot download {url} ({error}): offline? Install the Pulumi CLI {version} by hand "
                                "(https://www.pulumi.com/docs/install/), put it on PATH, and run again") from None
        got = hashlib.sha256(archive.read_bytes()).hexdigest()
        if got != want:
            raise DevStackError(f"{name}: SHA-256 {got} is not the committed {want}: refusing to install it")
        staged = Path(work) / "extracted"
        with tarfile.open(archive) as tar:
            tar.extractall(staged, filter="data")
        if not (staged / "pulumi" / "pulumi").exists():
            raise DevStackError(f"{name} holds no pulumi/pulumi: not a Pulumi release archive")
        target = tools / f"pulumi-{version}"
        shutil.rmtree(target, ignore_errors=True)
        staged.rename(target)  # whole, or not at all
    return target / "pulumi" / "pulumi"


def passphrase_file(local: Path = LOCAL) -> Path:
    """The local stack's passphrase, generated once (0600). Losing it locks the local stack's secrets."""
    path = local / "passphrase"
    if not path.exists():
        local.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path


def _docker(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("docker") is None:
        raise DevStackError("no `docker` command: install Docker Engine (https://docs.docker.com/engine/install/) "
                            "and start it")
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def preflight(stack: str = "dev-local", root: Path = REPO, path: Path | None = None) -> list[str]:
    """Every failed precondition of `make up-dev`, each with its fix; empty when all hold. `path`: the stack
    file to check, when it is not written yet."""
    from components.stackfile import load_stack

    problems = []
    settings, _ = load_stack(stack, root, path or root / f"Pulumi.{stack}.yaml")
    try:
        version = _docker("version", "--format", "{{json .Server}}")
    except DevStackError as error:
        return [str(error)]
    if version.returncode != 0:
        reason = version.stderr.strip().splitlines()[-1] if version.stderr.strip() else "no reply"
        return [f"the Docker daemon does not answer ({reason}): start it (`sudo systemctl start docker`, or "
                "Docker Desktop), and check that you may use it (`docker ps`; Linux: join the docker group)"]
    try:
        server = json.loads(version.stdout)
        api = tuple(int(p) for p in str(server.get("ApiVersion", "0.0")).split(".")[:2])
    except (ValueError, json.JSONDecodeError):
        api = (0, 0)
    if api < MIN_DOCKER_API:
        problems.append(f"Docker Engine API {'.'.join(map(str, api))} is older than "
                        f"{'.'.join(map(str, MIN_DOCKER_API))} (Docker 20.10), the oldest the docker provider supports: "
                        "upgrade Docker Engine")
    network = settings.docker.shannon_network
    if network and _docker("network", "inspect", network).returncode != 0:
        problems.append(f"Shannon's compose network {network!r} does not exist: start Shannon first "
                        "(`docker compose up -d` in Shannon's checkout creates it), or deploy without joining it: "
                        "`NO_SHANNON_NETWORK=1 make up-dev`")
    ours = set(_docker("ps", "--filter", "label=org.shannon-observability.component", "--format",
                       "{{.Ports}}").stdout.split())
    for name, port in settings.local_ports:
        if any(f":{port}->" in p for p in ours):
            continue  # our own container from an earlier `up`
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                problems.append(f"127.0.0.1:{port} ({name}) is in use: stop what listens there (`ss -ltnp 'sport = "
                                f":{port}'`), or move it: `pulumi config set --path '{name}' <port> --stack {stack}`")
    return problems


def plugin_commands(requirements: Path = REPO / "requirements.txt") -> list[str]:
    return [f"plugin install resource {plugin} {pinned(package, requirements)}" for package, plugin in PLUGINS.items()]


def _environment() -> dict[str, str]:
    """The CLI's environment: the local file backend, and the generated passphrase unless one is given."""
    env = dict(os.environ)
    env.setdefault("PULUMI_BACKEND_URL", f"file://{REPO / '.pulumi-state'}")
    if not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file())
    return env


def _pulumi(cli: Path, *args: str, env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), *args], env=env, cwd=REPO, text=True, capture_output=capture, check=False)


def _prepared(stack: str) -> tuple[Path, dict[str, str]]:
    """The CLI and its environment, after the preflight passed on the local stack file as it would be written:
    a failed precondition stops before the stack file, the passphrase or any state is written."""
    from components.localstack import local_stack_text, write_local_stack

    cli = install_cli(pinned("pulumi"))
    drop = bool(os.environ.get("NO_SHANNON_NETWORK"))
    with tempfile.TemporaryDirectory(prefix="shannon-preflight-") as scratch:
        candidate = Path(scratch) / f"Pulumi.{stack}.yaml"
        candidate.write_text(local_stack_text("dev", stack, drop_shannon_network=drop))
        problems = preflight(stack, path=candidate)
    if problems:
        raise DevStackError("preflight failed; nothing was written or created:\n  - " + "\n  - ".join(problems))
    write_local_stack("dev", stack, drop_shannon_network=drop)
    env = _environment()
    (REPO / ".pulumi-state").mkdir(exist_ok=True)
    return cli, env


def up(stack: str, command: str = "up") -> int:
    """Everything `make up-dev` (or, with command "preview", `make preview-dev`) does; stops at the first failed
    step with its message."""
    cli, env = _prepared(stack)
    for plugin in plugin_commands():
        if _pulumi(cli, *plugin.split(), env=env).returncode != 0:
            raise DevStackError(f"`pulumi {plugin}` failed (offline? the plugins come from Pulumi's servers)")
    if _pulumi(cli, "stack", "select", stack, "--create", "--secrets-provider", "passphrase", env=env).returncode != 0:
        raise DevStackError(f"cannot select or create the stack {stack} in .pulumi-state")
    if _pulumi(cli, "config", "--show-secrets", "--stack", stack, env=env, capture=True).returncode != 0:
        raise DevStackError(f"the passphrase does not open the existing stack {stack}: it is in "
                            f"{env.get('PULUMI_CONFIG_PASSPHRASE_FILE') or 'PULUMI_CONFIG_PASSPHRASE'}; without the "
                            "one it was made with, remove the stack (`rm -r .pulumi-state`) and start again")
    if command == "preview":
        return _pulumi(cli, "preview", "--diff", "--stack", stack, env=env).returncode
    return _pulumi(cli, "up", "--stack", stack, env=env).returncode


def down(stack: str, purge: bool) -> int:
    """`pulumi destroy` of the local stack. Its data volumes are retained by the program (retain_on_delete), so
    they stay unless `purge`; the generated credentials are protected, so they are unprotected first."""
    from components.builders.deployment import build_deployment_summary
    from components.stackfile import load_stack

    cli = install_cli(pinned("pulumi"))
    env = _environment()
    settings, _ = load_stack(stack, REPO, REPO / f"Pulumi.{stack}.yaml")
    volumes = [v for w in build_deployment_summary(settings)["workloads"].values() for v in w.get("volumes", [])]
    _pulumi(cli, "state", "unprotect", "--all", "--yes", "--stack", stack, env=env)
    code = _pulumi(cli, "destroy", "--yes", "--stack", stack, env=env).returncode
    if code != 0:
        return code
    if purge:
        for volume in volumes:
            _docker("volume", "rm", volume)
        print(f"removed the data volumes: {', '.join(volumes)}", file=sys.stderr)
    else:
        print(f"kept the data volumes (PURGE=1 removes them): {', '.join(volumes)}", file=sys.stderr)
    return 0


def status(stack: str) -> int:
    cli = install_cli(pinned("pulumi"))
    env = _environment()
    code = _pulumi(cli, "stack", "output", "--stack", stack, env=env).returncode
    print(f"Grafana's admin password: pulumi stack output grafana_admin_password --show-secrets --stack {stack}",
          file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.devstack", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "preview", "down", "status", "install-cli", "passphrase", "preflight",
                                             "plugins"])
    parser.add_argument("--stack", default="dev-local")
    args = parser.parse_args(argv)
    try:
        if args.command in ("up", "preview"):
            return up(args.stack, args.command)
        if args.command == "down":
            return down(args.stack, purge=os.environ.get("PURGE") == "1")
        if args.command == "status":
            return status(args.stack)
        if args.command == "install-cli":
            print(install_cli(pinned("pulumi")))
        elif args.command == "passphrase":
            print(passphrase_file())
        elif args.command == "plugins":
            print("\n".join(plugin_commands()))
        else:
            problems = preflight(args.stack)
            for problem in problems:
                print(f"preflight: {problem}", file=sys.stderr)
            if problems:
                print("preflight failed: nothing was created", file=sys.stderr)
                return 1
            print("preflight: Docker, Shannon's network and the local ports are ready", file=sys.stderr)
    except (DevStackError, StackFileError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
