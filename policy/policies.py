"""The policies as pure functions over a resource's type and properties.

Each check returns the violations it finds as messages; `pack.py` adapts them to
pulumi-policy. Kubernetes resources are the prod platform, so the "(prod)"
policies apply to them; Docker resources are dev.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ALLOWLIST_FILE = Path(__file__).with_name("allowlist.yaml")

WORKLOADS = {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
             "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Pod"}
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
DOCKER_IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_CONTAINER = "docker:index/container:Container"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}

_VERSION_TAG = re.compile(r"^v?\d+(\.\d+)*([-.+][\w.]+)?$")
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential|routing[_-]?key|dsn)",
                         re.I)
_SECRET_VALUES = [
    (re.compile(r"hooks\.slack\.com/services/\w+/\w+/\w+"), "a Slack webhook URL"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"$]+@"), "a URL with a password"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"(?i)(password|secret_key|api_key|token)\s*[:=]\s*['\"]?[^\s'\"$]{8,}"), "an assignment of a credential"),
]


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: dict[str, Any]


def image_pinned(image: str) -> bool:
    """A digest, an image id, or a tag that names a version (never latest, never no tag)."""
    if "@sha256:" in image or image.startswith("sha256:"):
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and bool(_VERSION_TAG.match(tag))


def _pod_spec(props: dict[str, Any], resource_type: str) -> dict[str, Any] | None:
    if resource_type == "kubernetes:core/v1:Pod":
        return props.get("spec")
    spec = props.get("spec") or {}
    if resource_type == "kubernetes:batch/v1:CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec")


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers") or []
    yield from pod.get("containers") or []


# --- resource policies -------------------------------------------------------------------------


def pinned_images(r: Resource) -> list[str]:
    images: list[str] = []
    if r.type == DOCKER_IMAGE:
        images.append(r.props.get("name", ""))
    elif r.type == DOCKER_CONTAINER:
        images.append(r.props.get("image", ""))
    elif r.type in WORKLOADS:
        images += [c.get("image", "") for c in _containers(_pod_spec(r.props, r.type) or {})]
    return [f"image {image!r} is not pinned to an exact version or digest" for image in images
            if not image_pinned(image)]


def resources_set(r: Resource) -> list[str]:
    if r.type not in WORKLOADS:
        return []
    out = []
    for c in _containers(_pod_spec(r.props, r.type) or {}):
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        missing = [k for k, present in (("requests.cpu", "cpu" in requests), ("requests.memory", "memory" in requests),
                                        ("limits.memory", "memory" in limits)) if not present]
        if missing:
            out.append(f"container {c.get('name')!r} has no {', '.join(missing)}")
    return out


def non_root_read_only(r: Resource) -> list[str]:
    if r.type not in WORKLOADS:
        return []
    pod = _pod_spec(r.props, r.type) or {}
    pod_ctx = pod.get("securityContext") or {}
    out = []
    for c in _containers(pod):
        ctx = {**pod_ctx, **(c.get("securityContext") or {})}
        name = c.get("name")
        if ctx.get("runAsNonRoot") is not True or ctx.get("runAsUser", 0) == 0:
            out.append(f"container {name!r} may run as root (needs runAsNonRoot and a non-zero runAsUser)")
        if ctx.get("allowPrivilegeEscalation") is not False or ctx.get("privileged") is True:
            out.append(f"container {name!r} allows privilege escalation")
        if ctx.get("readOnlyRootFilesystem") is not True:
            out.append(f"container {name!r} has a writable root filesystem")
        if "ALL" not in ((ctx.get("capabilities") or {}).get("drop") or []):
            out.append(f"container {name!r} does not drop all capabilities")
    return out


def no_host_access(r: Resource) -> list[str]:
    if r.type not in WORKLOADS:
        return []
    pod = _pod_spec(r.props, r.type) or {}
    out = [f"pod uses the host's {ns}" for ns, key in (("network", "hostNetwork"), ("PID namespace", "hostPID"),
                                                       ("IPC namespace", "hostIPC")) if pod.get(key)]
    host_volumes = {v["name"] for v in pod.get("volumes") or [] if "hostPath" in v}
    for c in _containers(pod):
        for mount in c.get("volumeMounts") or []:
            if mount.get("name") in host_volumes:
                out.append(f"container {c.get('name')!r} mounts host path volume {mount['name']!r}"
                           + ("" if mount.get("readOnly") else " read-write"))
    return out


def configmap_without_secrets(r: Resource) -> list[str]:
    if r.type != CONFIGMAP:
        return []
    out = []
    for key, value in (r.props.get("data") or {}).items():
        if _SECRET_KEY.search(key):
            out.append(f"key {key!r} looks like a credential: put it in a Secret")
        for pattern, what in _SECRET_VALUES:
            if isinstance(value, str) and pattern.search(value):
                out.append(f"{key!r} contains {what}: put it in a Secret")
    return out


def docker_ports_on_loopback(r: Resource) -> list[str]:
    if r.type != DOCKER_CONTAINER:
        return []
    return [f"port {p.get('internal')} is published on {p.get('ip') or 'all interfaces'}, not loopback"
            for p in r.props.get("ports") or [] if p.get("ip") not in LOOPBACK]


def _enabled(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "1", "yes", "on"}


def grafana_no_anonymous(r: Resource) -> list[str]:
    out = []
    if r.type == CONFIGMAP:
        for key, value in (r.props.get("data") or {}).items():
            if key.endswith(".ini") and isinstance(value, str):
                parser = configparser.ConfigParser(interpolation=None, strict=False)
                try:
                    parser.read_string(value)
                except configparser.Error:
                    continue
                if parser.has_section("auth.anonymous") and _enabled(parser.get("auth.anonymous", "enabled",
                                                                                   fallback=None)):
                    out.append(f"{key!r} enables anonymous access")
    envs: list[tuple[str, str]] = []
    if r.type in WORKLOADS:
        for c in _containers(_pod_spec(r.props, r.type) or {}):
            envs += [(e.get("name", ""), e.get("value", "")) for e in c.get("env") or []]
    elif r.type == DOCKER_CONTAINER:
        envs += [tuple(e.split("=", 1)) for e in r.props.get("envs") or [] if "=" in e]  # type: ignore[misc]
    out += ["GF_AUTH_ANONYMOUS_ENABLED turns anonymous access on" for k, v in envs
            if k == "GF_AUTH_ANONYMOUS_ENABLED" and _enabled(v)]
    return out


# --- stack policies ----------------------------------------------------------------------------


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pdb_for_replicated(resources: Iterable[Resource]) -> list[tuple[str, str]]:
    """(resource name, message) for each multi-replica Deployment/StatefulSet no PodDisruptionBudget covers."""
    resources = list(resources)
    pdbs = [(r.props.get("metadata", {}).get("namespace"), (r.props.get("spec") or {}).get("selector", {})
             .get("matchLabels", {})) for r in resources if r.type == PDB]
    out = []
    for r in resources:
        if r.type not in {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"}:
            continue
        spec = r.props.get("spec") or {}
        if (spec.get("replicas") or 1) <= 1:
            continue
        namespace = r.props.get("metadata", {}).get("namespace")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not any(ns == namespace and _labels_match(sel, labels) for ns, sel in pdbs):
            out.append((r.name, f"{spec.get('replicas')} replicas but no PodDisruptionBudget selects its pods"))
    return out


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    check: Callable[[Resource], list[str]]


RESOURCE_POLICIES = [
    Policy("pinned-images", "Every image is pinned to an exact version or digest.", pinned_images),
    Policy("resource-requests-and-memory-limit", "Prod containers set CPU and memory requests and a memory limit.",
           resources_set),
    Policy("non-root-read-only", "Prod containers run as non-root, without privilege escalation or capabilities, "
           "on a read-only root filesystem.", non_root_read_only),
    Policy("no-host-access", "Prod pods stay out of the host's namespaces and file system (allow-listed exceptions).",
           no_host_access),
    Policy("configmap-without-secrets", "ConfigMaps hold no secret-looking keys or values.", configmap_without_secrets),
    Policy("docker-ports-on-loopback", "Docker ports are published on 127.0.0.1 only.", docker_ports_on_loopback),
    Policy("grafana-no-anonymous", "Grafana never allows anonymous access.", grafana_no_anonymous),
]
STACK_POLICY_NAME = "pdb-for-replicated-workloads"
STACK_POLICY_DESCRIPTION = "Prod workloads with more than one replica have a PodDisruptionBudget."


def load_allowlist(path: Path = ALLOWLIST_FILE) -> list[dict[str, str]]:
    entries = (yaml.safe_load(path.read_text()) or {}).get("exceptions") or []
    for entry in entries:
        if not entry.get("reason"):
            raise ValueError(f"{path.name}: every exception needs a reason: {entry}")
    return entries


def allowed(policy: str, resource_name: str, allowlist: list[dict[str, str]]) -> bool:
    return any(e["policy"] == policy and fnmatch.fnmatch(resource_name, e["resource"]) for e in allowlist)


def evaluate(resources: Iterable[Resource], allowlist: list[dict[str, str]] | None = None) -> list[str]:
    """Every violation over a set of resources, as `policy: resource: message`."""
    allowlist = load_allowlist() if allowlist is None else allowlist
    resources = list(resources)
    out = []
    for policy in RESOURCE_POLICIES:
        for r in resources:
            if not allowed(policy.name, r.name, allowlist):
                out += [f"{policy.name}: {r.name}: {m}" for m in policy.check(r)]
    out += [f"{STACK_POLICY_NAME}: {name}: {m}" for name, m in pdb_for_replicated(resources)
            if not allowed(STACK_POLICY_NAME, name, allowlist)]
    return out
