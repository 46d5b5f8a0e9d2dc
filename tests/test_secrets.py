"""Credentials are Pulumi secrets end to end: only in Secrets, secret env or secret files, never in plain text."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TEST_SECRETS, StackRun, iter_json_paths

GENERATED = "generated-test-password-for-"


def _secret_values(run: StackRun) -> list[str]:
    return [*run.secrets.values(), GENERATED]


def test_credentials_only_under_secret_inputs(any_run: StackRun):
    """Every input value containing a credential (or a generated password) is marked secret by Pulumi."""
    leaks, found = [], 0
    for resource in any_run.resources:
        for path, value in iter_json_paths(resource.inputs):
            if isinstance(value, str) and any(s in value for s in _secret_values(any_run)):
                found += 1
                if not any(path == p or path.startswith(p + ".") or path.startswith(p + "[")
                           for p in resource.secret_paths):
                    leaks.append(f"{resource.type} {resource.name} {path}")
    assert found >= 3, "the scan found no credential at all: is it looking at the right inputs?"
    assert not leaks, leaks


def test_credentials_never_in_configmaps(prod_run: StackRun):
    """No ConfigMap holds a credential, including alertmanager.yml, which names its credentials' files."""
    for cm in prod_run.of_type("kubernetes:core/v1:ConfigMap"):
        text = str(cm.inputs)
        assert not any(s in text for s in _secret_values(prod_run)), cm.name


def test_credentials_land_in_secrets(prod_run: StackRun):
    """Each credential the prod stack uses lands in a Kubernetes Secret, as a secret value."""
    secrets = prod_run.of_type("kubernetes:core/v1:Secret")
    texts = {s.inputs["metadata"]["name"]: str(s.inputs) for s in secrets}
    for key in ("pagerdutyRoutingKey", "slackApiUrl", "deadmanUrl", "postgresDsn", "redisAddr"):
        holders = [name for name, text in texts.items() if TEST_SECRETS[key] in text]
        assert holders, key
    for secret in secrets:
        assert "stringData" in secret.secret_paths or any(p.startswith("stringData") for p in secret.secret_paths)


def test_secret_env_references_on_pods(prod_run: StackRun):
    """Pods receive credentials through secretKeyRef, never as literal env values."""
    for resource in prod_run.kubernetes_objects():
        template = resource.inputs.get("spec", {}).get("template")
        if not template:
            continue
        for container in template["spec"]["containers"]:
            for env in container.get("env", []):
                if "value" in env:
                    assert not any(s in env["value"] for s in _secret_values(prod_run)), (resource.name, env["name"])


def test_admin_password_output_is_secret(any_run: StackRun):
    """The Grafana admin password is exported, as a secret output."""
    assert "grafana_admin_password" in any_run.secret_outputs


def test_rendered_output_holds_no_credentials(rendered: dict[str, Path]):
    """Rendered files carry placeholders only: no test secret value can appear in them."""
    for out in rendered.values():
        for path in out.rglob("*"):
            if path.is_file():
                text = path.read_text()
                assert not any(s in text for s in TEST_SECRETS.values()), path
