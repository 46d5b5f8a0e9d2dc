"""Production safety: plain HTTP and skipped certificate checks refused where the environment is production,
unless `security.allowInsecure` names the key and says why."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from components.settings.types import FieldProblemError, Model, Text

if TYPE_CHECKING:
    from components.settings.stack import StackSettings

PRODUCTION = frozenset({"production", "prod"})
_LOOPBACK = re.compile(r"http://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/.*)?")


class InsecureException(Model):
    key: str = Field(description="The setting allowed to be insecure, e.g. prometheus.remoteWrite[0].url.")
    reason: Text = Field(description="Why, for whoever reads the stack file next (e.g. the store is reached over a "
                                     "private link that terminates TLS).")


class SecuritySettings(Model):
    allow_insecure: list[InsecureException] = Field(
        default_factory=list,
        description="Exceptions to the production rules (https for every receiver and store URL, no "
                    "insecureSkipVerify): each names the key and the reason.")


def _plain_http(url: str | None) -> bool:
    return url is not None and url.startswith("http://") and not _LOOPBACK.fullmatch(url)


def insecure_settings(settings: StackSettings) -> list[tuple[str, str]]:
    """(key, what is insecure) for every setting the production rules refuse."""
    out = []
    receivers = settings.alertmanager.receivers
    for role in ("pager", "chat", "deadman"):
        if _plain_http(getattr(receivers, role).url):
            out.append((f"alertmanager.receivers.{role}.url", "sends alerts over plain http"))
    for i, target in enumerate(settings.prometheus.remote_write):
        where = f"prometheus.remoteWrite[{i}]"
        if _plain_http(target.url):
            out.append((f"{where}.url", "writes every sample (and its credentials) over plain http"))
        if _plain_http(target.query_url):
            out.append((f"{where}.queryUrl", "queries the store (with its credentials) over plain http"))
        if target.tls is not None and target.tls.insecure_skip_verify:
            out.append((f"{where}.tls.insecureSkipVerify", "accepts any certificate, so anyone on the path can "
                                                           "read and change what is written"))
    return out


def check(settings: StackSettings) -> None:
    """Refuse the first insecure setting of a production stack that no exception covers, and exceptions for nothing."""
    exceptions = settings.security.allow_insecure
    found = insecure_settings(settings) if settings.environment_label in PRODUCTION else []
    allowed = {e.key for e in exceptions}
    for key, what in found:
        if key not in allowed:
            fix = ("use https" if not key.endswith("insecureSkipVerify") else "give the store's CA (tls.caFromSecret) "
                   "instead")
            raise FieldProblemError(key, f"{what}, on a production stack: {fix}, or add {{key: {key}, reason: "
                                    "<why>} to security.allowInsecure", example="https://..." if "url" in key.lower()
                                    else "false")
    insecure = {key for key, _ in found}
    for i, exception in enumerate(exceptions):
        if exception.key not in insecure:
            raise FieldProblemError(f"security.allowInsecure[{i}].key", f"{exception.key!r} is not an insecure setting "
                                    "of this stack: the exception allows nothing; remove it",
                                    example=found[0][0] if found else "[]")
