"""Grafana: how its content is managed, its cookies and its Ingress."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from components import defaults
from components.settings.types import (
    DnsLabel,
    DnsName,
    FieldProblemError,
    GrafanaResources,
    K8sLabelValue,
    Model,
    Port,
    QualifiedName,
    Quantity,
    Text,
    _resources,
    http_url_problem,
)


class GrafanaIngress(Model):
    host: DnsName = Field(description="Public host name of Grafana, e.g. grafana.example.com.")
    class_name: str | None = Field(None, description="IngressClass to use.")
    tls_secret: DnsName | None = Field(
        None, description="TLS Secret of the host: existing, issued by cert-manager (annotations), or created from the "
                          "secrets grafanaTlsCert/grafanaTlsKey (tlsFromSecrets).")
    tls_from_secrets: bool = Field(
        False, description="Create the tlsSecret from the secrets grafanaTlsCert and grafanaTlsKey (PEM).")
    annotations: dict[QualifiedName, str] = Field(
        default_factory=dict, description="Ingress annotations, e.g. {\"cert-manager.io/cluster-issuer\": \"letsencrypt\"} "
                                          "to have cert-manager issue tlsSecret.")
    controller_namespace: DnsLabel = Field("ingress-nginx", description="Namespace of the ingress controller (NetworkPolicy).")
    controller_labels: dict[QualifiedName, K8sLabelValue] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "ingress-nginx"},
        description="Pod labels of the ingress controller (NetworkPolicy).")

    @model_validator(mode="after")
    def _tls_named(self) -> GrafanaIngress:
        issued = any(k.startswith("cert-manager.io/") for k in self.annotations)
        if (self.tls_from_secrets or issued) and self.tls_secret is None:
            raise FieldProblemError("tlsSecret", "name the TLS Secret that " + (
                "the secrets are written to" if self.tls_from_secrets else "cert-manager issues"), example="grafana-tls")
        return self


class GrafanaSettings(Model):
    content: Literal["api", "files"] = Field(
        "api", description="api: datasources, folder and dashboards through the Grafana API (pulumiverse grafana "
                           "provider); files: through provisioning files, for clusters whose Grafana API is not "
                           "reachable at deploy time.")
    url: str | None = Field(None, description="URL the Grafana provider uses with content=api, e.g. "
                                              "https://grafana.example.com; required on Kubernetes and with a remote "
                                              "Docker daemon. Unset on a local Docker: http://127.0.0.1:<localPort>.")
    root_url: str | None = Field(None, description="Grafana's public root URL (server.root_url).")
    admin_user: Text = Field("admin", description="Grafana admin user name.")
    local_port: Port = Field(3000, description="Docker only: port published on 127.0.0.1.")
    volume_size: Quantity = Field(defaults.VOLUME_SIZES["grafana"], description="Volume for Grafana's SQLite database.")
    resources: GrafanaResources = _resources("grafana")
    cookie_secure: bool = Field(False, description="Send cookies over HTTPS only (enable behind TLS).")
    cookie_samesite: Literal["lax", "strict", "none"] = Field(
        "lax", description="SameSite attribute of Grafana's cookies. lax keeps the session when a link from Slack or "
                           "PagerDuty opens Grafana; strict drops it, so every such link lands on the login page.")
    ingress: GrafanaIngress | None = Field(None, description="Expose Grafana through an Ingress (Kubernetes).")

    @model_validator(mode="after")
    def _url_shape(self) -> GrafanaSettings:
        for field, value in (("url", self.url), ("rootUrl", self.root_url)):
            if value is not None and (problem := http_url_problem(value)) is not None:
                raise FieldProblemError(field, problem, example="https://grafana.example.com")
        if self.cookie_samesite == "none" and not self.cookie_secure:
            raise FieldProblemError("cookieSamesite", "none needs cookieSecure: true (browsers drop SameSite=None "
                                    "cookies that are not Secure, so nobody could log in); or keep lax",
                                    example="lax")
        return self
