"""Typed stack settings: defaults, derived values and bad input."""

from __future__ import annotations

import pytest

from components.settings import SettingsError, load_settings
from components.stackfile import load_stack
from tests.conftest import ROOT, TEST_SECRETS, run_stack


def _error(values: dict, stack: str = "prod", secrets: set[str] | None = None) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        load_settings(stack, values, secrets_present=secrets if secrets is not None else set(TEST_SECRETS))
    return info.value


def test_real_stack_files_parse():
    """Both committed stack files are valid settings for their platform."""
    dev, _ = load_stack("dev", ROOT)
    prod, _ = load_stack("prod", ROOT)
    assert dev.platform == "docker"
    assert prod.platform == "kubernetes"
    assert prod.prometheus.replicas == 2 and prod.alertmanager.replicas == 3


def test_unknown_platform_names_key_and_fix():
    """An unknown platform is reported on `platform` with the command that sets the closest valid value."""
    error = _error({"platform": "kubernets"})
    assert [p.key for p in error.problems] == ["platform"]
    assert "'kubernets' is not allowed" in error.problems[0].message
    assert error.problems[0].fix == "pulumi config set platform kubernetes --stack prod"


def test_bad_retention_duration():
    """`retention: 30x` is rejected on prometheus.retention with a --path fix command."""
    error = _error({"platform": "kubernetes", "prometheus": {"retention": "30x"}})
    (problem,) = error.problems
    assert problem.key == "prometheus.retention"
    assert "'30x' is not a Prometheus duration" in problem.message
    assert problem.fix == "pulumi config set --path 'prometheus.retention' 30d --stack prod"


def test_duplicate_job_names():
    """Two scrape targets with one job name are rejected, naming the second one's index."""
    targets = [{"job": "orchestrator", "port": 2112}, {"job": "orchestrator", "port": 2113}]
    error = _error({"platform": "kubernetes", "shannon": {"targets": targets}})
    (problem,) = error.problems
    assert problem.key == "shannon.targets[1].job"
    assert "duplicate job name 'orchestrator'" in problem.message
    assert "--path 'shannon.targets[1].job'" in problem.fix


def test_negative_replicas():
    """Negative replicas are rejected on the replicas key, showing the value given."""
    error = _error({"platform": "kubernetes", "alertmanager": {"replicas": -1}})
    (problem,) = error.problems
    assert problem.key == "alertmanager.replicas"
    assert "(got -1)" in problem.message
    assert problem.fix.startswith("pulumi config set --path 'alertmanager.replicas' ")


def test_retention_size_larger_than_volume():
    """A retention size above 85% of the volume is rejected with the largest allowed size as the fix."""
    error = _error({"platform": "kubernetes", "prometheus": {"volumeSize": "10Gi", "retentionSize": "20GB"}})
    (problem,) = error.problems
    assert problem.key == "prometheus.retentionSize"
    assert "larger than 85% of the volume" in problem.message
    assert problem.fix == "pulumi config set --path 'prometheus.retentionSize' 8GB --stack prod"


def test_missing_secrets_reported_together():
    """Every required secret that is not set is listed at once, each with a `--secret` command."""
    error = _error({"platform": "kubernetes", "grafana": {"url": "https://grafana.example.com"}}, secrets=set())
    keys = [p.key for p in error.missing_secrets]
    assert keys == ["pagerdutyRoutingKey", "slackApiUrl", "deadmanUrl"]
    assert all(p.fix.startswith(f"pulumi config set --secret {p.key} ") for p in error.missing_secrets)
    assert "Missing required secrets in stack 'prod', 3:" in str(error)


def test_all_problems_reported_at_once():
    """Independent mistakes in different sections all appear in one error."""
    error = _error({"platform": "swarm", "prometheus": {"retention": "30x"}, "alertmanager": {"replicas": -2},
                    "bogus": 1})
    assert {p.key for p in error.problems} == {"platform", "prometheus.retention", "alertmanager.replicas", "bogus"}
    assert "4 problem(s)" in str(error)


def test_unknown_key_suggests_removal():
    """A misspelt key is reported as unknown with the `pulumi config rm` command."""
    error = _error({"platform": "kubernetes", "prometheus": {"retension": "15d"}})
    (problem,) = error.problems
    assert problem.key == "prometheus.retension"
    assert problem.fix == "pulumi config rm --path 'prometheus.retension' --stack prod"


def test_retention_size_derived_from_volume():
    """Without an explicit retention size, it is 85% of the volume, rounded down to whole GB."""
    settings = load_settings("x", {"platform": "docker", "prometheus": {"volumeSize": "50Gi"}}, require_secrets=False)
    assert settings.prometheus.effective_retention_size == "42GB"
    settings = load_settings("x", {"platform": "docker", "prometheus": {"volumeSize": "1Gi"}}, require_secrets=False)
    assert settings.prometheus.effective_retention_size == "870MB"


def test_unpinned_image_override_rejected():
    """An image override without an exact version (latest, no tag) is rejected."""
    for image in ("prom/prometheus:latest", "prom/prometheus"):
        error = _error({"platform": "docker", "images": {"prometheus": image}})
        assert error.problems[0].key == "images.prometheus"
        assert "not pinned" in error.problems[0].message


def test_program_refuses_missing_secrets_before_creating_resources():
    """Under mocks, the real program stops with the secrets list and registers no resource."""
    import pulumi

    from tests.conftest import RecordingMocks

    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError) as info:
        run_stack("prod", secrets={}, mocks=mocks)
    assert mocks.resources == []
    message = str(info.value)
    for key in ("pagerdutyRoutingKey", "slackApiUrl", "postgresDsn", "redisAddr"):
        assert f"pulumi config set --secret {key} " in message


def test_program_reports_invalid_stack_file(tmp_path):
    """Under mocks, an invalid stack file stops the program with the settings problems, nothing created."""
    import pulumi

    from tests.conftest import RecordingMocks

    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text((ROOT / "Pulumi.dev.yaml").read_text().replace("retention: 30d", "retention: 30x"))
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError) as info:
        run_stack("dev", stack_file=stack_file, mocks=mocks)
    assert mocks.resources == []
    assert "prometheus.retention: '30x' is not a Prometheus duration" in str(info.value)


def test_kubernetes_api_content_needs_a_grafana_url():
    """On Kubernetes, managing Grafana through its API needs the URL the program reaches it at."""
    error = _error({"platform": "kubernetes", "grafana": {"content": "api"}})
    (problem,) = error.problems
    assert problem.key == "grafana.url"
    assert problem.fix == "pulumi config set --path 'grafana.url' https://grafana.example.com --stack prod"
    load_settings("prod", {"platform": "kubernetes", "grafana": {"content": "files"}}, secrets_present=set(TEST_SECRETS))
