"""One apply at a time per working copy: an exclusive lock on ``.ksync/apply.lock``.

The lock is an OS file lock (flock), so it is released when the holder exits in any
way, even when killed. The file says who holds it and since when.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

LOCK_FILE = "apply.lock"  # in the state folder (``workdir.state_dir``)
POLL_SECONDS = 0.2


class LockHeld(Exception):
    """Another apply holds the lock; the message says who and since when."""


@contextmanager
def apply_lock(
    path: Path,
    timeout: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the lock for the ``with`` block, waiting up to ``timeout`` seconds for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = clock() + timeout
        while not _try_lock(fd):
            if clock() >= deadline:
                raise LockHeld(_held_message(path, fd, timeout))
            sleep(POLL_SECONDS)
        _write_holder(fd)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": _user(),
        "since": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    data = json.dumps(holder).encode()
    # Written over what a killed holder left, then cut to length: never empty meanwhile.
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _user() -> str:
    """The login name, or "?" when there is none (a container run with a bare uid)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def _held_message(path: Path, fd: int, timeout: float) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        holder = {}
    who = (
        f"pid {holder.get('pid', '?')} of {holder.get('user', '?')} on "
        f"{holder.get('host', '?')}, since {holder.get('since', '?')}"
    )
    waited = f" (waited {timeout:g} s)" if timeout else ""
    return (
        f"another ksync apply is running in this working copy: {path} is held by {who}"
        f"{waited}; wait for it to finish, or use --lock-timeout SECONDS"
    )
