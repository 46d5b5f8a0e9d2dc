"""Alertmanager: routes critical to the pager, warning to chat, the Watchdog to the deadman receiver.

alertmanager.yml holds no credential, so it is a ConfigMap that previews show in full;
the receivers' keys and URLs are files mounted from a Secret, which the config names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components import defaults
from components.builders.alertmanager import CONFIG_DIR, CONFIG_FILE, DATA_DIR, alertmanager_args, secret_file_keys
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

        secret_files = {file_name: pulumi.Output.secret(args.secrets[key])
                        for key, file_name in secret_file_keys(args.secrets).items()}

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
            config_dir=CONFIG_DIR,
            config_files={CONFIG_FILE: render_alertmanager_yaml(s, args.secrets)},
            secret_dir=am.secrets_dir,
            secret_files=secret_files,
            data=DataVolume(DATA_DIR, am.volume_size),
        )
        self.deployed = args.platform.deploy(name, workload, child)

        topo = Topology(s)
        self.url = pulumi.Output.from_input(topo.alertmanager_url())
        self.local_url = pulumi.Output.from_input(None if topo.kubernetes else f"http://127.0.0.1:{am.local_port}")
        self.register_outputs({"url": self.url, "local_url": self.local_url})
