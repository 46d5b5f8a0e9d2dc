"""Shared fixtures: the recording Pulumi mocks and whole-stack runs of the real stack files.

`run_stack` runs the real `__main__.py` under Pulumi mocks with the real
`Pulumi.<stack>.yaml`, secrets given test values, and records every resource's
type, name, parent and inputs, remembering which input paths were secrets.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.settings import PROJECT  # noqa: E402
from components.stackfile import as_pulumi_config  # noqa: E402
from tests import tools  # noqa: E402

# Test values for every secret; distinctive so tests can find them wherever they leak.
TEST_SECRETS = {
    "pagerdutyRoutingKey": "test-secret-pagerduty-routing-key-0f3a9",
    "slackApiUrl": "https://hooks.slack.example/test-secret-slack-url-7c21e",
    "deadmanUrl": "https://deadman.example/test-secret-deadman-url-44b1d",
    "postgresDsn": "postgresql://exporter:test-secret-pg-password-91ac@postgres:5432/shannon",
    "redisAddr": "redis://:test-secret-redis-password-5d2e@redis:6379",
    "remoteWritePassword": "test-secret-remote-write-password-31f7",
    "remoteWriteToken": "test-secret-remote-write-token-8e02",
    "remoteWriteCa": "test-secret-remote-write-ca-d5c3",
    "s3AccessKey": "test-secret-s3-access-key-a18f",
    "s3SecretKey": "test-secret-s3-secret-key-c9e0",
}


@dataclass
class Recorded:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    secret_paths: set[str]
    provider: str | None
    dependencies: list[str] = field(default_factory=list)
    options: pulumi.ResourceOptions = field(default_factory=pulumi.ResourceOptions)


@dataclass
class StackRun:
    stack: str
    resources: list[Recorded]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    secrets: dict[str, str] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def by_urn(self, urn: str) -> Recorded:
        return next(r for r in self.resources if r.urn == urn)

    def kubernetes_objects(self) -> list[Recorded]:
        return [r for r in self.resources if r.custom and r.type.startswith("kubernetes:")]


def _unwrap(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Replace Pulumi's secret envelopes by their values, recording where they were."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            secret_paths.add(path)
            return _unwrap(value["value"], path, secret_paths)
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recording.attach(request.type, request.name, response.urn, request.parent,
                                  list(request.dependencies))
        return response


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.options: dict[tuple[str, str], pulumi.ResourceOptions] = {}  # (type, name) -> options as declared

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        secret_paths: set[str] = set()
        inputs = _unwrap(args.inputs, "", secret_paths)
        self.resources.append(Recorded(args.typ, args.name, "", "", bool(args.custom), inputs, secret_paths,
                                       args.provider, options=self.options.get((args.typ, args.name),
                                                                               pulumi.ResourceOptions())))
        state = dict(args.inputs)
        # The computed outputs the program reads back.
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{abs(hash(inputs['name'])):064x}"[:71]
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = rpc.wrap_rpc_secret(f"generated-test-password-for-{args.name}")
        if args.typ.startswith("docker:index/network") and "name" not in state:
            state["name"] = args.name
        return (f"{args.name}-id" if args.custom else None), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}

    def attach(self, type_: str, name: str, urn: str, parent: str, dependencies: list[str]) -> None:
        record = next(r for r in reversed(self.resources) if r.type == type_ and r.name == name and not r.urn)
        record.urn, record.parent, record.dependencies = urn, parent, dependencies


def run_stack(stack: str, secrets: dict[str, str] | None = None, stack_file: Path | None = None,
              mocks: RecordingMocks | None = None, secret_settings: tuple[str, ...] = ()) -> StackRun:
    """Run `__main__.py` for `stack` under recording mocks; raise what the program raises."""
    secrets = TEST_SECRETS if secrets is None else secrets
    mocks = mocks or RecordingMocks()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(mocks))
    config, secret_keys = as_pulumi_config(stack, secrets, ROOT, stack_file)
    pulumi.runtime.set_all_config(config, [*secret_keys, *(f"{PROJECT}:{key}" for key in secret_settings)])
    os.environ.pop("PULUMI_CONFIG", None)

    def record_options(args: pulumi.ResourceTransformationArgs) -> None:
        # Resource options (protect, ignore_changes, retain_on_delete, aliases...) never reach
        # the mocks' new_resource; a stack transformation sees them as declared.
        mocks.options[(args.type_, args.name)] = args.opts

    def program() -> None:
        pulumi.runtime.register_stack_transformation(record_options)
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    _sync_await(run_pulumi_func(program))
    root = settings.get_root_resource()
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for name, value in root.outputs.items():  # type: ignore[union-attr]
        output = pulumi.Output.from_input(value)
        outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret_outputs.add(name)
    return StackRun(stack, mocks.resources, outputs, secret_outputs, secrets)


@pytest.fixture(scope="session")
def dev_run() -> StackRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod_run() -> StackRun:
    return run_stack("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def any_run(request: pytest.FixtureRequest, dev_run: StackRun, prod_run: StackRun) -> StackRun:
    return {"dev": dev_run, "prod": prod_run}[request.param]


def edited_stack_file(directory: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the repository's Pulumi.<stack>.yaml in `directory`, its `config:` mapping changed by `edit`."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    edit(data["config"])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tool(name: str) -> str:
    """Path of a pinned Debian tool (tests/tools.py); skips locally when it is missing, fails in CI (CI set)."""
    path = tools.binary(name)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI but not installed (.ci/run installs it)")
        pytest.skip(f"{name} not installed: run `make setup` (.ci/install-tools.sh)")
    return str(path)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Render output directories of the real dev and prod stacks."""
    from components.render import main as render_main

    out = {}
    for stack in ("dev", "prod"):
        directory = tmp_path_factory.mktemp(f"render-{stack}")
        assert render_main(["--stack", stack, "--out", str(directory)]) == 0
        out[stack] = directory
    return out


def iter_json_paths(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from iter_json_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_json_paths(v, f"{path}[{i}]")
    else:
        yield path, value


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def pytest_report_header() -> list[str]:
    """The live binaries this run tests on, at the top of every run's output (and so of CI's log)."""
    lines = []
    for name in sorted(tools.pins()):
        if tools.binary(name).exists():
            first = next((line for line in tools.reported_version(name).splitlines() if "ersion" in line or "Exporter" in line), "?")
            lines.append(f"  {name}: {first.strip()[:110]}")
        else:
            lines.append(f"  {name}: not installed")
    return ["live binaries (.ci/tools.lock):", *lines]
