"""The ``ksync emulator`` command line: its flags and running it from parsed flags.

``ksync.cli`` calls ``add_arguments`` on its ``emulator`` subparser and
``run_from_args`` with what it parsed. Flags left out keep ``EmulatorSettings``'
defaults; the default key is ``emulator-key``.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TextIO

from ksync.emulator.runner import DEFAULT_HOST, run
from ksync.emulator.settings import RESET_FORMATS, EmulatorSettings

DEFAULT_CLI_PORT = 8080
_DEFAULTS = EmulatorSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's flags to ``parser``."""
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_CLI_PORT, help="0 picks a free port")
    parser.add_argument("--seed", type=Path, metavar="FILE", help="customers to start with")
    parser.add_argument("--api-key", metavar="KEY", default=None, help="key clients must send")
    parser.add_argument(
        "--conflict-status",
        type=int,
        metavar="N",
        default=_DEFAULTS.conflict_status,
        help="status of uniqueness rejections (default 409)",
    )
    limits = parser.add_argument_group("rate limit")
    limits.add_argument(
        "--rate-limit", type=int, metavar="RPM", help="requests per minute (default: unlimited)"
    )
    limits.add_argument(
        "--reset-format",
        choices=RESET_FORMATS,
        default=_DEFAULTS.reset_format,
        help="x-ratelimit-reset as the window end (epoch) or the seconds until it",
    )
    limits.add_argument("--retry-after", action="store_true", help="send Retry-After with 429s")
    trouble = parser.add_argument_group("latency and injected faults")
    for flag, default, text in (
        ("--latency-ms", _DEFAULTS.latency_ms, "delay of every response"),
        ("--jitter-ms", _DEFAULTS.jitter_ms, "extra random delay, 0 to this"),
        ("--spike-rate", _DEFAULTS.spike_rate, "fraction of responses delayed by --spike-ms"),
        ("--spike-ms", _DEFAULTS.spike_ms, "delay of a spike"),
        ("--fault-rate", _DEFAULTS.fault_rate, "fraction answered 500/503, not applied"),
        ("--drop-rate", _DEFAULTS.drop_rate, "fraction of connections closed unanswered"),
        ("--throttle-rate", _DEFAULTS.throttle_rate, "fraction answered with an extra 429"),
        (
            "--fault-after-apply-rate",
            _DEFAULTS.fault_after_apply_rate,
            "fraction of writes applied, then answered 500",
        ),
    ):
        trouble.add_argument(flag, type=float, default=default, help=text)
    trouble.add_argument(
        "--random-seed", type=int, metavar="N", help="seed of the fault and latency draws"
    )
    org = parser.add_argument_group("org")
    org.add_argument(
        "--customers",
        type=int,
        metavar="N",
        default=_DEFAULTS.customers,
        help="synthetic customers to start with",
    )
    org.add_argument(
        "--bulk-polls",
        type=int,
        metavar="N",
        default=_DEFAULTS.bulk_polls_to_complete,
        help="status polls before a bulk job completes (0: at once)",
    )


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """The settings the flags ask for; ValueError if one is out of range."""
    key = {} if args.api_key is None else {"api_key": args.api_key}
    return EmulatorSettings(
        **key,
        conflict_status=args.conflict_status,
        rate_limit=args.rate_limit,
        reset_format=args.reset_format,
        retry_after=args.retry_after,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        spike_rate=args.spike_rate,
        spike_ms=args.spike_ms,
        fault_rate=args.fault_rate,
        drop_rate=args.drop_rate,
        throttle_rate=args.throttle_rate,
        fault_after_apply_rate=args.fault_after_apply_rate,
        seed=args.random_seed,
        bulk_polls_to_complete=args.bulk_polls,
        customers=args.customers,
    )


def run_from_args(
    args: argparse.Namespace,
    *,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Serve as the flags say until stopped (see ``run``); 0 when stopped.

    A bad setting, an unreadable or malformed seed file, a host that is not loopback or
    a port in use prints ``ksync emulator: error: ...`` to ``err`` (stderr by default)
    and returns 1.
    """
    try:
        settings = settings_from_args(args)
        return run(settings, args.host, args.port, args.seed, stop=stop, out=out)
    except (ValueError, OSError) as error:
        print(f"ksync emulator: error: {error}", file=err or sys.stderr)
        return 1
