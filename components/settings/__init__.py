"""Typed stack settings: everything a `Pulumi.<stack>.yaml` can set.

`__main__.py` (through `pulumi.Config`) and the render command (reading the
stack file directly) both call `load_settings`, so a stack file means exactly
the same thing to a deployment and to a render. Components receive the parsed
model and never read configuration themselves.

Secrets are not part of the model: they are top-level config keys listed in
`SECRETS`, read with `Config.get_secret` and passed on as Pulumi secrets. The
model only decides which of them a stack requires (`required_secrets`).
"""


from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from components.settings.alertmanager import AlertmanagerSettings, AlertRoute, Receiver, Receivers, RouteTiming
from components.settings.exporters import BlackboxExporter, Exporter, ExportersSettings, NodeExporter
from components.settings.grafana import GrafanaIngress, GrafanaSettings
from components.settings.operator import OPERATOR_SELECTORS, LabelSelector, OperatorSelectors, OperatorSettings
from components.settings.platform import DockerSettings, KubernetesSettings
from components.settings.problems import (
    Problem,
    SettingsError,
    _problems_from,
    misspelled_namespace,
    misspelled_namespace_problems,
    plain_credential_problem,
    secret_setting_problem,
)
from components.settings.prometheus import PrometheusSettings
from components.settings.remote_write import RemoteWriteTarget, RemoteWriteTls
from components.settings.rules import RulesSettings
from components.settings.secrets import SECRETS, SecretSpec, is_secret_key, required_secrets, secret_spec, used_secrets
from components.settings.shannon import RESERVED_JOBS, ScrapeTarget, ShannonSettings
from components.settings.stack import StackSettings
from components.settings.tempo import S3Settings, TempoSettings
from components.settings.types import PROJECT, FieldProblemError, Model, Resources, default_resources

__all__ = [
    "OPERATOR_SELECTORS",
    "PROJECT",
    "RESERVED_JOBS",
    "SECRETS",
    "AlertRoute",
    "AlertmanagerSettings",
    "BlackboxExporter",
    "DockerSettings",
    "Exporter",
    "ExportersSettings",
    "FieldProblemError",
    "GrafanaIngress",
    "GrafanaSettings",
    "KubernetesSettings",
    "LabelSelector",
    "Model",
    "NodeExporter",
    "OperatorSelectors",
    "OperatorSettings",
    "Problem",
    "PrometheusSettings",
    "Receiver",
    "Receivers",
    "RemoteWriteTarget",
    "RemoteWriteTls",
    "Resources",
    "RouteTiming",
    "RulesSettings",
    "S3Settings",
    "ScrapeTarget",
    "SecretSpec",
    "SettingsError",
    "ShannonSettings",
    "StackSettings",
    "TempoSettings",
    "default_resources",
    "is_secret_key",
    "load_settings",
    "misspelled_namespace",
    "misspelled_namespace_problems",
    "plain_credential_problem",
    "required_secrets",
    "secret_setting_problem",
    "secret_spec",
    "used_secrets",
]


def load_settings(stack: str, values: Mapping[str, Any], *, secrets_present: set[str] | None = None,
                  require_secrets: bool = True) -> StackSettings:
    """Parse a stack's config (top-level key -> value, without the project prefix).

    Raises SettingsError listing every invalid key and, when `require_secrets`,
    every required secret missing from `secrets_present`, each with its fix.
    """
    plain = {k: v for k, v in values.items() if not is_secret_key(k)}
    try:
        settings = StackSettings.model_validate({**plain, "stack": stack})
    except ValidationError as error:
        raise SettingsError(stack, _problems_from(error, stack)) from None
    if require_secrets:
        present = secrets_present or set()
        missing = [secret_spec(k) for k in required_secrets(settings) if k not in present]
        if missing:
            raise SettingsError(stack, [], [
                Problem(s.key, s.description, f"pulumi config set --secret {s.key} {s.example} --stack {stack}")
                for s in missing])
    return settings
