"""Verification after apply: re-read what was written and compare it with the plan.

A write the API accepted but stored differently (a server-side rewrite, a lost update)
is reported instead of passing unnoticed. Values are compared normalized; the type of an
entry is compared when the write sent one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ksync.applier import Outcome
from ksync.live import CustomerReader, ReadOptions, read_live
from ksync.model import (
    ENTRY_KEY,
    FIELDS,
    Desired,
    DesiredCustomer,
    Field,
    LiveCustomer,
    SourceRef,
    customer_label,
)
from ksync.normalize import live_contact_key
from ksync.plan import Plan


@dataclass(frozen=True)
class Mismatch:
    label: str
    field: Field
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    retyped: tuple[str, ...] = ()  # "value (stored type, not sent type)"

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.unexpected:
            parts.append("unexpected " + ", ".join(self.unexpected))
        if self.retyped:
            parts.append("wrong type " + ", ".join(self.retyped))
        return f"{self.label}: {self.field} after apply do not match the plan: " + "; ".join(parts)


@dataclass(frozen=True)
class Target:
    """A customer to re-read, and what its managed arrays should now hold: each value
    (normalized) with the type sent for it (None: none was sent)."""

    label: str
    customer_id: str
    expected: Mapping[Field, Mapping[str, str | None]]


def targets(plan: Plan, outcomes: Sequence[Outcome]) -> list[Target]:
    """The customers whose every request succeeded, with the arrays they should have."""
    ok: dict[int, bool] = {}
    ids: dict[int, str | None] = {}
    expected: dict[int, dict[Field, dict[str, str | None]]] = {}
    for outcome in outcomes:
        change = outcome.request.change
        ok[change] = ok.get(change, True) and outcome.status == "ok"
        ids[change] = plan.changes[change].id or outcome.customer_id or ids.get(change)
        expected.setdefault(change, {}).update(_keys(outcome.request.body))
    return [
        Target(
            customer_label(plan.changes[c].external_id, ids[c]),
            customer_id,
            expected[c],
        )
        for c in sorted(ok)
        if ok[c] and (customer_id := ids[c]) is not None
    ]


def verify(
    plan: Plan, outcomes: Sequence[Outcome], reader: CustomerReader, options: ReadOptions
) -> tuple[int, list[Mismatch]]:
    """Re-read the written customers: (how many were read, what does not match)."""
    wanted = targets(plan, outcomes)
    # Read them the cheapest way (one by one, or by listing the org), as plan does.
    by_id = Desired(tuple(DesiredCustomer(SourceRef("", 0), id=t.customer_id) for t in wanted))
    found = read_live(reader, by_id, options).customers
    mismatches = []
    for target, live in zip(wanted, found, strict=True):
        mismatches += compare(target, live)
    return len(wanted), mismatches


def compare(target: Target, live: LiveCustomer | None) -> list[Mismatch]:
    result = []
    for name, expected in target.expected.items():
        stored = {
            live_contact_key(name, c.value): c.type for c in (live.contacts(name) if live else ())
        }
        missing = tuple(sorted(expected.keys() - stored.keys()))
        unexpected = tuple(sorted(stored.keys() - expected.keys()))
        retyped = tuple(
            f"{key} ({stored[key] or 'no type'}, not {sent})"
            for key, sent in sorted(expected.items())
            if sent is not None and key in stored and stored[key] != sent
        )
        if missing or unexpected or retyped:
            result.append(Mismatch(target.label, name, missing, unexpected, retyped))
    return result


def _keys(body: Mapping[str, Any]) -> dict[Field, dict[str, str | None]]:
    keys: dict[Field, dict[str, str | None]] = {}
    for name in FIELDS:
        entries = body.get(name)
        if isinstance(entries, list):
            keys[name] = {
                live_contact_key(name, str(e.get(ENTRY_KEY[name], ""))): _type(e)
                for e in entries
                if isinstance(e, Mapping)
            }
    return keys


def _type(entry: Mapping[str, Any]) -> str | None:
    sent = entry.get("type")
    return sent if isinstance(sent, str) else None
