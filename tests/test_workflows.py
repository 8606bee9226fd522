"""The GitHub workflows: node24 action versions, identities, runners, forks, concurrency."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"


def _load(path: Path) -> dict[str, Any]:
    # PyYAML reads a bare `on:` key as the boolean True.
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def _workflow(name: str) -> dict[str, Any]:
    return _load(WORKFLOWS / name)


def _uses(doc: dict[str, Any]) -> list[str]:
    found = []
    for job in (doc.get("jobs") or {}).values():
        if "uses" in job:
            found.append(job["uses"])
        found += [s["uses"] for s in job.get("steps", []) if "uses" in s]
    found += [s["uses"] for s in (doc.get("runs") or {}).get("steps", []) if "uses" in s]
    return found


def _all_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(GITHUB.glob("actions/*/action.yml"))


def _version(ref: str) -> tuple[int, ...]:
    match = re.fullmatch(r"v(\d+)(?:\.(\d+))?(?:\.(\d+))?", ref)
    assert match, f"{ref!r} is not a version tag vN[.N[.N]]"
    return tuple(int(part) for part in match.groups() if part is not None)


def test_every_uses_meets_its_node24_minimum() -> None:
    minimums = yaml.safe_load((GITHUB / "node24-actions.yml").read_text())
    checked = []
    for path in _all_files():
        for uses in _uses(_load(path)):
            if uses.startswith("./"):
                target = ROOT / uses
                assert target.exists(), f"{path.name}: local {uses} does not exist"
                continue
            action, _, ref = uses.partition("@")
            assert action in minimums, f"{path.name}: {action} has no node24 minimum in .github/node24-actions.yml"
            have, need = _version(ref), _version(minimums[action])
            # Compare on the precision of the minimum: v1 < v1.3, v7 >= v7.
            padded = have + (0,) * (len(need) - len(have))
            assert padded >= need, f"{path.name}: {uses} is older than {action}@{minimums[action]} (node24)"
            checked.append(uses)
    assert "azure/use-kubelogin@v1.3" in checked
    assert len(checked) >= 20


def test_the_minimums_table_rejects_the_node20_pins_it_was_written_for() -> None:
    """The comparison itself: the old pins of this repository would fail."""
    minimums = yaml.safe_load((GITHUB / "node24-actions.yml").read_text())
    for old in ("azure/use-kubelogin@v1", "actions/checkout@v4", "pulumi/actions@v6", "azure/login@v2"):
        action, _, ref = old.partition("@")
        need = _version(minimums[action])
        have = _version(ref) + (0,) * (len(need) - len(_version(ref)))
        assert have < need, old


def test_no_long_lived_pulumi_token_and_no_pull_request_target() -> None:
    for path in _all_files():
        text = path.read_text()
        assert "PULUMI_ACCESS_TOKEN" not in text, path.name
        triggers = _load(path).get("on") or {}
        assert "pull_request_target" not in triggers, path.name
        assert "secrets." not in text, f"{path.name}: identities are OIDC; no stored secrets"


def _cloud_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    jobs = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (_load(path).get("jobs") or {}).items():
            if any(u == "./.github/actions/cloud-login" for u in _uses({"jobs": {name: job}})):
                jobs.append((path.name, name, job))
    return jobs


def test_cloud_jobs_run_on_the_static_egress_runners_with_oidc() -> None:
    jobs = _cloud_jobs()
    assert {(f, n) for f, n, _ in jobs} == {
        ("preview.yml", "preview"),
        ("deploy.yml", "up"),
        ("drift.yml", "drift"),
    }
    for file, name, job in jobs:
        assert job["runs-on"] == "${{ fromJSON(vars.MESHFLEET_RUNS_ON) }}", (file, name)
        permissions = job.get("permissions") or _workflow(file)["permissions"]
        assert permissions["id-token"] == "write", (file, name)
        assert job["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["fetch-depth"] == 0, (file, name)


def test_azure_native_renews_its_own_oidc_token() -> None:
    """The provider authenticates with OIDC, asking GitHub for a fresh token each time (not a one-hour CLI session)."""
    action = _load(GITHUB / "actions" / "cloud-login" / "action.yml")
    script = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    for line in (
        'echo "ARM_USE_OIDC=true"',
        'echo "ARM_CLIENT_ID=$AZURE_CLIENT_ID"',
        'echo "ARM_TENANT_ID=$AZURE_TENANT_ID"',
    ):
        assert line in script
    # A token or token file would be read once and expire with the job still running.
    assert "ARM_OIDC_TOKEN" not in script


def test_what_the_jobs_write_into_the_checkout_is_ignored(tmp_path: Path) -> None:
    """A deploy from a tree `git status` shows dirty is recorded `git.dirty` and can never be rolled back to.

    google-github-actions/auth writes `gha-creds-<hex>.json` into $GITHUB_WORKSPACE (its README), and
    the jobs install into .venv; git must ignore both.
    """
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    written = ["gha-creds-0123456789abcdef.json", ".venv/bin/python", "policies/guardrails/.venv/pyvenv.cfg"]
    for rel in written:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("x")
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout.splitlines() == ["?? .gitignore"]


def test_pull_requests_test_everything_and_preview_same_repo_branches_only() -> None:
    doc = _workflow("preview.yml")
    assert list(doc["on"]) == ["pull_request"]
    assert doc["permissions"] == {"contents": "read"}
    # Previews take no lock on the bucket backend: a newer push may cancel them.
    assert doc["concurrency"]["cancel-in-progress"] is True
    test = doc["jobs"]["test"]
    assert test["runs-on"] == "ubuntu-latest"
    assert "permissions" not in test
    script = "\n".join(s.get("run", "") for s in test["steps"])
    assert "make test" in script
    assert "for s in local dev staging prod" in script
    assert "meshfleet diagram --plan" in script and "GITHUB_STEP_SUMMARY" in script
    preview = doc["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert preview["environment"] == "${{ matrix.stack }}-preview"
    step = next(s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert step["with"]["refresh"] is True
    assert step["with"]["policyPacks"] == "policies/guardrails"
    assert step["with"]["policyPackConfigs"] == "policies/guardrails/config.json"
    assert "run: make install" in (WORKFLOWS / "preview.yml").read_text()


def test_main_goes_up_dev_then_staging_then_prod() -> None:
    doc = _workflow("up.yml")
    assert doc["on"]["push"] == {"branches": ["main"]}
    jobs = doc["jobs"]
    chain = [
        (name, jobs[name].get("needs"), jobs[name].get("with", {}).get("stack")) for name in ("dev", "staging", "prod")
    ]
    assert chain == [("dev", "test", "dev"), ("staging", "dev", "staging"), ("prod", "staging", "prod")]
    for name in ("dev", "staging", "prod"):
        assert jobs[name]["uses"] == "./.github/workflows/deploy.yml"
        assert jobs[name]["permissions"]["id-token"] == "write"
    deploy = _workflow("deploy.yml")["jobs"]["up"]
    assert deploy["environment"] == "${{ inputs.stack }}"
    assert deploy["concurrency"] == {"group": "pulumi-up-${{ inputs.stack }}", "cancel-in-progress": False}
    step = next(s for s in deploy["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert step["with"]["command"] == "up"
    assert step["with"]["stack-name"] == "${{ inputs.stack }}"
    # The guardrails judge the update itself, as they judge the pull request's preview.
    preview = next(
        s
        for s in _workflow("preview.yml")["jobs"]["preview"]["steps"]
        if s.get("uses", "").startswith("pulumi/actions@")
    )
    for key in ("policyPacks", "policyPackConfigs"):
        assert step["with"][key] == preview["with"][key] != ""


def test_drift_refreshes_in_preview_mode_and_keeps_one_issue_per_stack() -> None:
    doc = _workflow("drift.yml")
    assert "schedule" in doc["on"]
    job = doc["jobs"]["drift"]
    assert job["permissions"]["issues"] == "write"
    assert job["concurrency"]["cancel-in-progress"] is False
    refresh = next(s for s in job["steps"] if s.get("id") == "refresh")["run"]
    assert 'pulumi refresh --stack "$STACK" --preview-only --expect-no-changes' in refresh
    script = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@"))["with"]["script"]
    assert "drift: stack ${stack}" in script
    assert "issues.createComment" in script and "issues.create(" in script and 'state: "closed"' in script


@pytest.mark.skipif(
    shutil.which("actionlint") is None and not (ROOT / ".venv/bin/actionlint").exists(), reason="no actionlint"
)
def test_actionlint_reports_nothing() -> None:
    binary = shutil.which("actionlint") or str(ROOT / ".venv/bin/actionlint")
    result = subprocess.run([binary, "-oneline"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
