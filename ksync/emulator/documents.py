"""Customer documents: checking request bodies, building stored attributes, rendering.

Stored attributes are plain JSON dicts, exactly what the API returns except that the
``"id": null`` of each contact entry is added only when rendering. Stored documents are
never mutated in place: every write builds a new dict, so older references stay valid.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ksync.emulator.errors import bad_request

JsonObject = dict[str, Any]

READ_ONLY_KEYS = frozenset({"id", "rev", "createdAt", "updatedAt", "modifiedAt"})
EMAIL_TYPES = ("home", "work", "other")
PHONE_TYPES = ("mobile", "home", "work", "fax", "other")


@dataclass(frozen=True)
class ContactArray:
    """One array attribute of contact entries, e.g. ``emails`` of ``{"email": ...}``."""

    field: str
    key: str
    types: tuple[str, ...]
    unique: bool


CONTACT_ARRAYS: dict[str, ContactArray] = {
    array.field: array
    for array in (
        ContactArray("emails", "email", EMAIL_TYPES, unique=True),
        ContactArray("phones", "phone", PHONE_TYPES, unique=True),
        ContactArray("sharedEmails", "email", EMAIL_TYPES, unique=False),
        ContactArray("sharedPhones", "phone", PHONE_TYPES, unique=False),
    )
}


def email_key(value: str) -> str:
    """Emails are matched trimmed and lower-cased."""
    return value.strip().lower()


def phone_key(value: str) -> str:
    """Phones are matched by their digits (a value without digits by its spelling)."""
    digits = re.sub(r"[^0-9]", "", value)
    return digits or value.strip().lower()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": email_key,
    "phone": phone_key,
    "externalId": lambda value: value,
}


@dataclass(frozen=True)
class UniqueValue:
    """A value that only one customer of the org may hold."""

    kind: str  # "email", "phone" or "externalId"
    key: str  # normalized
    value: str  # as stored
    pointer: str  # JSON pointer into the attributes


def unique_values(attributes: JsonObject) -> list[UniqueValue]:
    """Every org-wide unique value of checked attributes, in document order."""
    values = []
    external_id = attributes.get("externalId")
    if isinstance(external_id, str):
        values.append(UniqueValue("externalId", external_id, external_id, "/externalId"))
    for array in CONTACT_ARRAYS.values():
        if not array.unique:
            continue
        for index, entry in enumerate(attributes.get(array.field, [])):
            text = entry[array.key]
            pointer = f"/{array.field}/{index}/{array.key}"
            values.append(UniqueValue(array.key, NORMALIZERS[array.key](text), text, pointer))
    return values


def clean_attributes(body: object, *, keep_read_only: bool = False) -> JsonObject:
    """Check a request body and return the attributes it sets (a deep copy).

    Read-only keys are dropped unless ``keep_read_only`` (seed files may set them).
    Raises a 400 ApiError on the first problem.
    """
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object of customer attributes")
    cleaned: JsonObject = {}
    for key, value in copy.deepcopy(body).items():
        if key in READ_ONLY_KEYS and not keep_read_only:
            continue
        if key in CONTACT_ARRAYS:
            value = _clean_entries(CONTACT_ARRAYS[key], value)
        elif key == "externalId" and not isinstance(value, str):
            raise bad_request("externalId must be a string", pointer="/externalId")
        cleaned[key] = value
    return cleaned


def _clean_entries(array: ContactArray, value: object) -> list[JsonObject]:
    if not isinstance(value, list):
        raise bad_request(f"{array.field} must be a list", pointer=f"/{array.field}")
    entries = []
    for index, entry in enumerate(value):
        where = f"{array.field}[{index}]"
        pointer = f"/{array.field}/{index}"
        if not isinstance(entry, dict):
            raise bad_request(f"{where} must be an object", pointer=pointer)
        text = entry.get(array.key)
        if not isinstance(text, str) or not text.strip():
            raise bad_request(f"{where}: need to specify an {array.key}", pointer=pointer)
        if "type" in entry and entry["type"] not in array.types:
            raise bad_request(
                f"{where}.type must be one of {', '.join(array.types)}, not {entry['type']!r}",
                pointer=f"{pointer}/type",
            )
        if not isinstance(entry.get("verified", False), bool):
            raise bad_request(f"{where}.verified must be true or false", pointer=pointer)
        stored = {name: item for name, item in entry.items() if name != "id"}
        stored.setdefault("verified", False)
        entries.append(stored)
    return entries


def new_document(cleaned: JsonObject, now: str) -> JsonObject:
    """The stored attributes of a new customer; keeps read-only keys already present."""
    document = dict(cleaned)
    document.setdefault("emails", [])
    document.setdefault("phones", [])
    for stamp in ("createdAt", "updatedAt", "modifiedAt"):
        document.setdefault(stamp, now)
    document.setdefault("rev", 1)
    return document


def updated_document(
    stored: JsonObject, cleaned: JsonObject, now: str, *, replace: bool
) -> JsonObject:
    """The stored attributes after a write: merged key by key, or replaced whole."""
    if replace:
        document = {"createdAt": stored.get("createdAt", now), **cleaned}
        document.setdefault("emails", [])
        document.setdefault("phones", [])
    else:
        document = {**stored, **cleaned}
    rev = stored.get("rev")
    document["rev"] = (rev if isinstance(rev, int) else 0) + 1
    document["updatedAt"] = now
    document["modifiedAt"] = now
    return document


def render_attributes(attributes: JsonObject) -> JsonObject:
    """A deep copy of stored attributes as the API returns them."""
    rendered = copy.deepcopy(attributes)
    for field in CONTACT_ARRAYS:
        if isinstance(rendered.get(field), list):
            rendered[field] = [{**entry, "id": None} for entry in rendered[field]]
    return rendered


def render_resource(customer_id: str, attributes: JsonObject) -> JsonObject:
    """The JSON:API resource of one customer (the ``data`` of a response)."""
    return {
        "type": "customer",
        "id": customer_id,
        "attributes": render_attributes(attributes),
        "relationships": {},
        "links": {"self": f"/v1/customers/{customer_id}"},
    }
