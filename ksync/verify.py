"""Verification after apply: re-read what was written and compare it with the plan.

A write the API accepted but stored differently (a server-side rewrite, a lost update)
is reported instead of passing unnoticed. Values are compared normalized.
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

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.unexpected:
            parts.append("unexpected " + ", ".join(self.unexpected))
        return f"{self.label}: {self.field} after apply do not match the plan: " + "; ".join(parts)


@dataclass(frozen=True)
class Target:
    """A customer to re-read, and what its managed arrays should now hold."""

    label: str
    customer_id: str
    expected: Mapping[Field, frozenset[str]]


def targets(plan: Plan, outcomes: Sequence[Outcome]) -> list[Target]:
    """The customers whose every request succeeded, with the arrays they should have."""
    ok: dict[int, bool] = {}
    ids: dict[int, str | None] = {}
    expected: dict[int, dict[Field, frozenset[str]]] = {}
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
    for name, keys in target.expected.items():
        stored = frozenset(
            live_contact_key(name, c.value) for c in (live.contacts(name) if live else ())
        )
        if stored != keys:
            result.append(
                Mismatch(
                    target.label, name, tuple(sorted(keys - stored)), tuple(sorted(stored - keys))
                )
            )
    return result


def _keys(body: Mapping[str, Any]) -> dict[Field, frozenset[str]]:
    keys: dict[Field, frozenset[str]] = {}
    for name in FIELDS:
        entries = body.get(name)
        if isinstance(entries, list):
            keys[name] = frozenset(
                live_contact_key(name, str(e.get(ENTRY_KEY[name], ""))) for e in entries
            )
    return keys
