"""Remote write to a long-term store: settings per kind, the rendered configuration, credentials, HA labels,
queue sizing, the long-term datasource, and the real Pulumi.prod-longterm.yaml under mocks.

The live behaviour (delivery, outage, restart, bad credentials) is in tests/e2e/test_remote_write.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import capacity
from components.builders.artifacts import build_artifacts
from components.builders.grafana import build_datasources_provisioning
from components.builders.prometheus import build_prometheus_config, ha_relabelings, remote_write_secret_files, sigv4_secret_env
from components.render import main as render_main
from components.settings import SettingsError, load_settings, required_secrets
from components.stackfile import REPO, load_stack
from tests.conftest import TEST_SECRETS, StackRun, edited_stack_file, run_stack, tool
from tests.relabel import relabel
from tests.test_kubernetes_schema import strict_failures

PROD = {k.partition(":")[2]: v for k, v in yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"].items()}


def _with_targets(*targets: dict[str, Any], replicas: int = 2, cluster: str = "eu-west-1-prod") -> Any:
    """prod writing to `targets`; in-cluster stores on plain http are declared as production exceptions."""
    prom = {**PROD["prometheus"], "replicas": replicas, "remoteWrite": list(targets), "cluster": cluster}
    allowed = [{"key": f"prometheus.remoteWrite[{i}].{key}", "reason": "in-cluster store behind the mesh's mTLS"}
               for i, t in enumerate(targets) for key in ("url", "queryUrl") if str(t.get(key, "")).startswith("http:")]
    return load_settings("prod", {**PROD, "prometheus": prom, "security": {"allowInsecure": allowed}},
                         require_secrets=False)


@pytest.fixture(scope="module")
def longterm_run() -> StackRun:
    return run_stack("prod-longterm")


@pytest.mark.parametrize("target,url,headers", [
    ({"url": "https://mimir.example.com", "kind": "mimir", "tenant": "shannon"},
     "https://mimir.example.com/api/v1/push", {"X-Scope-OrgID": "shannon"}),
    ({"url": "https://cortex.example.com/api/v1/push", "kind": "cortex", "tenant": "t1"},
     "https://cortex.example.com/api/v1/push", {"X-Scope-OrgID": "t1"}),
    ({"url": "http://thanos-receive:19291", "kind": "thanos", "tenant": "shannon", "queryUrl": "http://thanos-query:9090"},
     "http://thanos-receive:19291/api/v1/receive", {"THANOS-TENANT": "shannon"}),
    ({"url": "http://vm:8428", "kind": "victoriametrics"}, "http://vm:8428/api/v1/write", {}),
    ({"url": "http://vminsert:8480", "kind": "victoriametrics", "tenant": "42",
      "queryUrl": "http://vmselect:8481/select/42/prometheus"},
     "http://vminsert:8480/insert/42/prometheus/api/v1/write", {}),
    ({"url": "http://vminsert:8480/insert/7:1/prometheus", "kind": "victoriametrics",
      "queryUrl": "http://vmselect:8481/select/7:1/prometheus"},
     "http://vminsert:8480/insert/7:1/prometheus/api/v1/write", {}),
    ({"url": "https://receiver.example.com/push"}, "https://receiver.example.com/push", {}),
    # Grafana Cloud's documented Mimir endpoint (Cortex's legacy push path, which Mimir serves).
    ({"url": "https://prometheus-prod-01-eu-west-0.grafana.net/api/prom/push", "kind": "mimir", "tenant": "123456"},
     "https://prometheus-prod-01-eu-west-0.grafana.net/api/prom/push", {"X-Scope-OrgID": "123456"}),
])
def test_each_kind_sets_path_and_tenant(target: dict[str, Any], url: str, headers: dict[str, str]):
    """The kind adds its store's write path to a base URL and puts the tenant where that store reads it."""
    (entry,) = build_prometheus_config(_with_targets(target))["remote_write"]
    assert entry["url"] == url
    assert entry.get("headers", {}) == headers


@pytest.mark.parametrize("target,key,fragment", [
    ({"url": "http://thanos:19291/api/v1/push", "kind": "thanos", "queryUrl": "http://q:9090"},
     "prometheus.remoteWrite[0].url", "/api/v1/receive"),
    ({"url": "http://vminsert:8480/insert/prometheus/api/v1/write", "kind": "victoriametrics"},
     "prometheus.remoteWrite[0].url", "account ID"),
    ({"url": "http://vminsert:8480", "kind": "victoriametrics", "tenant": "team-a"},
     "prometheus.remoteWrite[0].tenant", "number"),
    ({"url": "http://vm:8428/api/v1/write", "kind": "victoriametrics", "tenant": "1"},
     "prometheus.remoteWrite[0].tenant", "single-node"),
    ({"url": "https://mimir.example.com/api/v1/write", "kind": "mimir"}, "prometheus.remoteWrite[0].url",
     "/api/v1/push"),
    ({"url": "https://store.example.com/write", "tenant": "a"}, "prometheus.remoteWrite[0].tenant", "kind"),
    ({"url": "http://thanos:19291", "kind": "thanos"}, "prometheus.remoteWrite[0].queryUrl", "Thanos Query"),
    ({"url": "https://mimir.example.com", "kind": "mimir", "auth": "basic"}, "prometheus.remoteWrite[0].username",
     "user name"),
    ({"url": "mimir.example.com", "kind": "mimir"}, "prometheus.remoteWrite[0].url", "http(s) URL"),
])
def test_kind_specific_mistakes_get_one_clear_message(target: dict[str, Any], key: str, fragment: str):
    """Each kind-specific mistake is refused with one message naming the key and what is wrong."""
    with pytest.raises(SettingsError) as error:
        _with_targets(target)
    assert len(error.value.problems) == 1
    problem = error.value.problems[0]
    assert problem.key == key and fragment in problem.message, problem


def test_two_authenticated_targets_name_their_own_secrets():
    """Two targets with the same kind of credential on the default key are refused, naming the key to set; with a
    key each (or the same key named in both, shared on purpose) both authenticate, each from its own file."""
    a = {"url": "https://a.example.com", "kind": "mimir", "name": "a", "auth": "basic", "username": "u"}
    b = {"url": "https://b.example.com", "kind": "mimir", "name": "b", "auth": "basic", "username": "v"}
    with pytest.raises(SettingsError, match=r"remoteWrite\[1\]\.secretKeys\.password.*remoteWrite\[0\] already uses"):
        _with_targets(a, b)
    settings = _with_targets(a, {**b, "secretKeys": {"password": "remoteWriteBPassword"}})
    first, second = build_prometheus_config(settings)["remote_write"]
    assert first["basic_auth"]["password_file"] == "/etc/prometheus-secrets/remote-write-password"
    assert second["basic_auth"]["password_file"] == "/etc/prometheus-secrets/remote-write-b-password"
    assert [k for k in required_secrets(settings) if k.startswith("remoteWrite")] == [
        "remoteWritePassword", "remoteWriteBPassword"]
    assert remote_write_secret_files(settings) == {"remoteWriteBPassword": "remote-write-b-password",
                                                   "remoteWritePassword": "remote-write-password"}
    shared = {"secretKeys": {"password": "remoteWriteSharedPassword"}}
    assert _with_targets({**a, **shared}, {**b, **shared})  # named in both: shared on purpose
    with pytest.raises(SettingsError, match=r"secretKeys\.password: .*is not a remote-write secret key"):
        _with_targets({**a, "secretKeys": {"password": "password"}})


def test_oauth2_sigv4_and_client_certificates_stay_out_of_prometheus_yml(tmp_path: Path):
    """OAuth 2 client credentials, AWS sigv4 and client certificates: secrets are files (oauth2, TLS) or the AWS
    environment (sigv4, or the pod's role), never values in prometheus.yml, which promtool accepts."""
    settings = _with_targets(
        {"url": "https://mimir.example.com", "kind": "mimir", "name": "idp", "auth": "oauth2",
         "oauth2": {"clientId": "shannon", "tokenUrl": "https://idp.example.com/token", "scopes": ["write"]},
         "tls": {"clientCertFromSecret": True}},
        {"url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write", "name": "amp",
         "auth": "sigv4", "sigv4": {"region": "eu-west-1", "credentialsFromSecrets": True}},
        {"url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-2/api/v1/remote_write", "name": "amp2",
         "auth": "sigv4", "sigv4": {"region": "eu-west-1", "roleArn": "arn:aws:iam::123456789012:role/amp-writer"}})
    config = build_prometheus_config(settings)
    idp, amp, amp2 = config["remote_write"]
    assert idp["oauth2"] == {"client_id": "shannon", "client_secret_file": "/etc/prometheus-secrets/remote-write-oauth2-client-secret",
                             "token_url": "https://idp.example.com/token", "scopes": ["write"]}
    assert idp["tls_config"] == {"cert_file": "/etc/prometheus-secrets/remote-write-client-cert",
                                 "key_file": "/etc/prometheus-secrets/remote-write-client-key"}
    assert amp["sigv4"] == {"region": "eu-west-1"} and amp2["sigv4"]["role_arn"].endswith("role/amp-writer")
    assert sigv4_secret_env(settings) == {"AWS_ACCESS_KEY_ID": "remoteWriteSigv4AccessKey",
                                          "AWS_SECRET_ACCESS_KEY": "remoteWriteSigv4SecretKey"}
    assert "remoteWriteSigv4SecretKey" not in remote_write_secret_files(settings)
    assert {"remoteWriteOauth2ClientSecret", "remoteWriteClientCert", "remoteWriteClientKey",
            "remoteWriteSigv4AccessKey", "remoteWriteSigv4SecretKey"} <= set(required_secrets(settings))
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    (tmp_path / "rules").mkdir()
    check = subprocess.run([tool("promtool"), "check", "config", "--syntax-only", str(path)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with pytest.raises(SettingsError, match=r"remoteWrite\[0\]\.oauth2: auth oauth2 needs its oauth2 block"):
        _with_targets({"url": "https://m.example.com", "kind": "mimir", "auth": "oauth2"})


def test_exemplars_go_where_the_store_keeps_them():
    """send_exemplars is on for Mimir, Cortex and Thanos when Prometheus stores exemplars (Tempo's generator), off
    for VictoriaMetrics and generic stores, and a setting wins."""
    kinds = [{"url": "http://m:8080", "kind": "mimir", "name": "m"}, {"url": "http://vm:8428", "kind": "victoriametrics"},
             {"url": "http://t:19291", "kind": "thanos", "queryUrl": "http://q:9090", "name": "t"},
             {"url": "http://g:1/w", "name": "g", "sendExemplars": True}]
    entries = build_prometheus_config(_with_targets(*kinds))["remote_write"]
    assert [e.get("send_exemplars", False) for e in entries] == [True, False, True, True]


def test_remote_write_needs_a_cluster_identity():
    """Remote write without prometheus.cluster is refused, naming the key: two clusters of one environment writing
    one store would be one HA group and their series would collide."""
    with pytest.raises(SettingsError, match=r"prometheus\.cluster: remote write needs this Prometheus's cluster identity"):
        load_settings("prod", {**PROD, "prometheus": {**PROD["prometheus"], "remoteWrite": [
            {"url": "https://mimir.example.com", "kind": "mimir"}]}}, require_secrets=False)


def test_credentials_are_files_and_secret_required():
    """Basic and bearer credentials are files in prometheus.yml, never values; the secret is then required."""
    settings = _with_targets({"url": "https://mimir.example.com", "kind": "mimir", "auth": "basic", "username": "u",
                              "tls": {"caFromSecret": True, "serverName": "mimir.internal"}})
    (entry,) = build_prometheus_config(settings)["remote_write"]
    assert entry["basic_auth"] == {"username": "u", "password_file": "/etc/prometheus-secrets/remote-write-password"}
    assert entry["tls_config"] == {"ca_file": "/etc/prometheus-secrets/remote-write-ca.pem", "server_name": "mimir.internal"}
    with pytest.raises(SettingsError) as error:
        load_settings("prod", {**PROD, "prometheus": {**PROD["prometheus"], "cluster": "eu-west-1-prod", "remoteWrite": [
            {"url": "https://mimir.example.com", "kind": "mimir", "auth": "bearer"}]}},
            secrets_present={"pagerdutyRoutingKey", "slackApiUrl", "postgresDsn", "redisAddr", "deadmanUrl"})
    assert [p.key for p in error.value.missing_secrets] == ["remoteWriteToken"]
    assert "pulumi config set --secret remoteWriteToken" in str(error.value)


def _store_view(settings: Any, entry: dict[str, Any], replica: str, **series: str) -> dict[str, str] | None:
    """The labels a sample of job orchestrator carries in the store: series labels, then the external labels
    where the series lacks them, then write_relabel_configs (the order Prometheus's queue manager applies them)."""
    external = build_prometheus_config(settings)["global"]["external_labels"]
    labels = {"__name__": "up", "job": "orchestrator", "instance": "10.0.0.7:2112", **series}
    labels.update({k: (replica if v == "${POD_NAME}" else v) for k, v in external.items() if k not in labels})
    return relabel(labels, entry.get("write_relabel_configs", []), keep_internal=True)


@pytest.mark.parametrize("kind,extra,expect", [
    ("mimir", {}, {"cluster": "eu-west-1-prod", "__replica__": "prometheus-1"}),
    ("cortex", {}, {"cluster": "eu-west-1-prod", "__replica__": "prometheus-1"}),
    ("victoriametrics", {}, {}),
    ("thanos", {"queryUrl": "http://q:9090"}, {"replica": "prometheus-1"}),
])
def test_ha_pair_gets_the_labels_each_store_deduplicates_on(kind: str, extra: dict[str, Any], expect: dict[str, str]):
    """With two replicas, what reaches each kind of store: Mimir/Cortex get cluster=<prometheus.cluster> and
    __replica__=<pod> (their HA tracker's labels) and no `replica`; VictoriaMetrics gets the two replicas'
    series identical (its -dedup.minScrapeInterval keeps one sample per interval); Thanos keeps `replica`
    for the querier's --query.replica-label."""
    settings = _with_targets({"url": "http://store:8080", "kind": kind, **extra})
    (entry,) = build_prometheus_config(settings)["remote_write"]
    first, second = _store_view(settings, entry, "prometheus-0"), _store_view(settings, entry, "prometheus-1")
    assert first is not None and second is not None
    assert {k: second[k] for k in expect} == expect
    if kind == "victoriametrics":
        assert first == second and "replica" not in second
    if kind in ("mimir", "cortex"):
        assert "replica" not in second and first["cluster"] == second["cluster"]
        assert first["__replica__"] != second["__replica__"]
    assert ha_relabelings(settings, settings.prometheus.remote_write[0]) == \
        entry.get("write_relabel_configs", [])


def test_user_relabelings_come_before_the_ha_labels():
    """write_relabel_configs given by the user (dropping series) run first; the kind's HA labels after."""
    drop = {"action": "drop", "source_labels": ["__name__"], "regex": "go_.*"}
    settings = _with_targets({"url": "https://m.example.com", "kind": "mimir", "writeRelabelConfigs": [drop]})
    (entry,) = build_prometheus_config(settings)["remote_write"]
    assert entry["write_relabel_configs"][0] == drop and len(entry["write_relabel_configs"]) == 3


def _ha_tracker(samples: list[dict[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    """What Mimir's HA tracker stores (distributor ha_tracker, defaults ha_cluster_label=cluster,
    ha_replica_label=__replica__): per cluster, the samples of one elected replica (the first seen), with
    __replica__ removed."""
    elected: dict[str, str] = {}
    out = set()
    for sample in samples:
        cluster, replica = sample.get("cluster", ""), sample.get("__replica__", "")
        if elected.setdefault(cluster, replica) == replica:
            out.add(tuple(sorted((k, v) for k, v in sample.items() if k != "__replica__")))
    return out


def test_two_clusters_of_one_environment_are_two_ha_groups():
    """Two clusters of one environment, two replicas each, writing one Mimir tenant: four distinct series reach
    the store, and its HA tracker keeps two (one per cluster), told apart by `cluster`. With the old identity (the
    environment) both clusters were one HA group and one cluster's samples were dropped."""
    target = {"url": "https://mimir.example.com", "kind": "mimir", "tenant": "shannon"}
    sent = []
    for cluster in ("eu-west-1-prod", "us-east-1-prod"):
        settings = _with_targets(target, cluster=cluster)
        assert settings.environment_label == "production"
        (entry,) = build_prometheus_config(settings)["remote_write"]
        sent += [_store_view(settings, entry, f"prometheus-{i}") for i in range(2)]
    assert len({tuple(sorted(s.items())) for s in sent if s}) == 4
    stored = _ha_tracker([s for s in sent if s])
    assert len(stored) == 2 and {dict(s)["cluster"] for s in stored} == {"eu-west-1-prod", "us-east-1-prod"}


def test_a_series_own_cluster_label_is_kept():
    """The `cluster` external label is added only to series without one (Prometheus's external-label rule): a
    series that already names its cluster keeps it."""
    settings = _with_targets({"url": "https://mimir.example.com", "kind": "mimir"})
    (entry,) = build_prometheus_config(settings)["remote_write"]
    own = _store_view(settings, entry, "prometheus-0", cluster="edge-7")
    plain = _store_view(settings, entry, "prometheus-0")
    assert own is not None and plain is not None
    assert own["cluster"] == "edge-7" and plain["cluster"] == "eu-west-1-prod"


def test_queue_follows_the_capacity_model_and_overrides():
    """queue_config is the capacity model's for prometheus.expectedSeries, with per-target overrides on top."""
    settings = _with_targets({"url": "https://m.example.com", "kind": "mimir", "queue": {"maxShards": 77}})
    (entry,) = build_prometheus_config(settings)["remote_write"]
    model = capacity.remote_write_queue(settings.prometheus.expected_series, settings.prometheus.scrape_interval)
    assert entry["queue_config"] == {**model.queue_config(), "max_shards": 77}
    assert entry["queue_config"]["retry_on_http_429"] is True


def test_capacity_model_scales_shards_with_series():
    """More series need more shards (a backlog drains at ten times the ingest rate) and more memory; capacity
    stays within the tuning guide's 3 to 10 x max_samples_per_send."""
    small, large = capacity.remote_write_queue(10_000, "15s"), capacity.remote_write_queue(2_000_000, "15s")
    assert small.max_shards == capacity.MIN_MAX_SHARDS < large.max_shards
    assert large.max_shards * capacity.SHARD_SAMPLES_PER_SECOND >= 10 * 2_000_000 / 15
    assert small.extra_memory_mi < large.extra_memory_mi
    assert 3 <= small.capacity / small.max_samples_per_send <= 10


def test_calculator_prints_the_queue_and_memory(capsys: pytest.CaptureFixture[str]):
    """`python -m components.capacity --remote-write` prints the queue settings and the extra memory."""
    assert capacity.main(["--series", "150000", "--remote-write"]) == 0
    out = capsys.readouterr().out
    queue = capacity.remote_write_queue(150000, "15s")
    assert f"+{queue.extra_memory_mi}Mi memory" in out and f"max_shards {queue.max_shards}" in out
    assert "expectedSeries: 150000" in out


def test_operations_guide_states_the_calculators_limits():
    """docs/operations.md "When to add a long-term store" quotes the series limits the calculator gives for the
    default resources and for prod's."""
    text = (REPO / "docs/operations.md").read_text().split("## When to add a long-term store")[1].split("\n## ")[0]
    for memory, volume, retention in (("2Gi", "50Gi", "15d"), ("4Gi", "100Gi", "30d")):
        lim = capacity.limits(memory, volume, "15s", retention)
        assert f"{lim.series:,}" in text, (memory, volume, retention, lim)
    assert f"about {capacity.remote_write_queue(150_000, '15s').extra_memory_mi}Mi more" in text


# --- the stack file -----------------------------------------------------------------------------------


def test_longterm_stack_renders_and_promtool_accepts_it(tmp_path: Path):
    """Pulumi.prod-longterm.yaml renders; promtool 3.5 accepts its prometheus.yml (remote write included)
    and rule files; the remote-write rules are in it and not in prod's."""
    out = tmp_path / "render"
    assert render_main(["--stack", "prod-longterm", "--out", str(out)]) == 0
    config = yaml.safe_load((out / "prometheus/prometheus.yml").read_text())
    assert config["remote_write"][0]["url"] == "https://mimir.example.com/api/v1/push"
    result = subprocess.run([tool("promtool"), "check", "config", str(out / "prometheus/prometheus.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "prometheus/rules/remote-write.yml").exists()
    prod = build_artifacts(load_stack("prod", REPO)[0]).prometheus
    assert "rules/remote-write.yml" not in prod or "PrometheusRemoteWrite" not in prod["rules/remote-write.yml"]


def test_longterm_mocks_keep_the_credential_secret(longterm_run: StackRun):
    """Under mocks: the password is in the Prometheus Secret (secret input) and the long-term datasource's
    secure JSON (secret), never in a ConfigMap or plain input."""
    password = TEST_SECRETS["remoteWritePassword"]
    for resource in longterm_run.resources:
        text = yaml.safe_dump(resource.inputs)
        if password in text:
            assert resource.type in ("kubernetes:core/v1:Secret", "grafana:oss/dataSource:DataSource"), resource.type
            assert resource.secret_paths, resource.name
    (secret,) = [r for r in longterm_run.of_type("kubernetes:core/v1:Secret")
                 if r.inputs["metadata"]["name"] == "prometheus-secrets"]
    assert secret.inputs["stringData"]["remote-write-password"] == password
    (ds,) = [r for r in longterm_run.resources if r.type.endswith("DataSource") and "longterm" in r.name]
    assert ds.inputs["basicAuthEnabled"] and ds.inputs["basicAuthUsername"] == "shannon-prod"
    assert "secureJsonDataEncoded" in ds.secret_paths


def test_longterm_objects_validate_strictly(longterm_run: StackRun):
    """Every Kubernetes object of the prod-longterm mock run passes the strict Kubernetes schema."""
    failures = strict_failures(longterm_run)
    assert not failures, "\n".join(failures)


def test_files_mode_reads_the_datasource_password_from_a_mounted_file(tmp_path: Path):
    """With grafana.content=files the long-term datasource's password is `$__file{...}` of a file mounted from
    a Secret, so the provisioning ConfigMap holds no credential and its `$` escaping does not disarm it."""
    path = edited_stack_file(tmp_path, "prod-longterm", lambda c: c["shannon-observability:grafana"].update(
        content="files"))
    settings = load_stack("prod-longterm", REPO, path)[0]
    (longterm,) = [d for d in build_datasources_provisioning(settings)["datasources"] if d["uid"].startswith("longterm")]
    assert longterm["secureJsonData"] == {"httpHeaderValue1": "shannon",
                                          "basicAuthPassword": "$__file{/etc/grafana-secrets/remote-write-password}"}
    run = run_stack("prod-longterm", stack_file=path)
    (grafana_secret,) = [r for r in run.of_type("kubernetes:core/v1:Secret")
                         if r.inputs["metadata"]["name"] == "grafana-secrets"]
    assert grafana_secret.inputs["stringData"]["remote-write-password"] == TEST_SECRETS["remoteWritePassword"]
    assert all(TEST_SECRETS["remoteWritePassword"] not in yaml.safe_dump(r.inputs)
               for r in run.of_type("kubernetes:core/v1:ConfigMap"))


def test_dashboards_can_switch_to_the_long_term_datasource(longterm_run: StackRun):
    """The long-term datasource is a Prometheus-type datasource (with the tenant header), not the default, so the
    dashboards' `datasource` variable offers it and the local Prometheus stays the default."""
    settings = load_stack("prod-longterm", REPO)[0]
    datasources = build_artifacts(settings).datasources
    (longterm,) = [d for d in datasources if d["uid"] == "longterm-mimir"]
    assert longterm["type"] == "prometheus" and not longterm["isDefault"]
    assert longterm["url"] == "https://mimir.example.com/prometheus"
    assert longterm["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert [d["uid"] for d in datasources if d.get("isDefault")] == ["prometheus"]
    overview = build_artifacts(settings).dashboards
    variables = [v for m in overview.values() for v in m["templating"]["list"] if v["name"] == "datasource"]
    assert variables and all(v["type"] == "datasource" and v["query"] == "prometheus" for v in variables)
