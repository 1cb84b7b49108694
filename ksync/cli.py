"""The command line: parse flags, wire the parts together, print, pick the exit code.

Only this module prints or chooses exit codes; each command is a few lines of wiring.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from ksync import __version__
from ksync.applier import ApplyResult, Outcome, apply_plan
from ksync.client import ApiError, KustomerClient, SettingsError, api_key_from_env, resolve_api_url
from ksync.config import ConfigError, load_desired
from ksync.emulator import add_arguments as add_emulator_arguments
from ksync.emulator import run_from_args as run_emulator
from ksync.live import changed_since, read_live
from ksync.model import customer_label
from ksync.plan import Plan
from ksync.planfile import PlanFileError, load_plan, save_plan
from ksync.planner import plan as make_plan
from ksync.render import Paint, ansi, plain, render_json, render_text

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # plan --detailed-exitcode: there are changes
EXIT_REFUSED = 3  # apply: a saved plan is stale


class Refused(Exception):
    """apply would not go ahead; the message says why. Nothing was written."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


EPILOG = """exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode),
3 refused (apply: the saved plan is stale)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ksync",
        description="Declare Kustomer customers' emails and phones in YAML; plan and apply.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ksync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = _command(
        commands, "validate", "check the files; no network", "ksync validate contacts/"
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")

    plan = _command(commands, "plan", "show what apply would change", "ksync plan contacts/")
    plan.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    plan.add_argument("--out", type=Path, metavar="FILE", help="save the plan for apply --plan")
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is nothing to do, 2 when there are changes, 1 on error",
    )
    _connection_flags(plan)

    apply = _command(
        commands,
        "apply",
        "make Kustomer match the files",
        "ksync apply contacts/\n  ksync apply --plan plan.json",
    )
    apply.add_argument("paths", nargs="*", metavar="PATH", help="files or directories")
    apply.add_argument("--plan", type=Path, metavar="FILE", help="apply a saved plan")
    apply.add_argument("--auto-approve", action="store_true", help="do not ask for 'yes'")
    _connection_flags(apply)

    emulator = _command(
        commands,
        "emulator",
        "run a local Kustomer-compatible API server",
        "ksync emulator --port 8080 --seed examples/org.json",
    )
    add_emulator_arguments(emulator)
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    example: str,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}\n\n{EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", metavar="URL", help="overrides KUSTOMER_API_URL/ORG")
    parser.add_argument("--no-color", action="store_true", help="never colour the output")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "validate": cmd_validate,
        "plan": cmd_plan,
        "apply": cmd_apply,
        "emulator": cmd_emulator,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return EXIT_ERROR
    except Refused as err:
        print(f"ksync: refused: {err}", file=sys.stderr)
        return err.code
    except (ApiError, SettingsError, PlanFileError) as err:
        print(f"ksync: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ksync: interrupted", file=sys.stderr)
        return EXIT_ERROR


def cmd_validate(args: argparse.Namespace) -> int:
    desired = load_desired(args.paths)
    print(f"{len(desired.customers)} customers declared; the files are valid.")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    desired = load_desired(args.paths)
    url = resolve_api_url(args.api_url, os.environ)
    with _client(url) as client:
        plan = make_plan(desired, read_live(client, desired))
    _refuse_problems(plan)
    plan = _with_meta(plan, url)
    if args.out is not None:
        save_plan(args.out, plan, url)
    output = render_json(plan) if args.format == "json" else render_text(plan, _paint(args))
    sys.stdout.write(output)
    if args.out is not None and args.format == "text":
        print(f"Saved the plan to {args.out}; apply it with: ksync apply --plan {args.out}")
    if args.detailed_exitcode and not plan.empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    if (args.plan is None) == (not args.paths):
        raise Refused("give either PATH... or --plan FILE")
    url = resolve_api_url(args.api_url, os.environ)
    with _client(url) as client:
        if args.plan is not None:
            plan = _saved_plan(args.plan, url, client)
        else:
            desired = load_desired(args.paths)
            plan = make_plan(desired, read_live(client, desired))
            _refuse_problems(plan)
        sys.stdout.write(render_text(plan, _paint(args)))
        if plan.empty:
            return EXIT_OK
        if args.plan is None and not args.auto_approve:
            _confirm(sys.stdin, sys.stdout)
        result = apply_plan(plan, client, lambda o: _print_outcome(plan, o), (ApiError,))
    return _report(result)


def cmd_emulator(args: argparse.Namespace) -> int:
    return run_emulator(args)


def _client(url: str) -> KustomerClient:
    return KustomerClient(url, api_key_from_env(os.environ))


def _with_meta(plan: Plan, url: str) -> Plan:
    return replace(plan, meta={"ksync_version": __version__, "target": url})


def _refuse_problems(plan: Plan) -> None:
    if plan.problems:
        for problem in plan.problems:
            print(f"{problem}", file=sys.stderr)
        raise Refused(f"{len(plan.problems)} problem(s) stop this plan; nothing was written")


def _saved_plan(path: Path, url: str, client: KustomerClient) -> Plan:
    plan, target = load_plan(path)
    if target != url:
        raise Refused(f"the plan was made for {target}, not {url}")
    stale = changed_since(plan, client)
    if stale:
        names = "; ".join(f"{c.external_id or c.id} ({c.source})" for c in stale)
        raise Refused(
            f"the plan is stale: {len(stale)} customer(s) changed in Kustomer since it was "
            f"made: {names}. Nothing was written; run ksync plan again.",
            EXIT_REFUSED,
        )
    return plan


def _confirm(stdin: TextIO, stdout: TextIO) -> None:
    if not stdin.isatty():
        raise Refused(
            "apply needs confirmation and stdin is not a terminal; nothing was written. "
            "Use --auto-approve, or apply a saved plan with --plan FILE."
        )
    stdout.write("Do you want to apply these changes? Only 'yes' will be accepted: ")
    stdout.flush()
    if stdin.readline().strip() != "yes":
        raise Refused("apply cancelled; nothing was written")


def _print_outcome(plan: Plan, outcome: Outcome) -> None:
    request = outcome.request
    change = plan.changes[request.change]
    name = customer_label(change.external_id, change.id)
    line = f"{request.method} {request.path} ({name}): "
    if outcome.status == "ok":
        print(line + "done")
    else:
        print(line + f"{outcome.status}: {outcome.message}", file=sys.stderr)


def _report(result: ApplyResult) -> int:
    sent = sum(1 for o in result.outcomes if o.status != "skipped")
    failed = sum(1 for o in result.outcomes if o.status == "failed")
    skipped = sum(1 for o in result.outcomes if o.status == "skipped")
    print(f"Apply complete: {sent} requests sent, {failed} failed, {skipped} not sent.")
    return EXIT_OK if result.ok else EXIT_ERROR


def _paint(args: argparse.Namespace, stream: TextIO | None = None) -> Paint:
    out = stream or sys.stdout
    if args.no_color or os.environ.get("NO_COLOR") or not out.isatty():
        return plain
    return ansi
