"""The values ksync works with: desired and live customers and their contact points.

Everything here is a frozen dataclass. Normalization happens before these are built
(see ``normalize.py``): ``Contact.key`` is the comparable form, ``Contact.value`` the
spelling as written in the files or as stored in Kustomer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Field = Literal["emails", "phones"]
FIELDS: tuple[Field, ...] = ("emails", "phones")

# The key inside one entry of each array: {"email": ...} / {"phone": ...}.
ENTRY_KEY: dict[Field, str] = {"emails": "email", "phones": "phone"}

EMAIL_TYPES = ("home", "work", "other")
PHONE_TYPES = ("mobile", "home", "work", "fax", "other")
# The type a new entry gets when the files do not name one.
DEFAULT_TYPE: dict[Field, str] = {"emails": "other", "phones": "other"}


@dataclass(frozen=True, order=True, slots=True)
class SourceRef:
    """Where something is declared: a file, 1-based line and column."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def full(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Contact:
    """One email or phone. ``key`` is normalized; ``value`` is the original spelling.

    ``type`` is None in desired state when the files leave it out ("keep the live
    type, or the default for a new entry"). ``verified`` is only known for live entries.
    """

    key: str
    value: str
    type: str | None = None
    verified: bool | None = None


@dataclass(frozen=True, slots=True)
class ContactRef:
    """A contact value in one of the two arrays, as the org-wide uniqueness sees it."""

    field: Field
    key: str

    def __str__(self) -> str:
        return f"{ENTRY_KEY[self.field]} {self.key}"


@dataclass(frozen=True, slots=True)
class DesiredCustomer:
    """A customer as the files declare it. ``None`` for an array means "not managed"."""

    source: SourceRef
    external_id: str | None = None
    id: str | None = None
    name: str | None = None
    emails: tuple[Contact, ...] | None = None
    phones: tuple[Contact, ...] | None = None
    phone_region: str | None = None  # the file's defaults.phone_region

    def managed(self, field: Field) -> tuple[Contact, ...] | None:
        return self.emails if field == "emails" else self.phones

    @property
    def label(self) -> str:
        """How people name this customer: externalId and/or id."""
        return customer_label(self.external_id, self.id)


@dataclass(frozen=True, slots=True)
class Desired:
    """The whole desired state: every customer from every file, in file order."""

    customers: tuple[DesiredCustomer, ...]


@dataclass(frozen=True, slots=True)
class LiveCustomer:
    """A customer as Kustomer has it. Only what ksync reads or compares."""

    id: str
    external_id: str | None
    name: str | None
    emails: tuple[Contact, ...]
    phones: tuple[Contact, ...]
    rev: int | None = None

    def contacts(self, field: Field) -> tuple[Contact, ...]:
        return self.emails if field == "emails" else self.phones

    @property
    def label(self) -> str:
        return customer_label(self.external_id, self.id)


@dataclass(frozen=True, slots=True)
class Live:
    """What was read from Kustomer for one desired state.

    ``customers[i]`` is the live record of ``desired.customers[i]`` or None when it does
    not exist. ``owners`` maps each looked-up contact value to the id of the customer
    holding it, or None when nobody holds it.
    """

    customers: tuple[LiveCustomer | None, ...]
    owners: dict[ContactRef, str | None]


def customer_label(external_id: str | None, customer_id: str | None) -> str:
    parts = []
    if external_id is not None:
        parts.append(f"externalId={external_id}")
    if customer_id is not None:
        parts.append(f"id={customer_id}")
    return " ".join(parts) or "(unnamed)"
