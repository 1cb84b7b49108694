"""The Plan: what would change, the exact requests apply sends, and how to save it.

A Plan is a value. ``plan_to_document`` turns it into the versioned JSON document that
``plan --format json`` prints and ``plan --out`` saves; ``plan_from_document`` reads it
back, checking it as strictly as the YAML files are checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ksync.model import FIELDS, Field, LiveCustomer, SourceRef

FORMAT_VERSION = 1

Action = Literal["create", "update"]
Op = Literal["+", "-", "~"]
Method = Literal["POST", "PUT"]
Purpose = Literal["create", "update", "release"]

ABSENT = "absent"  # the fingerprint of a customer that does not exist


@dataclass(frozen=True)
class ValueChange:
    """One line of a customer's diff: a value added, removed, or whose type changes."""

    field: Field
    op: Op
    value: str
    type: str | None = None
    old_type: str | None = None


@dataclass(frozen=True)
class Request:
    """One HTTP request apply sends. ``after``: requests that must succeed first."""

    method: Method
    path: str
    body: Mapping[str, Any]
    change: int
    purpose: Purpose
    after: tuple[int, ...] = ()


@dataclass(frozen=True)
class Change:
    """A declared customer that apply would create or update."""

    action: Action
    source: SourceRef
    external_id: str | None
    id: str | None
    diffs: tuple[ValueChange, ...]
    fingerprint: str
    # The stored entries of each array that changes, as they were when planned.
    before: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)

    def diffs_of(self, field: Field) -> tuple[ValueChange, ...]:
        return tuple(d for d in self.diffs if d.field == field)


@dataclass(frozen=True)
class Problem:
    """Something that stops the plan from being applied, e.g. a conflict."""

    source: SourceRef
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    requests: tuple[Request, ...]
    unchanged: int
    problems: tuple[Problem, ...] = ()
    partial: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def creates(self) -> int:
        return sum(1 for c in self.changes if c.action == "create")

    @property
    def updates(self) -> int:
        return sum(1 for c in self.changes if c.action == "update")

    @property
    def empty(self) -> bool:
        return not self.changes


def fingerprint(live: LiveCustomer | None) -> str:
    """A digest of a customer's stored emails and phones: any edit to them changes it."""
    if live is None:
        return ABSENT
    stored = {name: [[c.value, c.type, c.verified] for c in live.contacts(name)] for name in FIELDS}
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def plan_to_document(plan: Plan) -> dict[str, Any]:
    """The versioned JSON document for scripts and saved plans."""
    return {
        "format_version": FORMAT_VERSION,
        **dict(plan.meta),
        "summary": {
            "create": plan.creates,
            "update": plan.updates,
            "unchanged": plan.unchanged,
        },
        "changes": [_change_to_document(i, c, plan.requests) for i, c in enumerate(plan.changes)],
        "requests": [_request_to_document(r) for r in plan.requests],
    }


def _change_to_document(index: int, change: Change, requests: Sequence[Request]) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for name in FIELDS:
        diffs = change.diffs_of(name)
        if diffs:
            arrays[name] = {
                "add": [d.value for d in diffs if d.op == "+"],
                "remove": [d.value for d in diffs if d.op == "-"],
                "retype": [
                    {"value": d.value, "from": d.old_type, "to": d.type}
                    for d in diffs
                    if d.op == "~"
                ],
            }
    return {
        "action": change.action,
        "id": change.id,
        "externalId": change.external_id,
        "source": str(change.source),
        "fingerprint": change.fingerprint,
        "changes": arrays,
        "before": {name: [dict(e) for e in entries] for name, entries in change.before.items()},
        "requests": [
            _request_to_document(r, with_change=False) for r in requests if r.change == index
        ],
    }


def _request_to_document(request: Request, with_change: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "body": dict(request.body),
    }
    if with_change:
        doc.update(change=request.change, purpose=request.purpose, after=list(request.after))
    return doc
