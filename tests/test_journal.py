"""The apply journal: one JSON line per write (failed ones too), on disk at once, and
enough to tell what an apply that was killed with SIGKILL had done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY, Org
from harness import assert_converged, serve, without_token_endpoint

from ksync.applier import Outcome
from ksync.emulator import EmulatorResponse, EmulatorSettings
from ksync.emulator.roles import READ
from ksync.journal import Journal, entry_for
from ksync.model import SourceRef
from ksync.plan import Change, Plan, Request

JOURNAL = Path(".ksync") / "journal.jsonl"
A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
C = "c0000000000000000000000c"
D = "d0000000000000000000000d"
ENTRY_KEYS = {
    "time",
    "customer",
    "source",
    "request",
    "purpose",
    "result",
    "status",
    "message",
    "bulk",
    "before",
    "after",
}
REPO = Path(__file__).resolve().parents[1]


def read_journal(path: Path = JOURNAL) -> list[dict[str, Any]]:
    """Every line of the journal, each parsed as JSON (a line that is not fails)."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "the last line is incomplete"
    return [json.loads(line) for line in text.splitlines()]


def email(value: str, type: str = "home") -> dict[str, Any]:
    return {"email": value, "type": type, "verified": False}


# -- the Journal itself ----------------------------------------------------------------


def one_outcome(index: int = 0) -> tuple[Plan, Outcome]:
    request = Request("PUT", f"/v1/customers/{A}", {"emails": []}, change=0, purpose="update")
    change = Change(
        "update",
        SourceRef("c.yaml", 3),
        "u1",
        A,
        (),
        "sha256:x",
        before={"emails": [email("a@example.com")]},
    )
    plan = Plan(changes=(change,), requests=(request,), unchanged=0)
    return plan, Outcome(index, request, "ok", http_status=200)


def test_each_entry_is_on_disk_as_soon_as_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr("ksync.journal.os.fsync", synced.append)
    path = tmp_path / "deep" / "journal.jsonl"
    plan, outcome = one_outcome()
    moment = datetime(2026, 12, 4, 15, 0, 1, 234000, tzinfo=timezone.utc)
    with Journal(path) as journal:
        journal.write(entry_for(plan, outcome, moment))
        # Read by another open file while the journal is still open: already there.
        entries = read_journal(path)
        assert len(synced) == 1
        journal.write(entry_for(plan, outcome, moment))
        assert len(read_journal(path)) == 2 and len(synced) == 2
    assert entries == [
        {
            "time": "2026-12-04T15:00:01.234Z",
            "customer": {"id": A, "externalId": "u1"},
            "source": "c.yaml:3",
            "request": {"method": "PUT", "path": f"/v1/customers/{A}", "body": {"emails": []}},
            "purpose": "update",
            "result": "ok",
            "status": 200,
            "message": None,
            "bulk": False,
            "before": {"emails": [email("a@example.com")]},
            "after": {"emails": []},
        }
    ]


def test_the_journal_appends_and_lines_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"earlier": "run"}\n', encoding="utf-8")
    plan, outcome = one_outcome()
    with Journal(path) as journal:
        threads = [
            threading.Thread(
                target=lambda: [journal.write(entry_for(plan, outcome)) for _ in range(50)]
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    entries = read_journal(path)
    assert entries[0] == {"earlier": "run"}
    assert len(entries) == 1 + 8 * 50
    assert all(set(e) == ENTRY_KEYS for e in entries[1:])


# -- the journal of an apply -----------------------------------------------------------


def test_apply_journals_every_write_with_before_and_after(org: Org) -> None:
    """Updates, a create, a swap (written twice) and a write that fails: one line each."""
    org.seed(
        {"id": A, "externalId": "a", "emails": [email("x@example.com")]},
        {"id": B, "externalId": "b", "emails": [email("y@example.com")]},
        {"id": C, "externalId": "c", "emails": [email("c@example.com")]},
        {"id": D, "externalId": "outsider", "emails": []},
    )
    files = org.files(
        "customers:\n"
        "  - externalId: a\n    emails: [y@example.com]\n"
        "  - externalId: b\n    emails: [x@example.com]\n"
        "  - externalId: c\n    emails: [c@example.com, taken@example.com]\n"
        "  - externalId: n\n    emails: [n@example.com]\n"
    )
    assert org.ksync("plan", "--out", "plan.json", files).code == 0
    # Someone else takes a value after the plan was made: c's write will fail.
    assert (
        org.direct("PUT", f"/v1/customers/{D}", {"emails": [{"email": "taken@example.com"}]}) == 200
    )
    result = org.ksync("apply", "--plan", "plan.json", "--no-bulk")
    assert result.code == 1, result
    writes = org.writes()
    entries = read_journal()
    assert len(entries) == len(writes) == 5
    for entry, (method, path, body) in zip(entries, writes, strict=True):
        assert set(entry) == ENTRY_KEYS
        assert entry["request"] == {"method": method, "path": path, "body": body}
        assert entry["after"] == {k: v for k, v in body.items() if k in ("emails", "phones")}
        assert datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).tzinfo is not None
        assert entry["bulk"] is False
    by_purpose = [(e["customer"]["externalId"], e["purpose"], e["result"]) for e in entries]
    # In the order sent: the first wave's PUTs, then its POST, then the second wave.
    assert by_purpose == [
        ("c", "update", "failed"),
        ("a", "release", "ok"),
        ("n", "create", "ok"),
        ("b", "update", "ok"),
        ("a", "update", "ok"),
    ]
    failed, release, create, take, final = entries
    assert [e["status"] for e in entries] == [409, 200, 201, 200, 200]
    assert failed["message"].startswith(f"PUT /v1/customers/{C} -> 409: ")
    assert "taken@example.com" in failed["message"] and D in failed["message"]
    assert failed["customer"] == {"id": C, "externalId": "c"}
    assert failed["before"] == {"emails": [email("c@example.com")]}
    assert create["customer"]["externalId"] == "n" and create["customer"]["id"]
    assert create["before"] == {"emails": None}
    assert release["before"] == {"emails": [email("x@example.com")]}
    assert release["after"] == {"emails": []}
    assert take["before"] == {"emails": [email("y@example.com")]}
    # The second write of a swap starts from what the first left.
    assert final["before"] == release["after"]
    assert final["after"] == {"emails": [{"email": "y@example.com", "type": "other"}]}
    # A second apply appends to the same journal.
    org.direct("PUT", f"/v1/customers/{D}", {"emails": []})
    again = org.ksync("apply", "--auto-approve", files)
    assert again.code == 0, again
    assert read_journal()[:5] == entries
    assert [e["request"]["path"] for e in read_journal()[5:]] == [f"/v1/customers/{C}"]
    assert_converged(org, files)


def test_bulk_writes_are_journaled_one_line_per_customer(org: Org) -> None:
    org.seed(*[{"externalId": f"u{n}", "emails": [email(f"u{n}@example.com")]} for n in range(6)])
    files = org.files(
        "customers:\n"
        + "".join(
            f"  - externalId: u{n}\n    emails: [u{n}@example.com, u{n}.b@example.com]\n"
            for n in range(6)
        )
    )
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert [(m, p) for m, p, _ in org.writes()] == [("PUT", "/v1/customers/bulk")]
    entries = read_journal()
    assert [e["customer"]["externalId"] for e in entries] == [f"u{n}" for n in range(6)]
    assert all(e["bulk"] and e["result"] == "ok" and e["status"] == 200 for e in entries)
    assert_converged(org, files)


@pytest.mark.parametrize("bulk", [False, True])
def test_forbidden_writes_are_journaled_with_their_status(
    org: Org, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """Failed writes have a line too, with the HTTP status and the message, in bulk too."""
    org.emulator.settings = EmulatorSettings(api_key=API_KEY, keys={"ro-key": frozenset({READ})})
    without_token_endpoint(org, generic_403=False)
    if bulk:
        monkeypatch.setattr("ksync.applier.BULK_MIN", 1)
    org.seed({"id": A, "externalId": "u1", "emails": []})
    files = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com]\n"
        "  - externalId: u2\n    emails: [b@example.com]\n"
    )
    monkeypatch.setenv("KUSTOMER_API_KEY", "ro-key")
    assert org.ksync("apply", "--auto-approve", *([] if bulk else ["--no-bulk"]), files).code == 1
    entries = read_journal()
    assert [(e["request"]["method"], e["result"], e["status"], e["bulk"]) for e in entries] == [
        ("PUT", "failed", 403, bulk),
        ("POST", "failed", 403, bulk),
    ]
    assert all("403" in e["message"] for e in entries)
    monkeypatch.setenv("KUSTOMER_API_KEY", API_KEY)
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)


def test_the_journal_option_writes_elsewhere(org: Org) -> None:
    org.seed({"id": A, "externalId": "u1", "emails": []})
    files = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    result = org.ksync("apply", "--auto-approve", "--journal", "logs/apply.jsonl", files)
    assert result.code == 0, result
    assert [e["request"]["path"] for e in read_journal(Path("logs/apply.jsonl"))] == [
        f"/v1/customers/{A}"
    ]
    assert not JOURNAL.exists()
    assert_converged(org, files)


def test_nothing_to_write_leaves_no_journal(org: Org) -> None:
    org.seed({"id": A, "externalId": "u1", "emails": [email("a@example.com")]})
    files = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert not JOURNAL.exists()
    assert_converged(org, files)


# -- SIGKILL ---------------------------------------------------------------------------

CUSTOMERS = 12


@pytest.fixture
def slow_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Org]:
    """An org answering every request after 40 ms, with 12 customers that all change."""
    with serve(
        tmp_path, monkeypatch, capsys, EmulatorSettings(api_key=API_KEY, latency_ms=40)
    ) as org:
        org.seed(
            *[
                {"externalId": f"u{n}", "name": f"U {n}", "emails": [email(f"u{n}@example.com")]}
                for n in range(CUSTOMERS)
            ]
        )
        yield org


def sigkill_files(org: Org) -> str:
    body = "".join(
        f"  - externalId: u{n}\n    emails: [u{n}@example.com, u{n}.new@example.com]\n"
        for n in range(CUSTOMERS)
    )
    body += "  - externalId: fresh\n    emails: [fresh@example.com]\n"
    return org.files("customers:\n" + body)


def start_apply(org: Org, files: str) -> subprocess.Popen[bytes]:
    """``python -m ksync apply`` in its own process, writing one request at a time."""
    env = {
        **os.environ,
        "KUSTOMER_API_URL": org.url,
        "KUSTOMER_API_KEY": API_KEY,
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "ksync", "apply", "--auto-approve", "--no-bulk", "-q"]
    return subprocess.Popen(
        [*command, "--parallelism", "1", files],
        cwd=org.tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def wait_until_served() -> None:
    """Wait until the emulator has finished with every connection of the killed client.

    Each connection is served by its own thread, which ends once it has answered (or
    dropped) what it read and the client's side is closed: then the log is final.
    """
    deadline = time.monotonic() + 30
    while any(t.name.endswith("(process_request_thread)") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the emulator still serves the killed client"
        time.sleep(0.005)


def applied_writes(org: Org) -> list[dict[str, Any]]:
    """The writes the emulator applied, once it is done with the killed client."""
    wait_until_served()
    return [
        {"method": r.method, "path": r.path, "body": r.body}
        for r in org.emulator.request_log
        if r.method != "GET" and r.applied
    ]


def finish_and_check(org: Org, files: str, before_kill: list[dict[str, Any]]) -> None:
    """Apply again: it converges, writes only what was left, and the journal grows."""
    first = read_journal()
    result = org.ksync("apply", "--auto-approve", "--no-bulk", files)
    assert result.code == 0, result
    done = {w["path"] for w in before_kill if w["method"] == "PUT"}
    assert not any(path in done for _, path, _ in org.writes())
    assert len(org.writes()) == CUSTOMERS + 1 - len(before_kill)
    assert read_journal()[: len(first)] == first
    assert_converged(org, files)


def test_sigkill_mid_apply_the_journal_tells_what_was_done(slow_org: Org) -> None:
    """Killed at a moment chosen by the test: while the 5th write waits for its answer."""
    org = slow_org
    files = sigkill_files(org)
    handle = org.emulator.handle
    reached, killed = threading.Event(), threading.Event()
    writes = 0

    def gate(method: str, target: str, headers: Any, body: bytes) -> EmulatorResponse:
        nonlocal writes
        if method != "GET":
            writes += 1
            if writes == 5:  # hold the 5th write unanswered (and unapplied) until the kill
                reached.set()
                killed.wait(60)
                return EmulatorResponse(0, {}, b"", dropped=True)
        return handle(method, target, headers, body)

    org.emulator.handle = gate  # type: ignore[method-assign]
    process = start_apply(org, files)
    try:
        assert reached.wait(60), "the 5th write never came"
        entries = read_journal()
        kill(process)
    finally:
        process.kill()
        killed.set()
    org.emulator.handle = handle  # type: ignore[method-assign]
    before_kill = applied_writes(org)
    assert len(before_kill) == len(entries) == 4
    assert [e["request"] for e in entries] == before_kill
    assert all(e["result"] == "ok" and e["status"] in (200, 201) for e in entries)
    finish_and_check(org, files, before_kill)


def test_sigkill_at_any_moment_the_journal_matches_the_writes(slow_org: Org) -> None:
    """Killed as soon as the journal has a line: the journal holds every applied write
    but, at most, the one whose answer had not come back yet."""
    org = slow_org
    files = sigkill_files(org)
    process = start_apply(org, files)
    try:
        deadline = time.monotonic() + 60
        while not (JOURNAL.exists() and JOURNAL.read_text(encoding="utf-8").count("\n") >= 1):
            assert process.poll() is None, "apply ended before it was killed"
            assert time.monotonic() < deadline, "no journal line within 60 s"
            time.sleep(0.005)
        kill(process)
    finally:
        process.kill()
    entries = read_journal()
    before_kill = applied_writes(org)
    assert 1 <= len(entries) <= len(before_kill) <= len(entries) + 1
    assert [e["request"] for e in entries] == before_kill[: len(entries)]
    assert len(before_kill) < CUSTOMERS + 1, "the kill came too late to mean anything"
    finish_and_check(org, files, before_kill)
