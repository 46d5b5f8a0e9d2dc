"""Alertmanager: replicas, route timing and the pager, chat and deadman receivers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from components import defaults
from components.settings.types import (
    AbsolutePath,
    AlertmanagerResources,
    AlertMatcher,
    Duration,
    DurationOrZero,
    FieldProblemError,
    HttpUrl,
    Model,
    NoTemplate,
    Port,
    PromLabelName,
    Quantity,
    ReceiverUrl,
    Text,
    _resources,
)


class Receiver(Model):
    """One Alertmanager receiver integration."""

    type: Literal["pagerduty", "slack", "webhook", "null"] = Field(
        description="pagerduty (routing key from secret pagerdutyRoutingKey), slack (webhook URL from secret "
                    "slackApiUrl), webhook (url below, or secret deadmanUrl for the deadman receiver), or null.")
    url: ReceiverUrl | None = Field(None, description="webhook: the URL to POST to. pagerduty: an Events API URL override.")
    channel: Annotated[Text, NoTemplate] | None = Field(None, description="slack: channel to post into, e.g. #shannon-alerts.")

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Receiver:
        if self.channel is not None and self.type != "slack":
            raise FieldProblemError("channel", "channel only applies to slack receivers")
        return self


class Receivers(Model):
    pager: Receiver = Field(default_factory=lambda: Receiver(type="pagerduty"),
                            description="Receives severity=critical alerts.")
    chat: Receiver = Field(default_factory=lambda: Receiver(type="slack", channel="#shannon-alerts"),
                           description="Receives severity=warning alerts.")
    deadman: Receiver = Field(default_factory=lambda: Receiver(type="webhook"),
                              description="Receives the always-firing Watchdog. A stack that pages (pager type "
                                          "pagerduty) requires its URL (url, or the secret deadmanUrl) unless "
                                          "deadmanOptOut says why not.")
    deadman_opt_out: str | None = Field(
        None, description="Why this paging stack runs without a dead-man's switch (then the Watchdog goes nowhere and "
                          "nobody learns that alerting itself is down).")

    @model_validator(mode="after")
    def _roles_fit(self) -> Receivers:
        for role in ("pager", "chat"):
            receiver: Receiver = getattr(self, role)
            if receiver.type == "webhook" and receiver.url is None:
                raise FieldProblemError(f"{role}.url", f"the {role} webhook receiver needs a url",
                                   example="http://127.0.0.1:9099/" + role)
            if receiver.type == "null":
                raise FieldProblemError(f"{role}.type", f"the {role} receiver cannot be null: its alerts would be dropped",
                                   example="webhook")
        if self.deadman_opt_out is not None and not self.deadman_opt_out.strip():
            raise FieldProblemError("deadmanOptOut", "the opt-out needs its reason", example="staging: no heartbeat service")
        if self.pages and self.deadman.type not in ("webhook", "null") and self.deadman_opt_out is None:
            raise FieldProblemError("deadman.type", "a paging stack's dead-man's switch is a webhook (a heartbeat service)",
                                    example="webhook")
        return self

    @property
    def pages(self) -> bool:
        """Whether critical alerts reach a pager: then silence of the alerting path must be noticed."""
        return self.pager.type == "pagerduty"

    @property
    def needs_deadman_secret(self) -> bool:
        """A paging stack with a webhook deadman without a URL needs the deadmanUrl secret (unless it opted out)."""
        return self.pages and self.deadman.type == "webhook" and self.deadman.url is None and self.deadman_opt_out is None


class RouteTiming(Model):
    group_wait: DurationOrZero = Field("30s", description="Wait before the first notification of a new group.")
    page_group_wait: DurationOrZero = Field(
        "10s", description="groupWait of the critical (pager) route: pages go out sooner than chat batches.")
    group_interval: Duration = Field("5m", description="Wait before notifying about new alerts in a group.")
    repeat_interval: Duration = Field("4h", description="Re-send a still-firing group after this long.")
    deadman_repeat_interval: Duration = Field("1m", description="Heartbeat period of the Watchdog to the deadman receiver.")


class AlertRoute(Model):
    """One route of your own, tried before the severity routes (after the Watchdog's, which nothing may take)."""

    matchers: list[AlertMatcher] = Field(
        min_length=1, description='Alertmanager matchers the alerts must all match, e.g. [\'team="payments"\', '
                                  '\'alertname=~"LLM.*"\'].')
    receiver: Literal["pager", "chat", "null"] = Field(
        description="Where they go: the stack's pager, chat, or null (dropped).")
    group_by: list[PromLabelName | Literal["..."]] | None = Field(
        None, description="Labels to group by (default: the tree's alertname, service, component); [...] groups "
                          "nothing.")
    group_wait: DurationOrZero | None = Field(None, description="Overrides route.groupWait for these alerts.")
    group_interval: Duration | None = Field(None, description="Overrides route.groupInterval.")
    repeat_interval: Duration | None = Field(None, description="Overrides route.repeatInterval.")
    continue_: bool = Field(False, alias="continue",
                            description="Also try the routes after this one (the severity routes) when it matches.")

    @model_validator(mode="after")
    def _groups(self) -> AlertRoute:
        if self.group_by is not None and "..." in self.group_by and len(self.group_by) > 1:
            raise FieldProblemError("groupBy", "'...' (no grouping) stands alone", example="[...]")
        return self


class AlertmanagerSettings(Model):
    replicas: int = Field(1, ge=1, le=7, description="Alertmanager replicas; more than 1 forms a gossip cluster on port 9094.")
    volume_size: Quantity = Field(defaults.VOLUME_SIZES["alertmanager"],
            description="Volume for silences and the notification log.")
    resources: AlertmanagerResources = _resources("alertmanager")
    local_port: Port = Field(9093, description="Docker only: port published on 127.0.0.1.")
    external_url: HttpUrl | None = Field(
        None, description="URL people reach Alertmanager at (--web.external-url): the links in Slack and PagerDuty "
                          "messages. Unset: the Service URL (Kubernetes) or http://127.0.0.1:<localPort> (Docker).")
    route: RouteTiming = Field(default_factory=RouteTiming, description="Notification timing of the route tree.")
    routes: list[AlertRoute] = Field(
        default_factory=list, description="Routes of your own, in order, before the severity routes: send a team's "
                                          "alerts to the pager, drop noise to null, or time them differently.")
    receivers: Receivers = Field(default_factory=Receivers, description="The pager, chat and deadman receivers.")
    secrets_dir: AbsolutePath = Field("/etc/alertmanager/secrets",
                             description="Where the receivers' credential files are mounted.")
