"""`meshfleet rollback --stack NAME --to VERSION [--yes]`: re-deploy the commit of an earlier update.

Pulumi has no rollback command (pulumi/pulumi#96); the documented way is to
re-deploy the program and stack config of the last good update. This does it
as one command, through the Automation API:

1. refuse, changing nothing, unless: the working tree is clean; the entry is
   a succeeded `update` made from a clean tree with a recorded commit
   (`git.head`) present in this clone; no root-rotation phase, trust
   domain change or mesh switch lies between that update and now; and no
   provider (`pulumi-*` in requirements.txt) goes back a major version;
2. check the commit out in a temporary git worktree and install its
   dependencies there (`pulumi install`: the virtualenv of its Pulumi.yaml);
3. preview re-deploying it (with refresh and the diff shown), and stop if it
   would delete or replace protected resources (the engine refuses those);
4. after confirmation, `up` from that worktree with a message naming the
   version rolled back to; then remove the worktree.

Why the trust and mesh checks: re-deploying an older program re-creates
generated keys and roots instead of restoring them (their private keys exist
only in the state being rolled away from), which breaks trust fleet-wide;
those changes are undone by moving forward through their documented phases.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.automation import CommandError, EngineEvent, LocalWorkspace, OpType, PulumiCommand

from components.config import deep_merge
from ops import pulumi_cli
from ops.history import HistoryEntry, read_history
from ops.pulumi_cli import PulumiUnavailable, first_error, open_stack
from ops.stackconfig import DEFAULTS_KEY, FLEET_KEY, read_stack_config

#: Steps that remove the old resource: the engine refuses them for a protected resource, in the
#: preview already (pulumi/pulumi pkg/resource/deploy: DeleteStep.Apply checks `protect` before
#: DryRun; a replace of a resource protected before and after fails in the step generator).
_REMOVING_OPS = frozenset({OpType.DELETE, OpType.REPLACE, OpType.DELETE_REPLACED})


class Refused(Exception):
    """A precondition failed before anything changed (exit 2)."""


class Failed(Exception):
    """The preview or the update failed, or the operator declined (exit 1)."""


# --------------------------------------------------------------------------
# git


@dataclass(frozen=True)
class Git:
    """The project's git repository (subprocess `git -C`)."""

    cwd: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["git", "-C", str(self.cwd), *args], capture_output=True, text=True, check=check)
        except FileNotFoundError:
            raise Refused("git is not installed: rollback checks out the update's commit with git") from None
        except subprocess.CalledProcessError as exc:
            raise Refused(f"git {' '.join(args)} failed: {exc.stderr.strip()}") from None

    def toplevel(self) -> Path:
        result = self.run("rev-parse", "--show-toplevel", check=False)
        if result.returncode != 0:
            raise Refused(f"{self.cwd} is not in a git repository: rollback needs the project's git history")
        return Path(result.stdout.strip())

    def dirty_paths(self) -> list[str]:
        return [line for line in self.run("status", "--porcelain").stdout.splitlines() if line.strip()]

    def has_commit(self, sha: str) -> bool:
        return self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def show(self, sha: str, path: str) -> str | None:
        result = self.run("show", f"{sha}:{path}", check=False)
        return result.stdout if result.returncode == 0 else None

    def add_worktree(self, path: Path, sha: str) -> None:
        self.run("worktree", "add", "--detach", str(path), sha)

    def remove_worktree(self, path: Path) -> None:
        self.run("worktree", "remove", "--force", str(path), check=False)
        self.run("worktree", "prune", check=False)


# --------------------------------------------------------------------------
# What must not be crossed


@dataclass(frozen=True)
class FleetIdentity:
    """The settings whose change a redeploy of older code cannot undo safely."""

    roots: tuple[str, ...]
    signing_root: str | None
    mesh_kind: str | None
    trust_domain: str | None

    def changes_to(self, later: FleetIdentity) -> list[str]:
        """What changed from self to `later`, each named as the operation it belongs to."""
        found = []
        before, after = set(self.roots), set(later.roots)
        if after - before:
            found.append(
                f"root rotation phase 1: trust.roots gained {sorted(after - before)} "
                f"({list(self.roots)} -> {list(later.roots)})"
            )
        if before - after:
            found.append(
                f"root rotation phase 3: trust.roots dropped {sorted(before - after)} "
                f"({list(self.roots)} -> {list(later.roots)})"
            )
        if self.signing_root != later.signing_root:
            found.append(f"root rotation phase 2: trust.signingRoot {self.signing_root} -> {later.signing_root}")
        if self.mesh_kind != later.mesh_kind:
            found.append(f"mesh switch: mesh.kind {self.mesh_kind} -> {later.mesh_kind}")
        if self.trust_domain != later.trust_domain:
            found.append(f"trust domain change: mesh.trustDomain {self.trust_domain} -> {later.trust_domain}")
        return found


def identity_of(merged: dict[str, Any]) -> FleetIdentity:
    """From a stack's merged `meshfleet:fleet` (defaults deep-merged, as components.config does)."""
    trust = merged.get("trust") or {}
    mesh = merged.get("mesh") or {}
    roots = tuple(str(r.get("name")) for r in trust.get("roots") or [] if isinstance(r, dict))
    signing = trust.get("signingRoot") or (roots[0] if roots else None)
    return FleetIdentity(
        roots=roots,
        signing_root=signing,
        mesh_kind=mesh.get("kind"),
        trust_domain=mesh.get("trustDomain", "cluster.local") if mesh else None,
    )


def identity_at(git: Git, sha: str, project_rel: str, stack: str) -> FleetIdentity:
    """Read Pulumi.yaml and the stack file of commit `sha` as the CLI would (stackConfigDir included)."""
    prefix = f"{project_rel}/" if project_rel not in ("", ".") else ""
    project_text = git.show(sha, f"{prefix}Pulumi.yaml")
    if project_text is None:
        raise Refused(f"commit {sha[:12]} has no {prefix}Pulumi.yaml")
    project_doc = yaml.safe_load(project_text) or {}
    config_dir = str(project_doc.get("stackConfigDir") or ".").strip("/")
    stack_rel = f"Pulumi.{stack}.yaml" if config_dir in ("", ".") else f"{config_dir}/Pulumi.{stack}.yaml"
    stack_text = git.show(sha, f"{prefix}{stack_rel}")
    if stack_text is None:
        raise Refused(f"commit {sha[:12]} has no stack file {prefix}{stack_rel}")
    with tempfile.TemporaryDirectory(prefix="meshfleet-config-") as tmp:
        root = Path(tmp)
        (root / "Pulumi.yaml").write_text(project_text)
        (root / stack_rel).parent.mkdir(parents=True, exist_ok=True)
        (root / stack_rel).write_text(stack_text)
        config = read_stack_config(root, stack)
    merged = deep_merge(config.value(DEFAULTS_KEY) or {}, config.value(FLEET_KEY) or {})
    return identity_of(merged if isinstance(merged, dict) else {})


# --------------------------------------------------------------------------
# The rollback


def _confirm_on_terminal(prompt: str, expected: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{prompt}\nType the stack name ({expected}) to roll back: ").strip() == expected


@dataclass
class ProtectedSteps:
    """Collects, from the preview's engine events, protected resources a step would remove."""

    found: list[str] = field(default_factory=list)

    def __call__(self, event: EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None:
            return
        meta = pre.metadata
        if meta.op in _REMOVING_OPS and meta.old is not None and meta.old.protect:
            self.found.append(f"{meta.op.value} {meta.urn}")


def provider_pins(requirements: str | None) -> dict[str, str]:
    """`pulumi-<provider>==<version>` pins of a requirements.txt (the SDK packages that pick each plugin)."""
    pins: dict[str, str] = {}
    for line in (requirements or "").splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep and name.startswith("pulumi-"):
            pins[name] = version.strip()
    return pins


@dataclass
class Rollback:
    project_dir: Path
    stack: str
    version: int
    command: PulumiCommand
    yes: bool = False
    out: Callable[[str], None] = print
    confirm: Callable[[str, str], bool] = _confirm_on_terminal

    def run(self) -> HistoryEntry:
        git = Git(self.project_dir)
        top = git.toplevel()
        project_rel = str(self.project_dir.resolve().relative_to(top.resolve())) or "."
        dirty = git.dirty_paths()
        if dirty:
            raise Refused(
                "the working tree is dirty; rollback deploys a commit and compares stack files from git, "
                f"so uncommitted changes would be ambiguous: commit or stash them first ({', '.join(dirty[:5])})"
            )
        stack = open_stack(self.project_dir, self.stack, self.command)
        history = read_history(stack)
        target = self._target(history)
        assert target.commit is not None  # _target checked it
        if not git.has_commit(target.commit):
            raise Refused(
                f"version {target.version} was deployed from commit {target.commit}, which is not in this clone: "
                "`git fetch` the branch that holds it (or `git fetch origin "
                f"{target.commit}`) and retry"
            )
        self._refuse_crossing(git, project_rel, target, history)
        self._refuse_provider_downgrade(git, project_rel, target, history)
        message = f"meshfleet rollback of stack {self.stack} to version {target.version} (commit {target.commit})"
        with tempfile.TemporaryDirectory(prefix="meshfleet-rollback-") as tmp:
            worktree = Path(tmp) / "src"
            git.add_worktree(worktree, target.commit)
            try:
                self._deploy(worktree / project_rel, target, message)
            finally:
                git.remove_worktree(worktree)
        return target

    def _target(self, history: list[HistoryEntry]) -> HistoryEntry:
        entry = next((e for e in history if e.version == self.version), None)
        if entry is None:
            versions = ", ".join(str(e.version) for e in history if e.is_succeeded_update) or "none"
            raise Refused(
                f"stack {self.stack} has no version {self.version} in its history "
                f"(succeeded updates: {versions}); `meshfleet history --stack {self.stack}` lists them"
            )
        if not entry.is_succeeded_update:
            raise Refused(
                f"version {entry.version} is a {entry.result} {entry.kind}, not a succeeded update: only a "
                "succeeded `update` recorded a program and config that worked; pick one from `meshfleet history`"
            )
        if not entry.commit:
            raise Refused(
                f"version {entry.version} recorded no commit (git.head): it was not deployed from a git checkout, "
                "so its program cannot be recovered; pick a version with a commit"
            )
        if entry.dirty:
            raise Refused(
                f"version {entry.version} was deployed from a dirty tree (uncommitted changes on top of "
                f"{entry.commit[:12]}): its program is not in git and cannot be re-deployed; pick a version "
                "deployed from a clean tree"
            )
        return entry

    def _refuse_crossing(self, git: Git, project_rel: str, target: HistoryEntry, history: list[HistoryEntry]) -> None:
        assert target.commit is not None
        base = identity_at(git, target.commit, project_rel, self.stack)
        later = sorted(
            (e for e in history if e.version > target.version and e.kind == "update"), key=lambda e: e.version
        )
        for entry in later:
            if not entry.commit or not git.has_commit(entry.commit):
                where = "records no commit" if not entry.commit else f"commit {entry.commit} is not in this clone"
                raise Refused(
                    f"cannot check what lies between version {target.version} and now: version {entry.version} "
                    f"{where}, so a root rotation or mesh switch in between cannot be ruled out; "
                    "`git fetch` the missing commit, or roll forward with a new commit instead"
                )
            changes = base.changes_to(identity_at(git, entry.commit, project_rel, self.stack))
            if changes:
                raise Refused(
                    f"refusing to roll stack {self.stack} back across a trust or mesh change: version {entry.version} "
                    f"(commit {entry.commit[:12]}) made a {'; '.join(changes)}. Re-deploying version "
                    f"{target.version}'s program would re-create generated keys and roots instead of restoring "
                    "them and break trust fleet-wide. Instead, roll forward: revert the unwanted change in a new "
                    "commit and deploy it, following the phases in docs/trust.md (root rotation) or "
                    "docs/operations.md (mesh changes)"
                )

    def _refuse_provider_downgrade(
        self, git: Git, project_rel: str, target: HistoryEntry, history: list[HistoryEntry]
    ) -> None:
        """Refuse to take a provider back a major version: it may not read the state its successor wrote."""
        assert target.commit is not None
        newest = next((e for e in history if e.kind == "update" and e.commit and e.version > target.version), None)
        if newest is None or newest.commit is None:
            return
        path = "requirements.txt" if project_rel == "." else f"{project_rel}/requirements.txt"
        then, now = provider_pins(git.show(target.commit, path)), provider_pins(git.show(newest.commit, path))
        moved = [
            f"{package} {now[package]} -> {then[package]}"
            for package in sorted(then.keys() & now.keys())
            if then[package].split(".")[0] != now[package].split(".")[0]
        ]
        if moved:
            raise Refused(
                f"refusing to roll stack {self.stack} back across a provider's major version: version "
                f"{target.version}'s commit pins {', '.join(moved)} (version {newest.version} deployed the newer). "
                "An older major may not read the state the newer one wrote (resource schemas change between "
                "majors). Instead, roll forward: revert the unwanted change in a new commit, keeping the providers"
            )

    def _deploy(self, work_dir: Path, target: HistoryEntry, message: str) -> None:
        self.out(f"rollback: stack {self.stack} to version {target.version}, commit {target.commit}, in {work_dir}")
        stack = open_stack(work_dir, self.stack, self.command)
        workspace = stack.workspace
        assert isinstance(workspace, LocalWorkspace)  # open_stack makes one
        try:
            # `pulumi install`: the virtualenv and requirements of that commit's Pulumi.yaml.
            workspace.install(on_output=self.out)
        except CommandError as exc:
            raise Failed(f"installing the dependencies of commit {target.commit} failed: {first_error(exc)}") from None
        protected = ProtectedSteps()
        try:
            stack.preview(refresh=True, diff=True, message=message, on_output=self.out, on_event=protected)
        except CommandError as exc:
            if protected.found:
                raise Refused(self._protected(target, protected.found)) from None
            raise Failed(
                f"the preview of version {target.version} failed; nothing was changed: {first_error(exc)}"
            ) from None
        if protected.found:  # the engine failed the preview above; kept should it ever not
            raise Refused(self._protected(target, protected.found))
        prompt = f"Roll stack {self.stack} back to version {target.version} (commit {target.commit[:12] if target.commit else ''})?"
        if not self.yes and not self.confirm(prompt, self.stack):
            raise Failed("rollback not confirmed; nothing was changed (pass --yes to skip the prompt)")
        try:
            stack.up(refresh=True, diff=True, message=message, on_output=self.out)
        except CommandError as exc:
            raise Failed(f"the update to version {target.version} failed: {first_error(exc)}") from None
        self.out(f"rolled back stack {self.stack} to version {target.version} (commit {target.commit})")

    @staticmethod
    def _protected(target: HistoryEntry, found: list[str]) -> str:
        return (
            f"rolling back to version {target.version} would remove {len(found)} protected resource(s): "
            f"{'; '.join(found)}. Nothing was changed: Pulumi refuses to delete or replace a protected resource. "
            "If that is intended, unprotect them (`pulumi state unprotect <urn>`) and run the rollback again"
        )


# --------------------------------------------------------------------------
# The subcommand


def add_subcommand(sub: Any, project_dir: Path) -> None:
    parser = sub.add_parser(
        "rollback", help="re-deploy the commit of an earlier succeeded update (needs the Pulumi CLI, logged in)"
    )
    parser.add_argument("--stack", required=True, help="stack name")
    parser.add_argument("--to", type=int, required=True, metavar="VERSION", help="version from `meshfleet history`")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation after the preview")
    parser.add_argument("--project-dir", type=Path, default=project_dir, help=argparse.SUPPRESS)
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    """Exit 0 rolled back; 2 refused or the CLI unavailable (nothing changed); 1 preview/update failed or declined."""
    try:
        Rollback(
            project_dir=args.project_dir,
            stack=args.stack,
            version=args.to,
            command=pulumi_cli.command_factory(),
            yes=args.yes,
        ).run()
    except (PulumiUnavailable, Refused) as exc:
        print(f"meshfleet: {exc}", file=sys.stderr)
        return 2
    except Failed as exc:
        print(f"meshfleet: {exc}", file=sys.stderr)
        return 1
    return 0
