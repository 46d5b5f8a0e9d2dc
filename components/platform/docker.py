"""Docker backend: turns a Workload into a pinned RemoteImage, a Volume and Containers.

Ports are published on 127.0.0.1 only. Containers run as the image's non-root
user with all capabilities dropped and no-new-privileges, and restart unless
stopped. Config and secret files are placed with `uploads`, owned by root and
read-only to the program (0444 and 0440): Docker refuses uploads into a
read-only root filesystem, so the root filesystem stays writable here; prod on
Kubernetes mounts them read-only on a read-only root. Any change to a file or
secret changes the container's checksum label, and the container is replaced.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.platform.workload import Deployed, Workload
from components.settings import StackSettings
from components.topology import Topology
from components.units import cpu_millis, megabytes


class DockerBackend:
    def __init__(self, settings: StackSettings, network: pulumi.Input[str], checksum_key: pulumi.Input[str]) -> None:
        self.settings = settings
        self.topology = Topology(settings)
        self.network = network
        self.checksum_key = checksum_key  # a Pulumi secret: keys the config checksums (Workload.checksum)

    def deploy(self, name: str, w: Workload, opts: pulumi.ResourceOptions,
               service_account: pulumi.Resource | None = None) -> Deployed:
        """Create everything `w` needs; resource names are `<name>-<role>`. Docker has no service accounts."""
        created: list[pulumi.Resource] = []
        image = docker.RemoteImage(f"{name}-image", name=w.image, keep_locally=True, opts=opts)
        created.append(image)
        checksum = w.checksum(self.checksum_key)
        uid, gid = w.run_as

        uploads = [docker.ContainerUploadArgs(file=f"{w.config_dir}/{path}", content=content,
                                              owner="0", group=str(gid), permissions="0444")
                   for path, content in w.config_files.items()]
        uploads += [docker.ContainerUploadArgs(file=f"{w.secret_dir}/{path}", content=content,
                                               owner="0", group=str(gid), permissions="0440")
                    for path, content in w.secret_files.items()]

        networks = [docker.ContainerNetworksAdvancedArgs(name=self.network, aliases=[w.name])]
        shannon_network = self.settings.docker.shannon_network
        if w.join_shannon_network and shannon_network:
            aliases = [w.shannon_network_alias] if w.shannon_network_alias else None
            networks.append(docker.ContainerNetworksAdvancedArgs(name=shannon_network, aliases=aliases))

        volumes: list[docker.ContainerVolumeArgs] = []
        # Host paths, read-only; the host's root with rslave propagation, so filesystems the host
        # mounts later are seen (node-exporter's disk metrics).
        mounts = [docker.ContainerMountArgs(
            type="bind", source=m.host_path, target=m.mount_path, read_only=True,
            bind_options=docker.ContainerMountBindOptionsArgs(propagation="rslave") if m.host_path == "/" else None)
            for m in w.host_mounts]
        if w.host_network:
            # The host's network and PID namespaces: what a node-level exporter must see. The
            # container is then on no Docker network; Prometheus reaches it through the host.
            networks = []

        containers: list[docker.Container] = []
        for i in range(w.replicas):
            index = None if w.replicas == 1 else i
            container_name = self.topology.container_name(w.name, index)
            suffix = "" if index is None else f"-{i}"
            replica_volumes = list(volumes)
            if w.data is not None:
                # Replica 0 keeps its resource and volume names whatever the replica count
                # (Topology.volume_name); volumes outlive `pulumi destroy` and any replacement
                # (retain_on_delete): data goes only with `docker volume rm`.
                volume_suffix = "" if i == 0 else f"-{i}"
                volume = docker.Volume(
                    f"{name}-volume{volume_suffix}",
                    name=self.topology.volume_name(w.name, i),
                    opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)))
                created.append(volume)
                replica_volumes.append(docker.ContainerVolumeArgs(volume_name=volume.name,
                                                                  container_path=w.data.mount_path))
            envs: list[pulumi.Input[str]] = [f"{k}={v}" for k, v in w.env.items()]
            if w.pod_name_env:
                envs.append(f"{w.pod_name_env}={container_name}")
            envs += [pulumi.Output.concat(k, "=", v) for k, v in w.secret_env.items()]
            ports = [docker.ContainerPortArgs(internal=p.port, external=p.local_port + i, ip="127.0.0.1",
                                              protocol=p.protocol.lower())
                     for p in w.ports if p.local_port is not None and not w.host_network]
            healthcheck = None
            if w.wait_healthy:
                healthcheck = docker.ContainerHealthcheckArgs(
                    tests=["CMD-SHELL", f"wget -q -O /dev/null http://127.0.0.1:{w.readiness.port}{w.readiness.path} || exit 1"],
                    interval="5s", timeout="3s", retries=30, start_period="10s")
            container = docker.Container(
                f"{name}-container{suffix}",
                name=container_name,
                image=image.image_id,
                command=list(w.args),
                envs=envs,
                uploads=uploads,
                ports=ports,
                networks_advanced=networks,
                network_mode="host" if w.host_network else None,
                pid_mode="host" if w.host_pid else None,
                volumes=replica_volumes,
                mounts=mounts,
                user=f"{uid}:{gid}",
                capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
                security_opts=["no-new-privileges:true"],
                privileged=False,
                tmpfs={path: "rw,size=256m,mode=1777" for path in w.scratch_dirs},
                memory=megabytes(w.resources.memory_limit),
                memory_reservation=megabytes(w.resources.memory),
                cpu_shares=max(2, int(cpu_millis(w.resources.cpu) * 1024 / 1000)),
                restart="unless-stopped",
                # Bounded logs: Docker's json-file driver keeps everything unless told.
                log_driver="json-file", log_opts={"max-size": "10m", "max-file": "3"},
                must_run=True,
                # Local receivers (dev webhooks) can be reached as host.docker.internal on Linux too.
                hosts=None if w.host_network else [docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")],
                healthcheck=healthcheck,
                wait=w.wait_healthy,
                wait_timeout=180 if w.wait_healthy else None,
                labels=[docker.ContainerLabelArgs(label="org.shannon-observability.component", value=w.name),
                        docker.ContainerLabelArgs(label="org.shannon-observability.checksum", value=checksum)],
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                    # A changed file must restart the program: replace, never update in place.
                    replace_on_changes=["uploads", "envs", "labels"], delete_before_replace=True)),
            )
            containers.append(container)
            created.append(container)
        return Deployed(workload=containers[0], resources=created)

