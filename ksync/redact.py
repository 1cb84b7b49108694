"""Masking emails, phones and names in plans, for logs that others can read (public CI).

``redact_plan`` returns a copy of a plan for display only, which every renderer (text,
json, markdown) prints as usual. Customer ids, externalIds and file names are kept. Masked:
the values in the diffs; every ``email``, ``phone`` and ``name`` string in the request
bodies and in the stored entries of a change (``before``); emails and phones in the
problems' messages (best effort: every value seen elsewhere in the plan, and anything
shaped like an email or an E.164 number); and the fingerprints (a digest of a few emails
and phones could be reversed by guessing). ``meta["redacted"]`` is set: a redacted plan
must never be saved for apply, as its bodies no longer hold the real values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ksync.model import ENTRY_KEY, Field
from ksync.normalize import InvalidContact, contact_key
from ksync.plan import ABSENT, Change, Plan, Problem

Redactor = Callable[[str, str], str]

REDACTED_FINGERPRINT = "redacted"
_MASK = "***"
_FIELD_OF: dict[str, Field] = {entry: field for field, entry in ENTRY_KEY.items()}
_EMAIL_FIELDS = ("emails", "email")
_PHONE_FIELDS = ("phones", "phone")
# Values that look like an email or an E.164 phone, for messages mentioning other values.
_EMAIL_LIKE = r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+\.[^\s@'\"<>(),;:.]+"
_PHONE_LIKE = r"(?<![\w+])\+\d{6,15}(?!\d)"


def redact_value(field: str, value: str) -> str:
    """``value`` masked, deterministically.

    Emails (``emails``/``email``) keep the first character of the local part and the
    domain: ``j***@example.com`` (``*@example.com`` for a local part of one character).
    Phones (``phones``/``phone``) are read by their digits and keep a leading ``+``, the
    first two and last two digits, one ``*`` per masked digit: ``+15*******00``; fewer
    digits are kept for short numbers (one each end below 9 digits, none below 5). Anything
    else (a name, an email without ``@``) keeps its first character: ``S***``.
    """
    text = value.strip()
    if field in _EMAIL_FIELDS and "@" in text:
        local, _, domain = text.rpartition("@")
        shown = local[:1] + _MASK if len(local) > 1 else "*"
        return f"{shown}@{domain}"
    if field in _PHONE_FIELDS:
        return _phone(text)
    return text[:1] + _MASK


def _phone(text: str) -> str:
    digits = "".join(c for c in text if c.isdigit())
    if not digits:
        return _MASK
    keep = 2 if len(digits) >= 9 else 1 if len(digits) >= 5 else 0
    head, tail = digits[:keep], digits[len(digits) - keep :]
    masked = "*" * (len(digits) - 2 * keep)
    return ("+" if text.startswith("+") else "") + head + masked + tail


def redact_plan(plan: Plan, redactor: Redactor = redact_value) -> Plan:
    """A copy of ``plan`` with every email, phone and name masked by ``redactor``."""
    known = _Known(redactor)
    changes = tuple(_change(c, known) for c in plan.changes)
    requests = tuple(replace(r, body=_body(r.body, known)) for r in plan.requests)
    scrub = known.scrubber()
    problems = tuple(Problem(p.source, scrub(p.message)) for p in plan.problems)
    return replace(
        plan,
        changes=changes,
        requests=requests,
        problems=problems,
        meta={**plan.meta, "redacted": True},
    )


class _Known:
    """The emails and phones masked so far, to find them again in free text."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._fields: dict[str, Field] = {}  # lower-cased spelling -> field

    def mask(self, field: Field, value: str) -> str:
        for spelling in (value.strip(), _key(field, value)):
            if spelling:
                self._fields.setdefault(spelling.lower(), field)
        return self.redactor(field, value)

    def scrubber(self) -> Callable[[str], str]:
        """Masks every known value, and anything email- or phone-like, in a text."""
        known = sorted(self._fields, key=len, reverse=True)
        patterns = [f"(?P<email>{_EMAIL_LIKE})", f"(?P<phone>{_PHONE_LIKE})"]
        if known:
            patterns.insert(0, "(?P<known>" + "|".join(re.escape(s) for s in known) + ")")
        pattern = re.compile("|".join(patterns), re.IGNORECASE)

        def one(match: re.Match[str]) -> str:
            text = match[0]
            if match["email"] is not None:
                return self.redactor("emails", text)
            if match["phone"] is not None:
                return self.redactor("phones", text)
            return self.redactor(self._fields.get(text.lower(), "emails"), text)

        return lambda text: pattern.sub(one, text)


def _key(field: Field, value: str) -> str:
    """The normalized form a message would name, or "" when there is none."""
    try:
        return contact_key(field, value)
    except InvalidContact:
        return ""


def _change(change: Change, known: _Known) -> Change:
    diffs = tuple(replace(d, value=known.mask(d.field, d.value)) for d in change.diffs)
    masked = change.fingerprint if change.fingerprint == ABSENT else REDACTED_FINGERPRINT
    before = {name: _masked(entries, known) for name, entries in change.before.items()}
    return replace(change, diffs=diffs, fingerprint=masked, before=before)


def _body(body: Mapping[str, Any], known: _Known) -> dict[str, Any]:
    return {key: _masked(value, known, key) for key, value in body.items()}


def _masked(value: Any, known: _Known, key: str = "") -> Any:
    """``value`` with every ``email``, ``phone`` and ``name`` string in it masked."""
    if isinstance(value, str):
        if key in ENTRY_KEY.values():
            return known.mask(_FIELD_OF[key], value)
        return known.redactor("name", value) if key == "name" else value
    if isinstance(value, Mapping):
        return {k: _masked(v, known, k if isinstance(k, str) else "") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v, known) for v in value]
    return value
