"""--customer: limit plan and apply to some of the declared customers."""

from __future__ import annotations

from collections.abc import Sequence

from ksync.model import Desired


class UnknownCustomer(ValueError):
    """A --customer that names no declared customer."""


def select_customers(desired: Desired, names: Sequence[str]) -> Desired:
    """The declared customers whose externalId or id is one of ``names``."""
    wanted = set(names)
    chosen = tuple(c for c in desired.customers if {c.external_id, c.id} & wanted)
    found = {c.external_id for c in chosen} | {c.id for c in chosen}
    unknown = sorted(wanted - found)
    if unknown:
        raise UnknownCustomer(
            "--customer names no declared customer: "
            + ", ".join(unknown)
            + " (give an externalId or id from the files)"
        )
    return Desired(customers=chosen)
