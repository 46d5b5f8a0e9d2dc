"""Reading `Pulumi.<stack>.yaml` without the Pulumi CLI (render command, tests, benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from components.settings import PROJECT, SECRETS, StackSettings, load_settings

REPO = Path(__file__).resolve().parents[1]


class StackFileError(ValueError):
    pass


def stack_file(stack: str, root: Path = REPO) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path = REPO) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def read_stack_config(path: Path) -> tuple[dict[str, Any], set[str]]:
    """This project's config (without the `shannon-observability:` prefix) and the secret keys set."""
    if not path.exists():
        stacks = ", ".join(known_stacks(path.parent)) or "none"
        raise StackFileError(f"no stack file {path.name} in {path.parent}; known stacks: {stacks}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name} is not valid YAML: {error}") from None
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping")
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for full_key, value in config.items():
        namespace, _, key = str(full_key).partition(":")
        if namespace != PROJECT or not key:
            continue  # provider config such as kubernetes:context
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(key)
            continue
        if key in SECRETS:
            raise StackFileError(f"{path.name}: {key} is a credential but is stored in plain text; "
                                 f"set it with `pulumi config set --secret {key} <value> --stack {path.stem[7:]}`")
        values[key] = value
    return values, secrets


def load_stack(stack: str, root: Path = REPO, path: Path | None = None) -> tuple[StackSettings, set[str]]:
    """Settings of a stack file (secrets not required) and the secret keys it sets."""
    values, secrets = read_stack_config(path or stack_file(stack, root))
    return load_settings(stack, values, secrets_present=secrets, require_secrets=False), secrets


def as_pulumi_config(stack: str, secret_values: dict[str, str], root: Path = REPO,
                     path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The stack file as the Pulumi runtime would present it (for mocks): JSON-encoded values."""
    values, _ = read_stack_config(path or stack_file(stack, root))
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    for key, value in secret_values.items():
        config[f"{PROJECT}:{key}"] = value
    return config, [f"{PROJECT}:{k}" for k in secret_values]
