"""Reading `Pulumi.<stack>.yaml` without the Pulumi CLI (render command, tests, benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from components import strictyaml
from components.settings import (
    PROJECT,
    SettingsError,
    StackSettings,
    is_secret_key,
    load_settings,
    misspelled_namespace_problems,
    plain_credential_problem,
    secret_setting_problem,
)

REPO = Path(__file__).resolve().parents[1]


class StackFileError(ValueError):
    pass


def stack_file(stack: str, root: Path = REPO) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path = REPO) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


SHAPE = f"a stack file is a mapping with `config:`, holding at least `{PROJECT}:platform: docker` or `kubernetes`"


def _is_secure(value: Any) -> bool:
    """A `secure:` (encrypted) value, as `pulumi config set --secret` writes it."""
    return isinstance(value, dict) and set(value) == {"secure"}


def _shown(path: Path) -> str:
    """The stack file as errors name it: its name in the repository, else the whole path."""
    return path.name if path.parent.resolve() == REPO else str(path)


def raw_config(path: Path) -> dict[str, Any]:
    """The stack file's whole `config:` mapping, every namespace, as the Pulumi engine reads it."""
    if path.is_dir() or not path.exists():
        stacks = ", ".join(known_stacks(path.parent)) or "none"
        raise StackFileError(f"no stack file {_shown(path)}; known stacks in {path.parent}: {stacks}")
    try:
        data = strictyaml.load(path.read_text())
    except strictyaml.StrictYamlError as error:
        raise StackFileError(f"{_shown(path)} {error}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{_shown(path)} is not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{_shown(path)} is not text: {SHAPE}") from None
    if data is None:
        raise StackFileError(f"{_shown(path)} is empty: {SHAPE}")
    if not isinstance(data, dict):
        raise StackFileError(f"{_shown(path)} holds a YAML {type(data).__name__}, not a mapping: {SHAPE}")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{_shown(path)}: 'config' must be a mapping: {SHAPE}")
    return config


def read_stack_config(path: Path) -> tuple[dict[str, Any], set[str]]:
    """This project's config (without the `shannon-observability:` prefix) and the secret keys set."""
    config = raw_config(path)
    stack = path.stem.removeprefix("Pulumi.")
    typos = misspelled_namespace_problems([str(k) for k in config], stack)
    if typos:
        raise SettingsError(stack, typos, source=_shown(path))
    plain = sorted(str(k).partition(":")[2] for k, v in config.items() if str(k).partition(":")[0] == PROJECT
                   and is_secret_key(str(k).partition(":")[2]) and not _is_secure(v))
    if plain:
        raise SettingsError(stack, [plain_credential_problem(key, stack) for key in plain], source=_shown(path))
    # A setting stored as a secret would reach the program as a secret and the render not at all: refused in both.
    hidden = sorted(str(k).partition(":")[2] for k, v in config.items() if str(k).partition(":")[0] == PROJECT
                    and not is_secret_key(str(k).partition(":")[2]) and _is_secure(v))
    if hidden:
        raise SettingsError(stack, [secret_setting_problem(key, stack) for key in hidden], source=_shown(path))
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for full_key, value in config.items():
        namespace, _, key = str(full_key).partition(":")
        if namespace != PROJECT or not key:
            continue  # provider config such as kubernetes:context
        if _is_secure(value):
            secrets.add(key)
            continue
        values[key] = value
    return values, secrets


def load_stack(stack: str, root: Path = REPO, path: Path | None = None) -> tuple[StackSettings, set[str]]:
    """Settings of a stack file (secrets not required) and the secret keys it sets."""
    path = path or stack_file(stack, root)
    values, secrets = read_stack_config(path)
    try:
        return load_settings(stack, values, secrets_present=secrets, require_secrets=False), secrets
    except SettingsError as error:
        raise SettingsError(stack, error.problems, error.missing_secrets, source=_shown(path)) from None


def as_pulumi_config(stack: str, secret_values: dict[str, str], root: Path = REPO,
                     path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The stack file as the Pulumi runtime would present it (for mocks): JSON-encoded values."""
    raw = raw_config(path or stack_file(stack, root))
    config = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if not _is_secure(v)}
    # A credential the file holds in plain text stays plain, as the engine would pass it.
    secret_values = {k: v for k, v in secret_values.items() if f"{PROJECT}:{k}" not in config}
    for key, value in secret_values.items():
        config[f"{PROJECT}:{key}"] = value
    return config, [f"{PROJECT}:{k}" for k in secret_values]
