"""Alertmanager: routes critical to the pager, warning to chat, the Watchdog to the deadman receiver.

Its whole configuration is a Secret (never a ConfigMap): the receivers' keys are
files mounted from it, and the deadman URL, when secret, is inline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components import defaults
from components.builders.alertmanager import CONFIG_FILE, DATA_DIR, alertmanager_args, secret_file_keys
from components.builders.artifacts import render_alertmanager_yaml
from components.platform import Backend, DataVolume, HttpProbe, Port, Workload
from components.settings import StackSettings
from components.topology import Topology


@dataclass(frozen=True)
class AlertmanagerArgs:
    settings: StackSettings
    platform: Backend
    secrets: Mapping[str, pulumi.Output[str]]  # config key -> Pulumi secret, for the secrets this stack uses


class Alertmanager(pulumi.ComponentResource):
    url: pulumi.Output[str]
    local_url: pulumi.Output[str | None]

    def __init__(self, name: str, args: AlertmanagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shannon:observability:Alertmanager", name, None, opts)
        s = args.settings
        am = s.alertmanager
        child = pulumi.ResourceOptions(parent=self)
        port, cluster_port = defaults.PORTS["alertmanager"], defaults.PORTS["alertmanager-cluster"]
        ready, live = defaults.HEALTH["alertmanager"]

        inline = {k: v for k, v in args.secrets.items() if k == "deadmanUrl"}
        config = pulumi.Output.secret(pulumi.Output.all(**inline).apply(
            # Output.all() of no outputs resolves to [], not {}.
            lambda values: render_alertmanager_yaml(s, values if isinstance(values, dict) else {})))
        secret_files: dict[str, pulumi.Output[str]] = {CONFIG_FILE: config}
        for key, file_name in secret_file_keys(s).items():
            secret_files[file_name] = pulumi.Output.secret(args.secrets[key])

        ports = [Port("web", port, local_port=am.local_port)]
        if am.replicas > 1:
            # Gossip runs over both TCP and UDP; only peers need it, so only the headless Service has it.
            ports += [Port("cluster-tcp", cluster_port, "TCP", peer_only=True),
                      Port("cluster-udp", cluster_port, "UDP", peer_only=True)]
        workload = Workload(
            name="alertmanager",
            image=s.image("alertmanager"),
            args=tuple(alertmanager_args(s)),
            ports=tuple(ports),
            resources=am.resources,
            run_as=defaults.RUN_AS["alertmanager"],
            readiness=HttpProbe(ready, port),
            liveness=HttpProbe(live, port),
            replicas=am.replicas,
            kind="stateful",
            secret_dir=am.secrets_dir,
            secret_files=secret_files,
            data=DataVolume(DATA_DIR, am.volume_size),
        )
        self.deployed = args.platform.deploy(name, workload, child)

        topo = Topology(s)
        self.url = pulumi.Output.from_input(topo.alertmanager_url())
        self.local_url = pulumi.Output.from_input(None if topo.kubernetes else f"http://127.0.0.1:{am.local_port}")
        self.register_outputs({"url": self.url, "local_url": self.local_url})
