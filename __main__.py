"""shannon-observability: parse the stack's config once, build the stack, export its outputs.

This is the only place configuration is read. Everything below receives the
typed settings model and Pulumi secrets.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from components.builders.dashboards import DashboardError
from components.builders.rules import RuleFileError
from components.settings import (
    PROJECT,
    SettingsError,
    StackSettings,
    is_secret_key,
    load_settings,
    misspelled_namespace_problems,
    plain_credential_problem,
    secret_setting_problem,
    used_secrets,
)
from components.stack import ObservabilityStack, ObservabilityStackArgs


def _engine_config() -> dict[str, Any]:
    """Every config key the engine passed, every namespace, as it passed them."""
    return {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def _is_secret(key: str) -> bool:
    """Whether the engine marks this project's `key` secret (`pulumi config set --secret`)."""
    full_key = f"{PROJECT}:{key}"
    return pulumi.runtime.config.is_config_secret(full_key) or \
        full_key in pulumi.runtime.config.get_config_secret_keys_env()


def _project_config() -> dict[str, Any]:
    """Every `shannon-observability:*` key the engine passed, secrets excluded, values decoded."""
    values: dict[str, Any] = {}
    for full_key, value in _engine_config().items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT or is_secret_key(key):
            continue
        if isinstance(value, str) and value[:1] in ("{", "["):
            # Structured config arrives JSON-encoded; a plain string may look alike ("[prod]").
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        values[key] = value
    return values


def _secrets_present() -> set[str]:
    keys = {str(k).partition(":")[2] for k in _engine_config() if str(k).partition(":")[0] == PROJECT}
    return {key for key in keys if is_secret_key(key) and pulumi.runtime.config.get_config(f"{PROJECT}:{key}") is not None}


def main() -> None:
    config = pulumi.Config()
    stack = pulumi.get_stack()
    present = _secrets_present()
    try:
        every_key = [str(k) for k in _engine_config()]
        if typos := misspelled_namespace_problems(every_key, stack):
            raise SettingsError(stack, typos)
        # A credential must be a Pulumi secret; a setting must not be one: it is written into plain
        # configuration files and resource inputs, which would drop its secretness silently.
        if plain := sorted(k for k in present if not _is_secret(k)):
            raise SettingsError(stack, [plain_credential_problem(key, stack) for key in plain])
        settings_keys = {k.partition(":")[2] for k in every_key if k.partition(":")[0] == PROJECT}
        if secret_settings := sorted(k for k in settings_keys if not is_secret_key(k) and _is_secret(k)):
            raise SettingsError(stack, [secret_setting_problem(key, stack) for key in secret_settings])
        settings: StackSettings = load_settings(stack, _project_config(), secrets_present=present)
        secrets = {key: config.require_secret(key) for key in used_secrets(settings, present)}
        args = ObservabilityStackArgs.prepare(settings, secrets)
    except (SettingsError, RuleFileError, DashboardError) as error:
        # One clear message, no traceback, and nothing created.
        raise pulumi.RunError(str(error)) from None

    provider: pulumi.ProviderResource
    if settings.platform == "kubernetes":
        # Mutable ConfigMaps and Secrets: a rule or route edit updates them in place (the pods'
        # checksum annotation rolls them) instead of deleting and re-creating them.
        provider = k8s.Provider("kubernetes", context=settings.kubernetes.context,
                                namespace=settings.kubernetes.namespace,
                                enable_config_map_mutable=True, enable_secret_mutable=True)
    else:
        provider = docker.Provider("docker", host=settings.docker.host)

    observability = ObservabilityStack("shannon", args, pulumi.ResourceOptions(providers=[provider]))
    pulumi.export("platform", settings.platform)
    pulumi.export("location", observability.location)
    pulumi.export("prometheus_url", observability.prometheus_url)
    pulumi.export("prometheus_local_url", observability.prometheus_local_url)
    pulumi.export("alertmanager_url", observability.alertmanager_url)
    pulumi.export("grafana_url", observability.grafana_url)
    pulumi.export("grafana_local_url", observability.grafana_local_url)
    pulumi.export("grafana_admin_user", observability.grafana_admin_user)
    pulumi.export("grafana_admin_password", observability.grafana_admin_password)
    # Set this as Shannon's OTEL_EXPORTER_OTLP_ENDPOINT (or tracing.otlp_endpoint).
    pulumi.export("otlp_endpoint", observability.otlp_grpc_endpoint)
    pulumi.export("otlp_http_endpoint", observability.otlp_http_endpoint)


main()
