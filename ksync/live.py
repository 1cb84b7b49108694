"""Reading the live state of the declared customers, and of the values they would gain.

Two ways to read, whichever needs fewer requests (``--read-strategy auto``):
- **get**: one GET per declared customer, then one look-up per value to gain;
- **list**: page through the whole org, 100 customers a request; look-ups are then
  answered from the listing.
``auto`` reads a lone declared customer directly. Otherwise it reads page 1 of the
listing first, which gives the org's size: it keeps listing
when the org has fewer pages than there are declared customers, and otherwise reads the
declared customers not already on page 1 one by one. After per-customer reads, values to
look up are answered by listing the rest of the org when that is cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal, Protocol, TypeVar

from ksync.model import (
    FIELDS,
    ContactRef,
    Desired,
    DesiredCustomer,
    Field,
    Live,
    LiveCustomer,
)
from ksync.normalize import live_contact_key
from ksync.plan import Change, Plan, fingerprint
from ksync.planner import lookups_needed
from ksync.progress import NO_PROGRESS, Progress

Strategy = Literal["auto", "get", "list"]
PAGE_SIZE = 100

T = TypeVar("T")
R = TypeVar("R")


class Page(Protocol):
    @property
    def customers(self) -> tuple[LiveCustomer, ...]: ...

    @property
    def total_pages(self) -> int: ...


class CustomerReader(Protocol):
    def get_customer(self, customer_id: str, region: str | None = None) -> LiveCustomer | None: ...

    def get_customer_by_external_id(
        self, external_id: str, region: str | None = None
    ) -> LiveCustomer | None: ...

    def find_owner(self, ref: ContactRef) -> str | None: ...

    def list_page(self, page: int, page_size: int = ..., region: str | None = None) -> Page: ...


@dataclass(frozen=True)
class ReadOptions:
    strategy: Strategy = "auto"
    parallelism: int = 8
    progress: Progress = NO_PROGRESS


@dataclass
class Listing:
    """Customers read from the org listing: by id and by externalId."""

    by_id: dict[str, LiveCustomer]
    by_external_id: dict[str, LiveCustomer]
    pages_read: set[int]
    total_pages: int

    def add(self, customers: Iterable[LiveCustomer]) -> None:
        for customer in customers:
            self.by_id[customer.id] = customer
            if customer.external_id is not None:
                self.by_external_id[customer.external_id] = customer

    @property
    def complete(self) -> bool:
        return len(self.pages_read) >= self.total_pages

    def find(self, want: DesiredCustomer) -> LiveCustomer | None:
        if want.id is not None:
            return self.by_id.get(want.id)
        return self.by_external_id.get(want.external_id or "")


def read_live(
    reader: CustomerReader, desired: Desired, options: ReadOptions = ReadOptions()
) -> Live:
    """Every declared customer, then the holder of every value one of them would gain."""
    wanted = desired.customers
    if not wanted:
        return Live((), {})
    if options.strategy == "get" or (options.strategy == "auto" and len(wanted) == 1):
        customers = _get_each(reader, wanted, options)
        return Live(customers, _look_up(reader, desired, customers, options))
    listing = _first_page(reader)
    if options.strategy == "list" or listing.total_pages - 1 < _reads_left(listing, wanted):
        _list_rest(reader, listing, options)
        customers = tuple(_in_region(listing.find(w), w.phone_region) for w in wanted)
        return Live(customers, _owners_from_listing(desired, customers, listing))
    customers = _get_missing(reader, wanted, listing, options)
    needed = lookups_needed(desired, customers)
    if len(needed) > listing.total_pages - len(listing.pages_read):
        _list_rest(reader, listing, options)
        return Live(customers, _owners_from_listing(desired, customers, listing))
    return Live(customers, _look_up(reader, desired, customers, options))


def read_customer(reader: CustomerReader, want: DesiredCustomer) -> LiveCustomer | None:
    """The live record of one declared customer: by id when the files give one."""
    if want.id is not None:
        return reader.get_customer(want.id, want.phone_region)
    assert want.external_id is not None  # the loader guarantees an identity
    return reader.get_customer_by_external_id(want.external_id, want.phone_region)


def parallel_map(
    function: Callable[[T], R], items: Sequence[T], options: ReadOptions, label: str
) -> list[R]:
    """``function`` over ``items`` on up to ``parallelism`` threads; results in order."""
    progress = options.progress
    progress.start(label, len(items))

    def run(item: T) -> R:
        result = function(item)
        progress.advance()
        return result

    try:
        if options.parallelism <= 1 or len(items) <= 1:
            return [run(item) for item in items]
        with ThreadPoolExecutor(max_workers=options.parallelism) as pool:
            return list(pool.map(run, items))
    finally:
        progress.finish()


def _get_each(
    reader: CustomerReader, wanted: Sequence[DesiredCustomer], options: ReadOptions
) -> tuple[LiveCustomer | None, ...]:
    return tuple(
        parallel_map(lambda w: read_customer(reader, w), wanted, options, "reading customers")
    )


def _first_page(reader: CustomerReader) -> Listing:
    page = reader.list_page(1, PAGE_SIZE)
    listing = Listing({}, {}, {1}, max(page.total_pages, 1))
    listing.add(page.customers)
    return listing


def _list_rest(reader: CustomerReader, listing: Listing, options: ReadOptions) -> None:
    pages = [p for p in range(1, listing.total_pages + 1) if p not in listing.pages_read]
    results = parallel_map(
        lambda p: reader.list_page(p, PAGE_SIZE).customers, pages, options, "listing the org"
    )
    for customers in results:
        listing.add(customers)
    listing.pages_read.update(pages)


def _reads_left(listing: Listing, wanted: Sequence[DesiredCustomer]) -> int:
    """Requests still needed without listing: a GET for each declared customer not on the
    pages read, and a look-up for each value the customers found would gain (those not
    found may add look-ups of their own)."""
    found = [(w, _in_region(listing.find(w), w.phone_region)) for w in wanted]
    known = [(w, c) for w, c in found if c is not None]
    gains = lookups_needed(Desired(tuple(w for w, _ in known)), [c for _, c in known])
    return len(wanted) - len(known) + len(gains)


def _get_missing(
    reader: CustomerReader,
    wanted: Sequence[DesiredCustomer],
    listing: Listing,
    options: ReadOptions,
) -> tuple[LiveCustomer | None, ...]:
    """Declared customers from page 1 where they are on it, the others one by one."""
    missing = [i for i, want in enumerate(wanted) if listing.find(want) is None]
    read = parallel_map(
        lambda i: read_customer(reader, wanted[i]), missing, options, "reading customers"
    )
    found = dict(zip(missing, read, strict=True))
    return tuple(
        found[i] if i in found else _in_region(listing.find(want), want.phone_region)
        for i, want in enumerate(wanted)
    )


def _look_up(
    reader: CustomerReader,
    desired: Desired,
    customers: Sequence[LiveCustomer | None],
    options: ReadOptions,
) -> dict[ContactRef, str | None]:
    needed = lookups_needed(desired, customers)
    owners = parallel_map(reader.find_owner, needed, options, "looking up owners")
    return dict(zip(needed, owners, strict=True))


def _owners_from_listing(
    desired: Desired, customers: Sequence[LiveCustomer | None], listing: Listing
) -> dict[ContactRef, str | None]:
    """The look-ups, answered from the whole org: values keyed in every region in use."""
    needed = lookups_needed(desired, customers)
    if not needed:
        return {}
    regions = {w.phone_region for w in desired.customers}
    owners: dict[ContactRef, str | None] = dict.fromkeys(set(needed))
    wanted: dict[Field, dict[str, ContactRef]] = {name: {} for name in FIELDS}
    for ref in needed:
        wanted[ref.field][ref.key] = ref
    emails, phones = wanted["emails"], wanted["phones"]
    # Only the arrays some look-up is about are read; an email's key does not depend on
    # the region. The first listed customer holding a value owns it.
    for customer in listing.by_id.values():
        if emails:
            for contact in customer.emails:
                found = emails.get(live_contact_key("emails", contact.value))
                if found is not None and owners[found] is None:
                    owners[found] = customer.id
        if phones:
            for contact in customer.phones:
                for region in regions:
                    found = phones.get(live_contact_key("phones", contact.value, region))
                    if found is not None and owners[found] is None:
                        owners[found] = customer.id
    return owners


def _in_region(customer: LiveCustomer | None, region: str | None) -> LiveCustomer | None:
    """A listed customer with phone keys read in the declaring file's region."""
    if customer is None or region is None:
        return customer
    phones = tuple(
        replace(c, key=live_contact_key("phones", c.value, region)) for c in customer.phones
    )
    return replace(customer, phones=phones)


def changed_since(
    plan: Plan, reader: CustomerReader, options: ReadOptions = ReadOptions()
) -> list[Change]:
    """The customers of a saved plan whose emails or phones changed since it was made."""

    def now(change: Change) -> LiveCustomer | None:
        if change.action == "update":
            assert change.id is not None
            return reader.get_customer(change.id)
        assert change.external_id is not None
        return reader.get_customer_by_external_id(change.external_id)

    current = parallel_map(now, plan.changes, options, "checking the plan")
    return [
        c
        for c, live in zip(plan.changes, current, strict=True)
        if fingerprint(live) != c.fingerprint
    ]
