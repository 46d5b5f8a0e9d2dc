"""Grafana: pinned, locked down, with generated credentials and provisioned content.

The admin password is a RandomPassword unless one is set as the secret
`grafanaAdminPassword`; the cookie signing `secret_key` is always random. Both
reach Grafana only as environment variables fed from a Secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components import defaults
from components.builders.artifacts import Artifacts
from components.builders.grafana import CONFIG_DIR, DATA_DIR
from components.platform import Backend, DataVolume, HttpProbe, Port, PublicHttp, Workload
from components.settings import StackSettings
from components.topology import Topology


@dataclass(frozen=True)
class GrafanaArgs:
    settings: StackSettings
    platform: Backend
    artifacts: Artifacts
    admin_password: pulumi.Output[str] | None = None  # the grafanaAdminPassword secret, if set


class Grafana(pulumi.ComponentResource):
    url: pulumi.Output[str]
    local_url: pulumi.Output[str | None]
    api_url: pulumi.Output[str | None]
    admin_user: pulumi.Output[str]
    admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:Grafana", name, None, opts)
        s = args.settings
        g = s.grafana
        child = pulumi.ResourceOptions(parent=self)
        port = defaults.PORTS["grafana"]
        ready, live = defaults.HEALTH["grafana"]

        if args.admin_password is not None:
            password = pulumi.Output.secret(args.admin_password)
        else:
            password = random.RandomPassword(f"{name}-admin-password", length=32, special=False, opts=child).result
        secret_key = random.RandomPassword(f"{name}-secret-key", length=40, special=False, opts=child).result

        # The config mount replaces the image's /etc/grafana, so every provisioning directory
        # Grafana scans exists, even where this stack provisions nothing through files.
        files: dict[str, str] = {"grafana.ini": args.artifacts.grafana_ini}
        for kind in ("datasources", "dashboards", "plugins", "alerting"):
            files[f"provisioning/{kind}/README"] = f"{kind} provisioned by shannon-observability ({g.content} mode)\n"
        if g.content == "files":
            files["provisioning/datasources/datasources.yml"] = args.artifacts.grafana_datasources
            files["provisioning/dashboards/shannon.yml"] = args.artifacts.grafana_dashboard_provider
            files.update({f"dashboards/{n}": text for n, text in args.artifacts.grafana_dashboards.items()})

        public = None
        if g.ingress is not None:
            public = PublicHttp(g.ingress.host, port, g.ingress.class_name, g.ingress.tls_secret)
        workload = Workload(
            name="grafana",
            image=s.image("grafana"),
            args=(),  # the image's run.sh starts `grafana server` with the GF_PATHS_* below
            ports=(Port("http", port, local_port=g.local_port),),
            resources=g.resources,
            run_as=defaults.RUN_AS["grafana"],
            readiness=HttpProbe(ready, port),
            liveness=HttpProbe(live, port),
            kind="stateful",
            config_dir=CONFIG_DIR,
            config_files=files,
            env={"GF_PATHS_CONFIG": f"{CONFIG_DIR}/grafana.ini", "GF_PATHS_DATA": DATA_DIR},
            secret_env={"GF_SECURITY_ADMIN_PASSWORD": password, "GF_SECURITY_SECRET_KEY": secret_key},
            data=DataVolume(DATA_DIR, g.volume_size),
            scratch_dirs=("/tmp", "/var/log/grafana"),
            wait_healthy=True,
            public=public,
        )
        self.deployed = args.platform.deploy(name, workload, child)

        topo = Topology(s)
        self.url = pulumi.Output.from_input(topo.grafana_url())
        self.local_url = pulumi.Output.from_input(None if topo.kubernetes else f"http://127.0.0.1:{g.local_port}")
        self.api_url = pulumi.Output.from_input(topo.grafana_api_url())
        self.admin_user = pulumi.Output.from_input(g.admin_user)
        self.admin_password = pulumi.Output.secret(password)
        self.register_outputs({"url": self.url, "local_url": self.local_url, "api_url": self.api_url,
                               "admin_user": self.admin_user, "admin_password": self.admin_password})
