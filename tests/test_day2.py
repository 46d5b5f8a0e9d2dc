"""Day 1 and day 2: what `pulumi up` does to an existing stack when a user changes a setting later.

Pulumi's mocks run the real program but not the providers, so these tests read what decides an
update's effect: the resource names, the options each resource is declared with (recorded as
declared, tests/conftest.py) and the inputs that providers treat as immutable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import SettingsError, load_settings
from tests.conftest import ROOT, StackRun, edited_stack_file, run_stack

DATA_COMPONENTS = {"prometheus": "prometheus", "alertmanager": "alertmanager", "grafana": "grafana", "tempo": "tempo"}




def _by_kind(run: StackRun, kind: str) -> dict[str, Any]:
    return {r.inputs["metadata"]["name"]: r for r in run.of_type(kind)}


def test_volume_templates_never_replace_a_statefulset(prod_run: StackRun):
    """A StatefulSet's volumeClaimTemplates (immutable: a change would replace it, every replica down at once)
    are ignored by updates; the claims are the program's own resources, one per replica, named as the
    StatefulSet names them, created before it."""
    claims = _by_kind(prod_run, "kubernetes:core/v1:PersistentVolumeClaim")
    for sts in prod_run.of_type("kubernetes:apps/v1:StatefulSet"):
        spec, name = sts.inputs["spec"], sts.inputs["metadata"]["name"]
        if "volumeClaimTemplates" not in spec:
            continue
        assert "spec.volumeClaimTemplates" in (sts.options.ignore_changes or []), name
        template = spec["volumeClaimTemplates"][0]
        for i in range(int(spec["replicas"])):
            claim = claims[f"{template['metadata']['name']}-{name}-{i}"]
            assert claim.inputs["spec"] == template["spec"]
            assert claim.urn in sts.dependencies, f"{name}: claim {i} is not created before the StatefulSet"


def test_growing_a_volume_resizes_the_claims_in_place(prod_run: StackRun, tmp_path: Path):
    """Raising prometheus.volumeSize changes the claims' storage request (an in-place update where the class
    allows expansion), the retention size with it, and nothing that would replace the StatefulSet."""
    def grow(config: dict[str, Any]) -> None:
        config["shannon-observability:prometheus"]["volumeSize"] = "200Gi"
    grown = run_stack("prod", stack_file=edited_stack_file(tmp_path, "prod", grow))
    before, after = _by_kind(prod_run, "kubernetes:core/v1:PersistentVolumeClaim"), \
        _by_kind(grown, "kubernetes:core/v1:PersistentVolumeClaim")
    for name in ("data-prometheus-0", "data-prometheus-1"):
        assert before[name].inputs["spec"]["resources"]["requests"]["storage"] == "100Gi"
        assert after[name].inputs["spec"]["resources"]["requests"]["storage"] == "200Gi"
        assert before[name].name == after[name].name
    old = _by_kind(prod_run, "kubernetes:apps/v1:StatefulSet")["prometheus"]
    new = _by_kind(grown, "kubernetes:apps/v1:StatefulSet")["prometheus"]
    # Every immutable StatefulSet field other than the (ignored) templates is unchanged.
    for field in ("serviceName", "selector", "podManagementPolicy"):
        assert old.inputs["spec"][field] == new.inputs["spec"][field]
    args = new.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--storage.tsdb.retention.size=170GB" in args  # within the 200Gi the claims now request


def test_data_outlives_destroy_and_renames(prod_run: StackRun, dev_run: StackRun):
    """Claims, the namespace the program owns and Docker volumes are left in place when Pulumi deletes or
    replaces them (retain_on_delete): data goes only by the operator's hand."""
    for claim in prod_run.of_type("kubernetes:core/v1:PersistentVolumeClaim"):
        assert claim.options.retain_on_delete is True, claim.name
    for namespace in prod_run.of_type("kubernetes:core/v1:Namespace"):
        assert namespace.options.retain_on_delete is True
    volumes = dev_run.of_type("docker:index/volume:Volume")
    assert volumes and all(v.options.retain_on_delete is True for v in volumes)


@pytest.mark.parametrize("replicas", [2, 3])
def test_docker_volumes_keep_their_names_when_scaling(dev_run: StackRun, tmp_path: Path, replicas: int):
    """Scaling Prometheus on Docker keeps replica 0's volume (Pulumi name and Docker name) and adds the others."""
    def scale(config: dict[str, Any]) -> None:
        config.setdefault("shannon-observability:prometheus", {})["replicas"] = replicas
    scaled = run_stack("dev", stack_file=edited_stack_file(tmp_path, "dev", scale))
    def volumes(run: StackRun) -> dict[str, str]:
        return {v.name: v.inputs["name"] for v in run.of_type("docker:index/volume:Volume") if "prometheus" in v.name}
    before, after = volumes(dev_run), volumes(scaled)
    assert before.items() <= after.items()
    assert len(after) == replicas


def test_generated_grafana_credentials_are_never_regenerated(prod_run: StackRun):
    """Grafana reads the admin password only when it creates its database, and its secret_key decrypts what it
    stored: both RandomPasswords are protected and ignore input changes."""
    for name in ("shannon-grafana-admin-password", "shannon-grafana-secret-key"):
        password = prod_run.named(name)
        assert password.options.protect is True
        assert set(password.options.ignore_changes or []) >= {"length", "special"}


def test_configmaps_and_secrets_update_in_place(prod_run: StackRun):
    """The Kubernetes provider treats ConfigMap and Secret data as mutable: a rule edit is an update, not a
    delete-and-create (the pods' checksum annotation rolls them)."""
    provider = prod_run.named("kubernetes")
    assert provider.inputs["enableConfigMapMutable"] == "true" or provider.inputs["enableConfigMapMutable"] is True
    assert provider.inputs["enableSecretMutable"] in ("true", True)


def test_dashboards_are_named_by_uid(prod_run: StackRun):
    """A dashboard's resource is named after its uid, with an alias from its file name, so renaming the file
    updates the same dashboard instead of deleting it."""
    for dashboard in prod_run.of_type("grafana:oss/dashboard:Dashboard"):
        uid = yaml.safe_load(dashboard.inputs["configJson"])["uid"]
        assert dashboard.name == f"shannon-grafana-content-dashboard-{uid}"
        assert dashboard.options.aliases, dashboard.name


def test_checksums_reveal_nothing_about_secrets(prod_run: StackRun, dev_run: StackRun):
    """Every checksum that rolls pods or containers is keyed by a random secret of the stack: a reader of the
    Deployment cannot test password guesses against it."""
    key = prod_run.named("shannon-checksum-key")
    assert key.type == "random:index/randomPassword:RandomPassword"
    import hashlib
    import hmac

    for run in (prod_run, dev_run):
        for resource in run.resources:
            for path, value in _walk(resource.inputs):
                if "checksum" in path and isinstance(value, str) and len(value) == 64:
                    for secret in run.secrets.values():
                        assert value != hashlib.sha256(secret.encode()).hexdigest()
                    assert value != hmac.new(b"", digestmod=hashlib.sha256).hexdigest()


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += _walk(v, f"{path}.{k}")
        # Docker labels are {label, value} pairs.
        if "label" in value and "value" in value:
            out.append((f"{path}.{value['label']}", value["value"]))
        return out
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _walk(v, f"{path}[{i}]")]
    return [(path, value)]


def test_every_container_has_a_startup_probe_and_tempo_liveness_is_not_readiness(prod_run: StackRun):
    """A startupProbe holds liveness off for up to 10 minutes (WAL replay, first migration); Tempo's liveness
    does not use /ready, which stays unready through a replay (cmd/tempo/app/app.go)."""
    for kind in ("StatefulSet", "Deployment", "DaemonSet"):
        for workload in prod_run.of_type(f"kubernetes:apps/v1:{kind}"):
            container = workload.inputs["spec"]["template"]["spec"]["containers"][0]
            probe = container["startupProbe"]
            assert probe["periodSeconds"] * probe["failureThreshold"] >= 300, workload.name
            assert "initialDelaySeconds" not in container["livenessProbe"]
    tempo = _by_kind(prod_run, "kubernetes:apps/v1:StatefulSet")["tempo"].inputs["spec"]["template"]["spec"]["containers"][0]
    assert tempo["livenessProbe"]["httpGet"]["path"] != tempo["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_prometheus_starts_after_its_rbac(prod_run: StackRun):
    """The Prometheus StatefulSet depends on its ServiceAccount, Roles and RoleBindings explicitly."""
    sts = _by_kind(prod_run, "kubernetes:apps/v1:StatefulSet")["prometheus"]
    for kind in ("rbac.authorization.k8s.io/v1:Role", "rbac.authorization.k8s.io/v1:RoleBinding", "core/v1:ServiceAccount"):
        for resource in prod_run.of_type(f"kubernetes:{kind}"):
            if resource.inputs["metadata"]["name"].startswith("prometheus"):
                assert resource.urn in sts.dependencies, resource.name


def test_notification_links_use_an_external_url(prod_run: StackRun):
    """Prometheus and Alertmanager get --web.external-url, so Slack and PagerDuty links do not read
    http://alertmanager-0:9093/; a setting overrides the derived one."""
    for name in ("prometheus", "alertmanager"):
        args = _by_kind(prod_run, "kubernetes:apps/v1:StatefulSet")[name].inputs["spec"]["template"]["spec"]["containers"][0]["args"]
        assert [a for a in args if a.startswith("--web.external-url=http")], name
    settings = load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"},
                                      "alertmanager": {"externalUrl": "https://alertmanager.example.com"}},
                             require_secrets=False)
    from components.builders.alertmanager import alertmanager_args
    assert "--web.external-url=https://alertmanager.example.com" in alertmanager_args(settings)


def test_a_paging_stack_without_a_deadman_is_refused():
    """Where critical alerts page, a stack without a dead-man's switch is refused with the command that sets
    one; an explicit opt-out with its reason is accepted."""
    with pytest.raises(SettingsError) as error:
        load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"}},
                      secrets_present={"pagerdutyRoutingKey", "slackApiUrl", "postgresDsn", "redisAddr"})
    assert [p.key for p in error.value.missing_secrets] == ["deadmanUrl"]
    assert "pulumi config set --secret deadmanUrl" in str(error.value)
    opted = load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"},
                                   "alertmanager": {"receivers": {"deadmanOptOut": "staging: no heartbeat service"}}},
                          secrets_present={"pagerdutyRoutingKey", "slackApiUrl"})
    assert opted.alertmanager.receivers.deadman_opt_out


def test_node_exporter_runs_on_linux_nodes_at_node_priority(prod_run: StackRun):
    """node-exporter: Linux nodes only, system-node-critical priority (evicted last under node pressure)."""
    pod = _by_kind(prod_run, "kubernetes:apps/v1:DaemonSet")["node-exporter"].inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["priorityClassName"] == "system-node-critical"


def test_docker_logs_are_bounded(dev_run: StackRun):
    """Every Docker container rotates its logs (json-file, 10 MB x 3)."""
    for container in dev_run.of_type("docker:index/container:Container"):
        assert container.inputs["logDriver"] == "json-file"
        assert container.inputs["logOpts"] == {"max-size": "10m", "max-file": "3"}


def test_pod_security_is_restricted_except_for_node_exporter(prod_run: StackRun):
    """The stack's namespace enforces the restricted Pod Security level; node-exporter, which needs host access,
    runs alone in a privileged namespace; Prometheus discovers it there."""
    namespaces = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in
                  prod_run.of_type("kubernetes:core/v1:Namespace")}
    assert namespaces["monitoring"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespaces["monitoring-node-exporter"]["pod-security.kubernetes.io/enforce"] == "privileged"
    privileged = {r.inputs["metadata"]["namespace"] for kind in ("StatefulSet", "Deployment", "DaemonSet")
                  for r in prod_run.of_type(f"kubernetes:apps/v1:{kind}")
                  if r.inputs["spec"]["template"]["spec"].get("hostNetwork")}
    assert privileged == {"monitoring-node-exporter"}
    prometheus_yml = next(r for r in prod_run.of_type("kubernetes:core/v1:ConfigMap")
                          if r.inputs["metadata"]["name"] == "prometheus-config").inputs["data"]["prometheus.yml"]
    job = next(j for j in yaml.safe_load(prometheus_yml)["scrape_configs"] if j["job_name"] == "node-exporter")
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["monitoring-node-exporter"]


def test_existing_namespaces_are_used_as_they_are(tmp_path: Path):
    """kubernetes.createNamespace false: no Namespace is created (or ever deleted); every object goes into the
    namespaces named by the settings."""
    def existing(config: dict[str, Any]) -> None:
        config["shannon-observability:kubernetes"]["createNamespace"] = False
    run = run_stack("prod", stack_file=edited_stack_file(tmp_path, "prod", existing))
    assert not run.of_type("kubernetes:core/v1:Namespace")
    assert {r.inputs["metadata"].get("namespace") for r in run.kubernetes_objects()} <= {
        "monitoring", "monitoring-node-exporter", "shannon"}


def test_a_setting_stored_as_a_secret_is_refused():
    """A setting marked secret (`pulumi config set --secret --path prometheus.x`) would be written in plain text
    into configuration files: the program refuses it, naming the key and the fix, and creates nothing."""
    import pulumi

    from tests.conftest import RecordingMocks

    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError) as error:
        run_stack("prod", mocks=mocks, secret_settings=("prometheus",))
    message = str(error.value)
    assert "prometheus: is stored as a secret" in message and "pulumi config rm prometheus --stack prod" in message
    assert not [r for r in mocks.resources if r.custom]


def test_grafana_behind_tls_works_on_the_first_up(tmp_path: Path):
    """The TLS Secret can come from cert-manager (annotations) or from secrets (a kubernetes.io/tls Secret the
    program creates); the Grafana provider waits for the Ingress and that Secret, not only the workload."""
    def from_secrets(config: dict[str, Any]) -> None:
        config["shannon-observability:grafana"]["ingress"]["tlsFromSecrets"] = True
    secrets = {"pagerdutyRoutingKey": "k", "slackApiUrl": "https://hooks.slack.example/x", "deadmanUrl": "https://hc/x",
               "postgresDsn": "postgresql://e:p@h/db", "redisAddr": "redis://h:6379",
               "grafanaTlsCert": "-----BEGIN CERTIFICATE-----test", "grafanaTlsKey": "-----BEGIN PRIVATE KEY-----test"}
    run = run_stack("prod", secrets=secrets, stack_file=edited_stack_file(tmp_path, "prod", from_secrets))
    tls = next(r for r in run.of_type("kubernetes:core/v1:Secret") if r.inputs["type"] == "kubernetes.io/tls")
    assert tls.inputs["metadata"]["name"] == "grafana-tls"
    assert "stringData" in tls.secret_paths  # the certificate and key stay Pulumi secrets
    ingress = run.of_type("kubernetes:networking.k8s.io/v1:Ingress")[0]
    provider = run.named("shannon-grafana-provider")
    assert ingress.urn in provider.dependencies and tls.urn in provider.dependencies
    assert tls.urn in ingress.dependencies

    issued = load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files", "ingress": {
        "host": "grafana.example.com", "tlsSecret": "grafana-tls",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}}}}, require_secrets=False)
    assert issued.grafana.ingress is not None and issued.grafana.ingress.annotations
    with pytest.raises(SettingsError, match=r"grafana\.ingress\.tlsSecret"):
        load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files", "ingress": {
            "host": "grafana.example.com", "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}}}},
            require_secrets=False)


@pytest.mark.parametrize("host", ["ssh://deploy@dev-box", "tcp://10.0.0.5:2376"])
def test_a_remote_docker_daemon_needs_a_reachable_grafana_url(host: str):
    """With a remote daemon, Grafana's published 127.0.0.1 port is on the other machine: content=api is refused
    without grafana.url (with how to tunnel), accepted with it, and files mode needs none."""
    with pytest.raises(SettingsError, match=r"grafana\.url: the Docker daemon is remote"):
        load_settings("dev", {"platform": "docker", "docker": {"host": host}}, require_secrets=False)
    tunnelled = load_settings("dev", {"platform": "docker", "docker": {"host": host},
                                      "grafana": {"url": "http://127.0.0.1:13000"}}, require_secrets=False)
    from components.topology import Topology
    assert Topology(tunnelled).grafana_api_url() == "http://127.0.0.1:13000"
    load_settings("dev", {"platform": "docker", "docker": {"host": host}, "grafana": {"content": "files"}},
                  require_secrets=False)
    local = load_settings("dev", {"platform": "docker", "docker": {"host": "unix:///var/run/docker.sock"}},
                          require_secrets=False)
    assert Topology(local).grafana_api_url() == "http://127.0.0.1:3000"


def test_grafana_reads_one_prometheus_replica(prod_run: StackRun):
    """The Service in front of the HA pair keeps each client (Grafana) on one replica (sessionAffinity ClientIP):
    graphs do not alternate between replicas whose data differs after a restart."""
    service = next(r for r in prod_run.of_type("kubernetes:core/v1:Service") if r.inputs["metadata"]["name"] == "prometheus")
    assert service.inputs["spec"]["sessionAffinity"] == "ClientIP"


def test_the_local_dev_stack_never_touches_the_tracked_stack_file(tmp_path: Path):
    """`make up-dev` deploys Pulumi.dev.yaml's settings as stack dev-local, from a generated stack file: the
    tracked file is never written; a local salt and local-only secrets survive the next run; a change to the
    tracked settings reaches the local file."""
    import hashlib
    import shutil

    from components.localstack import write_local_stack

    shutil.copy(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    before = hashlib.sha256((tmp_path / "Pulumi.dev.yaml").read_bytes()).hexdigest()
    local = write_local_stack("dev", "dev-local", tmp_path)
    data = yaml.safe_load(local.read_text())
    assert data["config"] == yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    # What `pulumi stack init` and `pulumi config set --secret ... --stack dev-local` add to the local file:
    data["encryptionsalt"] = "v1:local-salt"
    data["config"]["shannon-observability:grafanaAdminPassword"] = {"secure": "v1:local-ciphertext"}
    local.write_text(yaml.safe_dump(data))
    tracked = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    tracked["config"]["shannon-observability:prometheus"]["retention"] = "9d"
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(tracked, sort_keys=False))
    before = hashlib.sha256((tmp_path / "Pulumi.dev.yaml").read_bytes()).hexdigest()
    again = yaml.safe_load(write_local_stack("dev", "dev-local", tmp_path).read_text())
    assert again["encryptionsalt"] == "v1:local-salt"
    assert again["config"]["shannon-observability:grafanaAdminPassword"] == {"secure": "v1:local-ciphertext"}
    assert again["config"]["shannon-observability:prometheus"]["retention"] == "9d"
    assert hashlib.sha256((tmp_path / "Pulumi.dev.yaml").read_bytes()).hexdigest() == before
    assert "encryptionsalt" not in (ROOT / "Pulumi.dev.yaml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "components.devstack up --stack $(LOCAL_STACK)" in makefile and "LOCAL_STACK ?= dev-local" in makefile
    assert "Pulumi.dev-local.yaml" in (ROOT / ".gitignore").read_text()


def test_docker_node_exporter_sees_the_host(dev_run: StackRun):
    """On Docker, node-exporter reports the host, not its container: host network and PID namespaces, the host's
    root with rslave propagation; Prometheus scrapes it through the host gateway."""
    container = dev_run.named("shannon-node-exporter-container")
    assert container.inputs["networkMode"] == "host" and container.inputs["pidMode"] == "host"
    root = next(m for m in container.inputs["mounts"] if m["source"] == "/")
    assert root["bindOptions"] == {"propagation": "rslave"} and root["readOnly"] is True
    prometheus_yml = next(u["content"] for u in dev_run.named("shannon-prometheus-container").inputs["uploads"]
                          if u["file"].endswith("prometheus.yml"))
    job = next(j for j in yaml.safe_load(prometheus_yml)["scrape_configs"] if j["job_name"] == "node-exporter")
    assert job["static_configs"][0]["targets"] == ["host.docker.internal:9100"]


def _identity(run: StackRun) -> dict[str, Any]:
    """What identifies the Prometheus StatefulSet and its data: names, Service, selector, claims."""
    (sts,) = [r for r in run.of_type("kubernetes:apps/v1:StatefulSet") if r.inputs["metadata"]["name"] == "prometheus"]
    claims = sorted((c.name, c.inputs["metadata"]["name"], c.inputs["spec"]["resources"]["requests"]["storage"])
                    for c in run.of_type("kubernetes:core/v1:PersistentVolumeClaim") if "prometheus" in c.name)
    return {"sts": (sts.name, sts.inputs["metadata"]["name"], sts.inputs["spec"]["serviceName"],
                    sts.inputs["spec"]["selector"]), "claims": claims}


def test_adding_remote_write_updates_prometheus_in_place(prod_run: StackRun):
    """Adding prometheus.remoteWrite to prod (Pulumi.prod-longterm.yaml is prod plus that) keeps every name that
    identifies Prometheus and its data: the StatefulSet, its Service and selector, the claims; only the pod template
    changes (a credentials volume, the config checksum), which rolls the pods one at a time; no resource of prod
    goes away."""
    longterm = run_stack("prod-longterm")
    assert _identity(longterm) == _identity(prod_run)
    names = {r.name for r in prod_run.resources}
    assert names <= {r.name for r in longterm.resources}


def test_node_exporter_namespace_only_with_node_exporter(prod_run: StackRun, tmp_path: Path):
    """The privileged node-exporter namespace is declared only where node-exporter runs. Turning node-exporter off
    on an existing stack removes it from the stack but not from the cluster: namespaces are retained on delete."""
    path = edited_stack_file(tmp_path, "prod", lambda c: c["shannon-observability:exporters"].update(
        node={"enabled": False}))
    without = run_stack("prod", stack_file=path)
    namespaces = {r.inputs["metadata"]["name"]: r for r in without.of_type("kubernetes:core/v1:Namespace")}
    assert set(namespaces) == {"monitoring"}
    with_node = {r.inputs["metadata"]["name"]: r for r in prod_run.of_type("kubernetes:core/v1:Namespace")}
    assert set(with_node) == {"monitoring", "monitoring-node-exporter"}
    assert all(r.options.retain_on_delete is True for r in with_node.values())


def test_turning_the_collector_on_or_off_touches_no_data(prod_run: StackRun, tmp_path: Path):
    """The collector (on by default wherever Tempo is, so an existing stack gains it on its next `up`) only adds
    or removes its own stateless resources: every other resource keeps its name, Tempo's and Prometheus's
    StatefulSets keep their identity and claims (Tempo's config changes: its pods roll in place), and nothing
    the collector brings holds data."""
    def off(config: dict[str, Any]) -> None:
        config["shannon-observability:tracing"] = {"collector": {"enabled": False}}
    without = run_stack("prod", stack_file=edited_stack_file(tmp_path, "prod", off))
    before, after = {r.name for r in without.resources}, {r.name for r in prod_run.resources}
    assert before <= after
    assert after - before and all("otel-collector" in name for name in after - before)
    for kind in ("kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:PersistentVolumeClaim"):
        assert {n: r.inputs["metadata"] for n, r in _by_kind(without, kind).items()} == \
            {n: r.inputs["metadata"] for n, r in _by_kind(prod_run, kind).items()}
    for name in ("tempo", "prometheus"):
        old, new = _by_kind(without, "kubernetes:apps/v1:StatefulSet")[name], \
            _by_kind(prod_run, "kubernetes:apps/v1:StatefulSet")[name]
        assert old.inputs["spec"]["volumeClaimTemplates"] == new.inputs["spec"]["volumeClaimTemplates"]
        assert old.inputs["spec"]["selector"] == new.inputs["spec"]["selector"]
    added = [r for r in prod_run.resources if r.name in after - before]
    assert not [r for r in added if "PersistentVolumeClaim" in r.type or "StatefulSet" in r.type]
