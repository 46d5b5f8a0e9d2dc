"""Problems with settings: each names its key and the command that fixes it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from components.settings.secrets import (
    SECRETS,
    secret_spec,
)
from components.settings.stack import (
    StackSettings,
)
from components.settings.types import (
    PROJECT,
    FieldProblemError,
)


@dataclass(frozen=True)
class Problem:
    key: str  # dotted config path, e.g. prometheus.retention or shannon.targets[2].job
    message: str
    fix: str


# Config namespaces other than the project's that a stack file may hold (provider settings).
PROVIDER_NAMESPACES = frozenset({"kubernetes", "docker", "grafana", "random", "pulumi", "aws", "gcp", "azure-native"})


def misspelled_namespace(namespace: str) -> bool:
    """A namespace that is not the project's nor a provider's, but close to the project's: a typo that
    would make every setting under it silently ignored."""
    if namespace == PROJECT or namespace in PROVIDER_NAMESPACES:
        return False
    return difflib.SequenceMatcher(None, namespace.lower(), PROJECT).ratio() >= 0.75


def misspelled_namespace_problems(keys: list[str], stack: str) -> list[Problem]:
    out = []
    for full_key in sorted(keys):
        namespace, _, key = full_key.partition(":")
        if key and misspelled_namespace(namespace):
            out.append(Problem(full_key, f"namespace {namespace!r} is not this project's ({PROJECT!r}): everything "
                                         "under it would be ignored",
                               f"pulumi config rm '{full_key}' --stack {stack}, then set it as '{PROJECT}:{key}'"))
    return out


def plain_credential_problem(key: str, stack: str) -> Problem:
    return Problem(key, "is a credential but is stored in plain text",
                   f"pulumi config set --secret {key} {secret_spec(key).example} --stack {stack}")


def secret_setting_problem(key: str, stack: str) -> Problem:
    return Problem(key, "is stored as a secret, but settings are written into plain configuration files",
                   f"`pulumi config rm {key} --stack {stack}`, then set its fields again without --secret "
                   f"(`pulumi config set --path '{key}.<field>' <value> --stack {stack}`); credentials belong in "
                   f"the secret keys ({', '.join(SECRETS)})")


class SettingsError(Exception):
    """Every problem with a stack's settings, each naming its key and the command that fixes it."""

    def __init__(self, stack: str, problems: list[Problem], missing_secrets: list[Problem] | None = None,
                 source: str | None = None) -> None:
        self.stack = stack
        self.problems = problems
        self.missing_secrets = missing_secrets or []
        self.source = source or f"Pulumi.{stack}.yaml"  # the stack file the settings came from
        super().__init__(self.render())

    def render(self) -> str:
        lines: list[str] = []
        if self.problems:
            lines.append(f"Invalid settings in stack '{self.stack}' ({self.source}), "
                         f"{len(self.problems)} problem(s):")
            for p in self.problems:
                lines += [f"  - {p.key}: {p.message}", f"      fix: {p.fix}"]
        if self.missing_secrets:
            lines.append(f"Missing required secrets in stack '{self.stack}', {len(self.missing_secrets)}:")
            for p in self.missing_secrets:
                lines += [f"  - {p.key}: {p.message}", f"      fix: {p.fix}"]
        return "\n".join(lines)


def _set_command(stack: str, key: str, example: str) -> str:
    if re.match(r"^[A-Za-z0-9]+$", key):
        return f"pulumi config set {key} {example} --stack {stack}"
    return f"pulumi config set --path '{key}' {example} --stack {stack}"


def _rm_command(stack: str, key: str) -> str:
    if re.match(r"^[A-Za-z0-9]+$", key):
        return f"pulumi config rm {key} --stack {stack}"
    return f"pulumi config rm --path '{key}' --stack {stack}"


def _join_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _example(parts: list[str | int]) -> str | None:
    """An example value for the field at `parts`, from its declared examples or default."""
    model: Any = StackSettings
    field = None
    for part in parts:
        if isinstance(part, int):
            continue
        fields = {(f.alias or name): f for name, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif inner:
            model = inner[0]
    if field is None:
        return None
    if field.examples:
        return str(field.examples[0])
    if field.default is not None and not callable(field.default) and str(field.default) != "PydanticUndefined":
        value = field.default
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def _problems_from(error: ValidationError, stack: str) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc: list[str | int] = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        # Pydantic names union/literal branches in the location; keep only real keys.
        loc = [p for p in loc if not (isinstance(p, str) and (p.startswith("literal[") or p in {"str", "int", "list[str]"}))]
        message = item["msg"].removeprefix("Value error, ")
        example = None
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, FieldProblemError):
            loc = loc + _split_path(ctx_error.field)
            message, example = ctx_error.message, ctx_error.example
        if item["type"] == "extra_forbidden":
            key = _join_path(loc)
            problems.append(Problem(key, "unknown key (a typo?); see the settings reference in README.md",
                                    _rm_command(stack, key)))
            continue
        if item["type"] == "missing":
            message = "required key is not set"
        key = _join_path(loc)
        if item["type"] == "literal_error" and "expected" in (item.get("ctx") or {}):
            options = [o.strip().strip("'") for o in re.split(r",| or ", str(item["ctx"]["expected"])) if o.strip()]
            close = difflib.get_close_matches(str(item["input"]), options, n=1, cutoff=0)
            example = close[0] if close else options[0]
        elif "ctx" in item and any(k in item["ctx"] for k in ("ge", "gt", "le", "lt")):
            message = f"{message} (got {item['input']!r})"
        example = example or _example(loc) or "<value>"
        if item["type"] == "literal_error" and message.startswith("Input should be"):
            message = f"{item['input']!r} is not allowed; {message[0].lower()}{message[1:]}"
        problems.append(Problem(key, message, _set_command(stack, key, _quote(example))))
    return problems


def _quote(value: str) -> str:
    return f"'{value}'" if re.search(r"[\s#{}\[\]\"$*]", value) else value


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[[0-9]+\]", path):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts
