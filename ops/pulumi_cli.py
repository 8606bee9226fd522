"""The Pulumi CLI behind `meshfleet history` and `meshfleet rollback`, through the Automation API.

Two facts of the Python Automation API shape this module:

- `LocalWorkspace(...)` runs `pulumi version` in its constructor unless it is
  handed a `PulumiCommand`, and so does `PulumiCommand()`. The command is
  therefore built once, here, where a missing CLI becomes a clear message
  (`PulumiUnavailable`, exit 2) instead of a `FileNotFoundError` traceback; and
  tests hand in a fake `PulumiCommand` whose `run` answers from recorded
  output and records what would have run.
- `LocalWorkspace`'s stack-settings I/O (`stack_settings`,
  `save_stack_settings`, the `stack_settings=` option) reads and writes
  `Pulumi.<stack>.yaml` in the work dir and ignores `stackConfigDir`, so with
  this project's `stackConfigDir: stacks` it would miss the real stack file or
  write a stray one at the root. Nothing here uses it: config reaches the
  engine only through the CLI (which honours `stackConfigDir`), and stack files
  are read from git (`stack_file_at`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pulumi.automation import CommandError, LocalWorkspace, PulumiCommand, Stack, StackNotFoundError
from pulumi.automation.errors import InvalidVersionError

INSTALL_HINT = "install it (https://www.pulumi.com/docs/iac/download-install/) and make sure `pulumi` is on PATH"


class PulumiUnavailable(Exception):
    """The CLI is missing, not logged in, or the stack does not exist: nothing ran."""


def real_command() -> PulumiCommand:
    """The Pulumi CLI on PATH (its constructor runs `pulumi version`)."""
    if shutil.which("pulumi") is None:
        raise PulumiUnavailable(f"the Pulumi CLI is not installed: {INSTALL_HINT}")
    try:
        return PulumiCommand()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PulumiUnavailable(f"the Pulumi CLI does not run ({exc}): {INSTALL_HINT}") from None
    except InvalidVersionError as exc:
        raise PulumiUnavailable(f"the Pulumi CLI is too old for the Automation API: {exc}") from None


#: How `meshfleet history`/`rollback` get their CLI; tests replace it with a fake.
command_factory: Callable[[], PulumiCommand] = real_command


def first_error(exc: CommandError) -> str:
    """The CLI's first `error:` line (CommandError's text is the whole CommandResult)."""
    text = str(exc)
    for line in text.splitlines():
        _, found, rest = line.partition("error:")
        if found:
            return f"error:{rest}".strip()
    return " ".join(text.split())[:300]


def open_stack(work_dir: Path, stack: str, command: PulumiCommand) -> Stack:
    """Select `stack` of the project in `work_dir`, after checking the backend login.

    The workspace gets no project or stack settings (see the module docstring).
    """
    workspace = LocalWorkspace(work_dir=str(work_dir), pulumi_command=command)
    try:
        workspace.who_am_i()
    except CommandError as exc:
        raise PulumiUnavailable(
            f"not logged in to a Pulumi backend ({first_error(exc)}): run `pulumi login <backend-url>` "
            "(the team's state bucket, docs/operations.md) and retry"
        ) from None
    try:
        return Stack.select(stack, workspace)
    except StackNotFoundError:
        raise PulumiUnavailable(
            f"stack {stack!r} does not exist in this backend: `pulumi stack ls` lists the stacks"
        ) from None
    except CommandError as exc:
        raise PulumiUnavailable(f"cannot select stack {stack!r}: {first_error(exc)}") from None
