"""The planner: a pure function from (desired, live) to a Plan.

No HTTP, no clock, no environment. It decides which customers change, the complete
arrays each request sends, and the order of requests when values move between
customers (the holder releases a value before another customer takes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ksync.model import (
    DEFAULT_TYPE,
    ENTRY_KEY,
    FIELDS,
    Contact,
    ContactRef,
    Desired,
    DesiredCustomer,
    Field,
    Live,
    LiveCustomer,
)
from ksync.ordering import Node, schedule
from ksync.plan import Change, Plan, Problem, ValueChange, fingerprint

Entry = dict[str, Any]


@dataclass(frozen=True)
class FieldDiff:
    """The outcome for one managed array of one customer."""

    field: Field
    final: tuple[Entry, ...]  # the complete desired list, as sent
    kept: tuple[Entry, ...]  # the final entries that are already stored
    diffs: tuple[ValueChange, ...]
    added: tuple[str, ...]  # keys
    removed: tuple[str, ...]  # keys


def customer_path(customer_id: str) -> str:
    return f"/v1/customers/{quote(customer_id, safe='')}"


def additions(desired: Desired, customers: Sequence[LiveCustomer | None]) -> list[ContactRef]:
    """Every value some declared customer must gain, in declaration order."""
    wanted: list[ContactRef] = []
    for want, have in zip(desired.customers, customers, strict=True):
        for name in FIELDS:
            entries = want.managed(name)
            if entries is None:
                continue
            held = {c.key for c in have.contacts(name)} if have else set()
            wanted += [ContactRef(name, c.key) for c in entries if c.key not in held]
    return wanted


def lookups_needed(desired: Desired, customers: Sequence[LiveCustomer | None]) -> list[ContactRef]:
    """The values whose holder must be asked of Kustomer before planning.

    A value already held by one of the declared customers needs no look-up.
    """
    # The values some customer gains (``additions``) that no declared customer holds: a
    # value its own customer holds is held by a declared customer, so one test does both.
    held = _holders(customers)
    emails, phones = held["emails"], held["phones"]
    needed = []
    for want, _have in zip(desired.customers, customers, strict=True):
        if want.emails is not None:
            for contact in want.emails:
                if contact.key not in emails:
                    emails[contact.key] = -1  # asked once
                    needed.append(ContactRef("emails", contact.key))
        if want.phones is not None:
            for contact in want.phones:
                if contact.key not in phones:
                    phones[contact.key] = -1
                    needed.append(ContactRef("phones", contact.key))
    return needed


def plan(desired: Desired, live: Live) -> Plan:
    """Compare desired with live and decide the requests, in a safe order."""
    holders = _holders(live.customers)
    positions = {have.id: i for i, have in enumerate(live.customers) if have is not None}
    changes: list[Change] = []
    nodes: list[Node] = []
    problems: list[Problem] = []
    unchanged = 0
    for index, (want, have) in enumerate(zip(desired.customers, live.customers, strict=True)):
        if have is None or (want.external_id is not None and have.external_id != want.external_id):
            identity = _identity_problem(want, have)
            if identity is not None:
                problems.append(identity)
                continue
        elif _unchanged(want, have):
            unchanged += 1
            continue
        field_diffs = _field_diffs(want, have)
        if have is not None and not any(fd.diffs for fd in field_diffs):
            unchanged += 1
            continue
        gains = [ContactRef(fd.field, key) for fd in field_diffs for key in fd.added]
        sources = []
        for ref in gains:
            known = holders[ref.field].get(ref.key)
            holder = (
                _holder_by_lookup(ref, want, live.owners, positions) if known is None else known
            )
            source, problem = _source_of(ref, want, index, holder, desired)
            if problem:
                problems.append(problem)
            elif source is not None:
                sources.append(source)
        changes.append(_change(want, have, field_diffs))
        nodes.append(_node(len(changes) - 1, index, want, have, field_diffs, sources))
    if problems:
        return Plan(
            changes=tuple(changes), requests=(), unchanged=unchanged, problems=tuple(problems)
        )
    return Plan(changes=tuple(changes), requests=schedule(nodes), unchanged=unchanged)


def _identity_problem(want: DesiredCustomer, have: LiveCustomer | None) -> Problem | None:
    if have is None and want.id is not None:
        return Problem(want.source, f"customer id {want.id} does not exist")
    if have is not None and want.external_id is not None and have.external_id != want.external_id:
        return Problem(
            want.source,
            f"customer id {have.id} has externalId {have.external_id!r}, "
            f"but the files say {want.external_id!r}",
        )
    return None


def _holders(customers: Sequence[LiveCustomer | None]) -> dict[Field, dict[str, int]]:
    """Which declared customer (by position) stores each value, by array and key."""
    emails: dict[str, int] = {}
    phones: dict[str, int] = {}
    for index, have in enumerate(customers):
        if have is None:
            continue
        for contact in have.emails:
            if contact.key not in emails:
                emails[contact.key] = index
        for contact in have.phones:
            if contact.key not in phones:
                phones[contact.key] = index
    return {"emails": emails, "phones": phones}


def _unchanged(want: DesiredCustomer, have: LiveCustomer) -> bool:
    """True when no managed array of ``want`` differs from ``have`` (``_field_diff``'s diffs
    would all be empty), without building the diffs."""
    for wanted, stored in ((want.emails, have.emails), (want.phones, have.phones)):
        if wanted is None:
            continue
        if len(wanted) == 1 and len(stored) == 1:  # the usual case, without a dict
            contact, held = wanted[0], stored[0]
            if contact.key != held.key or (contact.type is not None and contact.type != held.type):
                return False
        elif not _same(wanted, stored):
            return False
    return True


def _same(wanted: tuple[Contact, ...], stored: tuple[Contact, ...]) -> bool:
    """Whether ``_field_diff`` finds nothing to change: no value stored twice, none to remove
    or add, and no type to change."""
    by_key: dict[str, Contact] = {}
    for contact in stored:
        if contact.key in by_key:
            return False
        by_key[contact.key] = contact
    wanted_keys = set()
    for contact in wanted:
        held = by_key.get(contact.key)
        if held is None or (contact.type is not None and contact.type != held.type):
            return False
        wanted_keys.add(contact.key)
    return len(wanted_keys) == len(by_key)


def _holder_by_lookup(
    ref: ContactRef,
    want: DesiredCustomer,
    owners: Mapping[ContactRef, str | None],
    positions: Mapping[str, int],
) -> int | Problem | None:
    """The declared customer Kustomer says holds ``ref``; a Problem if it is not declared."""
    owner_id = owners.get(ref)
    if owner_id is None:
        return None
    position = positions.get(owner_id)
    if position is None:
        return Problem(
            want.source,
            f"{want.label}: {ref} is held by customer {owner_id}, which the files do not "
            "declare; remove it there first or declare that customer",
        )
    return position


def _source_of(
    ref: ContactRef,
    want: DesiredCustomer,
    index: int,
    holder: int | Problem | None,
    desired: Desired,
) -> tuple[int | None, Problem | None]:
    """Who must release ``ref`` first: a declared customer's position, or nobody.

    A value held by an undeclared customer, or by a declared one that keeps it, is a
    conflict that stops the plan.
    """
    if holder is None or isinstance(holder, Problem):
        return None, holder
    if holder == index:
        return None, None
    other = desired.customers[holder]
    holder_wants = other.managed(ref.field)
    if holder_wants is None or any(c.key == ref.key for c in holder_wants):
        return None, Problem(
            want.source,
            f"{want.label}: {ref} is held by {other.label} ({other.source}), whose "
            f"{ref.field} the files do not manage; list its {ref.field} without it",
        )
    return holder, None


def _field_diffs(want: DesiredCustomer, have: LiveCustomer | None) -> list[FieldDiff]:
    result = []
    for name in FIELDS:
        entries = want.managed(name)
        if entries is not None:
            result.append(_field_diff(name, entries, have.contacts(name) if have else ()))
    return result


def _field_diff(name: Field, wanted: tuple[Contact, ...], stored: tuple[Contact, ...]) -> FieldDiff:
    """Diff one array; kept entries keep their stored spelling, type and verified."""
    by_key: dict[str, Contact] = {}
    diffs: list[ValueChange] = []
    removed: list[str] = []
    for contact in stored:
        if contact.key in by_key:  # the same value stored twice: drop the extra copy
            diffs.append(ValueChange(name, "-", contact.value, contact.type))
            removed.append(contact.key)
        else:
            by_key[contact.key] = contact
    wanted_keys = {c.key for c in wanted}
    for contact in stored:
        if contact.key not in wanted_keys and by_key.get(contact.key) is contact:
            diffs.append(ValueChange(name, "-", contact.value, contact.type))
            removed.append(contact.key)
    final: list[Entry] = []
    kept: list[Entry] = []
    added: list[str] = []
    for contact in wanted:
        old = by_key.get(contact.key)
        if old is None:
            entry_type = contact.type or DEFAULT_TYPE[name]
            spelling = new_spelling(name, contact)
            final.append({ENTRY_KEY[name]: spelling, "type": entry_type})
            diffs.append(ValueChange(name, "+", spelling, entry_type))
            added.append(contact.key)
            continue
        kept_type = contact.type or old.type
        if contact.type is not None and contact.type != old.type:
            diffs.append(ValueChange(name, "~", old.value, contact.type, old.type))
        entry = _stored_entry(name, old, kept_type)
        final.append(entry)
        kept.append(entry)
    return FieldDiff(name, tuple(final), tuple(kept), tuple(diffs), tuple(added), tuple(removed))


def new_spelling(name: Field, contact: Contact) -> str:
    """How a new value is sent: phones in E.164, emails as written (trimmed)."""
    return contact.key if name == "phones" else contact.value.strip()


def _stored_entry(name: Field, old: Contact, entry_type: str | None) -> Entry:
    entry: Entry = {ENTRY_KEY[name]: old.value}
    if entry_type is not None:
        entry["type"] = entry_type
    if old.verified is not None:
        entry["verified"] = old.verified
    return entry


def _change(want: DesiredCustomer, have: LiveCustomer | None, fds: list[FieldDiff]) -> Change:
    return Change(
        action="create" if have is None else "update",
        source=want.source,
        external_id=want.external_id if have is None else have.external_id,
        id=None if have is None else have.id,
        diffs=tuple(d for fd in fds for d in fd.diffs),
        fingerprint=fingerprint(have),
        before={
            fd.field: [_stored_entry(fd.field, c, c.type) for c in have.contacts(fd.field)]
            for fd in fds
            if fd.diffs and have is not None
        },
    )


def _node(
    change: int,
    position: int,
    want: DesiredCustomer,
    have: LiveCustomer | None,
    fds: list[FieldDiff],
    sources: list[int],
) -> Node:
    """What the scheduler needs to know about one change."""
    if have is None:
        body: Entry = {"externalId": want.external_id}
        if want.name is not None:
            body["name"] = want.name
        body.update({fd.field: list(fd.final) for fd in fds})
        return Node(change, position, "POST", "/v1/customers", body, {}, {}, tuple(sources))
    changed = [fd for fd in fds if fd.diffs]
    final: Entry = {fd.field: list(fd.final) for fd in changed}
    # A release write stores only the kept entries (already with their final types);
    # after it, only the arrays that gain values, or had nothing to release, differ.
    release: Entry = {fd.field: list(fd.kept) for fd in changed if fd.removed}
    rest: Entry = {fd.field: list(fd.final) for fd in changed if fd.added or not fd.removed}
    path = customer_path(have.id)
    return Node(change, position, "PUT", path, final, release, rest, tuple(sources))
