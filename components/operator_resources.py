"""OperatorResources: Shannon's rules, scrape targets, routes and dashboards as the cluster operator's resources.

Prometheus Operator mode (`operator.enabled`): no Prometheus, Alertmanager or Grafana of
our own. The custom resources come from `components/builders/operator.py`, which also
checked, before anything is created, that the operator's selectors pick them up. The
CRDs are the operator's: this component never creates or changes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders import operator
from components.builders.alertmanager import secret_file_keys
from components.settings import StackSettings


@dataclass(frozen=True)
class OperatorResourcesArgs:
    settings: StackSettings
    objects: Mapping[str, list[dict[str, Any]]]  # Artifacts.operator: kind -> objects
    secrets: Mapping[str, pulumi.Output[str]]


class OperatorResources(pulumi.ComponentResource):
    alertmanager_config_name: pulumi.Output[str]
    resource_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: OperatorResourcesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:OperatorResources", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        created: list[pulumi.Resource] = []

        def custom(role: str, obj: dict[str, Any], options: pulumi.ResourceOptions = child) -> None:
            created.append(k8s.apiextensions.CustomResource(
                f"{name}-{role}", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
                spec=obj["spec"], opts=options))

        for obj in args.objects.get("PrometheusRule", []):
            custom(f"rule-{obj['metadata']['name'].removeprefix('shannon-')}", obj)
        for obj in args.objects.get("ServiceMonitor", []):
            custom(f"monitor-{obj['metadata']['name'].removeprefix('shannon-')}", obj)
        for obj in args.objects.get("ScrapeConfig", []):
            custom(f"scrape-{obj['metadata']['name'].removeprefix('shannon-')}", obj)
        for obj in args.objects.get("ConfigMap", []):
            created.append(k8s.core.v1.ConfigMap(f"{name}-{obj['metadata']['name'].removeprefix('shannon-')}",
                                                 metadata=obj["metadata"], data=obj["data"], opts=child))

        # Receiver credentials: a Secret beside the AlertmanagerConfig (SecretKeySelectors cannot
        # reach another namespace); the operator copies them into the Alertmanager's config.
        files = secret_file_keys(args.secrets)
        depends: list[pulumi.Resource] = []
        if files:
            labels = operator.resource_labels(s)
            secret = k8s.core.v1.Secret(
                f"{name}-receivers", metadata={"name": operator.RECEIVERS_SECRET, "namespace": s.kubernetes.namespace,
                                               "labels": labels},
                type="Opaque", string_data={file: args.secrets[key] for key, file in files.items()}, opts=child)
            depends.append(secret)
            created.append(secret)
        config = operator.alertmanager_config(s, files)
        custom("alertmanager-config", config, pulumi.ResourceOptions(parent=self, depends_on=depends))

        self.alertmanager_config_name = pulumi.Output.from_input(
            f"{s.kubernetes.namespace}/{config['metadata']['name']}")
        self.resource_names = pulumi.Output.from_input(
            sorted(f"{o['kind']}/{o['metadata']['name']}" for objs in args.objects.values() for o in objs))
        self.created = created
        self.register_outputs({"alertmanager_config_name": self.alertmanager_config_name,
                               "resource_names": self.resource_names})
