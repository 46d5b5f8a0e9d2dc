"""Grafana's datasources, settings and dashboard provisioning, built from settings.

Pure: no `pulumi` import. The same datasource definitions feed both delivery
modes: the Grafana API (pulumiverse provider, `grafana.content: api`) and
provisioning files (`grafana.content: files`). Datasource uids are stable so
dashboards and cross-links (exemplars -> traces, traces -> metrics) resolve.
"""

from __future__ import annotations

import configparser
import io
from typing import Any

from components import defaults
from components.builders.prometheus import remote_write_file
from components.settings import StackSettings
from components.topology import Topology

PROMETHEUS_UID = "prometheus"
ALERTMANAGER_UID = "alertmanager"
TEMPO_UID = "tempo"
DATASOURCE_UIDS = (PROMETHEUS_UID, ALERTMANAGER_UID, TEMPO_UID)
# The dashboards' Prometheus picker: every Prometheus query reads "${datasource}".
PROMETHEUS_VARIABLE: dict[str, object] = {
    "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
    "current": {"text": "Prometheus", "value": PROMETHEUS_UID}, "hide": 0, "refresh": 1,
    "description": "One Prometheus datasource per environment: choosing it chooses the environment.",
}

FOLDER_TITLE = "Shannon"
FOLDER_UID = "shannon"

CONFIG_DIR = "/etc/grafana"
DATA_DIR = "/var/lib/grafana"
PROVISIONING_DIR = f"{CONFIG_DIR}/provisioning"
DASHBOARDS_DIR = "/var/lib/grafana-dashboards"


def image_version(image: str) -> str | None:
    """`prom/prometheus:v3.13.2` -> `3.13.2`; None for an image pinned by digest alone."""
    name = image.split("@", 1)[0]
    _, sep, tag = name.rpartition(":")
    return tag.removeprefix("v") if sep and "/" not in tag else None


def build_datasources(settings: StackSettings) -> list[dict[str, Any]]:
    """Datasource definitions in Grafana's provisioning shape (before `$` escaping)."""
    topo = Topology(settings)
    prometheus_json: dict[str, Any] = {
        "timeInterval": settings.prometheus.scrape_interval,
        "httpMethod": "POST",
        # With the type and version known, Grafana asks /api/v1/labels and label values with
        # match[] instead of the series API (packages/grafana-prometheus/src/types.ts PromOptions,
        # language_provider.ts).
        "prometheusType": "Prometheus",
    }
    if version := image_version(settings.image("prometheus")):
        prometheus_json["prometheusVersion"] = version
    datasources: list[dict[str, Any]] = [
        {
            "name": "Prometheus",
            "type": "prometheus",
            "uid": PROMETHEUS_UID,
            "access": "proxy",
            "url": topo.prometheus_url(),
            "isDefault": True,
            "editable": False,
            "jsonData": prometheus_json,
        },
        {
            "name": "Alertmanager",
            "type": "alertmanager",
            "uid": ALERTMANAGER_UID,
            "access": "proxy",
            "url": topo.alertmanager_url(),
            "isDefault": False,
            "editable": False,
            "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        },
    ]
    if settings.tempo.enabled:
        # Exemplars carry the trace id as `traceID` (Tempo span metrics) or `trace_id`
        # (OpenTelemetry SDKs); both link to the trace in Tempo.
        prometheus_json["exemplarTraceIdDestinations"] = [
            {"name": "traceID", "datasourceUid": TEMPO_UID},
            {"name": "trace_id", "datasourceUid": TEMPO_UID},
        ]
        datasources.append({
            "name": "Tempo",
            "type": "tempo",
            "uid": TEMPO_UID,
            "access": "proxy",
            "url": topo.tempo_url(),
            "isDefault": False,
            "editable": False,
            "jsonData": {
                "tracesToMetrics": {
                    "datasourceUid": PROMETHEUS_UID,
                    "spanStartTimeShift": "-5m",
                    "spanEndTimeShift": "5m",
                    "tags": [{"key": "service.name", "value": "service"}],
                    "queries": [
                        {"name": "Request rate",
                         "query": "sum(rate(traces_spanmetrics_calls_total{$__tags}[5m]))"},
                        {"name": "Error rate",
                         "query": 'sum(rate(traces_spanmetrics_calls_total{$__tags, status_code="STATUS_CODE_ERROR"}[5m]))'},
                        {"name": "P95 latency",
                         "query": "histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket{$__tags}[5m])))"},
                    ],
                },
                "serviceMap": {"datasourceUid": PROMETHEUS_UID},
                "nodeGraph": {"enabled": True},
                "search": {"hide": False},
                "traceQuery": {"timeShiftEnabled": True, "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m"},
                # Streams search and TraceQL metrics results over Tempo's stream_over_http_enabled
                # (public/app/plugins/datasource/tempo/datasource.ts, streamingEnabled).
                "streamingEnabled": {"search": True, "metrics": True},
            },
        })
    datasources += longterm_datasources(settings)
    return datasources


# Beside the config mount, not inside it: a mount point inside a read-only ConfigMap volume cannot be made.
SECRETS_DIR = "/etc/grafana-secrets"
SECRETS_KEY = "_secrets"  # secureJsonData field -> (secret config key, prefix): filled in at the resource boundary
_GRAFANA_TYPE = {"mimir": "Mimir", "cortex": "Cortex", "thanos": "Thanos", "victoriametrics": "Prometheus",
                 "generic": "Prometheus"}


def longterm_uid(name: str) -> str:
    return f"longterm-{name}"


def longterm_datasources(settings: StackSettings) -> list[dict[str, Any]]:
    """A Prometheus-type datasource per remote-write store that can be queried: for long ranges, chosen in the
    dashboards' `datasource` variable; the local Prometheus stays the default (and the 200 ms panel budget's)."""
    out = []
    for target in settings.prometheus.remote_write:
        # Grafana's Prometheus datasource has no OAuth 2 client credentials, and AWS signing needs Grafana's own
        # AWS setup (auth.sigv4_auth_enabled): such stores are added in Grafana by hand (README "Long-term storage").
        if target.read_url is None or target.auth in ("oauth2", "sigv4"):
            continue
        json_data: dict[str, Any] = {"timeInterval": settings.prometheus.scrape_interval, "httpMethod": "POST",
                                     "prometheusType": _GRAFANA_TYPE[target.kind]}
        if target.kind == "victoriametrics":
            # VictoriaMetrics answers the Prometheus API of 2.24 and later.
            json_data["prometheusVersion"] = "2.24.0"
        secure: dict[str, str] = {}
        from_secrets: dict[str, tuple[str, str]] = {}
        headers = dict(target.headers)
        if target.auth == "bearer":
            from_secrets[f"httpHeaderValue{len(headers) + 1}"] = (target.secret_keys.token, "Bearer ")
            headers["Authorization"] = ""
        for i, (header, value) in enumerate(headers.items(), start=1):
            json_data[f"httpHeaderName{i}"] = header
            if value:
                secure[f"httpHeaderValue{i}"] = value  # a tenant id: grafana keeps header values encrypted anyway
        ds: dict[str, Any] = {"name": f"Long-term ({target.queue_name})", "type": "prometheus",
                              "uid": longterm_uid(target.queue_name), "access": "proxy", "url": target.read_url,
                              "isDefault": False, "editable": False}
        if target.auth == "basic":
            ds["basicAuth"] = True
            ds["basicAuthUser"] = target.username
            from_secrets["basicAuthPassword"] = (target.secret_keys.password, "")
        if target.tls is not None:
            if target.tls.insecure_skip_verify:
                json_data["tlsSkipVerify"] = True
            if target.tls.server_name:
                json_data["serverName"] = target.tls.server_name
            if target.tls.ca_from_secret:
                json_data["tlsAuthWithCACert"] = True
                from_secrets["tlsCACert"] = (target.secret_keys.ca, "")
            if target.tls.client_cert_from_secret:
                json_data["tlsAuth"] = True
                from_secrets["tlsClientCert"] = (target.secret_keys.client_cert, "")
                from_secrets["tlsClientKey"] = (target.secret_keys.client_key, "")
        ds["jsonData"] = json_data
        if secure:
            ds["secureJsonData"] = secure
        if from_secrets:
            ds[SECRETS_KEY] = from_secrets
        out.append(ds)
    return out


def datasource_secret_files(datasources: list[dict[str, Any]]) -> dict[str, str]:
    """Secret config key -> file name, for every secret a datasource reads (files mode)."""
    keys = {key for ds in datasources for key, _ in ds.get(SECRETS_KEY, {}).values()}
    return {key: remote_write_file(key) for key in sorted(keys)}


def _escape_dollars(value: Any) -> Any:
    """Provisioning files expand $VAR from the environment; `$$` is a literal `$`."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape_dollars(v) for k, v in value.items()}
    return value


def build_datasources_provisioning(settings: StackSettings) -> dict[str, Any]:
    """grafana/provisioning/datasources/datasources.yml."""
    return datasources_provisioning(build_datasources(settings))


def datasources_provisioning(datasources: list[dict[str, Any]], prune: bool = True) -> dict[str, Any]:
    """A datasources provisioning file; `prune` removes datasources it no longer defines (only where this
    file is the Grafana's sole provisioning: not beside another stack's datasources)."""
    out: dict[str, Any] = {"apiVersion": 1}
    if prune:
        out["prune"] = True
    out["datasources"] = []
    for ds in datasources:
        entry = _escape_dollars({k: v for k, v in ds.items() if k != SECRETS_KEY})
        # Secrets as Grafana's file expansion (after the escaping, which would disarm it): the
        # file is mounted from a Secret, so this file holds no credential.
        for field_name, (key, prefix) in ds.get(SECRETS_KEY, {}).items():
            entry.setdefault("secureJsonData", {})[field_name] = \
                f"{prefix}$__file{{{SECRETS_DIR}/{remote_write_file(key)}}}"
        out["datasources"].append(entry)
    return out


def build_dashboard_provider() -> dict[str, Any]:
    """grafana/provisioning/dashboards/shannon.yml (files mode)."""
    return {
        "apiVersion": 1,
        "providers": [{
            "name": "shannon",
            "folder": FOLDER_TITLE,
            "folderUid": FOLDER_UID,
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 60,
            "options": {"path": DASHBOARDS_DIR, "foldersFromFilesStructure": False},
        }],
    }


def build_grafana_ini(settings: StackSettings) -> dict[str, dict[str, str]]:
    """grafana.ini sections. Credentials are not here: they come from env vars fed by a Secret."""
    grafana = settings.grafana
    server: dict[str, str] = {"http_port": str(defaults.PORTS["grafana"])}
    if grafana.root_url:
        server["root_url"] = grafana.root_url
    return {
        "server": server,
        "paths": {"data": DATA_DIR, "provisioning": PROVISIONING_DIR},
        "database": {"type": "sqlite3"},
        "security": {
            "admin_user": grafana.admin_user,
            "disable_initial_admin_creation": "false",
            "cookie_secure": str(grafana.cookie_secure).lower(),
            "cookie_samesite": grafana.cookie_samesite,
            "disable_gravatar": "true",
            "allow_embedding": "false",
        },
        "users": {"allow_sign_up": "false", "allow_org_create": "false", "auto_assign_org_role": "Viewer"},
        "auth.anonymous": {"enabled": "false"},
        "snapshots": {"external_enabled": "false"},
        # No phone-home. analytics: usage stats and update checks; news: the news feed;
        # plugins: Grafana >= 11.4 downloads "preinstalled" plugins from grafana.com at every
        # start unless preinstall_disabled (pkg/setting/setting_plugins.go), and fetches the
        # plugin-signing public key unless public_key_retrieval_disabled.
        "analytics": {"reporting_enabled": "false", "check_for_updates": "false", "check_for_plugin_updates": "false",
                      "feedback_links_enabled": "false"},
        "news": {"news_feed_enabled": "false"},
        "plugins": {"preinstall_disabled": "true", "public_key_retrieval_disabled": "true"},
        "log": {"mode": "console"},
    }


def render_ini(sections: dict[str, dict[str, str]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    parser.read_dict(sections)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()
