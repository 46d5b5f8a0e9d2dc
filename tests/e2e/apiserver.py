"""A Kubernetes API server without nodes for the tests: etcd, kube-apiserver and kube-controller-manager built by
.ci/install-tools.sh (.ci/kube), on loopback, with a generated service-account key and a static admin token. No
scheduler and no kubelet: the controllers create Pods (so admission runs on them) and they stay Pending.

`ApiServer.apply` sends objects the way pulumi-kubernetes does (server-side apply, strict field validation).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.e2e.fleet import wait_until
from tests.e2e.harness import Process, free_port
from tests.tools import TOOLS

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
TOKEN = "shannon-observability-test-admin"  # a throwaway cluster on loopback
FIELD_MANAGER = "pulumi-kubernetes"


def missing() -> list[str]:
    return [b for b in BINARIES if not (TOOLS / "bin" / b).exists()]


@dataclass
class ApiServer:
    url: str
    processes: list[Process]
    session: requests.Session = field(default_factory=requests.Session)
    _resources: dict[tuple[str, str], tuple[str, str, bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"
        self.session.trust_env = False  # else REQUESTS_CA_BUNDLE and proxies from the environment win

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=30)

    def _discover(self) -> None:
        versions = [("", "v1")] + [(g["name"], v["version"]) for g in self.get("/apis").json()["groups"]
                                   for v in g["versions"]]
        for group, version in versions:
            api_version = f"{group}/{version}" if group else version
            path = f"/apis/{api_version}" if group else "/api/v1"
            response = self.get(path)
            if response.status_code != 200:
                continue
            for r in response.json()["resources"]:
                if "/" not in r["name"]:
                    self._resources[(api_version, r["kind"])] = (path, r["name"], r["namespaced"])

    def path_of(self, obj: dict[str, Any]) -> str:
        if not self._resources:
            self._discover()
        key = (obj["apiVersion"], obj["kind"])
        if key not in self._resources:  # a CRD installed since the last discovery
            self._discover()
        base, plural, namespaced = self._resources[key]
        meta = obj["metadata"]
        namespace = f"/namespaces/{meta.get('namespace') or 'default'}" if namespaced else ""
        return f"{base}{namespace}/{plural}/{meta['name']}"

    def apply(self, obj: dict[str, Any], dry_run: bool = False) -> requests.Response:
        """Server-side apply with strict field validation (unknown or duplicate fields are errors)."""
        params = {"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict", "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        return self.session.patch(self.url + self.path_of(obj), params=params, data=json.dumps(obj),
                                  headers={"Content-Type": "application/apply-patch+yaml"}, timeout=60)

    def can(self, user: str, verb: str, resource: str, namespace: str | None, group: str = "") -> bool:
        """SubjectAccessReview: what `kubectl auth can-i --as=<user>` asks."""
        namespace_part = user.split(":")[2] if user.startswith("system:serviceaccount:") else None
        groups = ["system:authenticated"] + (
            ["system:serviceaccounts", f"system:serviceaccounts:{namespace_part}"] if namespace_part else [])
        attributes: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if namespace is not None:
            attributes["namespace"] = namespace
        review = self.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": attributes}})
        review.raise_for_status()
        return bool(review.json()["status"].get("allowed"))

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(15)}" for p in self.processes)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, server: ApiServer) -> Any:
    """wait_until, with connection errors counted as not yet, and the processes' logs on failure."""
    def answered() -> Any:
        try:
            return predicate()
        except requests.RequestException:
            return False
    try:
        return wait_until(answered, timeout, what, interval=0.5)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{server.tail()}") from None


@contextmanager
def api_server(work: Path) -> Iterator[ApiServer]:
    work.mkdir(parents=True, exist_ok=True)
    key, pub = work / "sa.key", work / "sa.pub"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    (work / "tokens.csv").write_text(f"{TOKEN},admin,admin-uid,system:masters\n")
    etcd_port, peer_port, port = free_port(), free_port(), free_port()
    url = f"https://127.0.0.1:{port}"
    (work / "kubeconfig").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": url, "certificate-authority": str(work / "certs" /
                                                                                            "apiserver.crt")}}],
        "users": [{"name": "admin", "user": {"token": TOKEN}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}]}))
    bin_ = TOOLS / "bin"
    etcd = Process("etcd", [str(bin_ / "etcd"), f"--data-dir={work / 'etcd'}",
                            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                            f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                            "--unsafe-no-fsync", "--log-level=warn"], work / "etcd.log")
    apiserver = Process("kube-apiserver", [
        str(bin_ / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}", "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1", f"--secure-port={port}", f"--cert-dir={work / 'certs'}",
        "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=RBAC",
        f"--token-auth-file={work / 'tokens.csv'}", "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pub}", f"--service-account-signing-key-file={key}",
        "--endpoint-reconciler-type=none", "--enable-priority-and-fairness=false", "--v=0"], work / "kube-apiserver.log")
    controllers = Process("kube-controller-manager", [
        str(bin_ / "kube-controller-manager"), f"--kubeconfig={work / 'kubeconfig'}", "--leader-elect=false",
        f"--service-account-private-key-file={key}", "--use-service-account-credentials=false",
        "--secure-port=0", "--v=0"], work / "kube-controller-manager.log")
    processes = [etcd, apiserver, controllers]
    server = ApiServer(url, processes)
    try:
        etcd.start()
        apiserver.start()
        # The serving certificate the server generates in --cert-dir carries its CA: trust exactly that.
        certificate = work / "certs" / "apiserver.crt"
        wait_until(certificate.exists, 60, f"{certificate}")
        server.session.verify = str(certificate)
        wait_for(lambda: server.get("/readyz").status_code == 200, 120, "kube-apiserver /readyz", server)
        controllers.start()
        # The default ServiceAccount appears once the controllers run: pods can be created from then on.
        wait_for(lambda: server.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200, 120,
              "the controller manager (default ServiceAccount)", server)
        yield server
    finally:
        for process in reversed(processes):
            process.stop()

