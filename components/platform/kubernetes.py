"""Kubernetes backend: turns a Workload into Services, a StatefulSet/Deployment/DaemonSet and friends.

Every pod is hardened the same way: non-root with a fixed UID/GID and fsGroup,
read-only root filesystem (emptyDir or PVC only where the program writes), no
privilege escalation, all capabilities dropped, RuntimeDefault seccomp,
requests plus a memory limit, and readiness/liveness probes on the program's
health endpoints. Replicas spread across nodes; more than one replica gets a
PodDisruptionBudget.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.platform.workload import Deployed, Workload
from components.settings import StackSettings


def pod_security(level: str) -> dict[str, str]:
    """Pod Security Admission labels enforcing `level`, warning and auditing against restricted."""
    return {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted"}


def _key(path: str) -> str:
    """ConfigMap/Secret keys cannot contain '/': rules/x.yml -> rules_x.yml."""
    return re.sub(r"[^-._a-zA-Z0-9]", "_", path)


class KubernetesBackend:
    def __init__(self, settings: StackSettings, checksum_key: pulumi.Input[str]) -> None:
        self.settings = settings
        self.namespace = settings.kubernetes.namespace
        self.checksum_key = checksum_key  # a Pulumi secret: keys the config checksums (Workload.checksum)

    def meta(self, name: str, labels: dict[str, str] | None = None, namespace: str | None = None,
             annotations: dict[str, Any] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": namespace or self.namespace}
        if labels:
            meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        return meta

    def create_namespaces(self, name: str, opts: pulumi.ResourceOptions) -> list[k8s.core.v1.Namespace]:
        """The stack's namespace, enforcing the restricted Pod Security level every pod meets, and
        node-exporter's, the one workload that needs hostPath, hostNetwork and hostPID (privileged).

        Deleting a namespace deletes every claim in it: a renamed or removed namespace stays in the
        cluster (retain_on_delete), with its volumes, for the operator to remove.
        """
        kept = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True))
        levels = {"": "restricted"}
        if self.settings.exporters.node.enabled:
            levels["-node-exporter"] = "privileged"
        names = {"": self.namespace, "-node-exporter": self.settings.kubernetes.host_namespace}
        # Operator mode: the labels its namespace selectors are checked against.
        extra = {"": dict(self.settings.operator.namespace_labels), "-node-exporter": {}}
        return [k8s.core.v1.Namespace(f"{name}{role}", metadata={"name": names[role], "labels": {
            **extra[role], **pod_security(level), "app.kubernetes.io/part-of": "shannon-observability"}}, opts=kept)
            for role, level in levels.items()]

    def deploy(self, name: str, w: Workload, opts: pulumi.ResourceOptions,
               service_account: k8s.core.v1.ServiceAccount | None = None) -> Deployed:
        """Create everything `w` needs; resource names are `<name>-<role>`."""
        created: list[pulumi.Resource] = []
        labels = w.labels()
        volumes: list[dict[str, Any]] = []
        mounts: list[dict[str, Any]] = []
        namespace = w.namespace or self.namespace

        def meta(object_name: str) -> dict[str, Any]:
            return self.meta(object_name, labels, namespace)

        if service_account is None:
            service_account = k8s.core.v1.ServiceAccount(
                f"{name}-sa", metadata=meta(w.name),
                automount_service_account_token=False, opts=opts)
            created.append(service_account)

        if w.config_files:
            config = k8s.core.v1.ConfigMap(
                f"{name}-config", metadata=meta(f"{w.name}-config"),
                data={_key(path): content for path, content in w.config_files.items()}, opts=opts)
            created.append(config)
            volumes.append({"name": "config", "configMap": {
                "name": f"{w.name}-config",
                "items": [{"key": _key(p), "path": p} for p in w.config_files]}})
            mounts.append({"name": "config", "mountPath": w.config_dir, "readOnly": True})

        secret_data: dict[str, pulumi.Input[str]] = {}
        secret_data.update({_key(p): c for p, c in w.secret_files.items()})
        secret_data.update({f"env-{k}": v for k, v in w.secret_env.items()})
        if secret_data:
            secret = k8s.core.v1.Secret(
                f"{name}-secrets", metadata=meta(f"{w.name}-secrets"), type="Opaque",
                string_data=secret_data, opts=opts)
            created.append(secret)
            if w.secret_files:
                volumes.append({"name": "secrets", "secret": {
                    "secretName": f"{w.name}-secrets", "defaultMode": 0o440,
                    "items": [{"key": _key(p), "path": p} for p in w.secret_files]}})
                mounts.append({"name": "secrets", "mountPath": w.secret_dir, "readOnly": True})

        for i, path in enumerate(w.scratch_dirs):
            volumes.append({"name": f"scratch-{i}", "emptyDir": {"sizeLimit": "256Mi"}})
            mounts.append({"name": f"scratch-{i}", "mountPath": path})
        for i, host in enumerate(w.host_mounts):
            volumes.append({"name": f"host-{i}", "hostPath": {"path": host.host_path}})
            mount: dict[str, Any] = {"name": f"host-{i}", "mountPath": host.mount_path, "readOnly": True}
            if host.host_path == "/":
                mount["mountPropagation"] = "HostToContainer"
            mounts.append(mount)
        if w.data is not None and w.kind != "stateful":
            raise ValueError(f"{w.name}: persistent data needs a stateful workload")
        if w.data is not None:
            mounts.append({"name": "data", "mountPath": w.data.mount_path})

        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in w.env.items()]
        if w.pod_name_env:
            env.append({"name": w.pod_name_env, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": f"{w.name}-secrets", "key": f"env-{k}"}}}
                for k in w.secret_env]

        uid, gid = w.run_as
        container: dict[str, Any] = {
            "name": w.name,
            "image": w.image,
            "imagePullPolicy": "IfNotPresent",
            "args": list(w.args),
            "ports": [{"name": p.name, "containerPort": p.port, "protocol": p.protocol} for p in w.ports],
            "env": env,
            "volumeMounts": mounts,
            "resources": {
                "requests": {"cpu": w.resources.cpu, "memory": w.resources.memory},
                "limits": {"memory": w.resources.memory_limit},
            },
            "readinessProbe": {"httpGet": {"path": w.readiness.path, "port": w.readiness.port},
                               "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 5,
                               "failureThreshold": 3},
            "livenessProbe": {"httpGet": {"path": w.liveness.path, "port": w.liveness.port},
                              "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 6},
            # Liveness and readiness start only once this succeeds: a WAL replay or a first
            # database migration may take minutes without the kubelet killing it.
            "startupProbe": {"httpGet": {"path": w.liveness.path, "port": w.liveness.port},
                             "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": w.startup_seconds // 10},
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid,
                "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "privileged": False,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
        pod_spec: dict[str, Any] = {
            "serviceAccountName": w.name,
            "automountServiceAccountToken": w.needs_api_token,
            "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
                                "fsGroupChangePolicy": "OnRootMismatch",
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": volumes,
            "terminationGracePeriodSeconds": 60 if w.data else 30,
            "enableServiceLinks": False,
        }
        if w.host_network:
            pod_spec["hostNetwork"] = True
            pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
        if w.host_pid:
            pod_spec["hostPID"] = True
        if w.linux_only:
            pod_spec["nodeSelector"] = {"kubernetes.io/os": "linux"}
        if w.priority_class:
            pod_spec["priorityClassName"] = w.priority_class
        if w.kind == "per-node":
            pod_spec["tolerations"] = [{"operator": "Exists"}]  # every node, including tainted ones
        elif w.replicas > 1:
            pod_spec["topologySpreadConstraints"] = [
                # Replicas on different nodes: losing a node loses at most one replica.
                {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                 "labelSelector": {"matchLabels": w.selector()}},
                {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": {"matchLabels": w.selector()}},
            ]
        template = {
            "metadata": {"labels": labels, "annotations": {"checksum/config": w.checksum(self.checksum_key)}},
            "spec": pod_spec,
        }

        service_ports = [{"name": p.name, "port": p.port, "targetPort": p.port, "protocol": p.protocol}
                         for p in w.ports if not p.peer_only]
        service = k8s.core.v1.Service(
            f"{name}-service", metadata=meta(w.name),
            spec={"type": "ClusterIP", "selector": w.selector(), "ports": service_ports,
                  **({"sessionAffinity": "ClientIP"} if w.sticky else {})}, opts=opts)
        created.append(service)
        shannon_ns = self.settings.shannon.namespace
        if w.shannon_network_alias and shannon_ns != namespace:
            # Shannon's default endpoint (a bare name) resolves in Shannon's namespace: a DNS alias there.
            created.append(k8s.core.v1.Service(
                f"{name}-shannon-alias", metadata=self.meta(w.shannon_network_alias, labels, shannon_ns),
                spec={"type": "ExternalName",
                      "externalName": f"{w.name}.{namespace}.svc.{self.settings.kubernetes.cluster_domain}",
                      "ports": service_ports}, opts=opts))

        workload: pulumi.Resource
        if w.kind == "stateful":
            headless = k8s.core.v1.Service(
                f"{name}-headless", metadata=meta(f"{w.name}-headless"),
                spec={"clusterIP": "None", "selector": w.selector(),
                      # Peers must resolve each other before they are ready (gossip bootstrap).
                      "publishNotReadyAddresses": True,
                      "ports": [{"name": p.name, "port": p.port, "targetPort": p.port, "protocol": p.protocol}
                                for p in w.ports]}, opts=opts)
            created.append(headless)
            spec: dict[str, Any] = {
                "serviceName": f"{w.name}-headless",
                "replicas": w.replicas,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": w.selector()},
                "template": template,
                "updateStrategy": {"type": "RollingUpdate"},
            }
            ignore: list[str] = []
            if w.data is not None:
                claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                              "resources": {"requests": {"storage": w.data.size}}}
                if self.settings.kubernetes.storage_class:
                    claim_spec["storageClassName"] = self.settings.kubernetes.storage_class
                spec["volumeClaimTemplates"] = [{"metadata": {"name": "data", "labels": labels}, "spec": claim_spec}]
                spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
                # volumeClaimTemplates is immutable: a changed size or class would replace the
                # StatefulSet (every replica down at once). The claims below are what is sized.
                ignore.append("spec.volumeClaimTemplates")
                created += self._claims(name, w, labels, claim_spec, opts)
            workload = k8s.apps.v1.StatefulSet(
                f"{name}-statefulset", metadata=meta(w.name), spec=spec,
                # Names are fixed (peers address each other by pod DNS), so a replacement
                # forced by an immutable field must delete the old object first.
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                    depends_on=created, delete_before_replace=True, ignore_changes=ignore)))
        elif w.kind == "stateless":
            workload = k8s.apps.v1.Deployment(
                f"{name}-deployment", metadata=meta(w.name),
                spec={"replicas": w.replicas, "selector": {"matchLabels": w.selector()}, "template": template,
                      "strategy": {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}},
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=created)))
        else:
            workload = k8s.apps.v1.DaemonSet(
                f"{name}-daemonset", metadata=meta(w.name),
                spec={"selector": {"matchLabels": w.selector()}, "template": template,
                      "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}},
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=created)))
        created.append(workload)

        if w.public is not None:
            rule = {"host": w.public.host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": w.name, "port": {"number": w.public.port}}}}]}}
            ingress_spec: dict[str, Any] = {"rules": [rule]}
            if w.public.class_name:
                ingress_spec["ingressClassName"] = w.public.class_name
            if w.public.tls_secret:
                ingress_spec["tls"] = [{"hosts": [w.public.host], "secretName": w.public.tls_secret}]
            ingress_deps: list[pulumi.Resource] = []
            if w.public.tls_data is not None:
                cert, key = w.public.tls_data
                tls = k8s.core.v1.Secret(f"{name}-tls", metadata=meta(str(w.public.tls_secret)), type="kubernetes.io/tls",
                                         string_data={"tls.crt": cert, "tls.key": key}, opts=opts)
                created.append(tls)
                ingress_deps.append(tls)
            ingress_meta = meta(w.name)
            if w.public.annotations:
                ingress_meta["annotations"] = dict(w.public.annotations)
            created.append(k8s.networking.v1.Ingress(
                f"{name}-ingress", metadata=ingress_meta, spec=ingress_spec,
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=ingress_deps))))

        if w.kind != "per-node" and w.replicas > 1:
            created.append(k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb", metadata=meta(w.name),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": w.selector()}}, opts=opts))
        return Deployed(workload=workload, resources=created)

    def _claims(self, name: str, w: Workload, labels: dict[str, str], claim_spec: dict[str, Any],
                opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """One PersistentVolumeClaim per replica, named as the StatefulSet names its claims
        (`data-<statefulset>-<ordinal>`), so the StatefulSet adopts them.

        Being the program's own resources, a larger `volumeSize` updates them in place
        (where the StorageClass allows expansion; the API server refuses a shrink or a
        non-expandable class, and the `up` stops there, before the workload's retention is
        raised: the workload depends on them). They survive `pulumi destroy` and scaling down
        (retain_on_delete); the class of an existing claim is immutable and ignored.
        """
        claims: list[pulumi.Resource] = []
        for i in range(w.replicas):
            claims.append(k8s.core.v1.PersistentVolumeClaim(
                f"{name}-data-{i}",
                metadata={**self.meta(f"data-{w.name}-{i}", labels, w.namespace),
                          # A claim of a WaitForFirstConsumer class binds only when the pod starts.
                          "annotations": {"pulumi.com/skipAwait": "true"}},
                spec=claim_spec,
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                    retain_on_delete=True, ignore_changes=["spec.storageClassName"]))))
        return claims

    def discovery_rbac(self, name: str, account: str, namespaces: list[str],
                       opts: pulumi.ResourceOptions) -> tuple[k8s.core.v1.ServiceAccount, list[pulumi.Resource]]:
        """A ServiceAccount allowed only get/list/watch on what EndpointSlice discovery reads, per namespace."""
        return self.namespaced_reader(name, account, "discovery", namespaces, [
            # EndpointSlice discovery reads services, pods and endpointslices, not endpoints.
            {"apiGroups": [""], "resources": ["services", "pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
        ], opts)

    def namespaced_reader(self, name: str, account: str, purpose: str, namespaces: list[str],
                          rules: list[dict[str, Any]], opts: pulumi.ResourceOptions
                          ) -> tuple[k8s.core.v1.ServiceAccount, list[pulumi.Resource]]:
        """A ServiceAccount with `rules` in each of `namespaces` (Role + RoleBinding named <account>-<purpose>),
        nothing cluster-wide."""
        labels = {"app.kubernetes.io/name": account, "app.kubernetes.io/part-of": "shannon-observability"}
        sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=self.meta(account, labels),
                                        automount_service_account_token=False, opts=opts)
        created: list[pulumi.Resource] = [sa]
        for ns in sorted(set(namespaces)):
            role = k8s.rbac.v1.Role(f"{name}-role-{ns}", metadata=self.meta(f"{account}-{purpose}", labels, ns),
                                    rules=rules, opts=opts)
            binding = k8s.rbac.v1.RoleBinding(
                f"{name}-rolebinding-{ns}", metadata=self.meta(f"{account}-{purpose}", labels, ns),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{account}-{purpose}"},
                subjects=[{"kind": "ServiceAccount", "name": account, "namespace": self.namespace}],
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])))
            created += [role, binding]
        return sa, created
