"""Platform layer: one workload description, a Kubernetes and a Docker backend."""

from __future__ import annotations

from components.platform.docker import DockerBackend
from components.platform.kubernetes import KubernetesBackend
from components.platform.workload import DataVolume, Deployed, HostMount, HttpProbe, Port, PublicHttp, Workload

Backend = KubernetesBackend | DockerBackend

__all__ = ["Backend", "DataVolume", "Deployed", "DockerBackend", "HostMount", "HttpProbe", "KubernetesBackend",
           "Port", "PublicHttp", "Workload"]
