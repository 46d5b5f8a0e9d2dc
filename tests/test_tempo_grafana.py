"""Tempo 2.9 and Grafana 12 settings that cannot run here, pinned to the upstream sources that show why.

Each test names the upstream file (at the pinned version) whose behaviour it relies on.
tempo.yaml is checked key by key against Tempo 2.9.5's configuration tree, which Tempo
parses strictly; blackbox.yml is loaded by the real blackbox exporter (.ci/tools.lock).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import defaults
from components.builders import grafana, promql, tempo
from components.builders.artifacts import build_artifacts
from components.builders.dashboards import collect_dashboards, panels
from components.builders.exporters import build_blackbox_config
from components.builders.serialize import dump_yaml
from components.catalog import load_catalog
from components.settings import SettingsError, StackSettings, load_settings
from components.stackfile import load_stack
from tests.conftest import ROOT, tool

KEYS = yaml.safe_load((ROOT / "tests/data/tempo-2.9.5-keys.yaml").read_text())


def _allowed_tree() -> dict[str, Any]:
    tree = yaml.safe_load(yaml.safe_dump(KEYS["tree"]))
    for addition in KEYS["additions"]:
        *parents, last = addition["path"].split(".")
        node = tree
        for part in parents:
            node = node[part]
        node[last] = addition["kind"]
    return tree


def unknown_keys(config: Any, tree: Any, path: str = "") -> list[str]:
    """Keys of `config` that Tempo's strict YAML parsing would reject, as dotted paths."""
    if tree == "any":
        return []
    if tree == "leaf":
        return [f"{path}: a map where Tempo expects a value"] if isinstance(config, dict) else []
    if not isinstance(config, dict):
        return [f"{path}: a value where Tempo expects a map"]
    out = []
    for key, value in config.items():
        where = f"{path}.{key}" if path else str(key)
        out += unknown_keys(value, tree[key], where) if key in tree else [f"{where}: not a Tempo {KEYS['version']} key"]
    return out


def _variants() -> dict[str, StackSettings]:
    prod = load_stack("prod", ROOT)[0]
    s3 = load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"}, "tempo": {
        "storage": "s3", "s3": {"bucket": "traces", "endpoint": "minio.storage:9000", "region": "eu-west-1",
                                "insecure": True, "forcePathStyle": True}}}, require_secrets=False)
    no_generator = load_settings("dev", {"platform": "docker", "tempo": {"metricsGenerator": False}}, require_secrets=False)
    return {"dev": load_stack("dev", ROOT)[0], "prod": prod, "e2e": load_stack("e2e", ROOT)[0], "s3": s3,
            "no-generator": no_generator}


@pytest.mark.parametrize("variant", sorted(_variants()))
def test_tempo_yaml_uses_only_tempo_2_9_5_keys(variant: str):
    """Every key of every rendered tempo.yaml exists in Tempo 2.9.5's config (cmd/tempo/main.go: UnmarshalStrict)."""
    config = tempo.build_tempo_config(_variants()[variant])
    assert unknown_keys(config, _allowed_tree()) == []


def test_tempo_key_check_rejects_a_misspelled_key():
    """The check is live: a planted misspelling, and a map where a value belongs, are both named."""
    config = tempo.build_tempo_config(_variants()["prod"])
    config["metrics_generator"]["processor"]["local_blocks"]["flush_to_storge"] = True
    config["compactor"]["compaction"]["block_retention"] = {"hours": 336}
    assert unknown_keys(config, _allowed_tree()) == [
        "compactor.compaction.block_retention: a map where Tempo expects a value",
        f"metrics_generator.processor.local_blocks.flush_to_storge: not a Tempo {KEYS['version']} key",
    ]


def test_tempo_remote_write_entries_are_valid_prometheus_remote_write(tmp_path: Path):
    """The generator's remote_write entries are Prometheus remote_write blocks (modules/generator/storage/config.go):
    promtool, which parses them strictly, accepts them."""
    entries = tempo.build_tempo_config(_variants()["prod"])["metrics_generator"]["storage"]["remote_write"]
    config = tmp_path / "prometheus.yml"
    config.write_text(dump_yaml({"remote_write": entries}))
    result = subprocess.run([tool("promtool"), "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_traceql_metrics_cover_every_span_and_history():
    """local-blocks keeps all spans and flushes its blocks, so `{} | rate()` answers beyond 30 minutes
    (modules/generator/processor/localblocks/config.go; docs/.../metrics-queries/configure-traceql-metrics.md)."""
    config = tempo.build_tempo_config(_variants()["prod"])
    assert "local-blocks" in config["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert config["metrics_generator"]["processor"]["local_blocks"] == {"filter_server_spans": False,
                                                                       "flush_to_storage": True}
    assert config["metrics_generator"]["traces_storage"]["path"]


def test_tempo_has_no_demo_block_duration_and_reports_no_usage():
    """No `ingester.max_block_duration` override (the 30m default; 5m multiplies compaction work by six), and
    anonymous usage reporting off (pkg/usagestats/config.go: reporting_enabled defaults to true)."""
    for settings in _variants().values():
        config = tempo.build_tempo_config(settings)
        assert "max_block_duration" not in config.get("ingester", {})
        assert config["usage_report"] == {"reporting_enabled": False}


def test_tempo_image_is_the_newest_2_9_patch():
    """Tempo 2.9.5 (CHANGELOG.md at v2.9.5: security fixes in 2.9.4 and 2.9.5), and the key tree is of that version."""
    assert defaults.IMAGES["tempo"] == "grafana/tempo:2.9.5"
    assert KEYS["version"] == "v" + defaults.IMAGES["tempo"].rsplit(":", 1)[1]


@pytest.mark.parametrize("endpoint", ["https://s3.amazonaws.com", "s3.amazonaws.com/bucket", "minio:9000/", "", "minio:9000\n"])
def test_s3_endpoint_with_scheme_or_path_is_refused(endpoint: str):
    """tempo.s3.endpoint is host[:port]: minio-go rejects a scheme or a path and Tempo would not start."""
    with pytest.raises(SettingsError, match=r"tempo\.s3\.endpoint"):
        load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"}, "tempo": {
            "storage": "s3", "s3": {"bucket": "traces", "endpoint": endpoint}}}, require_secrets=False)


@pytest.mark.parametrize("endpoint", ["s3.eu-west-1.amazonaws.com", "minio.storage:9000", "10.0.0.5:9000"])
def test_s3_endpoint_host_port_is_accepted(endpoint: str):
    """Plain host names, host:port and IP:port are what Tempo's S3 client takes."""
    settings = load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"}, "tempo": {
        "storage": "s3", "s3": {"bucket": "traces", "endpoint": endpoint}}}, require_secrets=False)
    assert tempo.build_tempo_config(settings)["storage"]["trace"]["s3"]["endpoint"] == endpoint


def test_blackbox_config_is_loaded_by_the_real_exporter(tmp_path: Path):
    """blackbox.yml passes `--config.check` of the pinned blackbox exporter, which parses it strictly;
    a planted misspelling fails, so the check is live."""
    good = tmp_path / "blackbox.yml"
    good.write_text(dump_yaml(build_blackbox_config()))
    check = [tool("prometheus-blackbox-exporter"), "--config.check"]
    result = subprocess.run([*check, f"--config.file={good}"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = build_blackbox_config()
    module = next(iter(broken["modules"].values()))
    module["timout"] = "5s"
    bad = tmp_path / "broken.yml"
    bad.write_text(dump_yaml(broken))
    result = subprocess.run([*check, f"--config.file={bad}"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "timout" in result.stdout + result.stderr


# --- Grafana ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_grafana_does_not_phone_home(stack: str):
    """No download of preinstalled plugins at start (pkg/setting/setting_plugins.go: preinstall_disabled skips
    defaultPreinstallPlugins), no signing-key fetch, no usage reports, update checks, news or feedback links
    (conf/defaults.ini [analytics], [news])."""
    ini = grafana.build_grafana_ini(load_stack(stack, ROOT)[0])
    assert ini["plugins"] == {"preinstall_disabled": "true", "public_key_retrieval_disabled": "true"}
    assert ini["analytics"] == {"reporting_enabled": "false", "check_for_updates": "false",
                                "check_for_plugin_updates": "false", "feedback_links_enabled": "false"}
    assert ini["news"] == {"news_feed_enabled": "false"}
    assert ini["snapshots"]["external_enabled"] == "false" and ini["security"]["disable_gravatar"] == "true"


@pytest.mark.parametrize("stack", ["dev", "prod", "e2e"])
def test_grafana_session_survives_links_from_chat_and_pager(stack: str):
    """SameSite=lax: a link from Slack or PagerDuty is a cross-site top-level navigation, which strict
    cookies are not sent with, so every alert link would land on the login page (conf/defaults.ini, cookie_samesite)."""
    assert grafana.build_grafana_ini(load_stack(stack, ROOT)[0])["security"]["cookie_samesite"] == "lax"


def test_datasources_carry_what_grafana_reads():
    """Prometheus: type and the deployed version (packages/grafana-prometheus/src/types.ts, PromOptions), so label
    lookups use the labels API; Tempo: streaming for search and metrics (tempo/datasource.ts, streamingEnabled),
    matching tempo.yaml's stream_over_http_enabled."""
    prod = _variants()["prod"]
    ds = {d["uid"]: d for d in grafana.build_datasources(prod)}
    assert ds["prometheus"]["jsonData"]["prometheusType"] == "Prometheus"
    assert ds["prometheus"]["jsonData"]["prometheusVersion"] == prod.image("prometheus").rsplit(":v", 1)[1]
    assert ds["tempo"]["jsonData"]["streamingEnabled"] == {"search": True, "metrics": True}
    assert tempo.build_tempo_config(prod)["stream_over_http_enabled"] is True


def test_prometheus_version_follows_an_overridden_image():
    """An image override in the stack file changes the advertised version; a digest-only image advertises none."""
    for image, version in [("prom/prometheus:v3.14.0", "3.14.0"), ("prom/prometheus@sha256:" + "a" * 64, None)]:
        settings = load_settings("dev", {"platform": "docker", "images": {"prometheus": image}}, require_secrets=False)
        prom = next(d for d in grafana.build_datasources(settings) if d["uid"] == "prometheus")
        assert prom["jsonData"].get("prometheusVersion") == version


# --- dashboards ---------------------------------------------------------------------------------


def _latency_panels(dashboards: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Timeseries panels in seconds plotting a quantile (recorded or computed) of a histogram."""
    out = []
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
            exprs = [t.get("expr", "") for t in panel.get("targets", []) if not t.get("exemplar")]
            if panel.get("type") == "timeseries" and unit == "s" and any(
                    "histogram_quantile" in e or ("_rate5m" in e and ":p" in e) for e in exprs):
                out.append((name, panel))
    return out


def test_exemplar_targets_only_where_exemplars_exist():
    """A latency graph over Tempo's span metrics carries an exemplar target (its buckets carry trace ids); one
    over Shannon's histograms carries none, since Shannon records no exemplars (catalog `exemplars`)."""
    catalog = load_catalog()
    with_exemplars = {name for name, (_, source) in catalog.series().items() if source in catalog.exemplar_sources}
    found = _latency_panels(collect_dashboards())
    assert found, "no latency panel found: is the selection right?"
    for name, panel in found:
        reads = {s.metric for t in panel["targets"] if not t.get("exemplar")
                 for s in promql.selectors(promql.substitute(t.get("expr", "")))}
        offers = any(t.get("exemplar") for t in panel["targets"])
        spans = any(m and (m in with_exemplars or "traces_spanmetrics" in m) for m in reads)
        assert offers == spans, f"{name} / {panel['title']}: exemplars {offers}, reads span metrics {spans}"


def test_exemplar_targets_never_run_a_range_query_over_raw_buckets():
    """An exemplar target is instant-only: Grafana then runs one instant query and the exemplar query, never a
    range query over raw buckets (pkg/promlib/querydata/request.go, fetch), which would break the 200 ms budget."""
    targets = [t for d in collect_dashboards().values() for p in panels(d) for t in p.get("targets", []) if t.get("exemplar")]
    assert targets
    for target in targets:
        assert target["instant"] is True and target["range"] is False, target


def test_trace_searches_stay_within_tempo_limits():
    """A TraceQL search spans at most 168h (query_frontend.search.max_duration) and a TraceQL metrics query 3h
    (query_frontend.metrics.max_duration): a Tempo panel sets a relative time within its limit."""
    limits = {"traceql": 168 * 3600, "traceqlmetrics": 3 * 3600}
    units = {"m": 60, "h": 3600, "d": 86400}
    for name, dashboard in collect_dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                kind = target.get("queryType")
                if (target.get("datasource") or {}).get("type") != "tempo" or kind not in limits:
                    continue
                window = panel.get("timeFrom")
                assert window, f"{name} / {panel['title']}: a Tempo {kind} panel follows the dashboard range"
                assert int(window[:-1]) * units[window[-1]] <= limits[kind], f"{name} / {panel['title']}: {window}"


def test_tempo_disabled_leaves_out_everything_that_needs_it():
    """With tempo.enabled false: no Tempo datasource, no dashboard, target or link pointing at one, no rule or
    panel reading a Tempo series or a record derived from one; every other dashboard and rule stays."""
    prod = _variants()["prod"]
    off = prod.model_copy(update={"tempo": prod.tempo.model_copy(update={"enabled": False})})
    on, without = build_artifacts(prod), build_artifacts(off)
    assert "tempo" not in {d["uid"] for d in without.datasources}
    text = "\n".join([*without.prometheus.values(), *without.grafana_dashboards.values(), without.grafana_datasources])
    for needle in ("traces_spanmetrics", "traces_service_graph", "tempo_", '"uid": "tempo"', "%22tempo%22"):
        assert needle not in text, needle
    records = {r["record"] for f in without.prometheus.values() if f.startswith("groups") or "groups:" in f
               for g in (yaml.safe_load(f) or {}).get("groups", []) for r in g["rules"] if "record" in r}
    for dashboard in without.dashboards.values():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                for name in promql.metric_names(promql.substitute(expr)) if expr else ():
                    assert ":" not in name or name in records, f"{dashboard['uid']}: reads {name}, which no rule records"
    # Only Tempo's content went (and the collector's, which follows Tempo by default).
    assert set(on.dashboards) - set(without.dashboards) == {"traces.json"}
    lost = {p["title"] for d in on.dashboards.values() for p in panels(d)} - {
        p["title"] for d in without.dashboards.values() for p in panels(d)}
    assert lost >= {"Spans Received", "Service Graph"} and "Tempo" in lost
    assert all("tempo" in t.lower() or "trace" in t.lower() or "span" in t.lower() or "service graph" in t.lower()
               or t in ("Slowest Operations (P95)", "Traces Created and Generator Output", "OpenTelemetry Collector")
               for t in lost), lost


def test_tempo_disabled_renders_a_config_promtool_accepts(tmp_path: Path):
    """The filtered rule files still load: promtool checks the config and rules of a stack without Tempo."""
    prod = _variants()["prod"]
    off = prod.model_copy(update={"tempo": prod.tempo.model_copy(update={"enabled": False})})
    files = build_artifacts(off).prometheus
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = subprocess.run([tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
