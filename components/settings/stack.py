"""StackSettings: everything a stack can set, and the checks across areas."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from components import defaults
from components.settings.alertmanager import (
    AlertmanagerSettings,
)
from components.settings.exporters import (
    ExportersSettings,
)
from components.settings.grafana import (
    GrafanaSettings,
)
from components.settings.operator import (
    OPERATOR_SELECTORS,
    OperatorSettings,
    _selector_field,
)
from components.settings.platform import (
    DockerSettings,
    KubernetesSettings,
)
from components.settings.prometheus import (
    PrometheusSettings,
)
from components.settings.rules import (
    RulesSettings,
)
from components.settings.security import SecuritySettings
from components.settings.security import check as security_check
from components.settings.shannon import (
    ShannonSettings,
)
from components.settings.tempo import (
    TempoSettings,
)
from components.settings.tracing import TracingSettings
from components.settings.types import (
    FieldProblemError,
    LabelValue,
    Model,
    _host_port_address,
)


class StackSettings(Model):
    """Everything a stack can set. The stack name is not config; `load_settings` adds it."""

    stack: str = Field(description="The Pulumi stack name (not a config key).", exclude=True)
    platform: Literal["docker", "kubernetes"] = Field(
            description="docker (dev, pulumi-docker) or kubernetes (prod, pulumi-kubernetes).")
    environment: LabelValue | None = Field(None, description="environment external label; defaults to the stack name.")
    test_stack: bool = Field(
        False, description="A stack for tests only (the e2e suite): allows the rules.forScale, rules.maxFor and "
                           "rules.rangeOverrides knobs, which would stop real alerts from working.")
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings, description="Kubernetes platform settings.")
    docker: DockerSettings = Field(default_factory=DockerSettings, description="Docker platform settings.")
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings, description="Prometheus.")
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings, description="Alertmanager.")
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings, description="Grafana.")
    tempo: TempoSettings = Field(default_factory=TempoSettings, description="Tempo.")
    tracing: TracingSettings = Field(default_factory=TracingSettings,
                                     description="The path of Shannon's traces to Tempo.")
    exporters: ExportersSettings = Field(default_factory=ExportersSettings, description="Exporters.")
    shannon: ShannonSettings = Field(default_factory=ShannonSettings, description="The Shannon services to watch.")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Rule rendering (test stacks).")
    operator: OperatorSettings = Field(default_factory=OperatorSettings,
                                       description="Prometheus Operator mode (kube-prometheus-stack clusters).")
    images: dict[str, str] = Field(default_factory=dict, description="Image overrides by component; exact tags only.")
    security: SecuritySettings = Field(default_factory=SecuritySettings,
                                                description="Exceptions to the production safety rules.")
    self_addresses: dict[str, list[str]] = Field(
        default_factory=dict, alias="addresses",
        description="Static host:port overrides for the stack's own components (prometheus, alertmanager, "
                    "alertmanager-peers, grafana, tempo, node-exporter, postgres, redis, blackbox-exporter); for test "
                    "stacks that run the binaries directly.")

    @field_validator("self_addresses")
    @classmethod
    def _known_addresses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = ("prometheus", "alertmanager", "alertmanager-peers", "grafana", "tempo", "node-exporter", "postgres",
                 "redis", "blackbox-exporter")
        for job, addresses in value.items():
            if job not in known:
                raise FieldProblemError(job, f"unknown job {job!r}; known: {', '.join(known)}")
            for i, address in enumerate(addresses):
                try:
                    _host_port_address(address)
                except ValueError as error:
                    raise FieldProblemError(f"{job}[{i}]", str(error), example="127.0.0.1:9090") from None
        return value

    @field_validator("images")
    @classmethod
    def _pinned(cls, images: dict[str, str]) -> dict[str, str]:
        for component, image in images.items():
            if component not in defaults.IMAGES:
                raise FieldProblemError(component, f"unknown component {component!r}; known: {', '.join(defaults.IMAGES)}")
            if not _IMAGE_REFERENCE.fullmatch(image):
                raise FieldProblemError(component, f"{image!r} is not an image reference ([registry/]path[:tag][@digest]; "
                                        "the path lowercase, no white space)", example=defaults.IMAGES[component])
            if not _is_pinned(image):
                raise FieldProblemError(component, f"image {image!r} is not pinned to an exact version",
                                   example=defaults.IMAGES[component])
        return images

    @model_validator(mode="after")
    def _test_knobs_on_test_stacks(self) -> StackSettings:
        rules = self.rules
        for key, used in (("forScale", rules.for_scale != 1), ("maxFor", rules.max_for is not None),
                          ("rangeOverrides", bool(rules.range_overrides))):
            if used and not self.test_stack:
                raise FieldProblemError(f"rules.{key}", "shortens alerts for tests; on a real stack it would stop "
                                        "alerts from working. Remove it, or declare a test stack with testStack: true",
                                        example="true")
        return self

    @model_validator(mode="after")
    def _safe_and_consistent(self) -> StackSettings:
        security_check(self)
        if self.tracing.collector.enabled is True and not self.tempo.enabled:
            raise FieldProblemError("tracing.collector.enabled", "the collector forwards to Tempo, which this stack "
                                    "does not deploy (tempo.enabled is false): enable Tempo, or leave the collector off",
                                    example="false")
        if self.platform == "kubernetes" and self.own_components and self.kubernetes.namespace == self.shannon.namespace:
            raise FieldProblemError("kubernetes.namespace", f"is Shannon's namespace ({self.shannon.namespace}): the "
                                    "stack's default-deny NetworkPolicies and restricted Pod Security would land on "
                                    "Shannon's own pods; deploy the stack into a namespace of its own",
                                    example="monitoring")
        return self

    @model_validator(mode="after")
    def _local_ports_distinct(self) -> StackSettings:
        if self.platform != "docker":
            return self
        ports: dict[int, str] = {}
        for key, port in self.local_ports:
            if port in ports:
                raise FieldProblemError(key, f"local port {port} is also {ports[port]}'s", example=str(max(ports) + 1))
            ports[port] = key
        return self

    @property
    def own_components(self) -> bool:
        """Whether the stack runs its own Prometheus, Alertmanager and Grafana (not in operator mode)."""
        return not self.operator.enabled

    @property
    def collector_enabled(self) -> bool:
        """Whether the OpenTelemetry Collector is deployed: tracing.collector.enabled, by default Tempo's."""
        enabled = self.tracing.collector.enabled
        return self.tempo.enabled if enabled is None else enabled

    @property
    def local_ports(self) -> list[tuple[str, int]]:
        """Docker: (setting, port) of every port published on 127.0.0.1; replicas take the next ports."""
        ports = [("prometheus.localPort", self.prometheus.local_port + i) for i in range(self.prometheus.replicas)]
        ports += [("alertmanager.localPort", self.alertmanager.local_port + i) for i in range(self.alertmanager.replicas)]
        ports += [("grafana.localPort", self.grafana.local_port)]
        if self.tempo.enabled:
            ports += [("tempo.localPort", self.tempo.local_port), ("tempo.otlpGrpcLocalPort", self.tempo.otlp_grpc_local_port),
                      ("tempo.otlpHttpLocalPort", self.tempo.otlp_http_local_port)]
        return ports

    @model_validator(mode="after")
    def _operator_mode(self) -> StackSettings:
        op = self.operator
        if not op.enabled:
            return self
        if self.platform != "kubernetes":
            raise FieldProblemError("operator.enabled", "Prometheus Operator mode needs platform kubernetes",
                                    example="false")
        unset = [key for key in OPERATOR_SELECTORS if _selector_field(key) not in op.selectors.model_fields_set]
        if op.release is None and unset:
            raise FieldProblemError(
                "operator.release", "name kube-prometheus-stack's Helm release (its selectors are then known), or "
                f"give every selector explicitly (missing: {', '.join('operator.selectors.' + k for k in unset)})",
                example="kube-prometheus-stack")
        if op.release is None and (op.prometheus_url is None or op.alertmanager_url is None):
            raise FieldProblemError("operator.prometheusUrl", "without operator.release the Prometheus and "
                                    "Alertmanager URLs must be given (operator.prometheusUrl, operator.alertmanagerUrl)",
                                    example="http://prometheus-operated.monitoring.svc:9090")
        if self.kubernetes.namespace == op.namespace:
            raise FieldProblemError("kubernetes.namespace", f"is the operator's namespace ({op.namespace}): the "
                                    "AlertmanagerConfig there would route the monitoring stack's own alerts (its "
                                    "namespace label) to Shannon's receivers; deploy into Shannon's namespace",
                                    example=self.shannon.namespace)
        if self.prometheus.remote_write:
            raise FieldProblemError("prometheus.remoteWrite", "in operator mode the cluster's Prometheus writes to "
                                    "long-term storage: set remoteWrite on its Prometheus resource (kube-prometheus-"
                                    "stack: prometheus.prometheusSpec.remoteWrite)", example="[]")
        for key, exporter, why in (
                ("exporters.node.enabled", self.exporters.node.enabled,
                 "kube-prometheus-stack runs node-exporter (its job label is node-exporter, which Shannon's "
                 "node rules select)"),
                ("exporters.blackbox.enabled", self.exporters.blackbox.enabled,
                 "probes belong in the operator's Probe resources, which this mode does not emit; its probe "
                 "panels are left out")):
            if exporter:
                raise FieldProblemError(key, f"not in operator mode: {why}", example="false")
        return self

    @model_validator(mode="after")
    def _grafana_reachable(self) -> StackSettings:
        if self.operator.enabled:
            if self.operator.grafana == "api" and self.grafana.url is None:
                raise FieldProblemError("grafana.url", "operator.grafana=api needs the URL of the cluster's Grafana "
                                        "API", example="https://grafana.example.com")
            return self
        if self.grafana.content != "api" or self.grafana.url is not None:
            return self
        if self.platform == "kubernetes":
            raise FieldProblemError(
                "grafana.url", "with grafana.content=api on Kubernetes the program must reach Grafana's API: "
                "set its URL (e.g. the ingress), or use grafana.content=files", example="https://grafana.example.com")
        if self.docker.remote:
            raise FieldProblemError(
                "grafana.url", f"the Docker daemon is remote ({self.docker.host}), so Grafana is not on this machine's "
                "127.0.0.1: set the URL this machine reaches it at (e.g. through `ssh -N -L 3000:127.0.0.1:3000 "
                "<host>`: http://127.0.0.1:3000), or use grafana.content=files", example="http://127.0.0.1:3000")
        return self

    @property
    def environment_label(self) -> str:
        return self.environment or self.stack

    def image(self, component: str) -> str:
        return self.images.get(component, defaults.IMAGES[component])


# The OCI distribution reference grammar (distribution/reference): a registry host only where the first
# component has a '.' or ':' or is localhost; path components lowercase.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REFERENCE = re.compile(
    r"(?:(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9.-]+:[0-9]+)/)?"
    rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?")


def _is_pinned(image: str) -> bool:
    """An image reference with a digest, or a tag that names a version (not latest, not empty)."""
    name, _, tag = image.rpartition(":")
    # A digest is sha256 and 64 hex digits; a tag names a release to its patch: 12.4.3, not 12 or 12.4.
    if "@" in image:
        return bool(re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", image))
    return bool(name) and "/" not in tag and bool(re.fullmatch(r"v?[0-9]+\.[0-9]+\.[0-9]+([-.+][\w.]+)?", tag))
