"""alertmanager.yml and the Alertmanager command line, built from settings.

Pure: no `pulumi` import. Route tree: Watchdog -> deadman, then the stack's own
alertmanager.routes in order, then critical -> pager, warning -> chat, info/none -> null;
grouped by alertname, service, component.

Credentials are read from files mounted from a Secret (`routing_key_file`,
`api_url_file`, and the deadman webhook's `url_file`, which Alertmanager accepts
since 0.26), so alertmanager.yml itself holds none: a render of it is exactly
what is deployed, whatever the secrets' values.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from components import defaults
from components.settings import AlertRoute, Receiver, StackSettings
from components.topology import Topology

DATA_DIR = "/alertmanager"
CONFIG_DIR = "/etc/alertmanager/config"
CONFIG_FILE = "alertmanager.yml"

# The Shannon service "down" alerts; each inhibits the other alerts of its component.
COMPONENT_DOWN_ALERTS = ("OrchestratorDown", "GatewayDown", "AgentCoreDown", "LLMServiceDown")

# Secret config key -> file name in the mounted secrets directory.
SECRET_FILES = {"pagerdutyRoutingKey": "pagerduty-routing-key", "slackApiUrl": "slack-api-url",
                "deadmanUrl": "deadman-url"}

_SLACK_TITLE = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
                '{{ .CommonLabels.alertname }}{{ with .CommonLabels.component }} ({{ . }}){{ end }}')
_SLACK_TEXT = ('{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n'
               '{{ with .Annotations.runbook_url }}Runbook: {{ . }}\n{{ end }}{{ end }}')


def config_path() -> str:
    return f"{CONFIG_DIR}/{CONFIG_FILE}"


def _receiver(name: str, receiver: Receiver, settings: StackSettings, url_secret: str | None) -> dict[str, Any]:
    """One receiver; `url_secret` names the secret holding a webhook's URL when the stack file has none."""
    secrets_dir = settings.alertmanager.secrets_dir
    if receiver.type == "pagerduty":
        pd: dict[str, Any] = {
            "routing_key_file": f"{secrets_dir}/{SECRET_FILES['pagerdutyRoutingKey']}",
            "send_resolved": True,
            "severity": '{{ if .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}critical{{ end }}',
            "component": "{{ .CommonLabels.component }}",
            "group": "{{ .CommonLabels.service }}",
            "details": {
                "alertnames": "{{ range .Alerts }}{{ .Labels.alertname }} {{ end }}",
                "environment": settings.environment_label,
                "runbook": "{{ (index .Alerts 0).Annotations.runbook_url }}",
            },
        }
        if receiver.url:
            pd["url"] = receiver.url
        return {"name": name, "pagerduty_configs": [pd]}
    if receiver.type == "slack":
        slack: dict[str, Any] = {
            "api_url_file": f"{secrets_dir}/{SECRET_FILES['slackApiUrl']}",
            "send_resolved": True,
            "title": _SLACK_TITLE,
            "text": _SLACK_TEXT,
        }
        if receiver.channel:
            slack["channel"] = receiver.channel
        return {"name": name, "slack_configs": [slack]}
    if receiver.type == "webhook":
        # A heartbeat must not be "resolved": the Watchdog never resolves, silence is the signal.
        webhook: dict[str, Any] = {"send_resolved": name != "deadman"}
        if receiver.url:
            webhook["url"] = receiver.url
        elif url_secret:
            webhook["url_file"] = f"{secrets_dir}/{SECRET_FILES[url_secret]}"
        else:  # only the deadman may lack a URL: it degrades to a null receiver
            return {"name": name}
        return {"name": name, "webhook_configs": [webhook]}
    return {"name": name}


def _own_route(route: AlertRoute) -> dict[str, Any]:
    """A route of the stack file's alertmanager.routes, in alertmanager.yml's keys."""
    out: dict[str, Any] = {"receiver": route.receiver, "matchers": list(route.matchers)}
    for key in ("group_by", "group_wait", "group_interval", "repeat_interval"):
        if (value := getattr(route, key)) is not None:
            out[key] = value
    if route.continue_:
        out["continue"] = True
    return out


def build_alertmanager_config(settings: StackSettings, secret_keys: Collection[str]) -> dict[str, Any]:
    """The complete alertmanager.yml structure; `secret_keys`: the secrets the stack uses (`used_secrets`)."""
    am = settings.alertmanager
    timing = am.route
    receivers = am.receivers
    down = "|".join(COMPONENT_DOWN_ALERTS)
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "chat",
            "group_by": ["alertname", "service", "component"],
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
            "routes": [
                {"receiver": "deadman", "matchers": ['alertname="Watchdog"'], "group_wait": "0s",
                 "group_interval": timing.deadman_repeat_interval,
                 "repeat_interval": timing.deadman_repeat_interval},
                *(_own_route(route) for route in am.routes),
                # Batching delays a page by groupWait; critical groups wait only long enough
                # to collect the alerts of one failure (one evaluation of every replica).
                {"receiver": "pager", "matchers": ['severity="critical"'], "group_wait": timing.page_group_wait},
                {"receiver": "chat", "matchers": ['severity="warning"']},
                {"receiver": "null", "matchers": ['severity=~"info|none"']},
            ],
        },
        "inhibit_rules": [
            # A critical alert makes the warning of the same alert on the same component noise.
            {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
             "equal": ["alertname", "component"]},
            # A service that is down explains every other alert about it.
            {"source_matchers": [f'alertname=~"{down}"'], "target_matchers": [f'alertname!~"{down}"'],
             "equal": ["component"]},
        ],
        "receivers": [
            _receiver("pager", receivers.pager, settings, None),
            _receiver("chat", receivers.chat, settings, None),
            _receiver("deadman", receivers.deadman, settings, "deadmanUrl" if "deadmanUrl" in secret_keys else None),
            {"name": "null"},
        ],
    }


def secret_file_keys(secret_keys: Collection[str]) -> dict[str, str]:
    """Secret config key -> file name in the mounted directory, for the receivers' secrets in `secret_keys`."""
    return {key: file_name for key, file_name in SECRET_FILES.items() if key in secret_keys}


def alertmanager_args(settings: StackSettings) -> list[str]:
    am = settings.alertmanager
    topo = Topology(settings)
    args = [
        f"--config.file={config_path()}",
        f"--storage.path={DATA_DIR}",
        f"--web.listen-address=:{defaults.PORTS['alertmanager']}",
        # The links in Slack and PagerDuty messages point here, not at a pod's hostname.
        f"--web.external-url={am.external_url or topo.public_url('alertmanager', am.local_port)}",
    ]
    if am.replicas > 1:
        args.append(f"--cluster.listen-address=0.0.0.0:{defaults.PORTS['alertmanager-cluster']}")
        args += [f"--cluster.peer={peer}" for peer in topo.alertmanager_peers()]
    else:
        args.append("--cluster.listen-address=")  # a single replica gossips with nobody
    return args
