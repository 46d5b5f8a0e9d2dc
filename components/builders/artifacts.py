"""Every configuration file the stack deploys, as text, from one code path.

The Pulumi components and the render command both call these functions, so a
render is byte-identical to what is deployed. Files holding credentials are
produced by functions that take the secret values as arguments: the program
passes Pulumi secrets through `Output.apply`, the render passes placeholders.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from components.builders import (
    alertmanager,
    dashboards,
    features,
    grafana,
    operator,
    otel_collector,
    prometheus,
    rules,
    tempo,
    windows,
)
from components.builders.exporters import build_blackbox_config
from components.builders.serialize import dump_json, dump_yaml
from components.settings import Problem, SettingsError, StackSettings, required_secrets, used_secrets

PLACEHOLDER_URL = "https://secret-placeholder.invalid/{key}"
PLACEHOLDER_TEXT = "PLACEHOLDER-{key}-NOT-A-REAL-SECRET"
# Secrets whose value must parse as a URL wherever it lands.
URL_SECRETS = {"slackApiUrl", "deadmanUrl"}


@dataclass(frozen=True)
class Artifacts:
    """Non-secret configuration files, by component, as `relative path -> text`."""

    prometheus: dict[str, str]
    grafana_datasources: str
    grafana_dashboards: dict[str, str]
    grafana_ini: str
    grafana_dashboard_provider: str
    tempo: dict[str, str] = field(default_factory=dict)
    otel_collector: dict[str, str] = field(default_factory=dict)
    exporters: dict[str, str] = field(default_factory=dict)
    # Parsed forms, for components that need structured data (Grafana API resources).
    datasources: list[dict[str, Any]] = field(default_factory=list)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Operator mode: custom resources and sidecar ConfigMaps by kind (the AlertmanagerConfig, which
    # names the secrets, comes from `operator.alertmanager_config`).
    operator: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def build_artifacts(settings: StackSettings) -> Artifacts:
    """Build and validate every non-secret file; raises RuleFileError or DashboardError on bad input."""
    every_rule = rules.apply_settings(rules.load_rule_files(), settings)
    rule_files = features.filter_rule_files(every_rule, settings)
    if settings.own_components and (problems := windows.own_problems(settings, rule_files)):
        raise SettingsError(settings.stack, problems)
    models = features.filter_dashboards(dashboards.collect_dashboards(), settings,
                                        features.unavailable_records(every_rule, rule_files))
    prom_files = {"prometheus.yml": dump_yaml(prometheus.build_prometheus_config(settings))}
    for name, data in rule_files.items():
        prom_files[f"rules/{name}"] = dump_yaml(data)
    tempo_files = {"tempo.yaml": dump_yaml(tempo.build_tempo_config(settings))} if settings.tempo.enabled else {}
    datasources = grafana.build_datasources(settings)
    if settings.operator.enabled:
        # The cluster's Prometheus and Grafana are shared: Shannon's queries select Shannon's series, its
        # datasources take names of their own.
        models = {name: operator.scoped_dashboard(settings, model) for name, model in models.items()}
        datasources = operator.sidecar_datasources(settings, datasources)
    dashboard_files = {name: dump_json(dashboards.for_grafana(model)) for name, model in models.items()}
    operator_objects: dict[str, list[dict[str, Any]]] = {}
    if settings.operator.enabled:
        operator_objects = _operator_objects(settings, rule_files, dashboard_files, datasources)
    exporter_files = {"blackbox.yml": dump_yaml(build_blackbox_config())} if settings.exporters.blackbox.enabled else {}
    collector_files = ({otel_collector.CONFIG_FILE: dump_yaml(otel_collector.stack_collector_config(settings))}
                       if settings.collector_enabled else {})
    return Artifacts(
        prometheus=prom_files,
        grafana_datasources=dump_yaml(grafana.datasources_provisioning(datasources)),
        grafana_dashboards=dashboard_files,
        grafana_ini=grafana.render_ini(grafana.build_grafana_ini(settings)),
        grafana_dashboard_provider=dump_yaml(grafana.build_dashboard_provider()),
        tempo=tempo_files,
        otel_collector=collector_files,
        exporters=exporter_files,
        datasources=datasources,
        dashboards=models,
        operator=operator_objects,
    )


def _operator_objects(settings: StackSettings, rule_files: dict[str, dict[str, Any]], dashboard_files: dict[str, str],
                      datasources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Operator mode's resources; refuses (SettingsError) what the operator would ignore or misroute."""
    problems = operator.selection_problems(settings) + windows.retention_problems(
        "operator.prometheusRetention", settings.operator.prometheus_retention, rule_files,
        "raise the release's retention (kube-prometheus-stack prometheus.prometheusSpec.retention) to at least "
        "{longest} and set operator.prometheusRetention to it")
    rule_objects = operator.prometheus_rules(settings, rule_files)
    groups = [g for obj in rule_objects for g in obj["spec"]["groups"]]
    if unrouted := operator.unrouted_alerts(groups, "namespace", settings.kubernetes.namespace):
        problems.append(Problem("rules", f"alerts without namespace={settings.kubernetes.namespace} never reach the "
                                         f"AlertmanagerConfig: {', '.join(unrouted)}",
                                "keep `namespace` in the alert's aggregation, or give the rule that label"))
    if problems:
        raise SettingsError(settings.stack, problems)
    objects = {"PrometheusRule": rule_objects, "ServiceMonitor": operator.service_monitors(settings)}
    if scrape_configs := operator.scrape_configs(settings):
        objects["ScrapeConfig"] = scrape_configs
    if settings.operator.grafana == "sidecar":
        objects["ConfigMap"] = operator.dashboard_configmaps(settings, dashboard_files)
        if datasources:
            objects["ConfigMap"].append(operator.datasource_configmap(
                settings, dump_yaml(grafana.datasources_provisioning(datasources, prune=False))))
    return objects


def render_alertmanager_yaml(settings: StackSettings, secret_keys: Collection[str]) -> str:
    """alertmanager.yml; it names the files of the secrets in `secret_keys` and holds no secret value."""
    return dump_yaml(alertmanager.build_alertmanager_config(settings, secret_keys))


def placeholder(key: str) -> str:
    return (PLACEHOLDER_URL if key in URL_SECRETS else PLACEHOLDER_TEXT).format(key=key)


def placeholder_secrets(settings: StackSettings, present: set[str]) -> dict[str, str]:
    """Visibly fake values for every secret the stack would read."""
    return {key: placeholder(key) for key in used_secrets(settings, present | _always_present(settings))}


def _always_present(settings: StackSettings) -> set[str]:
    # A render shows the shape of a complete deployment: required secrets are assumed set.
    return set(required_secrets(settings))
