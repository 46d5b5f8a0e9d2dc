"""Prometheus Operator mode: the cluster's operator, its selectors and its Grafana."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
)

from components.settings.types import (
    DnsLabel,
    Duration,
    HttpUrl,
    LabelName,
    Model,
    Text,
)


class SelectorRequirement(Model):
    key: LabelName = Field(description="Label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How the key's value is tested.")
    values: list[str] = Field(default_factory=list, description="Values for In and NotIn.")


class LabelSelector(Model):
    """A Kubernetes label selector, as a Prometheus or Alertmanager custom resource holds it."""

    match_labels: dict[LabelName, str] = Field(default_factory=dict, description="Labels that must all be present.")
    match_expressions: list[SelectorRequirement] = Field(default_factory=list, description="Further requirements.")


# What each selector of the operator's Prometheus / Alertmanager picks, by settings key.
OPERATOR_SELECTORS = ("rules", "ruleNamespaces", "serviceMonitors", "serviceMonitorNamespaces",
                      "scrapeConfigs", "scrapeConfigNamespaces", "alertmanagerConfigs", "alertmanagerConfigNamespaces")


class OperatorSelectors(Model):
    """The target Prometheus's and Alertmanager's selectors, as their custom resources hold them.

    A key left out takes kube-prometheus-stack's default for `operator.release`; `null` is the
    operator's null: nothing (resource selectors) or the Prometheus's own namespace (namespace selectors).
    """

    rules: LabelSelector | None = Field(None, description="Prometheus ruleSelector.")
    rule_namespaces: LabelSelector | None = Field(None, description="Prometheus ruleNamespaceSelector.")
    service_monitors: LabelSelector | None = Field(None, description="Prometheus serviceMonitorSelector.")
    service_monitor_namespaces: LabelSelector | None = Field(
        None, description="Prometheus serviceMonitorNamespaceSelector.")
    scrape_configs: LabelSelector | None = Field(None, description="Prometheus scrapeConfigSelector (for the "
                                                                   "ScrapeConfig of static addresses).")
    scrape_config_namespaces: LabelSelector | None = Field(
        None, description="Prometheus scrapeConfigNamespaceSelector.")
    alertmanager_configs: LabelSelector | None = Field(None, description="Alertmanager alertmanagerConfigSelector.")
    alertmanager_config_namespaces: LabelSelector | None = Field(
        None, description="Alertmanager alertmanagerConfigNamespaceSelector.")


def _selector_field(key: str) -> str:
    return next(n for n, f in OperatorSelectors.model_fields.items() if f.alias == key)


class OperatorSettings(Model):
    """Prometheus Operator mode: Shannon's part as custom resources for the cluster's own operator."""

    enabled: bool = Field(False, description="Emit PrometheusRules, ServiceMonitors, an AlertmanagerConfig and "
                                             "Grafana sidecar ConfigMaps instead of deploying Prometheus, "
                                             "Alertmanager and Grafana (platform kubernetes only).")
    release: DnsLabel | None = Field(
        None, description="Helm release name of kube-prometheus-stack: its Prometheus selects rules and "
                          "ServiceMonitors labelled release=<name>, and its Services are named after it.")
    namespace: DnsLabel = Field("monitoring", description="Namespace of the operator's Prometheus, Alertmanager "
                                                          "and Grafana (the Grafana datasources go there).")
    prometheus_version: str = Field(
        "3.0.0", description="Version of the cluster's Prometheus; 3.0.0 or newer (the operator drops rule group "
                             "labels for older ones, and Shannon's alerts would lose their namespace label).",
        examples=["3.5.0"])
    matcher_strategy: Literal["OnNamespace", "OnNamespaceExceptForAlertmanagerNamespace", "None"] = Field(
        "OnNamespace", description="The Alertmanager's alertmanagerConfigMatcherStrategy.type "
                                   "(OnNamespaceExceptForAlertmanagerNamespace: operator 0.84 or newer). Every way the "
                                   "config receives exactly the alerts labelled namespace=<kubernetes.namespace>.")
    prometheus_retention: Duration = Field(
        "10d", description="Retention of the cluster's Prometheus (kube-prometheus-stack's default is 10d): every rule "
                           "window must fit in it, or the rule (the 30-day SLO windows) is refused before anything "
                           "is created.", examples=["30d"])
    dashboard_folder_annotation: LabelName = Field(
        "k8s-sidecar-target-directory", description="Annotation naming the dashboards' folder: the Grafana sidecar's "
                                                    "folderAnnotation (kube-prometheus-stack "
                                                    "grafana.sidecar.dashboards.folderAnnotation).")
    selectors: OperatorSelectors = Field(
        default_factory=OperatorSelectors, description="The operator's selectors, where they differ from "
                                                       "kube-prometheus-stack's defaults for `release`.")
    labels: dict[LabelName, str] = Field(default_factory=dict,
                                         description="Extra labels on every custom resource, for custom selectors.")
    namespace_labels: dict[LabelName, str] = Field(
        default_factory=dict, description="Labels the stack's namespace carries (set on it when the program "
                                          "creates it), for namespace selectors other than {}.")
    prometheus_url: HttpUrl | None = Field(
        None, description="In-cluster URL of the operator's Prometheus (Grafana datasource, Tempo's remote write). "
                          "Unset: kube-prometheus-stack's Service for `release`.")
    alertmanager_url: HttpUrl | None = Field(
        None, description="In-cluster URL of the operator's Alertmanager. Unset: kube-prometheus-stack's Service.")
    grafana: Literal["sidecar", "api"] = Field(
        "sidecar", description="sidecar: dashboards and datasources as ConfigMaps for kube-prometheus-stack's "
                               "Grafana sidecar; api: through the Grafana API (grafana.url, secret "
                               "grafanaAdminPassword).")
    release_datasources: bool = Field(
        True, description="The release's Grafana already provisions the Prometheus and Alertmanager datasources "
                          "(uids prometheus and alertmanager, kube-prometheus-stack's defaults): only Tempo's is "
                          "added. false: this stack provisions all three.")
    dashboard_folder: Text = Field("Shannon", description="Grafana folder of the dashboards (sidecar folder "
                                                          "annotation; needs the sidecar's folderAnnotation).")

    @field_validator("prometheus_version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = re.fullmatch(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)", value)
        if not match:
            raise ValueError(f"{value!r} is not a version like 3.5.0")
        if int(match.group(1)) < 3:
            raise ValueError(f"Prometheus {value} is older than 3.0.0: the operator drops rule group labels for it, "
                             "so Shannon's alerts would not carry the namespace label their routing needs")
        return value.removeprefix("v")

    def selector(self, key: str) -> dict[str, Any] | None:
        """The selector at settings key `key` as the custom resource holds it (None: the operator's null)."""
        field_name = _selector_field(key)
        if field_name in self.selectors.model_fields_set:
            chosen: LabelSelector | None = getattr(self.selectors, field_name)
            return None if chosen is None else chosen.model_dump(by_alias=True, exclude_defaults=True)
        # kube-prometheus-stack: rules, ServiceMonitors and ScrapeConfigs by release label, everything else {} (all).
        if key in ("rules", "serviceMonitors", "scrapeConfigs") and self.release is not None:
            return {"matchLabels": {"release": self.release}}
        return {}

    @property
    def release_fullname(self) -> str | None:
        """kube-prometheus-stack's fullname: the release name if it contains the chart name, else
        <release>-kube-prometheus-stack, cut to 26 characters (its _helpers.tpl)."""
        if self.release is None:
            return None
        name = self.release if "kube-prometheus-stack" in self.release else f"{self.release}-kube-prometheus-stack"
        return name[:26].rstrip("-")
