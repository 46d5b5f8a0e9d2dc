"""Tempo: OTLP trace ingest (gRPC 4317, HTTP 4318), local or S3 storage, metrics-generator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components import defaults
from components.builders.tempo import CONFIG_DIR, DATA_DIR, SECRET_ENV, tempo_args
from components.platform import Backend, DataVolume, HttpProbe, Port, Workload
from components.settings import StackSettings
from components.topology import Topology


@dataclass(frozen=True)
class TempoArgs:
    settings: StackSettings
    platform: Backend
    files: Mapping[str, str]  # tempo.yaml
    secrets: Mapping[str, pulumi.Output[str]]  # s3AccessKey / s3SecretKey when storage is s3


class Tempo(pulumi.ComponentResource):
    url: pulumi.Output[str]
    otlp_grpc_endpoint: pulumi.Output[str]
    otlp_http_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: TempoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:Tempo", name, None, opts)
        s = args.settings
        t = s.tempo
        child = pulumi.ResourceOptions(parent=self)
        port = defaults.PORTS["tempo"]
        ready, live = defaults.HEALTH["tempo"]
        secret_env = {env: pulumi.Output.secret(args.secrets[key]) for key, env in SECRET_ENV.items()
                      if t.storage == "s3"}
        workload = Workload(
            name="tempo",
            image=s.image("tempo"),
            args=tuple(tempo_args(s)),
            ports=(
                Port("http", port, local_port=t.local_port),
                Port("grpc", defaults.PORTS["tempo-grpc"]),
                Port("otlp-grpc", defaults.PORTS["otlp-grpc"], local_port=t.otlp_grpc_local_port),
                Port("otlp-http", defaults.PORTS["otlp-http"], local_port=t.otlp_http_local_port),
            ),
            resources=t.resources,
            run_as=defaults.RUN_AS["tempo"],
            readiness=HttpProbe(ready, port),
            liveness=HttpProbe(live, port),
            kind="stateful",
            config_dir=CONFIG_DIR,
            config_files=dict(args.files),
            secret_env=secret_env,
            data=DataVolume(DATA_DIR, t.volume_size),
            join_shannon_network=True,  # Shannon's containers send OTLP to it by name
        )
        self.deployed = args.platform.deploy(name, workload, child)

        topo = Topology(s)
        self.url = pulumi.Output.from_input(topo.tempo_url())
        self.otlp_grpc_endpoint = pulumi.Output.from_input(topo.otlp_grpc_endpoint())
        self.otlp_http_endpoint = pulumi.Output.from_input(topo.otlp_http_endpoint())
        self.register_outputs({"url": self.url, "otlp_grpc_endpoint": self.otlp_grpc_endpoint,
                               "otlp_http_endpoint": self.otlp_http_endpoint})
