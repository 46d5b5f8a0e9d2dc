"""A second corpus of bad input: YAML itself, lookalike digits, values a consumer would reject or that no
consumer checks, production safety, and contradictions. Each case is refused by the render with exit 2, one
message naming the key (and the file's line for YAML-level problems) and its fix, and nothing written;
stack-file cases are refused by the Pulumi program under mocks with the same problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.render import main as render_main
from tests.conftest import ROOT
from tests.test_bad_input import (
    Case,
    P,
    both,
    earlier_render,  # noqa: F401 (a fixture)
    setting,
)
from tests.test_bad_input import test_program_refuses_bad_input_with_the_same_message as _program_check
from tests.test_bad_input import test_render_refuses_bad_input as _render_check

PROD = (ROOT / "Pulumi.prod.yaml").read_text()
LONGTERM = (ROOT / "Pulumi.prod-longterm.yaml").read_text()


def _raw(text: str, before: str, insert: str) -> str:
    """`text` with `insert` put in front of the first line starting with `before`."""
    head, sep, tail = text.partition(before)
    assert sep, before
    return head + insert + sep + tail


def _remote(**target: Any) -> Any:
    """Edit prod-longterm's first remote-write target."""
    def edit(config: dict[str, Any]) -> None:
        config[P + "prometheus"]["remoteWrite"][0].update(target)
    return edit


CASES = [
    # --- YAML itself: the file's line and the key ------------------------------------------------
    Case("yaml-duplicate-top-key", "prod", None, "line", "keep one", program=False,
         raw=PROD + "  shannon-observability:prometheus:\n    replicas: 1\n"),
    Case("yaml-duplicate-nested-key", "prod", None, "prometheus.retention", "keep one", program=False,
         raw=_raw(PROD, "    retention:", "    retention: 7d\n")),
    Case("yaml-alias-bomb", "prod", None, "aliases", "write the values out", program=False,
         raw="x: &a [1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
             "w: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" + PROD),
    Case("yaml-deep-nesting", "prod", None, "nesting deeper", "no setting is that deep", program=False,
         raw=PROD + "  shannon-observability:x: " + "[" * 5000 + "]" * 5000 + "\n"),
    Case("yaml-11-boolean-string", "prod", None, "environment", "quote it", program=False,
         raw=PROD.replace("shannon-observability:environment: production", "shannon-observability:environment: no")),
    Case("yaml-11-boolean-in-list", "prod", None, "shannon-observability:extra[0]", "quote it", program=False,
         raw=PROD + "  shannon-observability:extra:\n    - on\n"),
    Case("yaml-binary-tag", "prod", None, "the tag", "remove it", program=False,
         raw=PROD.replace("shannon-observability:environment: production",
                          "shannon-observability:environment: !!binary cHJvZHVjdGlvbg==")),
    Case("yaml-python-tag", "prod", None, "the tag", "remove it", program=False,
         raw=PROD + "  shannon-observability:x: !!python/object/apply:os.system ['true']\n"),
    Case("yaml-custom-tag", "prod", None, "the tag", "remove it", program=False,
         raw=PROD + "  shannon-observability:x: !env HOME\n"),
    Case("yaml-huge-file", "prod", None, "larger than", "a few kilobytes", program=False,
         raw=PROD + "# " + "x" * 1_100_000 + "\n"),
    Case("yaml-settings-block-as-secret", "prod", None, "rules", "pulumi config", program=False,
         raw=PROD + "  shannon-observability:rules:\n    secure: v1:AAAA\n"),
    # --- lookalike digits ---------------------------------------------------------------------
    Case("fullwidth-retention", "prod", setting("prometheus.retention", "３０d"), "prometheus.retention",
         "pulumi config set"),
    Case("arabic-indic-volume", "prod", setting("prometheus.volumeSize", "١٠٠Gi"), "prometheus.volumeSize",
         "pulumi config set"),
    Case("fullwidth-scrape-interval", "prod", setting("prometheus.scrapeInterval", "１５s"),
         "prometheus.scrapeInterval", "pulumi config set"),
    Case("fullwidth-cpu", "prod", setting("grafana.resources.cpu", "５００m"), "grafana.resources.cpu",
         "pulumi config set"),
    Case("devanagari-port", "prod", setting("shannon.targets", [{"job": "orchestrator", "port": "२११२"}]),
         "shannon.targets[0].port", "pulumi config set"),
    Case("fullwidth-tempo-retention", "prod", setting("tempo.retention", "３３６h"), "tempo.retention",
         "pulumi config set"),
    # --- values a consumer rejects -------------------------------------------------------------
    Case("relabel-action-typo", "prod-longterm", _remote(writeRelabelConfigs=[{"action": "dorp", "regex": "go_.*"}]),
         "writeRelabelConfigs[0].action", "pulumi config set"),
    Case("relabel-camel-case-field", "prod-longterm",
         _remote(writeRelabelConfigs=[{"action": "drop", "sourceLabels": ["__name__"], "regex": "go_.*"}]),
         "writeRelabelConfigs[0].sourceLabels", "source_labels"),
    Case("relabel-bad-regex", "prod-longterm",
         _remote(writeRelabelConfigs=[{"action": "drop", "source_labels": ["__name__"], "regex": "go_(.*"}]),
         "writeRelabelConfigs[0].regex", "pulumi config set"),
    Case("relabel-bad-target-label", "prod-longterm",
         _remote(writeRelabelConfigs=[{"action": "replace", "target_label": "bad label", "replacement": "x"}]),
         "writeRelabelConfigs[0].target_label", "pulumi config set"),
    Case("runbook-url-template", "prod", setting("rules.runbookBaseUrl", "https://docs.example.com/{{ .Labels"),
         "rules.runbookBaseUrl", "pulumi config set"),
    Case("runbook-url-javascript", "prod", setting("rules.runbookBaseUrl", "javascript:alert(1)"),
         "rules.runbookBaseUrl", "pulumi config set"),
    Case("slack-channel-template", "prod", setting("alertmanager.receivers.chat.channel", "#alerts-{{ .Foo"),
         "alertmanager.receivers.chat.channel", "pulumi config set"),
    Case("retention-beyond-prometheus", "prod", setting("prometheus.retention", "1000y"), "prometheus.retention",
         "pulumi config set"),
    Case("metrics-path-query-string", "prod", setting("shannon.targets", [{"job": "orchestrator",
                                                                          "path": "/metrics?format=prom"}]),
         "shannon.targets[0].path", "pulumi config set"),
    Case("metrics-path-space", "prod", setting("shannon.targets", [{"job": "orchestrator", "path": "/me trics"}]),
         "shannon.targets[0].path", "pulumi config set"),
    # --- values no consumer checks -------------------------------------------------------------
    Case("address-port-too-big", "prod", setting("shannon.targets", [{"job": "orchestrator",
                                                                     "addresses": ["10.0.0.1:70000"]}]),
         "shannon.targets[0].addresses[0]", "pulumi config set"),
    Case("address-two-ports", "prod", setting("shannon.targets", [{"job": "orchestrator",
                                                                  "addresses": ["10.0.0.1:80:90"]}]),
         "shannon.targets[0].addresses[0]", "pulumi config set"),
    Case("address-port-zero", "prod", setting("shannon.targets", [{"job": "orchestrator",
                                                                  "addresses": ["10.0.0.1:0"]}]),
         "shannon.targets[0].addresses[0]", "pulumi config set"),
    Case("image-with-space", "prod", setting("images.grafana", "grafana/ grafana:12.4.3"), "images.grafana",
         "pulumi config set"),
    Case("image-upper-case", "prod", setting("images.grafana", "Grafana/Grafana:12.4.3"), "images.grafana",
         "pulumi config set"),
    Case("storage-class-space", "prod", setting("kubernetes.storageClass", "fast ssd"), "kubernetes.storageClass",
         "pulumi config set"),
    Case("docker-network-space", "dev", setting("docker.network", "my net"), "docker.network", "pulumi config set"),
    Case("docker-shannon-network-slash", "dev", setting("docker.shannonNetwork", "a/b"), "docker.shannonNetwork",
         "pulumi config set"),
    Case("s3-bucket-empty", "prod", setting("tempo", {"storage": "s3", "s3": {"bucket": "", "endpoint":
                                                                                "s3.amazonaws.com"}}),
         "tempo.s3.bucket", "pulumi config set"),
    Case("s3-bucket-dotdot", "prod", setting("tempo", {"storage": "s3", "s3": {"bucket": "../traces", "endpoint":
                                                                                "s3.amazonaws.com"}}),
         "tempo.s3.bucket", "pulumi config set"),
    Case("secrets-dir-empty", "prod", setting("prometheus.secretsDir", ""), "prometheus.secretsDir",
         "pulumi config set"),
    Case("secrets-dir-relative", "prod", setting("alertmanager.secretsDir", "../secrets"), "alertmanager.secretsDir",
         "pulumi config set"),
    Case("secrets-dir-dotdot", "prod", setting("prometheus.secretsDir", "/etc/../secrets"), "prometheus.secretsDir",
         "pulumi config set"),
    Case("annotation-key-invalid", "prod", setting("grafana.ingress", {"host": "grafana.example.com",
                                                                      "tlsSecret": "grafana-tls",
                                                                      "annotations": {"bad key!": "x"}}),
         "grafana.ingress.annotations", "pulumi config set"),
    Case("controller-label-key-invalid", "prod", setting("grafana.ingress", {
        "host": "grafana.example.com", "tlsSecret": "grafana-tls", "controllerLabels": {"-bad": "x"}}),
         "grafana.ingress.controllerLabels", "pulumi config set"),
    Case("controller-label-value-invalid", "prod", setting("grafana.ingress", {
        "host": "grafana.example.com", "tlsSecret": "grafana-tls", "controllerLabels": {"app": "has space"}}),
         "grafana.ingress.controllerLabels", "pulumi config set"),
    Case("tls-secret-name-invalid", "prod", setting("grafana.ingress", {"host": "grafana.example.com",
                                                                       "tlsSecret": "Grafana_TLS"}),
         "grafana.ingress.tlsSecret", "pulumi config set"),
    Case("url-with-space", "prod", setting("grafana.rootUrl", "https://grafana example.com"), "grafana.rootUrl",
         "pulumi config set"),
    Case("url-port-too-big", "prod", setting("prometheus.externalUrl", "https://prometheus.example.com:99999"),
         "prometheus.externalUrl", "pulumi config set"),
    # --- production safety ---------------------------------------------------------------------
    Case("credentials-in-deadman-url", "prod", setting("alertmanager.receivers.deadman.url",
                                                       "https://user:pass@hc-ping.com/uuid"),
         "alertmanager.receivers.deadman.url", "deadmanUrl"),
    Case("credentials-in-remote-write-url", "prod-longterm", _remote(url="https://shannon:pw@mimir.example.com"),
         "prometheus.remoteWrite[0].url", "remoteWritePassword"),
    Case("credentials-in-query-url", "prod-longterm", _remote(queryUrl="https://shannon:pw@mimir.example.com/prometheus"),
         "prometheus.remoteWrite[0].queryUrl", "remoteWritePassword"),
    Case("http-pager-url-on-prod", "prod", setting("alertmanager.receivers.pager.url",
                                                   "http://events.pagerduty.com/v2/enqueue"),
         "alertmanager.receivers.pager.url", "https"),
    Case("http-deadman-url-on-prod", "prod", setting("alertmanager.receivers.deadman.url", "http://hc-ping.com/uuid"),
         "alertmanager.receivers.deadman.url", "https"),
    Case("http-remote-write-on-prod", "prod-longterm", _remote(url="http://mimir.example.com"),
         "prometheus.remoteWrite[0].url", "https"),
    Case("insecure-skip-verify-on-prod", "prod-longterm", _remote(tls={"insecureSkipVerify": True}),
         "prometheus.remoteWrite[0].tls.insecureSkipVerify", "security.allowInsecure"),
    Case("insecure-exception-without-reason", "prod-longterm", both(
        _remote(url="http://mimir.example.com"), setting("security.allowInsecure", [{"key": "prometheus.remoteWrite[0].url"}])),
         "security.allowInsecure[0].reason", "pulumi config set"),
    Case("insecure-exception-for-nothing", "prod", setting("security.allowInsecure", [
        {"key": "alertmanager.receivers.pager.url", "reason": "lab"}]),
         "security.allowInsecure[0].key", "pulumi config set"),
    # --- contradictions ------------------------------------------------------------------------
    Case("s3-block-with-local-storage", "prod", setting("tempo", {"storage": "local", "s3": {
        "bucket": "traces", "endpoint": "s3.amazonaws.com"}}), "tempo.s3", "pulumi config"),
    Case("node-exporter-namespace-is-the-stack", "prod", setting("kubernetes.nodeExporterNamespace", "monitoring"),
         "kubernetes.nodeExporterNamespace", "pulumi config set"),
    Case("stack-namespace-is-shannons", "prod", setting("kubernetes.namespace", "shannon"), "kubernetes.namespace",
         "pulumi config set"),
    Case("retention-shorter-than-slo-window", "prod", setting("prometheus.retention", "7d"), "prometheus.retention",
         "30d"),
    Case("scrape-interval-too-long-for-windows", "prod", both(setting("prometheus.scrapeInterval", "2m"),
                                                            setting("prometheus.scrapeTimeout", "1m")),
         "prometheus.scrapeInterval", "4 samples"),
    Case("samesite-none-without-secure", "dev", setting("grafana.cookieSamesite", "none"), "grafana.cookieSamesite",
         "cookieSecure"),
    # --- routes of your own --------------------------------------------------------------------
    Case("route-unquoted-matcher", "prod", setting("alertmanager.routes", [{"matchers": ["team=payments"],
                                                                          "receiver": "pager"}]),
         "alertmanager.routes[0].matchers[0]", "pulumi config set"),
    Case("route-lookahead-regex", "prod", setting("alertmanager.routes", [{"matchers": ['alertname=~"(?!Watchdog).*"'],
                                                                         "receiver": "null"}]),
         "alertmanager.routes[0].matchers[0]", "pulumi config set"),
    Case("route-broken-regex", "prod", setting("alertmanager.routes", [{"matchers": ['team=~"pay(ments"'],
                                                                      "receiver": "chat"}]),
         "alertmanager.routes[0].matchers[0]", "pulumi config set"),
    Case("route-without-matchers", "prod", setting("alertmanager.routes", [{"matchers": [], "receiver": "null"}]),
         "alertmanager.routes[0].matchers", "pulumi config set"),
    Case("route-to-the-deadman", "prod", setting("alertmanager.routes", [{"matchers": ['team="x"'],
                                                                        "receiver": "deadman"}]),
         "alertmanager.routes[0].receiver", "pulumi config set"),
    Case("route-group-by-dots-and-labels", "prod", setting("alertmanager.routes", [{
        "matchers": ['team="x"'], "receiver": "chat", "groupBy": ["...", "team"]}]),
         "alertmanager.routes[0].groupBy", "pulumi config set"),
    Case("route-group-by-bad-label", "prod", setting("alertmanager.routes", [{
        "matchers": ['team="x"'], "receiver": "chat", "groupBy": ["team-name"]}]),
         "alertmanager.routes[0].groupBy[0]", "pulumi config set"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_render_refuses_strictly(case: Case, tmp_path: Path, earlier_render: dict[str, Path],  # noqa: F811
                                 capsys: pytest.CaptureFixture[str]):
    """Non-zero exit, one message naming the key (YAML problems: the line) with its fix, no traceback, the
    output directory untouched."""
    if case.stack not in earlier_render:
        out = tmp_path / "out"
        assert render_main(["--stack", case.stack, "--out", str(out)]) == 0
        (out / "SENTINEL-mine.txt").write_text("the user's own file\n")
        capsys.readouterr()
        earlier_render = {**earlier_render, case.stack: out}
    _render_check(case, tmp_path, earlier_render, capsys)


@pytest.mark.parametrize("case", [c for c in CASES if c.program], ids=[c.id for c in CASES if c.program])
def test_program_refuses_strictly(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The Pulumi program under mocks refuses the same input with the same problem and creates nothing."""
    _program_check(case, tmp_path, capsys)


def test_the_strict_corpus_is_large_and_distinct():
    """At least 60 cases here, none of them repeating an id of the first corpus."""
    from tests.test_bad_input import CASES as FIRST

    assert len(CASES) >= 60, len(CASES)
    assert not {c.id for c in CASES} & {c.id for c in FIRST}
    assert len({c.id for c in CASES}) == len(CASES)

