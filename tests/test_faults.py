"""Fault injection: apply over 520 customers converges through 5xx answers, dropped
connections, 429s, latency spikes and writes answered 500 after they were applied.

The faults are seeded: with the default ``--parallelism 1`` of ``org.ksync`` the same
requests meet the same faults on every run. Each scenario checks that

- apply exits 0, or 1 for writes that failed after every retry and then a re-run
  converges (under the same faults);
- nothing but the managed arrays of declared customers changed (byte for byte), and
  only the expected customers were created, each exactly once;
- every write went to a declared customer (or created a declared one), was never a
  PATCH or ``?replace=true``, and no request was answered with a 4xx other than 404
  look-ups and 429s;
- the faults asked for really happened;
- plan again shows no changes.

Waits are real (the client's default RetryPolicy), so fault rates are sized to keep each
scenario within seconds.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY, Org, Result
from harness import (
    BigOrg,
    Force,
    Snapshot,
    assert_converged,
    assert_untouched,
    bulk_items,
    cid,
    force,
    serve,
    write_log,
)

from ksync.emulator import EmulatorResponse, EmulatorSettings
from ksync.emulator.messages import LoggedRequest

# What a failed write may say when it gave up on injected trouble (never a 4xx).
TRANSIENT = re.compile(r"-> (500|503)|connection failed|gave up after")


@dataclasses.dataclass
class Scenario:
    org: Org
    big: BigOrg
    files: list[str]
    before: Snapshot
    logs: list[LoggedRequest] = dataclasses.field(default_factory=list)
    runs: list[Result] = dataclasses.field(default_factory=list)


@pytest.fixture
def big() -> BigOrg:
    return BigOrg()


def start(org: Org, big: BigOrg) -> Scenario:
    org.seed(*big.seed())
    return Scenario(org, big, big.files(org), org.emulator.snapshot())


def apply_until_converged(
    scenario: Scenario, *flags: str, parallel: bool = False, most: int = 3
) -> None:
    """apply; while a write failed after all its retries, apply again (at most ``most``)."""
    org = scenario.org
    for _ in range(most):
        result = org.ksync("apply", "--auto-approve", *flags, *scenario.files, parallel=parallel)
        scenario.runs.append(result)
        scenario.logs += org.emulator.request_log
        if result.code == 0:
            # Everything sent succeeded, or a write that failed had gone through after all.
            done = "Apply complete:" in result.out and " 0 failed, 0 not sent." in result.out
            assert done or "No changes." in result.out, result
            return
        assert result.code == 1, result
        failures = [line for line in result.err.splitlines() if ": failed: " in line]
        assert failures, result.err
        for line in failures:
            assert TRANSIENT.search(line), line
        assert "do not match the plan" not in result.err, result.err
    pytest.fail(f"apply did not converge in {most} runs: {scenario.runs[-1]}")


def check_outcome(scenario: Scenario) -> None:
    """The end state and the requests of every run (see the module docstring)."""
    org, big = scenario.org, scenario.big
    after = org.emulator.snapshot()
    assert_untouched(scenario.before, after, big.managed())
    created = {key: after[key]["attributes"] for key in set(after) - set(scenario.before)}
    assert sorted(a["externalId"] for a in created.values()) == sorted(big.creates)
    for attributes in created.values():
        assert set(attributes) == {
            "externalId",
            "name",
            "emails",
            "phones",
            "createdAt",
            "updatedAt",
            "modifiedAt",
            "rev",
        }
    declared = big.declared_ids()
    for entry in scenario.logs:
        assert entry.method in ("GET", "PUT", "POST"), entry
        assert "replace" not in entry.query, entry
        assert entry.status not in (400, 401, 403, 405, 409), entry
        if entry.status == 404:
            assert entry.method == "GET", entry
    for entry in write_log(scenario.logs):
        if entry.path == "/v1/customers/bulk":
            items = bulk_items(entry)
            assert items and len(items) == len(entry.body)
            if entry.method == "PUT":
                assert {item["id"] for item in items} <= declared, entry
            else:
                assert {item["externalId"] for item in items} <= big.creates, entry
        elif entry.method == "PUT":
            assert entry.path.rsplit("/", 1)[1] in declared, entry
            assert set(entry.body) <= {"emails", "phones"}, entry
        else:
            assert entry.path == "/v1/customers", entry
            assert entry.body["externalId"] in big.creates, entry
    # No create was applied twice: one applied POST per externalId at most.
    applied_posts = Counter(
        e.body["externalId"]
        for e in scenario.logs
        if e.method == "POST" and e.path == "/v1/customers" and e.applied
    )
    assert all(n == 1 for n in applied_posts.values()), applied_posts


# -- scenarios ------------------------------------------------------------------------


def test_bulk_apply_converges_through_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big: BigOrg
) -> None:
    settings = EmulatorSettings(
        api_key=API_KEY,
        seed=2,
        fault_rate=0.03,
        drop_rate=0.03,
        fault_after_apply_rate=0.08,
        spike_rate=0.03,
        spike_ms=150,
        jitter_ms=2,
        bulk_polls_to_complete=1,
    )
    with serve(tmp_path, monkeypatch, capsys, settings) as org:
        scenario = start(org, big)
        rules = force(
            org,
            Force("GET", "/v1/customers?page=2", "drop", prefix=True),
            Force("PUT", "/v1/customers/bulk", "drop"),
            Force("GET", "/v1/bulk/", "fault", prefix=True),
            # Not retried (it may have gone through): these creates fail this run.
            Force("POST", "/v1/customers/bulk", "fault"),
        )
        apply_until_converged(scenario)
        assert all(rule.fired for rule in rules)
        assert scenario.runs[0].code == 1
        assert "POST /v1/customers/bulk -> 500" in scenario.runs[0].err
        check_outcome(scenario)
        bulk = [e for e in write_log(scenario.logs) if e.path == "/v1/customers/bulk"]
        assert {e.method for e in bulk} == {"PUT", "POST"}
        # Bulk jobs carry the big waves.
        assert sum(len(bulk_items(e)) for e in bulk if e.status == 201) >= 250
        assert_converged(org, *scenario.files)


def test_no_bulk_creates_are_never_duplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big: BigOrg
) -> None:
    settings = EmulatorSettings(
        api_key=API_KEY,
        seed=6,
        fault_after_apply_rate=0.05,
        fault_rate=0.01,
        drop_rate=0.01,
    )
    with serve(tmp_path, monkeypatch, capsys, settings) as org:
        scenario = start(org, big)
        rules = force(
            org,
            Force("POST", "/v1/customers", "after", external_id="new-0"),
            Force("POST", "/v1/customers", "drop", external_id="new-1"),
            Force("POST", "/v1/customers", "fault", external_id="new-2"),
            Force("PUT", f"/v1/customers/{cid(0)}", "after"),
        )
        apply_until_converged(scenario, "--no-bulk")
        assert all(rule.fired for rule in rules)
        check_outcome(scenario)
        writes = write_log(scenario.logs)
        assert all(e.path != "/v1/customers/bulk" for e in writes)
        # Each create went through once; the successful requests around it tell how.
        log = [(e.method, e.path, e.status) for e in scenario.logs]
        answered = [i for i, x in enumerate(log) if x[2] not in (0, 429, 500, 503)]

        def created(external_id: str) -> int:
            posts = [
                i
                for i, e in enumerate(scenario.logs)
                if e.method == "POST" and e.body["externalId"] == external_id
            ]
            (applied,) = [i for i in posts if scenario.logs[i].applied]
            assert posts[-1] == applied, "sent again after it went through"
            return applied

        # Created, but answered 500: found by its externalId, never sent again.
        post = created("new-0")
        following = next(i for i in answered if i > post)
        assert log[following] == ("GET", "/v1/customers/externalId=new-0", 200)
        # Not created (dropped, or a 500 before applying): looked up, then sent again.
        for external_id in ("new-1", "new-2"):
            post = created(external_id)
            preceding = max(i for i in answered if i < post)
            assert log[preceding] == ("GET", f"/v1/customers/externalId={external_id}", 404)
        # An update answered 500 after it went through was simply sent again.
        updates = [e for e in writes if e.path == f"/v1/customers/{cid(0)}" and e.applied]
        assert len(updates) >= 2 and all(e.body == updates[0].body for e in updates)
        assert_converged(org, *scenario.files)


def test_read_strategy_get_converges_through_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big: BigOrg
) -> None:
    settings = EmulatorSettings(
        api_key=API_KEY,
        seed=3,
        fault_rate=0.005,
        drop_rate=0.005,
        fault_after_apply_rate=0.1,
        spike_rate=0.01,
        spike_ms=100,
        bulk_polls_to_complete=0,
    )
    with serve(tmp_path, monkeypatch, capsys, settings) as org:
        scenario = start(org, big)
        rules = force(
            org,
            Force("GET", "/v1/customers/externalId=user-0", "drop"),
            Force("GET", "/v1/customers/email=", "fault", prefix=True),
            # A bulk create that went through (the job completed at once) but was
            # answered 500: this run reports the creates failed; the next finds them.
            Force("POST", "/v1/customers/bulk", "after"),
        )
        apply_until_converged(scenario, "--read-strategy", "get")
        drop, fault, after = rules
        assert drop.fired and fault.fired
        # The forced 500, or the emulator's own, came after a bulk create went through.
        assert after.fired or any(
            e.method == "POST" and e.path == "/v1/customers/bulk" and e.applied and e.status == 500
            for e in scenario.logs
        )
        assert scenario.runs[0].code == 1
        assert "POST /v1/customers/bulk -> 500" in scenario.runs[0].err
        check_outcome(scenario)
        reads = [e for e in scenario.logs if e.method == "GET"]
        assert not any(e.path == "/v1/customers" for e in reads), "get must never list"
        assert any(e.path.startswith("/v1/customers/email=") for e in reads)
        assert_converged(org, *scenario.files)


class SteppingClock:
    """The emulator's clock: frozen one second before the end of a rate-limit window,
    moved on to the same moment of the next window whenever the org's budget is spent.

    A client told to wait for the reset then waits one real second, and finds a new window.
    """

    def __init__(self) -> None:
        self._now = datetime(2026, 12, 4, 15, 0, 59, tzinfo=timezone.utc)
        self._lock = threading.Lock()
        self.windows = 1

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def next_window(self) -> None:
        with self._lock:
            self._now += timedelta(minutes=1)
            self.windows += 1


def test_rate_limit_and_throttling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big: BigOrg
) -> None:
    clock = SteppingClock()
    settings = EmulatorSettings(
        api_key=API_KEY, rate_limit=3000, reset_format="seconds", bulk_polls_to_complete=1
    )
    with serve(tmp_path, monkeypatch, capsys, settings, clock=clock) as org:
        handle = org.emulator.handle

        def new_window_when_spent(
            method: str, target: str, headers: Any, body: bytes
        ) -> EmulatorResponse:
            response = handle(method, target, headers, body)
            if response.status == 429 and b"requests per minute exceeded" in response.body:
                clock.next_window()
            return response

        monkeypatch.setattr(org.emulator, "handle", new_window_when_spent)
        scenario = start(org, big)
        # Another integration spends the whole budget of the window before ksync starts.
        auth = {"Authorization": f"Bearer {API_KEY}"}
        for _ in range(3000):
            assert org.emulator.handle("GET", "/v1/customers?pageSize=1", auth, b"").status == 200
        org.emulator.settings = dataclasses.replace(
            settings, throttle_rate=0.06, seed=5, spike_rate=0.02, spike_ms=100
        )
        (throttle,) = force(org, Force("GET", "/v1/bulk/", "throttle", prefix=True))
        apply_until_converged(scenario, "--rate-limit", "2400", "--max-share", "0.9")
        assert throttle.fired
        check_outcome(scenario)
        # The spent budget answered one 429 and moved the clock to the next window, where
        # the paced client stayed under the limit.
        assert clock.windows == 2
        assert scenario.logs[0].status == 429
        assert_converged(org, *scenario.files)


def test_parallel_no_bulk_converges_through_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big: BigOrg
) -> None:
    """8 writes in flight: which request meets which fault varies, the outcome may not."""
    settings = EmulatorSettings(
        api_key=API_KEY,
        seed=3,
        fault_rate=0.04,
        drop_rate=0.03,
        fault_after_apply_rate=0.08,
        spike_rate=0.02,
        spike_ms=200,
        jitter_ms=5,
    )
    with serve(tmp_path, monkeypatch, capsys, settings) as org:
        scenario = start(org, big)
        apply_until_converged(scenario, "--no-bulk", "--parallelism", "8", parallel=True)
        check_outcome(scenario)
        # A value moving between customers was always released before it was taken:
        # no write was rejected for a value another customer held (checked above: no
        # 409), and the released customers were written before those taking from them.
        order = [e.path for e in write_log(scenario.logs) if e.method == "PUT" and e.applied]
        for n in range(5, big.declared, 20):
            giver, taker = f"/v1/customers/{cid(n)}", f"/v1/customers/{cid(n + 1)}"
            assert order.index(giver) < order.index(taker)
        assert_converged(org, *scenario.files, parallel=True)


# -- verification: a write the API accepted but stored differently --------------------

A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
Body = Any


def drop_last_email(body: Body) -> Body:
    return {**body, "emails": body["emails"][:-1]} if body.get("emails") else body


def other_domain(body: Body) -> Body:
    emails = [{**e, "email": e["email"].replace(".com", ".org")} for e in body.get("emails", [])]
    return {**body, "emails": emails} if "emails" in body else body


def lower_case(body: Body) -> Body:
    emails = [{**e, "email": e["email"].lower()} for e in body.get("emails", [])]
    return {**body, "emails": emails} if "emails" in body else body


def extra_phone(body: Body) -> Body:
    phones = [*body["phones"], {"phone": "+15555550199"}] if "phones" in body else None
    return {**body, "phones": phones} if phones else body


def rewriting(org: Org, rewrite: Any) -> list[Body]:
    """Make the emulator store every customer write through ``rewrite``; what ksync
    sent is returned (a list that fills as writes come)."""
    handle = org.emulator.handle
    sent: list[Body] = []

    def rewrite_writes(method: str, target: str, headers: Any, body: bytes) -> EmulatorResponse:
        if method in ("PUT", "POST") and target.startswith("/v1/customers"):
            document = json.loads(body)
            sent.append(document)
            if isinstance(document, list):
                document = [{**rewrite(item)} for item in document]
            else:
                document = rewrite(document)
            body = json.dumps(document).encode()
        return handle(method, target, headers, body)

    org.emulator.handle = rewrite_writes  # type: ignore[method-assign]
    return sent


def seed_two(org: Org) -> str:
    org.seed(
        {"id": A, "externalId": "u1", "emails": [{"email": "a@example.com", "type": "home"}]},
        {"id": B, "externalId": "u2", "emails": [], "phones": []},
    )
    return org.files(
        "customers:\n"
        "  - externalId: u1\n    emails: [a@example.com, New@Example.com]\n"
        "  - externalId: u2\n    phones: ['+15555550100']\n"
        "  - externalId: u3\n    emails: [n@example.com]\n"
    )


@pytest.mark.parametrize(
    ("rewrite", "errors"),
    [
        (
            drop_last_email,
            [
                "externalId=u1 id=a0000000000000000000000a: emails after apply do not match "
                "the plan: missing new@example.com",
                "externalId=u3 id=5e0000000000000000000001: emails after apply do not match "
                "the plan: missing n@example.com",
            ],
        ),
        (
            other_domain,
            [
                "externalId=u1 id=a0000000000000000000000a: emails after apply do not match "
                "the plan: missing a@example.com, new@example.com; unexpected a@example.org, "
                "new@example.org",
                "externalId=u3 id=5e0000000000000000000001: emails after apply do not match "
                "the plan: missing n@example.com; unexpected n@example.org",
            ],
        ),
        (
            extra_phone,
            [
                "externalId=u2 id=b0000000000000000000000b: phones after apply do not match "
                "the plan: unexpected +15555550199",
            ],
        ),
    ],
)
@pytest.mark.parametrize("bulk", [False, True])
def test_a_value_stored_differently_fails_verification(
    org: Org, monkeypatch: pytest.MonkeyPatch, rewrite: Any, errors: list[str], bulk: bool
) -> None:
    """apply exits 1 naming each customer and what differs; a re-run repairs it."""
    files = seed_two(org)
    handle = org.emulator.handle
    sent = rewriting(org, rewrite)
    if bulk:  # every wave in bulk jobs, however small
        monkeypatch.setattr("ksync.applier.BULK_MIN", 1)
    result = org.ksync("apply", "--auto-approve", *([] if bulk else ["--no-bulk"]), files)
    assert result.code == 1, result
    assert "Apply complete: 3 writes sent, 0 failed, 0 not sent." in result.out
    found = [line for line in result.err.splitlines() if line.startswith("ksync: error: ")]
    assert found == [f"ksync: error: {e}" for e in errors]
    assert f"Verified: {3 - len(errors)} of 3 written customers match the plan." in result.out
    assert len(sent) == (2 if bulk else 3)  # ksync sent the planned values, not the rewrite
    assert "New@Example.com" in json.dumps(sent)
    org.emulator.handle = handle  # type: ignore[method-assign]
    again = org.ksync("apply", "--auto-approve", files)
    assert again.code == 0, again
    assert_converged(org, files)


def test_a_server_side_respelling_is_not_a_mismatch(org: Org) -> None:
    """Comparison is by normalized value: storing an email lower-cased is fine."""
    files = seed_two(org)
    sent = rewriting(org, lower_case)
    result = org.ksync("apply", "--auto-approve", "--no-bulk", files)
    assert result.code == 0, result
    assert "Verified: 3 of 3 written customers match the plan." in result.out
    assert "New@Example.com" in json.dumps(sent)
    assert org.values(A, "emails") == ["a@example.com", "new@example.com"]
    assert_converged(org, files)


def test_a_type_change_the_server_ignored_fails_verification(org: Org) -> None:
    org.seed({"id": A, "externalId": "u1", "emails": [{"email": "a@example.com", "type": "home"}]})
    files = org.files(
        "customers:\n  - externalId: u1\n    emails:\n"
        "      - {email: a@example.com, type: work}\n      - b@example.com\n"
    )
    handle = org.emulator.handle
    rewriting(org, lambda body: {**body, "emails": [{**e, "type": "home"} for e in body["emails"]]})
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 1, result
    assert result.err.splitlines() == [
        f"ksync: error: externalId=u1 id={A}: emails after apply do not match the plan: "
        "wrong type a@example.com (home, not work), b@example.com (home, not other)"
    ]
    org.emulator.handle = handle  # type: ignore[method-assign]
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)
