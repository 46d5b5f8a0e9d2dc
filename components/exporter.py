"""The optional exporters the original configuration scraped "if deployed": Postgres, Redis, blackbox.

Postgres's DSN and Redis's address carry credentials, so they reach the
exporter only as environment variables fed from a Secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components import defaults
from components.platform import Backend, HttpProbe, Port, Workload
from components.settings import StackSettings, default_resources

Kind = Literal["postgres-exporter", "redis-exporter", "blackbox-exporter"]
# Exporter -> (secret config key, environment variable it is passed as)
SECRET_ENV: dict[str, tuple[str, str]] = {
    "postgres-exporter": ("postgresDsn", "DATA_SOURCE_NAME"),
    "redis-exporter": ("redisAddr", "REDIS_ADDR"),
}


@dataclass(frozen=True)
class ExporterArgs:
    settings: StackSettings
    platform: Backend
    kind: Kind
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # rendered exporter configs (blackbox.yml)


class Exporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: ExporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:Exporter", name, None, opts)
        s, kind = args.settings, args.kind
        port = defaults.PORTS[kind]
        ready, live = defaults.HEALTH[kind]
        toggle = {"postgres-exporter": s.exporters.postgres, "redis-exporter": s.exporters.redis,
                  "blackbox-exporter": s.exporters.blackbox}[kind]
        secret_env = {}
        if kind in SECRET_ENV:
            key, env = SECRET_ENV[kind]
            secret_env[env] = pulumi.Output.secret(args.secrets[key])
        config_files: dict[str, str] = {}
        extra_args: tuple[str, ...] = ()
        if kind == "blackbox-exporter":
            config_files["blackbox.yml"] = args.files["blackbox.yml"]
            extra_args = ("--config.file=/etc/blackbox/blackbox.yml",)
        workload = Workload(
            name=kind,
            image=s.image(kind),
            args=(f"--web.listen-address=:{port}", *extra_args),
            ports=(Port("metrics", port),),
            resources=toggle.resources or default_resources(kind),
            run_as=defaults.RUN_AS[kind],
            readiness=HttpProbe(ready, port),
            liveness=HttpProbe(live, port),
            kind="stateless",
            config_dir="/etc/blackbox" if config_files else None,
            config_files=config_files,
            secret_env=secret_env,
            join_shannon_network=True,  # the databases and services it watches live there
        )
        self.deployed = args.platform.deploy(name, workload, pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
