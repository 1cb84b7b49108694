"""The command line: parse flags, wire the parts together, print, pick the exit code.

Only this module prints or chooses exit codes; each command is a few lines of wiring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from ksync import __version__
from ksync.applier import ApplyOptions, ApplyResult, Outcome, apply_plan
from ksync.client import ApiError, SettingsError, resolve_api_url
from ksync.config import ConfigError, load_desired, schema
from ksync.emulator import add_arguments as add_emulator_arguments
from ksync.emulator import run_from_args as run_emulator
from ksync.guard import DEFAULT_MAX_REMOVAL_RATIO, removal_refusal
from ksync.importer import (
    customers_to_yaml,
    read_all,
    read_selected,
    render_files,
    skipped_arrays,
)
from ksync.journal import JOURNAL_FILE, Journal, entry_for
from ksync.live import changed_since, read_live
from ksync.lock import LOCK_FILE, LockHeld, apply_lock
from ksync.markdown import render_markdown
from ksync.model import Desired, customer_label
from ksync.plan import Plan
from ksync.planfile import PlanFileError, load_plan, save_plan, write_text_atomic
from ksync.planner import plan as make_plan
from ksync.redact import redact_plan
from ksync.render import Paint, ansi, plain, render_json, render_text
from ksync.roles import lacking, missing_roles
from ksync.runtime import DEFAULT_PARALLELISM, Run, RunSettings, open_run
from ksync.targeting import UnknownCustomer, select_customers
from ksync.verify import verify
from ksync.workdir import state_dir

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # plan --detailed-exitcode: there are changes
EXIT_REFUSED = 3  # apply: a stale saved plan, or too many removals without --force


class Refused(Exception):
    """apply would not go ahead; the message says why. Nothing was written."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


EXAMPLES = """examples:
  ksync validate contacts/
  ksync plan contacts/ --out plan.json
  ksync apply --plan plan.json

"""
EPILOG = """exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode),
3 refused (apply: the saved plan is stale, or it removes too much without --force)"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1: 2 means "changes present" for plan."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ksync",
        description="Declare Kustomer customers' emails and phones in YAML; plan and apply.",
        epilog=EXAMPLES + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ksync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _validate_parser(commands)
    _plan_parser(commands)
    _apply_parser(commands)
    _import_parser(commands)
    _command(commands, "schema", "print the JSON Schema of the files", "ksync schema > ksync.json")
    add_emulator_arguments(
        _command(
            commands,
            "emulator",
            "run a local Kustomer-compatible API server",
            "ksync emulator --port 8080 --seed examples/org.json",
        )
    )
    return parser


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[Parser]


def _command(commands: Commands, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}\n\n{EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _validate_parser(commands: Commands) -> None:
    validate = _command(
        commands, "validate", "check the files; no network", "ksync validate contacts/"
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")


def _plan_parser(commands: Commands) -> None:
    plan = _command(
        commands,
        "plan",
        "show what apply would change",
        "ksync plan contacts/ --out plan.json",
    )
    plan.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    plan.add_argument("--out", type=Path, metavar="FILE", help="save the plan for apply --plan")
    plan.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is nothing to do, 2 when there are changes, 1 on error",
    )
    _desired_flags(plan)
    _connection_flags(plan)


def _apply_parser(commands: Commands) -> None:
    apply = _command(
        commands,
        "apply",
        "make Kustomer match the files",
        "ksync apply contacts/\n  ksync apply --plan plan.json",
    )
    apply.add_argument("paths", nargs="*", metavar="PATH", help="files or directories")
    apply.add_argument("--plan", type=Path, metavar="FILE", help="apply a saved plan")
    apply.add_argument("--auto-approve", action="store_true", help="do not ask for 'yes'")
    apply.add_argument("--no-bulk", action="store_true", help="never use bulk requests")
    apply.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help="append a JSON line for every write here (default .ksync/journal.jsonl at "
        "the top of the working copy)",
    )
    apply.add_argument(
        "--lock-timeout",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another apply in this directory to finish (default 0)",
    )
    apply.add_argument("--force", action="store_true", help="apply even a plan that removes a lot")
    apply.add_argument(
        "--max-removal-ratio",
        type=_ratio,
        default=DEFAULT_MAX_REMOVAL_RATIO,
        metavar="R",
        help="refuse plans removing values from more than this share of customers (0.30)",
    )
    _desired_flags(apply)
    _connection_flags(apply)


def _import_parser(commands: Commands) -> None:
    imp = _command(
        commands,
        "import",
        "write YAML files from the customers Kustomer has",
        "ksync import --all --out-dir contacts/\n  ksync import --external-id user-3 --out x.yaml",
    )
    imp.add_argument("--id", action="append", default=[], metavar="ID", help="repeatable")
    imp.add_argument("--external-id", action="append", default=[], metavar="X", help="repeatable")
    imp.add_argument("--all", action="store_true", help="every customer of the org")
    imp.add_argument("--out", type=Path, metavar="FILE", help="one file (default: stdout)")
    imp.add_argument("--out-dir", type=Path, metavar="DIR", help="several files, 1000 a file")
    imp.add_argument(
        "--phone-region", metavar="XX", help="defaults.phone_region to write (e.g. US)"
    )
    _connection_flags(imp, strategy=False)


def _desired_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--customer",
        action="append",
        default=[],
        metavar="ID_OR_EXTERNALID",
        help="only this customer (repeatable): a partial plan",
    )
    parser.add_argument(
        "--redact", action="store_true", help="mask emails and phones in the output"
    )


def _connection_flags(parser: argparse.ArgumentParser, strategy: bool = True) -> None:
    parser.add_argument("--api-url", metavar="URL", help="overrides KUSTOMER_API_URL/ORG")
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    parser.add_argument(
        "--parallelism",
        type=_positive_int,
        default=DEFAULT_PARALLELISM,
        metavar="N",
        help=f"requests in flight at once (default {DEFAULT_PARALLELISM})",
    )
    parser.add_argument(
        "--rate-limit",
        type=_positive_int,
        metavar="RPM",
        help="the org's requests per minute (default: learnt from the API's headers)",
    )
    parser.add_argument(
        "--max-share",
        type=_share,
        default=1.0,
        metavar="F",
        help="use only this share of the rate limit, e.g. 0.8 (default 1)",
    )
    if strategy:
        parser.add_argument(
            "--read-strategy",
            choices=("auto", "get", "list"),
            default="auto",
            help="read each customer, list the org, or pick the cheaper (default auto)",
        )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request on stderr")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "validate": cmd_validate,
        "plan": cmd_plan,
        "apply": cmd_apply,
        "schema": cmd_schema,
        "import": cmd_import,
        "emulator": run_emulator,
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
    except (
        ApiError,
        SettingsError,
        PlanFileError,
        LockHeld,
        UnknownCustomer,
        LookupError,
        OSError,
    ) as err:
        print(f"ksync: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ksync: interrupted", file=sys.stderr)
        return EXIT_ERROR


def cmd_validate(args: argparse.Namespace) -> int:
    desired = load_desired(args.paths)
    print(f"{len(desired.customers)} customers declared; the files are valid.")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(schema(), indent=2))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    if args.all == bool(args.id or args.external_id):
        raise Refused("give --all, or --id/--external-id (not both)")
    if args.out is not None and args.out_dir is not None:
        raise Refused("give --out FILE or --out-dir DIR, not both")
    region = args.phone_region
    with _open(args) as run:
        if args.all:
            customers = list(read_all(run.client, region))
        else:
            customers = read_selected(run.client, args.id, args.external_id, region)
    if args.out_dir is not None:
        files = render_files(customers, phone_region=region)
        for name, text in files.items():
            write_text_atomic(args.out_dir / name, text)
        where = f"{len(files)} file(s) in {args.out_dir}"
    elif args.out is not None:
        write_text_atomic(args.out, customers_to_yaml(customers, phone_region=region))
        where = str(args.out)
    else:
        sys.stdout.write(customers_to_yaml(customers, phone_region=region))
        where = "stdout"
    for skipped in skipped_arrays(customers, region):
        print(f"ksync: warning: {skipped}", file=sys.stderr)
    print(f"Imported {len(customers)} customers to {where}.", file=sys.stderr)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    desired = _desired(args)
    with _open(args) as run:
        plan = _fresh_plan(args, desired, run)
    if args.out is not None:
        save_plan(args.out, plan, plan.meta["target"])
    sys.stdout.write(_render(args, plan))
    if args.out is not None and args.format == "text":
        print(f"Saved the plan to {args.out}; apply it with: ksync apply --plan {args.out}")
    if args.detailed_exitcode and not plan.empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    if (args.plan is None) == (not args.paths):
        raise Refused("give either PATH... or --plan FILE")
    if args.plan is not None and args.customer:
        raise Refused("--customer selects from files; a saved plan is applied whole")
    state = state_dir()
    with apply_lock(state / LOCK_FILE, args.lock_timeout), _open(args) as run:
        if args.plan is not None:
            plan = _saved_plan(args.plan, run)
        else:
            plan = _fresh_plan(args, _desired(args), run)
        sys.stdout.write(_render(args, plan, text_only=True))
        if plan.empty:
            return EXIT_OK
        refusal = None if args.force else removal_refusal(plan, args.max_removal_ratio)
        if refusal:
            raise Refused(refusal, EXIT_REFUSED)
        _check_roles(plan, run)
        if args.plan is None and not args.auto_approve:
            _confirm(sys.stdin, sys.stdout)
        with Journal(args.journal or state / JOURNAL_FILE) as journal:
            options = ApplyOptions(
                parallelism=args.parallelism,
                bulk=not args.no_bulk,
                progress=run.progress,
                record=lambda outcome: journal.write(entry_for(plan, outcome)),
            )
            result = apply_plan(
                plan, run.client, lambda o: _print_outcome(plan, o), (ApiError,), options
            )
        return _report(plan, result, run)


def _desired(args: argparse.Namespace) -> Desired:
    desired = load_desired(args.paths)
    return select_customers(desired, args.customer) if args.customer else desired


def _open(args: argparse.Namespace) -> Run:
    settings = RunSettings(
        url=resolve_api_url(args.api_url, os.environ),
        rate_limit=args.rate_limit,
        max_share=args.max_share,
        parallelism=args.parallelism,
        read_strategy=getattr(args, "read_strategy", "auto"),
        quiet=args.quiet,
        verbose=args.verbose,
        redact=getattr(args, "redact", False),
    )
    return open_run(settings, os.environ)


def _fresh_plan(args: argparse.Namespace, desired: Desired, run: Run) -> Plan:
    plan = make_plan(desired, read_live(run.client, desired, run.read))
    if plan.problems:
        shown = _redacted(args, plan)
        if getattr(args, "format", "text") == "markdown":
            sys.stdout.write(render_markdown(shown))  # a PR comment shows the problems too
        for problem in shown.problems:
            print(f"{problem}", file=sys.stderr)
        raise Refused(f"{len(plan.problems)} problem(s) stop this plan; nothing was written")
    meta = {"ksync_version": __version__, "target": run.client.base_url}
    return replace(plan, meta=meta, partial=bool(args.customer))


def _redacted(args: argparse.Namespace, plan: Plan) -> Plan:
    return redact_plan(plan) if args.redact else plan


def _render(args: argparse.Namespace, plan: Plan, text_only: bool = False) -> str:
    plan = _redacted(args, plan)
    if text_only or args.format == "text":
        return render_text(plan, _paint(args))
    if args.format == "json":
        return render_json(plan)
    return render_markdown(plan)


def _saved_plan(path: Path, run: Run) -> Plan:
    plan, target = load_plan(path)
    url = run.client.base_url
    if target != url:
        raise Refused(f"the plan was made for {target}, not {url}")
    stale = changed_since(plan, run.client, run.read)
    if stale:
        names = "; ".join(f"{c.external_id or c.id} ({c.source})" for c in stale)
        raise Refused(
            f"the plan is stale: {len(stale)} customer(s) changed in Kustomer since it was "
            f"made: {names}. Nothing was written; run ksync plan again.",
            EXIT_REFUSED,
        )
    return plan


def _check_roles(plan: Plan, run: Run) -> None:
    """Before any write: refuse when Kustomer says the key lacks a role the plan needs."""
    granted = run.client.token_roles()
    missing = [] if granted is None else missing_roles(plan, granted)
    if missing:
        raise Refused("; ".join(lacking(role) for role in missing) + "; nothing was written")


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
    name = customer_label(change.external_id, change.id or outcome.customer_id)
    line = f"{request.method} {request.path} ({name}): "
    if outcome.status == "ok":
        print(line + ("done (bulk)" if outcome.via_bulk else "done"))
    else:
        print(line + f"{outcome.status}: {outcome.message}", file=sys.stderr)


def _report(plan: Plan, result: ApplyResult, run: Run) -> int:
    sent = sum(1 for o in result.outcomes if o.status != "skipped")
    failed = sum(1 for o in result.outcomes if o.status == "failed")
    skipped = sum(1 for o in result.outcomes if o.status == "skipped")
    print(f"Apply complete: {sent} writes sent, {failed} failed, {skipped} not sent.")
    checked, mismatches = verify(plan, result.outcomes, run.client, run.read)
    for mismatch in mismatches:
        print(f"ksync: error: {mismatch}", file=sys.stderr)
    print(f"Verified: {checked - len(mismatches)} of {checked} written customers match the plan.")
    return EXIT_OK if result.ok and not mismatches else EXIT_ERROR


def _paint(args: argparse.Namespace, stream: TextIO | None = None) -> Paint:
    out = stream or sys.stdout
    if args.no_color or os.environ.get("NO_COLOR") or not out.isatty():
        return plain
    return ansi
