"""A key without the roles to write: plan works, apply writes nothing and says which role
is missing (``org.permission.customer.update`` / ``.create``).

When Kustomer says which roles the key has (``GET /v1/auth/tokens/current``), apply
refuses before any write. When it does not, each write fails with a 403 that names the
role the request needed, whatever the API's own message says.
"""

from __future__ import annotations

import pytest
from conftest import API_KEY, Org
from harness import assert_converged, without_token_endpoint

from ksync.emulator import EmulatorSettings
from ksync.emulator.roles import CREATE, LEGACY_READ, LEGACY_WRITE, READ

READONLY = "readonly-key-7e6d5c"
A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
UPDATE_ROLE = "the key lacks the role needed to update customers (org.permission.customer.update)"
CREATE_ROLE = "the key lacks the role needed to create customers (org.permission.customer.create)"
FILES = """customers:
  - externalId: u1
    emails: [a@example.com, a2@example.com]
  - externalId: u2
    emails: [b@example.com]
  - externalId: u3
    emails: [n@example.com]
"""


@pytest.fixture
def limited(org: Org, monkeypatch: pytest.MonkeyPatch) -> Org:
    """The org, with READONLY allowed to read only, and used by ksync."""
    org.emulator.settings = EmulatorSettings(api_key=API_KEY, keys={READONLY: frozenset({READ})})
    org.seed(
        {"id": A, "externalId": "u1", "emails": [{"email": "a@example.com", "type": "home"}]},
        {"id": B, "externalId": "u2", "emails": [{"email": "b@example.com", "type": "home"}]},
    )
    monkeypatch.setenv("KUSTOMER_API_KEY", READONLY)
    return org


def finish_with_full_key(org: Org, monkeypatch: pytest.MonkeyPatch, files: str) -> None:
    monkeypatch.setenv("KUSTOMER_API_KEY", API_KEY)
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert_converged(org, files)


def test_plan_works_with_a_read_only_key(limited: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    files = limited.files(FILES)
    result = limited.ksync("plan", "--detailed-exitcode", files)
    assert result.code == 2, result
    assert "Plan: 1 to create, 1 to update, 1 unchanged." in result.out
    assert all(method == "GET" for method, _ in limited.requests())
    finish_with_full_key(limited, monkeypatch, files)


def test_apply_refuses_before_any_write_when_kustomer_lists_the_roles(
    limited: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = limited.files(FILES)
    before = limited.emulator.snapshot()
    result = limited.ksync("apply", "--auto-approve", files)
    assert result.code == 1
    assert UPDATE_ROLE in result.err and CREATE_ROLE in result.err
    assert "nothing was written" in result.err
    assert limited.writes() == []
    assert ("GET", "/v1/auth/tokens/current") in limited.requests()
    assert limited.emulator.snapshot() == before
    assert not (limited.tmp / ".ksync" / "journal.jsonl").exists()
    finish_with_full_key(limited, monkeypatch, files)


def test_only_the_missing_role_is_named(limited: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    limited.emulator.settings = EmulatorSettings(
        api_key=API_KEY, keys={READONLY: frozenset({READ, CREATE})}
    )
    files = limited.files(FILES)
    result = limited.ksync("apply", "--auto-approve", files)
    assert result.code == 1
    assert UPDATE_ROLE in result.err and "create customers" not in result.err
    assert limited.writes() == []
    # A plan that only creates needs only the create role.
    creates_only = limited.files("customers:\n  - externalId: u9\n    emails: [z@example.com]\n")
    result = limited.ksync("apply", "--auto-approve", creates_only)
    assert result.code == 0, result
    assert [w[:2] for w in limited.writes()] == [("POST", "/v1/customers")]
    assert_converged(limited, creates_only)
    finish_with_full_key(limited, monkeypatch, files)


def test_legacy_roles_are_enough(limited: Org) -> None:
    limited.emulator.settings = EmulatorSettings(
        api_key=API_KEY, keys={READONLY: frozenset({LEGACY_READ, LEGACY_WRITE})}
    )
    files = limited.files(FILES)
    result = limited.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert sorted(w[:2] for w in limited.writes()) == [
        ("POST", "/v1/customers"),
        ("PUT", f"/v1/customers/{A}"),
    ]
    assert_converged(limited, files)


# -- when Kustomer does not say which roles the key has ----------------------------------


@pytest.mark.parametrize("generic_403", [False, True])
@pytest.mark.parametrize("bulk", [False, True])
def test_each_forbidden_write_names_the_missing_role(
    limited: Org, monkeypatch: pytest.MonkeyPatch, generic_403: bool, bulk: bool
) -> None:
    without_token_endpoint(limited, generic_403)
    if bulk:  # every wave in bulk jobs, however small
        monkeypatch.setattr("ksync.applier.BULK_MIN", 1)
    files = limited.files(FILES)
    before = limited.emulator.snapshot()
    result = limited.ksync("apply", "--auto-approve", *([] if bulk else ["--no-bulk"]), files)
    assert result.code == 1
    failed = [line for line in result.err.splitlines() if ": failed: " in line]
    assert len(failed) == 2, result.err
    update, create = sorted(failed, key=lambda line: not line.startswith("PUT"))
    put = "PUT /v1/customers/bulk" if bulk else f"PUT /v1/customers/{A}"
    post = "POST /v1/customers/bulk" if bulk else "POST /v1/customers"
    assert update.startswith(f"PUT /v1/customers/{A} (externalId=u1 id={A}): failed: ")
    assert f"{put} -> 403: {UPDATE_ROLE}" in update
    assert create.startswith("POST /v1/customers (externalId=u3): failed: ")
    assert f"{post} -> 403: {CREATE_ROLE}" in create
    assert "Apply complete: 2 writes sent, 2 failed, 0 not sent." in result.out
    # Nothing was written: every write was refused, and the org is as it was.
    writes = [r for r in limited.emulator.request_log if r.method != "GET"]
    assert writes and all(r.status == 403 and not r.applied for r in writes)
    assert limited.emulator.snapshot() == before
    finish_with_full_key(limited, monkeypatch, files)


def test_a_write_that_depends_on_a_forbidden_one_is_not_sent(
    limited: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move: the customer giving the value is refused, so the one taking it waits."""
    without_token_endpoint(limited, generic_403=True)
    files = limited.files(
        "customers:\n  - externalId: u1\n    emails: []\n"
        "  - externalId: u2\n    emails: [b@example.com, a@example.com]\n"
    )
    result = limited.ksync("apply", "--auto-approve", files)
    assert result.code == 1
    assert f"PUT /v1/customers/{A} -> 403: {UPDATE_ROLE}" in result.err
    assert f"not sent: waits for PUT /v1/customers/{A}" in result.err
    assert [
        (r.method, r.path, r.status) for r in limited.emulator.request_log if r.method != "GET"
    ] == [("PUT", f"/v1/customers/{A}", 403)]
    finish_with_full_key(limited, monkeypatch, files)
