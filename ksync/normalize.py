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
    if text.isascii():
        # ASCII lower-cases letter by letter, and the shape has exactly one "@", so the
        # key is the text lower-cased, unless its domain may need IDNA (xn--).
        lowered = text.lower()
        if "xn--" not in lowered.rpartition("@")[2]:
            return lowered
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
    quick = _e164_key(value.strip())
    return quick if quick is not None else parsed_phone_key(value, region)


def parsed_phone_key(value: str, region: str | None = None) -> str:
    """phone_key through phonenumbers alone: the reference for the quick path."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        hint = "" if region or text.startswith("+") else " (no +country code and no phone_region)"
        raise InvalidContact(f"{value!r} is not a valid phone number{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidContact(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A "+", a country code and the national number, in ASCII digits, without a leading 0.
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{2,18}")
_COUNTRY_CODES = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_MAX_NATIONAL = 17  # phonenumbers' longest national significant number


def _e164_key(text: str) -> str | None:
    """``text`` when it is a possible number already in E.164 form, else None.

    The same answer as phonenumbers (parse, is_possible_number, format as E.164), which
    reads "+", then the first 1 to 3 digits that are a country code, then the national
    number. With ASCII digits only, nothing else is stripped or changed unless the
    national number starts with 0 (kept as "Italian leading zeros") or with the country's
    national prefix (which phonenumbers may strip): those, and every number phonenumbers
    may refuse, return None and go through phonenumbers itself.
    """
    if _E164_SHAPE.fullmatch(text) is None:
        return None
    split = _country_code(text[1:4])
    if split is None:
        return None
    size, prefix, lengths = split
    national = text[1 + size :]
    if len(national) not in lengths or national[0] == "0":
        return None
    if prefix is not None and prefix.match(national):
        return None
    return text


_Split = tuple[int, "re.Pattern[str] | None", frozenset[int]]


@functools.cache
def _country_code(head: str) -> _Split | None:
    """For the first three digits after "+": the length of the country code they start
    with (as phonenumbers finds it), the national prefix phonenumbers may strip for it,
    and the national number lengths (2 to 17 digits) phonenumbers finds possible."""
    for size in (1, 2, 3):
        code = int(head[:size])
        if code in _COUNTRY_CODES:
            break
    else:
        return None
    region = phonenumbers.region_code_for_country_code(code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return None
    pattern = metadata.national_prefix_for_parsing
    prefix = re.compile(pattern) if pattern else None
    return size, prefix, frozenset(n for n in range(2, _MAX_NATIONAL + 1) if _possible(code, n))


def _possible(code: int, length: int) -> bool:
    """Whether phonenumbers finds a national number of this length possible for ``code``.

    phonenumbers' answer depends only on the country code and the length of the national
    significant number, so one number of that length (without leading zeros) stands
    for all.
    """
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int("1" * length))
    return bool(phonenumbers.is_possible_number(number))


def contact_key(field: Field, value: str, region: str | None = None) -> str:
    """Normalize a value of either array; raises InvalidContact."""
    return email_key(value) if field == "emails" else phone_key(value, region)


def live_contact_key(field: Field, value: str, region: str | None = None) -> str:
    """Normalize a value read from Kustomer, never failing.

    A stored value that does not normalize is compared by its trimmed, lower-cased
    spelling, so it is still removed when the files do not list it.
    """
    if field == "emails":
        text = value.strip()
        if text.isascii():
            # Without IDNA, a valid address's key is its text lower-cased, and so is
            # the fallback for an invalid one: the shape need not be checked.
            lowered = text.lower()
            if "xn--" not in lowered:
                return lowered
    try:
        return contact_key(field, value, region)
    except InvalidContact:
        return value.strip().lower()
