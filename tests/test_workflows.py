"""The GitHub Actions workflows: valid for Actions, pinned, wired as the README describes,
and the credential-free change summary script producing the PR comment's Markdown."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github/workflows"
ACTION = ROOT / ".github/actions/pulumi-stack/action.yml"
SCRIPT = ROOT / ".github/scripts/change-summary.sh"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True; Actions reads it as "on".
    if True in data:
        data["on"] = data.pop(True)
    return data


def _workflow(name: str) -> dict[str, Any]:
    return _load(WORKFLOWS / name)


def _all_steps() -> list[tuple[str, dict[str, Any]]]:
    steps = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in _load(path)["jobs"].values():
            steps += [(path.name, step) for step in job.get("steps", [])]
    steps += [(ACTION.name, step) for step in _load(ACTION)["runs"]["steps"]]
    return steps


def _secret_names() -> set[str]:
    text = "".join(p.read_text() for p in [*WORKFLOWS.glob("*.yml"), ACTION])
    return set(re.findall(r"secrets\.([A-Z_][A-Z0-9_]*)", text))


@pytest.mark.parametrize("schema,paths", [
    ("vendor.github-workflows", sorted(WORKFLOWS.glob("*.yml"))),
    ("vendor.github-actions", [ACTION]),
])
def test_files_validate_against_the_actions_schemas(schema: str, paths: list[Path]):
    """Every workflow and the composite action validate against SchemaStore's GitHub schemas."""
    assert paths
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_an_exact_version():
    """Each `uses:` is a local path or owner/repo@<40-hex commit SHA>, with the release tag beside it in a comment:
    a tag can be moved, a commit cannot."""
    uses = [step["uses"] for _, step in _all_steps() if "uses" in step]
    uses += [job["uses"] for p in WORKFLOWS.glob("*.yml") for job in _load(p)["jobs"].values() if "uses" in job]
    assert uses
    unpinned = [u for u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert not unpinned, f"pin these to an exact version: {unpinned}"
    comments = [line for p in [*WORKFLOWS.glob("*.yml"), ACTION] for line in p.read_text().splitlines()
                if "uses:" in line and "@" in line]
    assert all(re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line) for line in comments), comments
    local = [u for u in uses if u.startswith("./")]
    assert all((ROOT / u).exists() for u in local), local
    assert all(("run" in step) != ("uses" in step) for _, step in _all_steps()), "each step runs or uses, not both"


def test_pulumi_cli_is_pinned_to_the_sdk_version():
    """The CLI the action installs is the version of the pinned pulumi SDK."""
    sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    pulumi = next(s for _, s in _all_steps() if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["pulumi-version"] == sdk


def test_pull_request_runs_the_suite_the_summary_and_previews_both_stacks():
    """On pull_request: the .ci/run suite, the change summary, and a commenting preview --diff per stack."""
    wf = _workflow("pull-request.yml")
    assert "pull_request" in wf["on"]
    jobs = wf["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    assert any(s.get("run") == "bash .ci/run" for s in _workflow("test.yml")["jobs"]["test"]["steps"])
    assert _workflow("test.yml")["jobs"]["test"]["container"].startswith("debian:")

    preview = jobs["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert "head.repo.full_name == github.repository" in preview["if"]
    assert preview["permissions"]["pull-requests"] == "write"
    step = next(s for s in preview["steps"] if s.get("uses") == "./.github/actions/pulumi-stack")
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] == "true"
    assert step["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert step["with"]["passphrase"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    # Unreviewed code gets no deploy credential: previews wait for approval in their own environment.
    assert preview["environment"] == "preview"
    assert "KUBECONFIG_PROD }}" not in yaml.safe_dump(preview) and "DEV_DOCKER" not in yaml.safe_dump(preview)

    pulumi = next(s for s in _load(ACTION)["runs"]["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "${{ inputs.command }}"
    assert pulumi["with"]["diff"] is True and pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ inputs.passphrase }}"


def test_change_summary_needs_no_credentials_and_is_commented_by_workflow_run():
    """The summary job references no secret and grants no write; pr-comment.yml posts its artifact."""
    wf = _workflow("pull-request.yml")
    job = wf["jobs"]["change-summary"]
    assert "secrets." not in yaml.safe_dump(job)
    assert "permissions" not in job and wf["permissions"] == {"contents": "read"}
    run = next(s["run"] for s in job["steps"] if "change-summary.sh" in s.get("run", ""))
    assert "base" in run and "head" in run
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))

    comment = _workflow("pr-comment.yml")
    assert comment["on"]["workflow_run"]["workflows"] == [wf["name"]]
    assert comment["permissions"]["pull-requests"] == "write"
    steps = comment["jobs"]["comment"]["steps"]
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["name"] == upload["with"]["name"]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    script = next(s for s in steps if s.get("uses", "").startswith("actions/github-script@"))["with"]["script"]
    assert "summary/summary.md" in script and "summary/pr-number" in script
    assert "workflow_run.head_sha" in script, "the PR number from an untrusted artifact must be checked"
    assert "actions/checkout" not in yaml.safe_dump(comment), "workflow_run must not run the PR's code"


def test_merge_to_main_deploys_dev_then_prod_behind_approval():
    """On push to main: tests, up dev, then up prod in the `production` environment."""
    wf = _workflow("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["concurrency"]["cancel-in-progress"] is False
    jobs = wf["jobs"]
    assert jobs["up-dev"]["needs"] == "test" and jobs["up-prod"]["needs"] == "up-dev"
    assert jobs["up-prod"]["environment"] == "production"
    for job, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        step = next(s for s in jobs[job]["steps"] if s.get("uses") == "./.github/actions/pulumi-stack")
        assert step["with"]["command"] == "up" and step["with"]["stack"] == stack


def test_every_repository_secret_is_documented():
    """Each secret the workflows read is listed in README's secrets table; deploy credentials are read only by
    jobs in the dev and production environments."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Repository secrets for the workflows")[1].split("\n## ")[0]
    names = _secret_names()
    assert {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"} <= names
    missing = [n for n in sorted(names) if f"`{n}`" not in table]
    assert not missing, f"document these repository secrets in README.md: {missing}"
    deploy = {"KUBECONFIG_PROD", "DEV_DOCKER_HOST", "DEV_DOCKER_SSH_KEY"}
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in _load(path)["jobs"].items():
            used = {n for n in deploy if f"secrets.{n} " in yaml.safe_dump(job) or f"secrets.{n}}}" in yaml.safe_dump(job)}
            assert not used or job.get("environment") in ("dev", "production"), f"{path.name}/{name} reads {used}"


def _checkout(tmp: Path, name: str) -> Path:
    """A copy of the repository's sources, as actions/checkout would give."""
    dest = tmp / name
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        "venv", ".venv", ".git", "build", "bench", "tests", "__pycache__", ".pytest_cache", ".ruff_cache", ".pulumi-state"))
    return dest


def _summary(base: Path, head: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHANGE_SUMMARY_PYTHON": sys.executable, "CHANGE_SUMMARY_STACKS": "dev prod"}
    return subprocess.run(["bash", str(SCRIPT), str(base), str(head), str(out), "42"], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("checkouts")
    return _checkout(tmp, "base"), _checkout(tmp, "head")


def test_change_summary_script_reports_a_threshold_change_per_stack(checkouts, tmp_path: Path):
    """A threshold edited in rules/ shows as that one changed rule for dev and prod, with the PR number saved."""
    base, head = checkouts
    rules = head / "rules/shannon-policy.yml"
    original = rules.read_text()
    assert original.count("< 0.80") == 1
    rules.write_text(original.replace("< 0.80", "< 0.75"))
    try:
        result = _summary(base, head, tmp_path / "out")
    finally:
        rules.write_text(original)
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "out/summary.md").read_text()
    assert (tmp_path / "out/pr-number").read_text().strip() == "42"
    assert summary.startswith("# Change summary")
    assert [line for line in summary.splitlines() if line.startswith("## ")] == ["## dev", "## prod"]
    assert summary.count("- **changed** alert `PolicyCacheHitRateLow`") == 2
    assert summary.count("**changed**") == 2 and "PLACEHOLDER" not in summary


def test_change_summary_script_explains_a_head_that_does_not_render(checkouts, tmp_path: Path):
    """A head whose stack file is invalid fails the job, and the summary quotes the error naming the key."""
    base, head = checkouts
    stack_file = head / "Pulumi.prod.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace("replicas: 2", "replicas: -2", 1))
    try:
        result = _summary(base, head, tmp_path / "out")
    finally:
        stack_file.write_text(original)
    assert result.returncode == 1
    summary = (tmp_path / "out/summary.md").read_text()
    prod = summary.split("## prod")[1]
    assert "**The head does not render**" in prod and "prometheus.replicas" in prod
    assert "no changes" in summary.split("## prod")[0], "dev still gets its summary"


def test_change_summary_script_without_a_renderable_base(checkouts, tmp_path: Path):
    """A base predating the render command (the first PR) gives a note instead of a diff, and succeeds."""
    _, head = checkouts
    empty = tmp_path / "empty-base"
    empty.mkdir()
    result = _summary(empty, head, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "nothing to compare against" in (tmp_path / "out/summary.md").read_text()
