"""The emulated org's storage: customers in creation order plus the uniqueness index.

Not thread-safe on its own: the Emulator holds a lock around every use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ksync.emulator.documents import NORMALIZERS, JsonObject, UniqueValue, unique_values
from ksync.emulator.errors import conflict

ID_PATTERN = re.compile(r"[0-9a-f]{24}")
# Generated ids are this prefix plus a counter in hex: repeatable from run to run.
_ID_PREFIX = "5e"


@dataclass(frozen=True)
class Checkpoint:
    """The org's state at one moment, to roll back a failed multi-customer write."""

    documents: dict[str, JsonObject]
    owners: dict[tuple[str, str], str]
    serial: int


class Org:
    """Customers by id (creation order) and the holder of every unique value."""

    def __init__(self) -> None:
        self._documents: dict[str, JsonObject] = {}
        self._owners: dict[tuple[str, str], str] = {}
        self._serial = 0

    def __len__(self) -> int:
        return len(self._documents)

    def new_id(self) -> str:
        """A fresh id: 24 lowercase hex chars, deterministic for a given history."""
        while True:
            self._serial += 1
            candidate = f"{_ID_PREFIX}{self._serial:022x}"
            if candidate not in self._documents:
                return candidate

    def get(self, customer_id: str) -> JsonObject | None:
        return self._documents.get(customer_id)

    def items(self) -> list[tuple[str, JsonObject]]:
        """Every customer as (id, stored attributes), in creation order."""
        return list(self._documents.items())

    def holder(self, kind: str, value: str) -> str | None:
        """The id of the customer holding a value (``kind`` email/phone/externalId)."""
        return self._owners.get((kind, NORMALIZERS[kind](value)))

    def save(self, customer_id: str, document: JsonObject, conflict_status: int) -> None:
        """Store a customer's attributes, or raise a conflict and store nothing."""
        new_keys = self._check_unique(customer_id, document, conflict_status)
        old = self._documents.get(customer_id)
        if old is not None:
            for value in unique_values(old):
                self._owners.pop((value.kind, value.key), None)
        for key in new_keys:
            self._owners[key] = customer_id
        self._documents[customer_id] = document

    def _check_unique(
        self, customer_id: str, document: JsonObject, status: int
    ) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], UniqueValue] = {}
        for value in unique_values(document):
            key = (value.kind, value.key)
            first = seen.get(key)
            if first is not None:
                message = (
                    f"{value.kind} {value.value} is listed more than once"
                    f" ({first.pointer} and {value.pointer})"
                )
                raise conflict(status, message, value.pointer)
            seen[key] = value
            holder = self._owners.get(key)
            if holder is not None and holder != customer_id:
                message = f"{value.kind} {value.value} already belongs to customer {holder}"
                raise conflict(status, message, value.pointer)
        return list(seen)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(dict(self._documents), dict(self._owners), self._serial)

    def restore(self, checkpoint: Checkpoint) -> None:
        self._documents = dict(checkpoint.documents)
        self._owners = dict(checkpoint.owners)
        self._serial = checkpoint.serial
