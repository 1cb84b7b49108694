"""Email and phone normalization: the one place where spellings become comparable keys.

Emails: trimmed, lower-cased, the domain converted to its IDNA (punycode) form.
Phones: E.164 via phonenumbers, numbers without a country code read in a default region.
"""

from __future__ import annotations

import functools
import re

import idna
import phonenumbers

from ksync.model import Field

# Relaxed, as Kustomer's own check: something@something.something, no spaces.
_EMAIL_SHAPE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+$")


class InvalidContact(ValueError):
    """A value that is not a valid email address or phone number."""


def email_key(value: str) -> str:
    """The comparable form of an email address; raises InvalidContact."""
    text = value.strip()
    if not _EMAIL_SHAPE.match(text):
        raise InvalidContact(f"{value!r} is not a valid email address")
    local, _, domain = text.rpartition("@")
    try:
        ascii_domain = _ascii_domain(domain.lower())
    except idna.IDNAError as err:
        raise InvalidContact(f"{value!r} is not a valid email address: {err}") from None
    return f"{local.lower()}@{ascii_domain}"


@functools.lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    """The IDNA form of a domain; most addresses of an org share a few domains."""
    if domain.isascii() and "xn--" not in domain:
        return domain
    return idna.encode(domain, uts46=True).decode("ascii")


def phone_key(value: str, region: str | None = None) -> str:
    """The E.164 form of a phone number; raises InvalidContact."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        hint = "" if region or text.startswith("+") else " (no +country code and no phone_region)"
        raise InvalidContact(f"{value!r} is not a valid phone number{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidContact(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_key(field: Field, value: str, region: str | None = None) -> str:
    """Normalize a value of either array; raises InvalidContact."""
    return email_key(value) if field == "emails" else phone_key(value, region)


def live_contact_key(field: Field, value: str, region: str | None = None) -> str:
    """Normalize a value read from Kustomer, never failing.

    A stored value that does not normalize is compared by its trimmed, lower-cased
    spelling, so it is still removed when the files do not list it.
    """
    try:
        return contact_key(field, value, region)
    except InvalidContact:
        return value.strip().lower()
