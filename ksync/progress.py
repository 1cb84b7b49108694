"""Progress on stderr: a bar on a terminal, periodic plain lines otherwise, or nothing.

Never on stdout, so ``--format json`` output stays clean. Safe to call from worker
threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from tqdm import tqdm


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def finish(self) -> None: ...

    def waiting(self, seconds: float, reason: str) -> None: ...


class NoProgress:
    """--quiet: says nothing."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

    def waiting(self, seconds: float, reason: str) -> None:
        pass


NO_PROGRESS = NoProgress()


class PlainProgress:
    """Not a terminal: a line every ``every`` seconds while a step runs, and one when a
    step that was reported ends. A quick step says nothing. Waits are always said
    (``waiting 41 s for the rate limit``)."""

    def __init__(
        self, stream: TextIO, every: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._label = ""
        self._total = 0
        self._done = 0
        self._last = 0.0
        self._reported = False

    def start(self, label: str, total: int) -> None:
        with self._lock:
            self._label, self._total, self._done = label, total, 0
            self._last = self._clock()
            self._reported = False

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self._done += count
            now = self._clock()
            due = now - self._last >= self._every
            if due:
                self._last = now
                self._reported = True
            line = f"{self._label}: {self._done}/{self._total}"
        if due:
            self._say(line)

    def finish(self) -> None:
        with self._lock:
            reported, self._reported = self._reported, False
            line = f"{self._label}: {self._done}/{self._total} done"
        if reported:
            self._say(line)

    def waiting(self, seconds: float, reason: str) -> None:
        self._say(f"waiting {seconds:.0f} s for {reason}")

    def _say(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


class BarProgress:
    """A terminal: a tqdm bar (done/total, rate, time left), with waits shown beside it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._bar: tqdm[Any] | None = None

    def start(self, label: str, total: int) -> None:
        with self._lock:
            self._bar = tqdm(total=total, desc=label, file=self._stream, unit="req", leave=False)

    def advance(self, count: int = 1) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.update(count)

    def finish(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def waiting(self, seconds: float, reason: str) -> None:
        with self._lock:
            message = f"waiting {seconds:.0f} s for {reason}"
            if self._bar is not None:
                self._bar.set_postfix_str(message)
            else:
                tqdm.write(message, file=self._stream)


def progress_for(stream: TextIO, quiet: bool) -> Progress:
    if quiet:
        return NO_PROGRESS
    if stream.isatty():
        return BarProgress(stream)
    return PlainProgress(stream)
