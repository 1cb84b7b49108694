"""Small constructors for desired and live values, for planner and render tests."""

from __future__ import annotations

from ksync.model import Contact, Desired, DesiredCustomer, LiveCustomer, SourceRef
from ksync.normalize import contact_key, email_key, phone_key


def email(value: str, type: str | None = None, verified: bool | None = None) -> Contact:
    return Contact(email_key(value), value, type, verified)


def phone(value: str, type: str | None = None, verified: bool | None = None) -> Contact:
    return Contact(phone_key(value, "US"), value, type, verified)


def want(
    external_id: str | None = None,
    *,
    id: str | None = None,
    emails: list[Contact] | None = None,
    phones: list[Contact] | None = None,
    name: str | None = None,
    line: int = 1,
) -> DesiredCustomer:
    return DesiredCustomer(
        source=SourceRef("contacts.yaml", line, 5),
        external_id=external_id,
        id=id,
        name=name,
        emails=None if emails is None else tuple(emails),
        phones=None if phones is None else tuple(phones),
        phone_region="US",
    )


def have(
    id: str,
    external_id: str | None = None,
    *,
    emails: list[Contact] | None = None,
    phones: list[Contact] | None = None,
) -> LiveCustomer:
    return LiveCustomer(
        id=id,
        external_id=external_id,
        name=None,
        emails=tuple(emails or ()),
        phones=tuple(phones or ()),
        rev=1,
    )


def desired(*customers: DesiredCustomer) -> Desired:
    return Desired(customers=customers)


def spellings(value: str) -> set[str]:
    """A value as written, lower-cased, normalized, and a phone's bare digits: every
    form in which a leak of it could show."""
    found = {value, value.lower()}
    if "@" in value:
        found.add(contact_key("emails", value))
    elif any(c.isdigit() for c in value):
        key = contact_key("phones", value, "US")
        found |= {key, key.lstrip("+"), key[2:]}
    return found
