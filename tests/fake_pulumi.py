"""A fake Pulumi CLI for the Automation API: recorded answers in, recorded commands out.

`FakePulumi` is a `PulumiCommand` whose constructor runs nothing (the real one
runs `pulumi version`) and whose `run` answers `whoami`, `stack select`, paged
`stack history --json`, `install`, `preview` (engine events through the
`--event-log` file) and `up` from recorded data, and records every command with
its working directory and that directory's git HEAD: what would have run.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Call:
    args: list[str]
    cwd: str
    head: str | None

    @property
    def verb(self) -> str:
        """`stack history`, `preview`, `up`, ... (the command without flags)."""
        words = []
        for arg in self.args:
            if arg.startswith("-"):
                break
            words.append(arg)
        return " ".join(words)

    def flag(self, name: str) -> str | None:
        return self.args[self.args.index(name) + 1] if name in self.args else None


def recorded_history(commits: Mapping[str, str]) -> list[dict[str, Any]]:
    """tests/data/history-dev.json (newest first), `{commit:cN}` replaced by the test repo's SHAs."""
    text = (DATA / "history-dev.json").read_text()
    for name, sha in commits.items():
        text = text.replace("{commit:" + name + "}", sha)
    return json.loads(text)


class FakePulumi(PulumiCommand):
    def __init__(
        self,
        history: list[dict[str, Any]],
        *,
        logged_in: bool = True,
        stacks: tuple[str, ...] = ("dev",),
        preview_steps: list[dict[str, Any]] | None = None,
    ) -> None:
        # No super().__init__(): that runs `pulumi version`.
        self.command = "pulumi"
        # Below 3.206 the SDK reads engine events from a file (above, over gRPC).
        self.version = VersionInfo(3, 200, 0)
        self.history = history
        self.logged_in = logged_in
        self.stacks = stacks
        self.preview_steps = preview_steps or []
        self.calls: list[Call] = []

    def verbs(self) -> list[str]:
        return [c.verb for c in self.calls]

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Any = None,
        on_error: Any = None,
    ) -> CommandResult:
        call = Call(args=list(args), cwd=cwd, head=_head(cwd))
        self.calls.append(call)
        verb = call.verb
        if verb == "whoami":
            if not self.logged_in:
                return self._fail(
                    "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"
                )
            return self._ok(json.dumps({"user": "ci", "url": "s3://acme-meshfleet-state"}))
        if verb == "stack select":
            if call.flag("--stack") not in self.stacks:
                return self._fail(f"error: no stack named '{call.flag('--stack')}' found")
            return self._ok("")
        if verb == "stack history":
            return self._ok(json.dumps(self._page(call)))
        if verb == "install":
            return self._ok("Installing dependencies...\nFinished installing dependencies")
        if verb == "preview":
            self._events(call)
            if on_output:
                on_output("Previewing update (dev):")
            # As the engine: deleting or replacing a protected resource fails the preview itself.
            for step in self.preview_steps:
                if step["op"] in ("delete", "replace") and (step.get("old") or {}).get("protect"):
                    return self._fail(f'error: resource "{step["urn"]}" cannot be deleted\nbecause it is protected.')
            return self._ok("Previewing update (dev):")
        if verb == "up":
            return self._ok("Updating (dev):")
        if verb == "stack output":
            return self._ok("{}")
        raise AssertionError(f"the fake CLI does not know {args}")

    def _page(self, call: Call) -> list[dict[str, Any]]:
        size = call.flag("--page-size")
        if size is None:
            return self.history[:10]
        page = int(call.flag("--page") or 1)
        start = (page - 1) * int(size)
        return self.history[start : start + int(size)]

    def _events(self, call: Call) -> None:
        log = call.flag("--event-log")
        assert log is not None and not log.startswith("tcp://"), log
        events = [{"resourcePreEvent": {"metadata": step}} for step in self.preview_steps]
        events.append({"summaryEvent": {"resourceChanges": {"same": 3}}})
        events.append({"cancelEvent": {}})
        with open(log, "a", encoding="utf-8") as fh:
            for i, event in enumerate(events):
                fh.write(json.dumps({"sequence": i, "timestamp": 0, **event}) + "\n")

    @staticmethod
    def _ok(stdout: str) -> CommandResult:
        return CommandResult(stdout=stdout, stderr="", code=0)

    @staticmethod
    def _fail(stderr: str) -> CommandResult:
        raise create_command_error(CommandResult(stdout="", stderr=stderr, code=255))


def _head(cwd: str) -> str | None:
    if not (Path(cwd) / ".git").exists():
        return None
    result = subprocess.run(["git", "-C", cwd, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or None
