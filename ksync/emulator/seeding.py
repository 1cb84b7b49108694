"""Seeding an org from Python values or a seed file ``{"customers": [...]}``."""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

from ksync.emulator.documents import JsonObject, clean_attributes, new_document
from ksync.emulator.errors import ApiError
from ksync.emulator.store import ID_PATTERN, Org


def seed_org(org: Org, customers: list[JsonObject], now: str, conflict_status: int) -> list[str]:
    """Add customers to ``org``; returns their ids in order. All or nothing: a malformed
    customer or a duplicate unique value raises ValueError naming it."""
    checkpoint = org.checkpoint()
    try:
        return [
            _seed_one(org, index, raw, now, conflict_status) for index, raw in enumerate(customers)
        ]
    except BaseException:
        org.restore(checkpoint)
        raise


def _seed_one(org: Org, index: int, raw: object, now: str, conflict_status: int) -> str:
    where = f"seed customer #{index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    attributes = dict(raw)
    customer_id = attributes.pop("id", None)
    if customer_id is None:
        customer_id = org.new_id()
    elif not isinstance(customer_id, str) or not ID_PATTERN.fullmatch(customer_id):
        raise ValueError(f"{where}: id must be 24 lowercase hex characters, not {customer_id!r}")
    elif org.get(customer_id) is not None:
        raise ValueError(f"{where}: id {customer_id} is used twice")
    try:
        cleaned = clean_attributes(attributes, keep_read_only=True)
        org.save(customer_id, new_document(cleaned, now), conflict_status)
    except ApiError as error:
        raise ValueError(f"{where}: {error.message}") from None
    return customer_id


def read_seed_file(path: str | PathLike[str]) -> list[Any]:
    """The customers of a seed file; ValueError if malformed, OSError if unreadable."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        content = json.loads(text)
    except ValueError as error:
        raise ValueError(f"seed file {path}: not valid JSON: {error}") from None
    if not isinstance(content, dict) or not isinstance(content.get("customers"), list):
        raise ValueError(f'seed file {path}: expected {{"customers": [...]}}')
    customers: list[Any] = content["customers"]
    return customers
