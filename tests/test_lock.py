"""One apply at a time per working copy: ``.ksync/apply.lock``.

The lock is held from the test (``apply_lock``, in this process: flock locks belong to
an open file, so two opens in one process exclude each other) or by a child process.
Waiting is driven by events, never by sleeping for a guessed time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import API_KEY, Org
from harness import assert_converged

import ksync.lock
from ksync.lock import LockHeld, apply_lock
from ksync.workdir import state_dir

A = "a0000000000000000000000a"
FILES = "customers:\n  - externalId: u1\n    emails: [a@example.com]\n"
REPO = Path(__file__).resolve().parents[1]
# The org fixture works in a fresh folder outside git: the state folder is right there.
DEFAULT_LOCK = Path(".ksync") / "apply.lock"


def seed(org: Org) -> str:
    org.seed({"id": A, "externalId": "u1", "emails": []})
    return org.files(FILES)


def holder_of(path: Path = DEFAULT_LOCK) -> dict[str, object]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_a_second_apply_is_refused_while_the_lock_is_held(org: Org) -> None:
    files = seed(org)
    with apply_lock(DEFAULT_LOCK):
        holder = holder_of()
        assert holder["pid"] == os.getpid()
        assert holder["host"] == socket.gethostname()
        result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 1
    assert org.requests() == []  # refused before anything is read or written
    message = result.err.strip()
    assert message.startswith("ksync: error: another ksync apply is running in this working copy")
    assert f"pid {os.getpid()} " in message
    assert f"on {socket.gethostname()}, " in message
    assert re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message), message
    assert str(holder["since"]) in message
    assert "--lock-timeout" in message
    assert "waited" not in message
    # Released: the file no longer names anyone, and apply goes ahead.
    assert DEFAULT_LOCK.read_text(encoding="utf-8") == ""
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert DEFAULT_LOCK.read_text(encoding="utf-8") == ""
    assert_converged(org, files)


def test_plan_needs_no_lock(org: Org) -> None:
    files = seed(org)
    with apply_lock(DEFAULT_LOCK):
        result = org.ksync("plan", "--detailed-exitcode", files)
    assert result.code == 2, result


def test_a_lock_timeout_that_runs_out_says_how_long_it_waited(org: Org) -> None:
    files = seed(org)
    with apply_lock(DEFAULT_LOCK):
        result = org.ksync("apply", "--auto-approve", "--lock-timeout", "0.3", files)
    assert result.code == 1
    assert "(waited 0.3 s)" in result.err and f"pid {os.getpid()} " in result.err
    assert org.requests() == []
    assert_converged_after_apply(org, files)


def assert_converged_after_apply(org: Org, files: str) -> None:
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)


def test_with_a_lock_timeout_apply_waits_and_proceeds_when_released(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = seed(org)
    waiting = threading.Event()  # the second apply found the lock taken
    release = threading.Event()
    held = threading.Event()
    try_lock = ksync.lock._try_lock

    def watched(fd: int) -> bool:
        got = try_lock(fd)
        if not got:
            waiting.set()
        return got

    def hold() -> None:
        with apply_lock(DEFAULT_LOCK):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(60)
    monkeypatch.setattr("ksync.lock._try_lock", watched)

    def release_when_waiting() -> None:
        waiting.wait(60)
        release.set()

    releaser = threading.Thread(target=release_when_waiting)
    releaser.start()
    try:
        result = org.ksync("apply", "--auto-approve", "--lock-timeout", "60", files)
    finally:
        release.set()
        releaser.join()
        holder.join()
    assert waiting.is_set()
    assert result.code == 0, result
    assert [w[:2] for w in org.writes()] == [("PUT", f"/v1/customers/{A}")]
    assert_converged(org, files)


def test_the_lock_is_per_working_copy(org: Org, tmp_path: Path) -> None:
    files = seed(org)
    elsewhere = tmp_path / "other-checkout"
    elsewhere.mkdir()
    with apply_lock(elsewhere / ".ksync" / "apply.lock"):
        result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert_converged(org, files)


HOLD = """
import sys
from pathlib import Path
from ksync.lock import apply_lock
with apply_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()  # until the test kills us
"""


def test_the_lock_is_released_when_its_holder_is_killed(org: Org) -> None:
    files = seed(org)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(DEFAULT_LOCK)],
        cwd=org.tmp,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"held\n"
            result = org.ksync("apply", "--auto-approve", files)
            assert result.code == 1
            assert f"pid {child.pid} " in result.err
            with pytest.raises(LockHeld, match=f"pid {child.pid} "), apply_lock(DEFAULT_LOCK):
                pass
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            child.kill()
    # The file still names the dead holder, but the OS lock went with it.
    assert holder_of()["pid"] == child.pid
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert [w[:2] for w in org.writes()] == [("PUT", f"/v1/customers/{A}")]
    assert_converged(org, files)


def test_the_lock_is_released_when_apply_fails(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    files = seed(org)
    monkeypatch.setenv("KUSTOMER_API_KEY", "not-the-key")
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 1 and "401" in result.err
    with apply_lock(DEFAULT_LOCK):  # free again
        pass
    monkeypatch.setenv("KUSTOMER_API_KEY", API_KEY)
    assert_converged_after_apply(org, files)


def test_apply_works_for_a_user_without_a_name(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """Containers often run with a uid that has no passwd entry: getuser() raises."""

    def no_name() -> str:
        raise KeyError("getpwuid(): uid not found: 100042")

    monkeypatch.setattr("ksync.lock.getpass.getuser", no_name)
    files = seed(org)
    with apply_lock(DEFAULT_LOCK):
        assert holder_of()["user"] == "?"
        result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 1 and f"pid {os.getpid()} of ? on " in result.err
    assert_converged_after_apply(org, files)


def test_one_lock_for_the_whole_working_copy(org: Org, tmp_path: Path) -> None:
    """An apply started in a subfolder of a git working copy takes the lock at its top."""
    files = seed(org)
    (tmp_path / ".git").mkdir()
    (tmp_path / "contacts").mkdir()
    os.chdir(tmp_path / "contacts")
    assert state_dir() == tmp_path.resolve() / ".ksync"
    with apply_lock(tmp_path / ".ksync" / "apply.lock"):
        result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 1 and "another ksync apply is running" in result.err
    assert org.requests() == []
    os.chdir(tmp_path)
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert not (tmp_path / "contacts" / ".ksync").exists()
    assert (tmp_path / ".ksync" / "journal.jsonl").exists()
    assert_converged(org, files)
