"""Shared pieces of the reliability and security tests.

- ``serve``: like the ``org`` fixture, but with the emulator's settings (a fault seed is
  read when the Emulator is built) and clock chosen by the test;
- ``BigOrg``: an org of a few hundred customers and desired files that change a good
  share of them (adds, removals, retypes, moves, swaps, creates, creates that take a
  value from a declared customer), with everything needed to check the result;
- ``unmanaged``/``assert_untouched``: the snapshot comparison "nothing but the managed
  arrays of declared customers changed", with a readable DeepDiff on failure;
- ``assert_converged``: plan again shows no changes;
- ``force``: trouble for chosen requests, on top of (or instead of) seeded faults.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from conftest import Org
from conftest import assert_converged as converged
from conftest import serve as serve  # re-exported for the reliability tests
from deepdiff import DeepDiff

from ksync.emulator import EmulatorResponse
from ksync.emulator.messages import LoggedRequest

Snapshot = dict[str, dict[str, Any]]
VOLATILE = ("rev", "updatedAt", "modifiedAt")


def assert_converged(org: Org, *paths: str, parallel: bool = False) -> None:
    """Plan again: no changes and no write (waits may be said on stderr under faults)."""
    converged(org, *paths, parallel=parallel, clean_stderr=False)


# -- the big org ---------------------------------------------------------------------


def cid(n: int) -> str:
    return f"c{n:023x}"


def email_of(n: int) -> str:
    return f"u{n}@example.com"


def phone_of(n: int) -> str:
    return f"+1555{n:07d}"


@dataclass
class Declared:
    """What the files say of one customer (None: array not managed)."""

    number: int | None  # the seeded customer, None for a new one
    external_id: str
    emails: list[Any] | None = None
    phones: list[Any] | None = None
    by: str = "externalId"  # how the files identify it: externalId, id or both
    name: str | None = None


@dataclass
class BigOrg:
    """``size`` seeded customers; the first ``declared`` of them are in the files."""

    size: int = 520
    declared: int = 420
    customers: list[Declared] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.customers = self._desired()

    # Seeded customer n: one or two emails, one phone, and attributes ksync must not touch.
    def seed_customer(self, n: int) -> dict[str, Any]:
        emails = [{"email": email_of(n), "type": "home", "verified": n % 2 == 0}]
        if n % 20 == 2:
            emails.append({"email": f"u{n}.b@example.com", "type": "work", "verified": False})
        return {
            "id": cid(n),
            "externalId": f"user-{n}",
            "name": f"Customer {n}",
            "emails": emails,
            "phones": [{"phone": phone_of(n), "type": "mobile", "verified": n % 3 == 0}],
            "sharedEmails": [{"email": "team@example.com", "type": "work", "verified": False}],
            "custom": {"tierNum": n % 4, "noteStr": f"note {n}", "vipBool": n % 7 == 0},
            "tags": [f"t{n % 5}", "seeded"],
            "locale": "en_US",
            "rev": 3,
        }

    def seed(self) -> list[dict[str, Any]]:
        return [self.seed_customer(n) for n in range(self.size)]

    def _desired(self) -> list[Declared]:
        out: list[Declared] = []
        for n in range(self.declared):
            by = ("externalId", "id", "both")[n % 3]
            d = Declared(n, f"user-{n}", by=by)
            group = n % 20
            mine, phone = [email_of(n)], [phone_of(n)]
            if group in (0, 1):  # gain an email
                d.emails = [*mine, {"email": f"u{n}.new@example.com", "type": "work"}]
            elif group == 2:  # lose the second email
                d.emails = mine
            elif group == 3:  # a new phone instead of the old one
                d.phones = [f"+1556{n:07d}"]
            elif group == 4:  # retype an email
                d.emails = [{"email": email_of(n), "type": "other"}]
            elif group == 5:  # give its email to the next customer
                d.emails = []
            elif group == 6:  # take the previous customer's email
                d.emails = [*mine, email_of(n - 1)]
            elif group == 7:  # swap phones with the next customer
                d.phones = [phone_of(n + 1)]
            elif group == 8:
                d.phones = [phone_of(n - 1)]
            elif group == 9:  # give its email to a new customer (created below)
                d.emails = []
                d.phones = phone
            elif group in (10, 11):  # unchanged, spelled differently
                d.emails = [email_of(n).upper()]
                digits = f"{n:07d}"
                d.phones = [f"+1 (555) {digits[:3]}-{digits[3:]}"]
            elif group == 14:  # gain a phone; emails not managed
                d.phones = [*phone, f"+1557{n:07d}"]
            else:  # unchanged
                d.emails = mine
            out.append(d)
        for n in range(self.declared):
            if n % 20 == 9:  # a new customer taking the email of customer n
                out.append(Declared(None, f"moved-{n}", emails=[email_of(n)], name=f"Moved {n}"))
        for k in range(12):  # brand-new customers with fresh values
            out.append(
                Declared(
                    None,
                    f"new-{k}",
                    emails=[f"fresh{k}@example.com"],
                    phones=[f"+1558{k:07d}"],
                    name=f"New {k}",
                )
            )
        return out

    def files(self, org: Org) -> list[str]:
        """The desired state, in two files."""
        half = len(self.customers) // 2
        return [
            org.files(_yaml(self.customers[:half]), "contacts-a.yaml"),
            org.files(_yaml(self.customers[half:]), "contacts-b.yaml"),
        ]

    @property
    def creates(self) -> set[str]:
        return {d.external_id for d in self.customers if d.number is None}

    def managed(self) -> dict[str, set[str]]:
        """The managed arrays of every declared seeded customer, by id."""
        found: dict[str, set[str]] = {}
        for d in self.customers:
            if d.number is not None:
                arrays = {a for a in ("emails", "phones") if getattr(d, a) is not None}
                found[cid(d.number)] = arrays
        return found

    def declared_ids(self) -> set[str]:
        return {cid(d.number) for d in self.customers if d.number is not None}


def _yaml(customers: list[Declared]) -> str:
    lines = ["version: 1", "customers:"]
    for d in customers:
        first = True

        def put(text: str) -> None:
            nonlocal first
            lines.append(("  - " if first else "    ") + text)
            first = False

        if d.by in ("externalId", "both"):
            put(f"externalId: {d.external_id}")
        if d.by in ("id", "both"):
            assert d.number is not None
            put(f"id: {cid(d.number)}")
        if d.name is not None:
            put(f"name: {d.name}")
        for array in ("emails", "phones"):
            values = getattr(d, array)
            if values is not None:
                put(f"{array}: {json.dumps(values)}")
    return "\n".join(lines) + "\n"


# -- checking the result -------------------------------------------------------------


def unmanaged(snapshot: Snapshot, managed: dict[str, set[str]]) -> Snapshot:
    """``snapshot`` without volatile attributes and the managed arrays of each customer."""
    kept: Snapshot = {}
    for customer_id, resource in snapshot.items():
        skip = {*VOLATILE, *managed.get(customer_id, ())}
        attributes = {k: v for k, v in resource["attributes"].items() if k not in skip}
        kept[customer_id] = {**resource, "attributes": attributes}
    return kept


def assert_untouched(before: Snapshot, after: Snapshot, managed: dict[str, set[str]]) -> None:
    """Every customer of ``before`` is byte-for-byte the same in ``after``, except
    volatile attributes and the managed arrays of declared customers."""
    old = unmanaged(before, managed)
    new = unmanaged({k: v for k, v in after.items() if k in before}, managed)
    assert set(new) == set(old), "customers disappeared"
    diff = DeepDiff(old, new)
    assert not diff, diff.pretty()
    assert json.dumps(old) == json.dumps(new)  # same bytes, key order included


def write_log(log: list[LoggedRequest]) -> list[LoggedRequest]:
    return [r for r in log if r.method != "GET"]


def bulk_items(entry: LoggedRequest) -> list[dict[str, Any]]:
    body = entry.body
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


# -- trouble for chosen requests -------------------------------------------------------


@dataclass
class Force:
    """Trouble for the first request matching ``method`` and ``path`` (the whole target,
    or its start when ``prefix``) and, for creates, the ``external_id`` in its body.

    ``action``: ``drop`` (the connection is closed unanswered), ``fault`` (a 500), and
    ``throttle`` (a 429 with ``Retry-After: 1``), none of them applied nor logged by the
    emulator; or ``after`` (applied and logged as usual, then answered with a 500; when
    the emulator's own faults fail that request without applying it, the next matching
    one gets it). For requests sent one at a time: ``after`` reads the emulator's log.
    """

    method: str
    path: str
    action: str
    external_id: str | None = None
    prefix: bool = False
    fired: bool = False

    def matches(self, method: str, target: str, body: bytes) -> bool:
        if self.fired or method != self.method:
            return False
        if not (target == self.path or (self.prefix and target.startswith(self.path))):
            return False
        return self.external_id is None or json.loads(body).get("externalId") == self.external_id


def force(org: Org, *rules: Force) -> list[Force]:
    """Make the emulator meet ``rules``, each once, whatever its fault seed draws."""
    handle = org.emulator.handle
    lock = threading.Lock()

    def forced(method: str, target: str, headers: Any, body: bytes) -> EmulatorResponse:
        with lock:
            rule = next((r for r in rules if r.matches(method, target, body)), None)
            if rule is not None:
                rule.fired = True
        if rule is None:
            return handle(method, target, headers, body)
        if rule.action == "drop":
            return EmulatorResponse(0, {}, b"", dropped=True)
        if rule.action == "throttle":
            headers_429 = {**JSON, "Retry-After": "1"}
            return EmulatorResponse(429, headers_429, _error(429, "throttled (forced)"))
        if rule.action == "after":
            answer = handle(method, target, headers, body)
            if answer.dropped or answer.status >= 300:  # the emulator's own trouble:
                # done already if it applied the write (then answered 500), else the
                # rule waits for the next matching request.
                rule.fired = org.emulator.request_log[-1].applied
                return answer
        return EmulatorResponse(500, JSON, _error(500, "internal server error (forced)"))

    org.emulator.handle = forced  # type: ignore[method-assign]
    return list(rules)


JSON = {"Content-Type": "application/json"}


def _error(status: int, detail: str) -> bytes:
    return json.dumps({"errors": [{"status": str(status), "detail": detail}]}).encode()


def without_token_endpoint(org: Org, generic_403: bool) -> None:
    """The emulator answers 404 to ``/v1/auth/tokens/current``; with ``generic_403``, its
    403s say only "Forbidden" (the real API may not name the role)."""
    handle = org.emulator.handle

    def answer(method: str, target: str, headers: Any, body: bytes) -> EmulatorResponse:
        if target.startswith("/v1/auth/tokens/current"):
            payload = {"errors": [{"status": "404", "title": "Not Found"}]}
            return EmulatorResponse(404, {"Content-Type": "application/json"}, _dump(payload))
        response = handle(method, target, headers, body)
        if generic_403 and response.status == 403:
            payload = {"errors": [{"status": "403", "title": "Forbidden"}]}
            return EmulatorResponse(403, response.headers, _dump(payload))
        return response

    org.emulator.handle = answer  # type: ignore[method-assign]


def _dump(payload: Any) -> bytes:
    return json.dumps(payload).encode()
