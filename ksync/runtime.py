"""Turning command-line settings into the parts of one run: client, pacing, progress.

One rate limiter and one progress display per run, shared by every request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import quote, unquote

from ksync.client import KustomerClient, api_key_from_env
from ksync.live import ReadOptions, Strategy
from ksync.pacing import RateLimiter
from ksync.progress import Progress, progress_for
from ksync.redact import redact_value
from ksync.retrying import RetryPolicy

DEFAULT_PARALLELISM = 8


@dataclass(frozen=True)
class RunSettings:
    url: str
    rate_limit: int | None = None
    max_share: float = 1.0
    parallelism: int = DEFAULT_PARALLELISM
    read_strategy: Strategy = "auto"
    quiet: bool = False
    verbose: bool = False
    redact: bool = False  # mask emails and phones in logged paths


@dataclass(frozen=True)
class Run:
    """What one command talks to Kustomer with; a context manager closing the client."""

    client: KustomerClient
    progress: Progress
    read: ReadOptions

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()


def open_run(settings: RunSettings, env: Mapping[str, str], stderr: TextIO | None = None) -> Run:
    """The client and helpers for one command; use it as a context manager."""
    stderr = stderr or sys.stderr
    progress = progress_for(stderr, settings.quiet)
    limiter = RateLimiter(settings.rate_limit, settings.max_share, on_wait=_say_wait(progress))
    on_response = _log_response(stderr, settings.redact) if settings.verbose else None
    client = KustomerClient(
        settings.url,
        api_key_from_env(env),
        retry=RetryPolicy(),
        limiter=limiter,
        max_connections=max(settings.parallelism, 1),
        on_response=on_response,
    )
    read = ReadOptions(settings.read_strategy, settings.parallelism, progress)
    return Run(client, progress, read)


def _say_wait(progress: Progress) -> Callable[[float, str], None]:
    def on_wait(seconds: float, reason: str) -> None:
        progress.waiting(seconds, reason)

    return on_wait


def _log_response(stderr: TextIO, redact: bool) -> Callable[[str, str, int | None, float], None]:
    def on_response(method: str, path: str, status: int | None, seconds: float) -> None:
        shown = "no response" if status is None else str(status)
        logged = _masked_path(path) if redact else path
        print(f"{method} {logged} -> {shown} ({seconds * 1000:.0f} ms)", file=stderr, flush=True)

    return on_response


def _masked_path(path: str) -> str:
    """A look-up path with its email or phone masked, for --redact."""
    for field, key in (("emails", "email="), ("phones", "phone=")):
        head, found, value = path.partition(key)
        if found:
            return head + found + quote(redact_value(field, unquote(value)), safe="")
    return path
