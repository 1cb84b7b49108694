"""Bootstrap desired-state YAML from the customers Kustomer has (``ksync import``).

The files written here describe Kustomer exactly as it is, so planning them right away
shows no changes:

- customers are keyed by ``externalId`` when they have one (ids differ between orgs),
  else by ``id``; those with an externalId come first, sorted by it, then the others by id;
- ``emails`` and ``phones`` are always written (importing a customer means managing
  both; ``[]`` when empty), each entry in its stored spelling and order, as a mapping
  ``{email/phone, type}`` when the stored type is one the file format accepts, else as a
  plain string (which keeps whatever type Kustomer has); ``verified`` and names are not
  written;
- an array the files could not reproduce exactly (a value that does not validate, the
  same value twice, or a value also held by an earlier customer) is left out, so it is
  not managed: ``skipped_arrays`` says which and why.

Reading is the caller's: ``read_selected`` and ``read_all`` take any object with the
client's read methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import phonenumbers
import yaml

from ksync.model import EMAIL_TYPES, ENTRY_KEY, FIELDS, PHONE_TYPES, Field, LiveCustomer
from ksync.normalize import InvalidContact, contact_key

SCHEMA_REF = "../schemas/ksync.schema.json"
PAGE_SIZE = 100
MAX_PER_FILE = 1000
_TYPES: dict[Field, tuple[str, ...]] = {"emails": EMAIL_TYPES, "phones": PHONE_TYPES}
_STR = "tag:yaml.org,2002:str"
_Get = Callable[[str, "str | None"], "LiveCustomer | None"]


class UnknownRegion(ValueError, LookupError):
    """A ``phone_region`` that phonenumbers does not know.

    A LookupError too, so that the command line reports it as an error (exit 1) instead
    of a traceback; it is raised before any request is sent.
    """


def check_region(phone_region: str | None) -> None:
    """Raise UnknownRegion for a region that phonenumbers does not know (None is fine)."""
    if phone_region is not None and phone_region not in phonenumbers.SUPPORTED_REGIONS:
        raise UnknownRegion(f"{phone_region!r} is not a phone region (e.g. US or GB)")


class CustomerGetter(Protocol):
    def get_customer(self, customer_id: str, region: str | None = None) -> LiveCustomer | None: ...

    def get_customer_by_external_id(
        self, external_id: str, region: str | None = None
    ) -> LiveCustomer | None: ...


class CustomerPage(Protocol):
    @property
    def customers(self) -> Sequence[LiveCustomer]: ...

    @property
    def has_next(self) -> bool: ...


class CustomerLister(Protocol):
    def list_page(
        self, page: int, page_size: int = PAGE_SIZE, region: str | None = None
    ) -> CustomerPage: ...


def read_selected(
    client: CustomerGetter,
    ids: Sequence[str],
    external_ids: Sequence[str],
    region: str | None = None,
) -> list[LiveCustomer]:
    """The customers named by id and by externalId, each once, in the order named.

    Raises LookupError naming every one that does not exist, and UnknownRegion (before
    any read) for an unknown ``region``.
    """
    check_region(region)
    found: dict[str, LiveCustomer] = {}
    missing: list[str] = []
    wanted: list[tuple[str, str, _Get]] = [("id", i, client.get_customer) for i in ids]
    wanted += [("externalId", e, client.get_customer_by_external_id) for e in external_ids]
    for key, value, get in wanted:
        customer = get(value, region)
        if customer is None:
            missing.append(f"{key}={value}")
        else:
            found.setdefault(customer.id, customer)
    if missing:
        raise LookupError(f"no such customer in Kustomer: {', '.join(missing)}")
    return list(found.values())


def read_all(
    client: CustomerLister, region: str | None = None, page_size: int = PAGE_SIZE
) -> Iterator[LiveCustomer]:
    """Every customer of the org, page after page; a customer listed twice is yielded once.

    Raises UnknownRegion, before the first page is read, for an unknown ``region``.
    """
    check_region(region)
    seen: set[str] = set()
    page = 1
    while True:
        result = client.list_page(page, page_size=page_size, region=region)
        for customer in result.customers:
            if customer.id not in seen:
                seen.add(customer.id)
                yield customer
        if not result.has_next:
            return
        page += 1


@dataclass(frozen=True)
class Skipped:
    """An array left out of the files (not managed), and why."""

    customer: str  # the customer's label
    field: Field
    reason: str

    def __str__(self) -> str:
        return f"customer {self.customer}: {self.field} not imported (not managed): {self.reason}"


def skipped_arrays(
    customers: Iterable[LiveCustomer], phone_region: str | None = None
) -> list[Skipped]:
    """The arrays ``customers_to_yaml`` leaves out, in file order, with the reason."""
    skipped: list[Skipped] = []
    holders: dict[tuple[Field, str], str] = {}
    for customer in ordered(customers):
        for field in FIELDS:
            reason = _unimportable(customer, field, phone_region, holders)
            if reason is not None:
                skipped.append(Skipped(customer.label, field, reason))
    return skipped


def _unimportable(
    customer: LiveCustomer,
    field: Field,
    region: str | None,
    holders: dict[tuple[Field, str], str],
) -> str | None:
    """Why this array cannot be written as stored; None when it can (and is claimed)."""
    spelled: dict[str, str] = {}
    for contact in customer.contacts(field):
        try:
            key = contact_key(field, contact.value, region)
        except InvalidContact as err:
            return str(err)
        if key in spelled:
            return f"{spelled[key]!r} and {contact.value!r} are the same {ENTRY_KEY[field]}"
        if (field, key) in holders:
            return f"{contact.value!r} is also held by customer {holders[field, key]}"
        spelled[key] = contact.value
    for key in spelled:
        holders[field, key] = customer.label
    return None


def ordered(customers: Iterable[LiveCustomer]) -> list[LiveCustomer]:
    """Customers in file order, each once: by externalId, then those without one by id."""
    unique = {c.id: c for c in reversed(list(customers))}  # the first of each id wins
    return sorted(unique.values(), key=_sort_key)


def _sort_key(customer: LiveCustomer) -> tuple[int, str]:
    return (0, customer.external_id) if customer.external_id else (1, customer.id)


def customers_to_yaml(
    customers: Sequence[LiveCustomer],
    *,
    phone_region: str | None = None,
    schema_ref: str = SCHEMA_REF,
    skipped: Iterable[Skipped] | None = None,
) -> str:
    """One format-1 file declaring ``customers`` as they are; deterministic.

    ``skipped`` (default: ``skipped_arrays(customers, phone_region)``) names the arrays to
    leave out; pass the result for all customers when writing them to several files.
    Raises UnknownRegion (a ValueError) for a ``phone_region`` phonenumbers does not know.
    """
    check_region(phone_region)
    if skipped is None:
        skipped = skipped_arrays(customers, phone_region)
    leave_out = {(s.customer, s.field) for s in skipped}
    document: dict[str, Any] = {"version": 1}
    if phone_region is not None:
        document["defaults"] = {"phone_region": phone_region}
    document["customers"] = [_customer(c, leave_out) for c in ordered(customers)]
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 30,
    )
    return f"# yaml-language-server: $schema={schema_ref}\n{body}"


def plan_files(
    customers: Iterable[LiveCustomer], max_per_file: int = MAX_PER_FILE
) -> dict[str, list[LiveCustomer]]:
    """Customers split for ``--out-dir``: file order, cut every ``max_per_file``.

    Files are named ``customers-0001.yaml``, ``customers-0002.yaml``... (wider numbers
    beyond 9999 files). No customers give one empty file, so the directory stays valid.
    """
    if max_per_file < 1:
        raise ValueError(f"max_per_file must be at least 1, not {max_per_file}")
    everyone = ordered(customers)
    chunks = [everyone[i : i + max_per_file] for i in range(0, len(everyone), max_per_file)]
    chunks = chunks or [[]]
    width = max(4, len(str(len(chunks))))
    return {f"customers-{n:0{width}d}.yaml": chunk for n, chunk in enumerate(chunks, 1)}


def render_files(
    customers: Iterable[LiveCustomer],
    *,
    phone_region: str | None = None,
    schema_ref: str = SCHEMA_REF,
    max_per_file: int = MAX_PER_FILE,
) -> dict[str, str]:
    """File name -> YAML text for ``--out-dir``, arrays skipped across all files at once."""
    everyone = ordered(customers)
    skipped = skipped_arrays(everyone, phone_region)
    return {
        name: customers_to_yaml(
            chunk, phone_region=phone_region, schema_ref=schema_ref, skipped=skipped
        )
        for name, chunk in plan_files(everyone, max_per_file).items()
    }


def _customer(customer: LiveCustomer, leave_out: set[tuple[str, Field]]) -> dict[str, Any]:
    entry: dict[str, Any] = (
        {"externalId": customer.external_id} if customer.external_id else {"id": customer.id}
    )
    for field in FIELDS:
        if (customer.label, field) not in leave_out:
            entry[field] = [_entry(field, c.value, c.type) for c in customer.contacts(field)]
    return entry


def _entry(field: Field, value: str, kind: str | None) -> Any:
    written: str = _Quoted(value) if field == "phones" else value
    if kind in _TYPES[field]:
        return {ENTRY_KEY[field]: written, "type": kind}
    return written


class _Quoted(str):
    """A string always written in double quotes (phone numbers)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """Safe YAML with list items indented under their key, as in the README."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_quoted(dumper: yaml.SafeDumper, value: _Quoted) -> yaml.ScalarNode:
    return dumper.represent_scalar(_STR, str(value), style='"')


_Dumper.add_representer(_Quoted, _represent_quoted)
