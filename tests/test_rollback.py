"""`meshfleet history` and `meshfleet rollback` against a fake Pulumi CLI and a real git repository.

The fake (tests/fake_pulumi.py) answers from recorded `pulumi stack history
--json` pages (tests/data/history-dev.json, 14 versions: two pages of the
CLI's 10) and records every command it would have run, with its working
directory's git HEAD; the project is a throwaway git repository whose commits
c1..c8 the recorded history points at.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops import cli, pulumi_cli
from ops.history import read_history, render_history
from ops.pulumi_cli import open_stack
from ops.rollback import FleetIdentity, Refused, Rollback, provider_pins
from tests.fake_pulumi import FakePulumi, recorded_history

ROOT = Path(__file__).resolve().parent.parent


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _edit_stack(repo: Path, change: Any) -> None:
    path = repo / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc["config"]["meshfleet:fleet"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _commit(repo: Path, name: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", name)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repo: c1 the dev stack as it is, c4 adds a second root, c8 switches the mesh; the rest are harmless."""
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    for rel in ("Pulumi.yaml", "requirements.txt", "stacks/Pulumi.dev.yaml"):
        (repo / rel).write_text((ROOT / rel).read_text())
    _git(repo, "init", "-q", "-b", "main")
    commits = {"c1": _commit(repo, "c1")}

    def note(n: int) -> Any:
        return lambda fleet: fleet["fleet"].__setitem__("owner", f"platform-{n}")

    def add_root(fleet: dict[str, Any]) -> None:
        fleet["trust"] = {"roots": [{"name": "root-2026"}, {"name": "root-2027"}]}

    def switch_mesh(fleet: dict[str, Any]) -> None:
        fleet["mesh"]["kind"] = "linkerd"

    for n, change in [(2, note(2)), (3, note(3)), (4, add_root), (5, note(5)), (6, note(6)), (7, note(7))]:
        _edit_stack(repo, change)
        commits[f"c{n}"] = _commit(repo, f"c{n}")
    _edit_stack(repo, switch_mesh)
    commits["c8"] = _commit(repo, "c8")
    _git(repo, "checkout", "-q", commits["c7"])
    return repo, commits


#: Pulumi Cloud numbers its updates; the self-managed backend (the S3 bucket of docs/operations.md)
#: records no number, and `pulumi stack history --json` prints 0 for each (pulumi/pulumi pkg/backend/diy).
BACKENDS = ["cloud", "self-managed"]


def _fake(commits: dict[str, str], backend: str = "cloud", **kwargs: Any) -> FakePulumi:
    history = recorded_history(commits)
    if backend == "self-managed":
        history = [{**entry, "version": 0} for entry in history]
    return FakePulumi(history, **kwargs)


def _rollback(repo: Path, fake: FakePulumi, version: int, **kwargs: Any) -> Rollback:
    return Rollback(project_dir=repo, stack="dev", version=version, command=fake, out=lambda _line: None, **kwargs)


def _worktrees(repo: Path) -> int:
    return _git(repo, "worktree", "list").count("\n") + 1


# --------------------------------------------------------------------------
# history


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_reads_every_page(project: tuple[Path, dict[str, str]], backend: str) -> None:
    """The same numbers on both backends: the self-managed one's entries are counted, oldest = 1."""
    repo, commits = project
    fake = _fake(commits, backend)
    entries = read_history(open_stack(repo, "dev", fake))
    assert [e.version for e in entries] == list(range(14, 0, -1))
    assert {e.counted for e in entries} == {backend == "self-managed"}
    pages = [c for c in fake.calls if c.verb == "stack history"]
    assert [(c.flag("--page-size"), c.flag("--page"), c.flag("--stack")) for c in pages] == [
        ("10", "1", "dev"),
        ("10", "2", "dev"),
    ]
    assert all("--show-secrets" not in c.args for c in pages)
    by_version = {e.version: e for e in entries}
    assert (by_version[10].kind, by_version[10].result, by_version[10].commit) == ("update", "succeeded", commits["c5"])
    assert by_version[7].dirty is True and by_version[6].dirty is False and by_version[1].commit is None
    assert dict(by_version[5].changes) == {"same": 118, "update": 1}
    table = render_history("dev", entries).splitlines()
    assert table[0] == "stack dev: 14 operations" + (
        " (versions counted by meshfleet, oldest = 1: the state backend records none)"
        if backend == "self-managed"
        else ""
    )
    assert table[1].split() == ["VERSION", "KIND", "RESULT", "STARTED", "(UTC)", "COMMIT", "DIRTY", "CHANGES"]
    assert table[2].split() == [
        "14",
        "update",
        "succeeded",
        "2026-11-14",
        "10:00:00",
        commits["c7"][:12],
        "no",
        "update=3",
    ]
    assert table[-1].split() == ["1", "update", "succeeded", "2026-11-01", "10:00:00", "-", "-", "create=121"]


def test_history_command_prints_the_table(project: tuple[Path, dict[str, str]], monkeypatch: Any, capsys: Any) -> None:
    repo, commits = project
    monkeypatch.setattr(pulumi_cli, "command_factory", lambda: _fake(commits))
    assert cli.main(["history", "--stack", "dev", "--project-dir", str(repo)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stack dev: 14 operations")
    assert len(out.strip().splitlines()) == 16


# --------------------------------------------------------------------------
# rollback: the happy path


@pytest.mark.parametrize("backend", BACKENDS)
def test_rollback_checks_out_installs_previews_then_ups(project: tuple[Path, dict[str, str]], backend: str) -> None:
    repo, commits = project
    fake = _fake(commits, backend)
    _rollback(repo, fake, 10, yes=True).run()
    deploy = [c for c in fake.calls if c.verb in ("install", "preview", "up")]
    assert [c.verb for c in deploy] == ["install", "preview", "up"]
    worktree = deploy[0].cwd
    assert worktree != str(repo) and "meshfleet-rollback-" in worktree
    assert {c.cwd for c in deploy} == {worktree}
    assert {c.head for c in deploy} == {commits["c5"]}
    preview, up = deploy[1], deploy[2]
    assert preview.flag("--stack") == up.flag("--stack") == "dev"
    assert "--refresh" in preview.args and "--diff" in preview.args
    assert up.flag("--message") == f"meshfleet rollback of stack dev to version 10 (commit {commits['c5']})"
    # The stack was selected in the worktree before anything ran there.
    select = [c for c in fake.calls if c.verb == "stack select"]
    assert [c.cwd for c in select] == [str(repo), worktree]
    # The temporary worktree is gone; the operator's checkout did not move.
    assert _worktrees(repo) == 1 and not Path(worktree).exists()
    assert _git(repo, "rev-parse", "HEAD") == commits["c7"]


def test_rollback_asks_and_does_not_up_when_declined(project: tuple[Path, dict[str, str]]) -> None:
    repo, commits = project
    fake = _fake(commits)
    asked: list[tuple[str, str]] = []

    def decline(prompt: str, expected: str) -> bool:
        asked.append((prompt, expected))
        return False

    rollback = _rollback(repo, fake, 10, confirm=decline)
    with pytest.raises(Exception, match="not confirmed; nothing was changed"):
        rollback.run()
    assert asked == [(f"Roll stack dev back to version 10 (commit {commits['c5'][:12]})?", "dev")]
    assert "up" not in fake.verbs() and "preview" in fake.verbs()
    assert _worktrees(repo) == 1


PROTECTED_DELETE = {
    "op": "delete",
    "urn": "urn:pulumi:dev::meshfleet::meshfleet:trust:FleetTrust$tls:index/privateKey:PrivateKey::acme-dev-trust-root-2027-key",
    "type": "tls:index/privateKey:PrivateKey",
    "provider": "",
    "old": {"type": "tls:index/privateKey:PrivateKey", "urn": "x", "protect": True},
}


def test_rollback_stops_before_deleting_protected_resources(project: tuple[Path, dict[str, str]]) -> None:
    repo, commits = project
    fake = _fake(commits, preview_steps=[PROTECTED_DELETE, {**PROTECTED_DELETE, "old": {"protect": False}}])
    with pytest.raises(Refused) as refused:
        _rollback(repo, fake, 10, yes=True).run()
    assert str(refused.value).startswith("rolling back to version 10 would remove 1 protected resource(s): delete ")
    assert PROTECTED_DELETE["urn"] in str(refused.value)
    assert "`pulumi state unprotect <urn>`) and run the rollback again" in str(refused.value)
    assert "up" not in fake.verbs()
    # Once unprotected (the old state no longer protects it), the same rollback goes on.
    fake = _fake(commits, preview_steps=[{**PROTECTED_DELETE, "old": {"protect": False}}])
    _rollback(repo, fake, 10, yes=True).run()
    assert "up" in fake.verbs()


# --------------------------------------------------------------------------
# rollback: every refusal, each with its message and nothing run


REFUSALS = [
    (4, "version 4 is a succeeded refresh, not a succeeded update"),
    (5, "version 5 is a failed update, not a succeeded update"),
    (1, "version 1 recorded no commit (git.head)"),
    (7, "version 7 was deployed from a dirty tree"),
    (2, "version 2 was deployed from commit 0123456789abcdef0123456789abcdef01234567, which is not in this clone"),
    (99, "stack dev has no version 99 in its history (succeeded updates: 14, 13, 12, 10, 9, 8, 7, 6, 3, 2, 1)"),
    (8, "version 9 (commit {c4}) made a root rotation phase 1: trust.roots gained ['root-2027']"),
    (3, "version 9 (commit {c4}) made a root rotation phase 1"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("version", "message"), REFUSALS)
def test_rollback_refuses(project: tuple[Path, dict[str, str]], version: int, message: str, backend: str) -> None:
    repo, commits = project
    fake = _fake(commits, backend)
    with pytest.raises(Refused) as refused:
        _rollback(repo, fake, version, yes=True).run()
    assert message.format(c4=commits["c4"][:12]) in str(refused.value)
    assert set(fake.verbs()) <= {"whoami", "stack select", "stack history"}
    assert {c.cwd for c in fake.calls} == {str(repo)}
    assert _worktrees(repo) == 1


def test_rollback_refuses_to_cross_a_mesh_switch(project: tuple[Path, dict[str, str]]) -> None:
    repo, commits = project
    history = recorded_history(commits)
    newest = {**history[0], "version": 15, "environment": {**history[0]["environment"], "git.head": commits["c8"]}}
    fake = FakePulumi([newest, *history])
    with pytest.raises(Refused) as refused:
        _rollback(repo, fake, 10, yes=True).run()
    text = str(refused.value)
    assert f"version 15 (commit {commits['c8'][:12]}) made a mesh switch: mesh.kind istio -> linkerd" in text
    assert "roll forward" in text
    assert set(fake.verbs()) <= {"whoami", "stack select", "stack history"}


def test_rollback_refuses_to_take_a_provider_back_a_major_version(project: tuple[Path, dict[str, str]]) -> None:
    """Version 15 deployed pulumi-azure-native 4.x; version 14's commit pins 3.x: refused, nothing run."""
    repo, commits = project
    _git(repo, "checkout", "-q", commits["c7"])
    requirements = repo / "requirements.txt"
    pinned = requirements.read_text()
    assert "pulumi-azure-native==3." in pinned
    requirements.write_text(pinned.replace("pulumi-azure-native==3.", "pulumi-azure-native==4."))
    c9 = _commit(repo, "c9")
    history = recorded_history(commits)
    newest = {**history[0], "version": 15, "environment": {**history[0]["environment"], "git.head": c9}}
    fake = FakePulumi([newest, *history])
    with pytest.raises(Refused) as refused:
        _rollback(repo, fake, 14, yes=True).run()
    text = str(refused.value)
    assert "across a provider's major version: version 14's commit pins pulumi-azure-native 4." in text
    assert "-> 3." in text and "(version 15 deployed the newer)" in text
    assert set(fake.verbs()) <= {"whoami", "stack select", "stack history"}
    # Only the provider packages count (`pulumi-*`, comments stripped), not the SDK itself.
    assert provider_pins("pulumi-aws==7.51.1\npulumi==3.272.0  # sdk\n") == {"pulumi-aws": "7.51.1"}


def test_rollback_refuses_a_dirty_working_tree_before_running_anything(project: tuple[Path, dict[str, str]]) -> None:
    repo, commits = project
    (repo / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    fake = _fake(commits)
    with pytest.raises(Refused, match=r"the working tree is dirty; .* commit or stash them first"):
        _rollback(repo, fake, 10, yes=True).run()
    assert fake.calls == []


def test_identity_changes_name_each_rotation_phase() -> None:
    one = FleetIdentity(("root-2026",), "root-2026", "istio", "cluster.local")
    both = FleetIdentity(("root-2026", "root-2027"), "root-2026", "istio", "cluster.local")
    signing = FleetIdentity(("root-2026", "root-2027"), "root-2027", "istio", "cluster.local")
    new = FleetIdentity(("root-2027",), "root-2027", "istio", "cluster.local")
    assert one.changes_to(one) == []
    assert [c.split(":")[0] for c in one.changes_to(both)] == ["root rotation phase 1"]
    assert [c.split(":")[0] for c in both.changes_to(signing)] == ["root rotation phase 2"]
    assert [c.split(":")[0] for c in signing.changes_to(new)] == ["root rotation phase 3"]
    domain = FleetIdentity(("root-2026",), "root-2026", "istio", "example.org")
    assert one.changes_to(domain) == ["trust domain change: mesh.trustDomain cluster.local -> example.org"]


# --------------------------------------------------------------------------
# no CLI, not logged in: exit 2, a message, no traceback


@pytest.mark.parametrize("argv", [["history", "--stack", "dev"], ["rollback", "--stack", "dev", "--to", "10", "--yes"]])
def test_without_the_cli_both_commands_exit_2(argv: list[str], monkeypatch: Any, capsys: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshfleet: the Pulumi CLI is not installed: install it")
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["history", "rollback"])
def test_not_logged_in_exits_2(
    command: str, project: tuple[Path, dict[str, str]], monkeypatch: Any, capsys: Any
) -> None:
    repo, commits = project
    fake = _fake(commits, logged_in=False)
    monkeypatch.setattr(pulumi_cli, "command_factory", lambda: fake)
    argv = [command, "--stack", "dev", "--project-dir", str(repo)] + (["--to", "10"] if command == "rollback" else [])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshfleet: not logged in to a Pulumi backend (error: PULUMI_ACCESS_TOKEN must be set")
    assert "run `pulumi login <backend-url>`" in err
    assert fake.verbs() == ["whoami"]


def test_unknown_stack_exits_2(project: tuple[Path, dict[str, str]], monkeypatch: Any, capsys: Any) -> None:
    repo, commits = project
    monkeypatch.setattr(pulumi_cli, "command_factory", lambda: _fake(commits))
    assert cli.main(["history", "--stack", "prod", "--project-dir", str(repo)]) == 2
    assert "stack 'prod' does not exist in this backend" in capsys.readouterr().err
