"""The secrets: top-level config keys, always `pulumi config set --secret`, and which a stack needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.settings.remote_write import SECRET_KEY

if TYPE_CHECKING:
    from components.settings.stack import StackSettings


@dataclass(frozen=True)
class SecretSpec:
    key: str
    description: str
    example: str


SECRETS: dict[str, SecretSpec] = {s.key: s for s in [
    SecretSpec("grafanaAdminPassword", "Grafana admin password (optional: generated with RandomPassword if unset)",
               "'<a long random password>'"),
    SecretSpec("pagerdutyRoutingKey", "PagerDuty Events v2 integration (routing) key of the pager receiver",
               "'<32-character routing key>'"),
    SecretSpec("slackApiUrl", "Slack incoming-webhook URL of the chat receiver",
               "https://hooks.slack.com/services/T000/B000/XXXX"),
    SecretSpec("deadmanUrl", "Heartbeat URL the Watchdog is sent to (required where the pager is PagerDuty, unless "
                             "alertmanager.receivers.deadmanOptOut says why not)",
               "'https://hc-ping.com/<uuid>'"),
    SecretSpec("postgresDsn", "Postgres DSN for postgres-exporter",
               "'postgresql://exporter:<password>@postgres:5432/shannon?sslmode=disable'"),
    SecretSpec("redisAddr", "Redis address for redis-exporter, with password if any",
               "'redis://:<password>@redis:6379'"),
    SecretSpec("grafanaTlsCert", "PEM certificate (chain) of Grafana's ingress host (with grafana.ingress.tlsFromSecrets)",
               '"$(cat grafana.crt)"'),
    SecretSpec("grafanaTlsKey", "PEM private key of that certificate (with grafana.ingress.tlsFromSecrets)",
               '"$(cat grafana.key)"'),
    SecretSpec("remoteWritePassword", "Password of the remote-write target with auth: basic (and of its long-term "
                                      "datasource)", "'<password>'"),
    SecretSpec("remoteWriteToken", "Bearer token of the remote-write target with auth: bearer", "'<token>'"),
    SecretSpec("remoteWriteOauth2ClientSecret", "Client secret of the remote-write target with auth: oauth2",
               "'<client secret>'"),
    SecretSpec("remoteWriteCa", "PEM CA bundle the remote-write store is verified against (tls.caFromSecret)",
               '"$(cat store-ca.pem)"'),
    SecretSpec("remoteWriteClientCert", "PEM client certificate for the remote-write store (tls.clientCertFromSecret)",
               '"$(cat client.crt)"'),
    SecretSpec("remoteWriteClientKey", "PEM key of that client certificate (tls.clientCertFromSecret)",
               '"$(cat client.key)"'),
    SecretSpec("remoteWriteSigv4AccessKey", "AWS access key id for auth: sigv4 with sigv4.credentialsFromSecrets",
               "'<access key id>'"),
    SecretSpec("remoteWriteSigv4SecretKey", "AWS secret access key for auth: sigv4 with sigv4.credentialsFromSecrets",
               "'<secret access key>'"),
    SecretSpec("s3AccessKey", "Access key of Tempo's object storage", "'<access key id>'"),
    SecretSpec("s3SecretKey", "Secret key of Tempo's object storage", "'<secret access key>'"),
]}


def is_secret_key(key: str) -> bool:
    """A credential's config key: one of SECRETS, or a remote-write target's own (remoteWrite.secretKeys)."""
    return key in SECRETS or bool(SECRET_KEY.fullmatch(key))


def secret_spec(key: str) -> SecretSpec:
    return SECRETS.get(key) or SecretSpec(key, "Credential of a remote-write target (its secretKeys)", "'<value>'")


def required_secrets(settings: StackSettings) -> list[str]:
    """Secret keys this stack cannot deploy without."""
    receivers = settings.alertmanager.receivers
    needed = []
    if receivers.pager.type == "pagerduty":
        needed.append("pagerdutyRoutingKey")
    if "slack" in (receivers.pager.type, receivers.chat.type):
        needed.append("slackApiUrl")
    if settings.exporters.postgres.enabled:
        needed.append("postgresDsn")
    if settings.exporters.redis.enabled:
        needed.append("redisAddr")
    for target in settings.prometheus.remote_write:
        needed += [key for key in target.secrets() if key not in needed]
    if settings.tempo.enabled and settings.tempo.storage == "s3":
        needed += ["s3AccessKey", "s3SecretKey"]
    if receivers.needs_deadman_secret:
        needed.append("deadmanUrl")
    if settings.operator.enabled and settings.operator.grafana == "api":
        needed.append("grafanaAdminPassword")
    if settings.grafana.ingress is not None and settings.grafana.ingress.tls_from_secrets:
        needed += ["grafanaTlsCert", "grafanaTlsKey"]
    return needed


def used_secrets(settings: StackSettings, present: set[str]) -> list[str]:
    """Secret keys the deployment reads: the required ones plus optional ones that are set."""
    optional = []
    if "grafanaAdminPassword" in present and settings.own_components:
        optional.append("grafanaAdminPassword")
    deadman = settings.alertmanager.receivers.deadman
    if deadman.type == "webhook" and deadman.url is None and "deadmanUrl" in present \
            and not settings.alertmanager.receivers.needs_deadman_secret:
        optional.append("deadmanUrl")
    return required_secrets(settings) + optional
