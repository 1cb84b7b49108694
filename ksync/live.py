"""Reading the live state of the declared customers, and of the values they would gain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ksync.model import ContactRef, Desired, DesiredCustomer, Live, LiveCustomer
from ksync.plan import Change, Plan, fingerprint
from ksync.planner import lookups_needed


class CustomerReader(Protocol):
    def get_customer(self, customer_id: str, region: str | None = None) -> LiveCustomer | None: ...

    def get_customer_by_external_id(
        self, external_id: str, region: str | None = None
    ) -> LiveCustomer | None: ...

    def find_owner(self, ref: ContactRef) -> str | None: ...


def read_customer(reader: CustomerReader, want: DesiredCustomer) -> LiveCustomer | None:
    """The live record of one declared customer: by id when the files give one."""
    if want.id is not None:
        return reader.get_customer(want.id, want.phone_region)
    assert want.external_id is not None  # the loader guarantees an identity
    return reader.get_customer_by_external_id(want.external_id, want.phone_region)


def read_live(reader: CustomerReader, desired: Desired) -> Live:
    """Every declared customer, then the holder of every value one of them would gain."""
    customers = tuple(read_customer(reader, want) for want in desired.customers)
    return Live(customers=customers, owners=read_owners(reader, desired, customers))


def read_owners(
    reader: CustomerReader, desired: Desired, customers: Sequence[LiveCustomer | None]
) -> dict[ContactRef, str | None]:
    return {ref: reader.find_owner(ref) for ref in lookups_needed(desired, customers)}


def changed_since(plan: Plan, reader: CustomerReader) -> list[Change]:
    """The customers of a saved plan whose emails or phones changed since it was made."""
    stale = []
    for change in plan.changes:
        if change.action == "update":
            assert change.id is not None
            now = reader.get_customer(change.id)
        else:
            assert change.external_id is not None
            now = reader.get_customer_by_external_id(change.external_id)
        if fingerprint(now) != change.fingerprint:
            stale.append(change)
    return stale
