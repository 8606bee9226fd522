"""`meshfleet`: the offline plan and the config reference.

    meshfleet plan [--stack NAME ... | --all | --config FILE] [--out DIR] [--show-secrets] [--now TIME]
                   [--previous PLAN_DIR] [--policy-config FILE]
    meshfleet guard PLAN [--policy-config FILE] [--now TIME]
    meshfleet schema
    meshfleet docs [--check]
    meshfleet history --stack NAME [--json]
    meshfleet rollback --stack NAME --to VERSION [--yes]
    meshfleet diagram [--stack NAME | --plan PLAN_JSON] [-o fleet.mmd|.dot|.svg|.png]
    meshfleet diff BEFORE_DIR AFTER_DIR [--json]

Exit codes: 0 success, 2 invalid stack config, policy pack config or usage
(message on stderr, no traceback), 3 a mandatory guardrail is violated
(`plan` runs every guardrail after planning; `guard` over a written plan).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from components.config import ConfigError, FleetSpec
from components.mesh.switch import check_previous
from ops import diagram, diff, guard, history, reference, rollback
from ops.plan import render_tree, run_plan, write_plan
from ops.planfile import read_plan_doc
from ops.sim import DEFAULT_NOW
from ops.stackconfig import project_stacks, read_stack_config, spec_of, stack_of_file
from policies.guardrails.config import DEFAULT_CONFIG, PackConfig, PackConfigError
from policies.guardrails.config import load as load_pack_config
from policies.guardrails.rules import Finding

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time such as 2026-01-01T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meshfleet", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="run the program offline against a simulated cloud")
    which = plan.add_mutually_exclusive_group()
    which.add_argument(
        "--stack",
        action="append",
        default=None,
        help="stack name: reads stacks/Pulumi.<stack>.yaml (default: dev); repeat to plan several in one process",
    )
    which.add_argument("--all", action="store_true", help="plan every stack in the stack config directory")
    which.add_argument(
        "--config",
        type=Path,
        default=None,
        help="a stack config file to plan instead: a Pulumi.<stack>.yaml plans as that stack (its URNs and "
        "simulated addresses, so `meshfleet diff` compares it with --stack <stack>); any other name as 'custom'",
    )
    plan.add_argument("--out", type=Path, default=None, help="write plan.json and manifests/ here")
    plan.add_argument("--show-secrets", action="store_true", help="print secret values instead of [secret]")
    plan.add_argument(
        "--now", type=_time, default=DEFAULT_NOW, help=f"the simulated clock (default {DEFAULT_NOW.isoformat()})"
    )
    plan.add_argument(
        "--previous", type=Path, default=None, help="an earlier plan's --out DIR: refuse an unnamed mesh switch from it"
    )
    plan.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    _guard_options(plan)
    guard = sub.add_parser(
        "guard", help="run the guardrails policy pack's rules over a written plan (an --out DIR or its plan.json)"
    )
    guard.add_argument("plan_dir", type=Path, metavar="PLAN")
    guard.add_argument(
        "--now", type=_time, default=DEFAULT_NOW, help=f"the day the rules judge (default {DEFAULT_NOW.isoformat()})"
    )
    _guard_options(guard)
    sub.add_parser("schema", help="print the stack config JSON schema")
    docs = sub.add_parser("docs", help="regenerate the README's config reference from the models")
    docs.add_argument("--check", action="store_true", help="exit 1 if the README is out of date")
    # Subcommands living in their own modules set `handler`.
    history.add_subcommand(sub, PROJECT_DIR)
    rollback.add_subcommand(sub, PROJECT_DIR)
    diagram.add_subcommand(sub, PROJECT_DIR)
    diff.add_subcommand(sub)
    return parser


def _guard_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy-config",
        type=Path,
        default=None,
        help="policy pack config (default policies/guardrails/config.json, as CI passes to pulumi preview)",
    )


def _guard(findings: list[Finding], source: Path | None) -> int:
    print(guard.render(findings, str(source or DEFAULT_CONFIG.relative_to(PROJECT_DIR))))
    return guard.exit_code(findings)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "handler", None) is not None:
        return int(args.handler(args))
    if args.command in ("plan", "guard"):
        try:
            pack_config = load_pack_config(args.policy_config)
        except PackConfigError as exc:
            print(f"meshfleet: {exc.render()}", file=sys.stderr)
            return 2
    if args.command == "guard":
        try:
            resources = guard.read_plan_dir(args.plan_dir)
        except ValueError as exc:
            print(f"meshfleet: {exc}", file=sys.stderr)
            return 2
        return _guard(guard.check(resources, pack_config, args.now.date()), args.policy_config)
    if args.command == "schema":
        print(json.dumps(FleetSpec.model_json_schema(by_alias=True), indent=2, sort_keys=True))
        return 0
    if args.command == "docs":
        readme = PROJECT_DIR / "README.md"
        current = readme.read_text()
        fresh = reference.update(current)
        if args.check:
            return 0 if fresh == current else 1
        readme.write_text(fresh)
        return 0
    if args.config:
        stacks = [config_stack(args.config)]
    elif args.all:
        try:
            stacks = project_stacks(args.project_dir)
        except ConfigError as exc:
            print(f"meshfleet: {exc.render()}", file=sys.stderr)
            return 2
    else:
        stacks = list(dict.fromkeys(args.stack or ["dev"]))  # a repeated name plans once
    if args.previous is not None and len(stacks) > 1:
        print(
            f"meshfleet: --previous is one plan of one stack; this run plans {len(stacks)} stacks\n"
            f"    fix: plan the stack {args.previous} was written for on its own: "
            f"`meshfleet plan --stack NAME --previous {args.previous}`",
            file=sys.stderr,
        )
        return 2
    # Several stacks plan in one process: the SDK imports (most of a cold
    # plan) are paid once. With --out, each stack writes under DIR/<stack>.
    status = 0
    for stack in stacks:
        out = args.out / stack if args.out and len(stacks) > 1 else args.out
        status = max(status, _plan_one(args, pack_config, stack, out, label=f"{stack}: " if len(stacks) > 1 else ""))
    return status


def config_stack(path: Path) -> str:
    """The stack a `--config` file plans as: `<stack>` of `Pulumi.<stack>.yaml`, else `custom`."""
    return stack_of_file(path) or "custom"


def _plan_one(args: argparse.Namespace, pack_config: PackConfig, stack: str, out: Path | None, label: str) -> int:
    try:
        config = read_stack_config(args.project_dir, stack, args.config)
        if args.previous is not None:
            # What the mesh switch guard decides in `pulumi up`, from the earlier plan's guard state.
            try:
                previous = read_plan_doc(args.previous)
            except ValueError as exc:
                raise ValueError(f"--previous: {exc}") from None
            if previous.get("stack") != config.stack:
                raise ValueError(
                    f"--previous {args.previous} is a plan of stack {previous.get('stack')!r}, this plan is of "
                    f"stack {config.stack!r}: the guard judges a change against its own stack's deployment\n"
                    f"    fix: pass a plan of stack {config.stack!r}, or plan stack {previous.get('stack')!r} "
                    f"(`--stack NAME`, or a `--config` file named Pulumi.NAME.yaml)"
                )
            note = check_previous(previous, spec_of(config)).message
            if note:
                print(f"note: {note}")
        plan = run_plan(args.project_dir, config, now=args.now)
    except ConfigError as exc:
        print(f"meshfleet: {label}{exc.render()}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"meshfleet: {exc}", file=sys.stderr)
        return 2
    print(render_tree(plan))
    for path in config.placeholders:
        print(f"note: {path} is encrypted; planned with a placeholder (offline plans cannot decrypt)")
    if out:
        try:
            written = write_plan(plan, out, show_secrets=args.show_secrets)
        except OSError as exc:
            print(
                f"meshfleet: cannot write the plan to {out}: {exc.strerror or exc}\n"
                "    fix: pass --out a directory you can write to (it is created if missing)",
                file=sys.stderr,
            )
            return 2
        print(f"wrote {len(written)} files to {out}")
    return _guard(guard.check_plan(plan, pack_config, args.now.date()), args.policy_config)


class _ReaderMayLeave:
    """Standard output for a reader that may stop reading (`meshfleet diff A B | head`).

    Once the pipe is closed, what is left to print goes to /dev/null and the
    command carries on: a plan still writes its files and exits with its own
    code, with no BrokenPipeError traceback.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._reader_left()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_left()

    def _reader_left(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run() -> NoReturn:
    """The `meshfleet` command: `main`, then an exit that skips tearing the interpreter down.

    A plan leaves hundreds of thousands of objects behind (the SDK's
    Outputs, futures and their reference cycles) and a process that holds
    every cloud SDK's modules; an ordinary exit has the garbage collector
    walk all of them and then unloads every module, which took about 2 s of
    an 11 s 25-cluster plan. By the time `main` returns, everything the
    command writes is written; the exit handlers (the logging flush among
    them) still run and both streams are flushed, so only the teardown is
    skipped. The benchmarks' points exit the same way (benchmarks/run.py),
    so their process figures are what this command takes. An exception out
    of `main` takes the ordinary way out, with its traceback. What this
    relies on: no command leaves a thread running (the offline plan runs its
    RPCs inline; `history` and `rollback` wait for their subprocesses) and
    every file is closed when written (`ops/plan.py`); a later command that
    starts a thread must join it before returning.
    """
    sys.stdout = _ReaderMayLeave(sys.stdout)
    code = main()
    atexit._run_exitfuncs()  # what an ordinary exit runs before the teardown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
