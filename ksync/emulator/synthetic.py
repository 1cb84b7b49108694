"""A synthetic org: ``settings.customers`` customers made at start, the same every time.

Customer ``n`` (1-based) has ``name`` ``Synthetic Customer n``, ``externalId``
``synthetic-n``, one email ``synthetic-n@example.com`` and one phone ``+1555`` plus
``n`` in 7 digits; their ``type`` cycles through the allowed types and ``verified``
alternates (emails: even ``n``; phones: ``n`` divisible by 3). Built straight into the
store, linear in the count: 100,000 take about a second.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from ksync.emulator.documents import EMAIL_TYPES, PHONE_TYPES, JsonObject
from ksync.emulator.store import Org


def synthetic_customers(count: int, now: str) -> Iterator[JsonObject]:
    """The stored attributes of customers 1 to ``count``."""
    for n in range(1, count + 1):
        yield {
            "name": f"Synthetic Customer {n}",
            "externalId": f"synthetic-{n}",
            "emails": [
                {
                    "email": f"synthetic-{n}@example.com",
                    "type": EMAIL_TYPES[n % len(EMAIL_TYPES)],
                    "verified": n % 2 == 0,
                }
            ],
            "phones": [
                {
                    "phone": f"+1555{n:07d}",
                    "type": PHONE_TYPES[n % len(PHONE_TYPES)],
                    "verified": n % 3 == 0,
                }
            ],
            "createdAt": now,
            "updatedAt": now,
            "modifiedAt": now,
            "rev": 1,
        }


def add_synthetic(org: Org, count: int, now: str, conflict_status: int) -> None:
    """Add ``count`` synthetic customers to ``org`` (ids from the org's counter).

    The cyclic garbage collector is paused meanwhile: the documents hold no cycles, and
    its passes over hundreds of thousands of new dicts would take a third of the time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for document in synthetic_customers(count, now):
            org.save(org.new_id(), document, conflict_status)
    finally:
        if was_enabled:
            gc.enable()
