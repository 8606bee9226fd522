"""`meshfleet history --stack NAME`: every update of a stack, through the Automation API.

`Stack.history()` without a page size asks the CLI for one page (10 entries
with the CLI of 2026): the whole history is read page by page until a short
page. Each entry shows what rollback needs: the version, kind and result, the
commit (`git.head`) and whether the tree was dirty, and the resource changes.

Versions: Pulumi Cloud numbers its updates, but the self-managed backend
(the S3 bucket of docs/operations.md) records no number, and `pulumi stack
history --json` prints `"version": 0` for every entry (pulumi/pulumi
pkg/backend/diy: its UpdateInfo has no Version). There meshfleet numbers
the operations itself, oldest = 1, in the order the backend keeps them
(one file per operation, never rewritten), so a number names the same
operation on every read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi.automation import CommandError, Stack, UpdateSummary

from ops import pulumi_cli
from ops.pulumi_cli import PulumiUnavailable, first_error, open_stack

#: Entries per `pulumi stack history` call: the CLI's own page size.
PAGE_SIZE = 10
#: A history longer than this is read no further (a CLI that ignores `--page` would loop).
MAX_PAGES = 1000


@dataclass(frozen=True)
class HistoryEntry:
    """One operation of the stack history, as rollback needs it."""

    version: int
    kind: str
    result: str
    start: datetime
    end: datetime | None
    message: str
    commit: str | None
    dirty: bool | None
    changes: Mapping[str, int] = field(default_factory=dict)
    #: The backend recorded no version: `version` is meshfleet's count, oldest = 1.
    counted: bool = False

    @classmethod
    def of(cls, summary: UpdateSummary) -> HistoryEntry:
        env: Mapping[str, Any] = summary.environment or {}
        dirty = env.get("git.dirty")
        return cls(
            version=int(summary.version or 0),
            kind=summary.kind,
            result=summary.result,
            start=_utc(summary.start_time),
            end=_utc(summary.end_time) if summary.end_time else None,
            message=summary.message or "",
            commit=env.get("git.head") or None,
            dirty=None if dirty is None else str(dirty).lower() == "true",
            changes=dict(sorted((summary.resource_changes or {}).items())),
        )

    @property
    def is_succeeded_update(self) -> bool:
        return self.kind == "update" and self.result == "succeeded"


def _utc(value: datetime) -> datetime:
    # The CLI prints UTC without an offset; the SDK parses it naive.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _identity(e: HistoryEntry) -> tuple[Any, ...]:
    """What tells two entries apart on any backend (the version alone does not on a self-managed one)."""
    return (e.version, e.kind, e.start, e.end, e.result, e.message)


def read_history(stack: Stack, page_size: int = PAGE_SIZE) -> list[HistoryEntry]:
    """Every entry of the stack history, newest first (all pages), each with a version that names it."""
    entries: list[HistoryEntry] = []
    seen: set[tuple[Any, ...]] = set()
    for page in range(1, MAX_PAGES + 1):
        # show_secrets=False: config secrets stay "[secret]"; history needs none.
        summaries = stack.history(page_size=page_size, page=page, show_secrets=False)
        new = [e for e in (HistoryEntry.of(s) for s in summaries) if _identity(e) not in seen]
        seen.update(_identity(e) for e in new)
        entries += new
        # A short page is the last; a page with nothing new means a CLI that ignores --page.
        if len(summaries) < page_size or not new:
            break
    versions = [e.version for e in entries]
    if all(v > 0 for v in versions) and len(set(versions)) == len(versions):
        return sorted(entries, key=lambda e: e.version, reverse=True)
    # The self-managed backend: its pages come newest first; count from the oldest.
    return [replace(e, version=len(entries) - i, counted=True) for i, e in enumerate(entries)]


def _changes(changes: Mapping[str, int]) -> str:
    shown = [f"{op}={count}" for op, count in changes.items() if count and op != "same"]
    return " ".join(shown) or "-"


def render_history(stack: str, entries: list[HistoryEntry]) -> str:
    """A table, newest first: version, kind, result, start (UTC), commit, dirty, changes."""
    header = ("VERSION", "KIND", "RESULT", "STARTED (UTC)", "COMMIT", "DIRTY", "CHANGES")
    rows = [
        (
            str(e.version),
            e.kind,
            e.result,
            e.start.strftime("%Y-%m-%d %H:%M:%S"),
            (e.commit or "-")[:12],
            "-" if e.dirty is None else ("yes" if e.dirty else "no"),
            _changes(e.changes),
        )
        for e in entries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [f"stack {stack}: {len(entries)} operations"]
    if any(e.counted for e in entries):
        lines[0] += " (versions counted by meshfleet, oldest = 1: the state backend records none)"
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return "\n".join(lines)


def history_as_json(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [
        {
            "version": e.version,
            "versionCounted": e.counted,
            "kind": e.kind,
            "result": e.result,
            "startTime": e.start.isoformat(),
            "endTime": e.end.isoformat() if e.end else None,
            "message": e.message,
            "commit": e.commit,
            "dirty": e.dirty,
            "resourceChanges": dict(e.changes),
        }
        for e in entries
    ]


# --------------------------------------------------------------------------
# The subcommand


def add_subcommand(sub: Any, project_dir: Path) -> None:
    parser = sub.add_parser("history", help="list every update of a stack (needs the Pulumi CLI, logged in)")
    parser.add_argument("--stack", required=True, help="stack name")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--project-dir", type=Path, default=project_dir, help=argparse.SUPPRESS)
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    try:
        stack = open_stack(args.project_dir, args.stack, pulumi_cli.command_factory())
        entries = read_history(stack)
    except PulumiUnavailable as exc:
        print(f"meshfleet: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"meshfleet: pulumi stack history failed: {first_error(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(history_as_json(entries), indent=2))
    else:
        print(render_history(args.stack, entries))
    return 0
