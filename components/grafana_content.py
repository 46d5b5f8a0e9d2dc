"""Grafana content through the Grafana API: the Shannon folder, datasources and dashboards.

Used with `grafana.content: api`. The provider passed in `opts` points at the
Grafana this stack deploys and depends on its workload, so these resources are
created once Grafana is healthy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumiverse_grafana as grafana

from components.builders.dashboards import for_grafana
from components.builders.grafana import FOLDER_TITLE, FOLDER_UID, SECRETS_KEY
from components.builders.serialize import dump_json


@dataclass(frozen=True)
class GrafanaContentArgs:
    datasources: list[dict[str, Any]]
    dashboards: Mapping[str, dict[str, Any]]  # file name -> dashboard model
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)  # the stack's secrets


def _secure_json(ds: dict[str, Any], secrets: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[str] | None:
    """secureJsonData: plain entries (a tenant header) and those read from the stack's secrets, kept secret."""
    plain = dict(ds.get("secureJsonData", {}))
    from_secrets = ds.get(SECRETS_KEY, {})
    if not plain and not from_secrets:
        return None
    fields = list(from_secrets)
    values = [pulumi.Output.concat(prefix, secrets[key]) for key, prefix in from_secrets.values()]
    return pulumi.Output.secret(pulumi.Output.all(*values).apply(
        lambda resolved: json.dumps({**plain, **dict(zip(fields, resolved, strict=True))}, sort_keys=True)))


class GrafanaContent(pulumi.ComponentResource):
    folder_uid: pulumi.Output[str]
    dashboard_uids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: GrafanaContentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:GrafanaContent", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        folder = grafana.oss.Folder(f"{name}-folder", title=FOLDER_TITLE, uid=FOLDER_UID, opts=child)
        datasources = [
            grafana.oss.DataSource(
                f"{name}-datasource-{ds['uid']}",
                type=ds["type"], name=ds["name"], uid=ds["uid"], url=ds["url"],
                access_mode=ds.get("access", "proxy"), is_default=ds.get("isDefault", False),
                # The API takes jsonData verbatim: no `$$` escaping as in provisioning files.
                json_data_encoded=json.dumps(ds.get("jsonData", {}), sort_keys=True),
                basic_auth_enabled=ds.get("basicAuth"), basic_auth_username=ds.get("basicAuthUser"),
                secure_json_data_encoded=_secure_json(ds, args.secrets),
                opts=child)
            for ds in args.datasources
        ]
        # Named by uid, which is what Grafana keys a dashboard by: renaming its file must not
        # create the "new" dashboard and then delete the same uid as the "old" one. The alias
        # carries stacks whose dashboards were named by file over.
        dashboards = [
            grafana.oss.Dashboard(
                f"{name}-dashboard-{model['uid']}",
                config_json=dump_json(for_grafana(model)), folder=folder.uid, overwrite=True,
                message="deployed by shannon-observability",
                opts=pulumi.ResourceOptions(parent=self, depends_on=datasources, aliases=[
                    pulumi.Alias(name=f"{name}-dashboard-{file_name.removesuffix('.json')}")]))
            for file_name, model in args.dashboards.items()
        ]
        self.folder_uid = folder.uid
        self.dashboard_uids = pulumi.Output.from_input([m["uid"] for m in args.dashboards.values()])
        self.datasources, self.dashboards = datasources, dashboards
        self.register_outputs({"folder_uid": self.folder_uid, "dashboard_uids": self.dashboard_uids})
