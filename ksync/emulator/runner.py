"""``run``: the blocking entry point behind the ``ksync emulator`` command."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from types import FrameType
from typing import Any, TextIO

from ksync.emulator.app import Emulator
from ksync.emulator.server import EmulatorServer
from ksync.emulator.settings import EmulatorSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8931
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopServing(Exception):
    """Raised by the signal handler in the main thread to end ``run``."""


def _stop_on_first_signal(signum: int, frame: FrameType | None) -> None:
    for stop_signal in _STOP_SIGNALS:  # later signals are ignored while shutting down
        signal.signal(stop_signal, signal.SIG_IGN)
    raise _StopServing


@contextmanager
def _stop_signals() -> Iterator[None]:
    """In the main thread, turn SIGINT/SIGTERM into _StopServing; elsewhere do nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    try:
        for stop_signal in _STOP_SIGNALS:
            signal.signal(stop_signal, _stop_on_first_signal)
        yield
    finally:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)


def run(
    settings: EmulatorSettings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    seed_path: str | PathLike[str] | None = None,
    *,
    allow_remote: bool = False,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve an emulated org until SIGINT/SIGTERM (or ``stop`` is set); return 0.

    Loads ``seed_path`` first (ValueError/OSError propagate, before anything listens),
    then prints exactly one line, ``ksync emulator listening on http://HOST:PORT``, to
    ``out`` (stdout by default), flushed. Signals are only caught when called from the
    main thread; from another thread, set ``stop`` to end it. Never prints the API key.
    """
    emulator = Emulator(settings)
    if seed_path is not None:
        emulator.load_seed(seed_path)
    stop_event = stop or threading.Event()
    try:
        with (
            _stop_signals(),
            EmulatorServer(emulator, host, port, allow_remote=allow_remote) as server,
        ):
            print(f"ksync emulator listening on {server.url}", file=out or sys.stdout, flush=True)
            stop_event.wait()
    except _StopServing:
        pass
    return 0
