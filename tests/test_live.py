"""How live state is read: per-customer GETs or the org listing, whichever is cheaper."""

from __future__ import annotations

from dataclasses import dataclass, field

from builders import desired, email, have, phone, want

from ksync.bulk import CustomerPage
from ksync.live import ReadOptions, read_live
from ksync.model import ContactRef, LiveCustomer

SERIAL = ReadOptions(parallelism=1)


def cid(n: int) -> str:
    return f"{n:024x}"


@dataclass
class FakeOrg:
    """An org of ``size`` customers ``u{n}`` with email ``u{n}@example.com``; logs calls."""

    size: int
    calls: list[str] = field(default_factory=list)

    def customer(self, n: int) -> LiveCustomer:
        return have(cid(n), f"u{n}", emails=[email(f"u{n}@example.com")])

    def get_customer(self, customer_id: str, region: str | None = None) -> LiveCustomer | None:
        self.calls.append(f"id={customer_id}")
        n = int(customer_id, 16)
        return self.customer(n) if 1 <= n <= self.size else None

    def get_customer_by_external_id(
        self, external_id: str, region: str | None = None
    ) -> LiveCustomer | None:
        self.calls.append(f"externalId={external_id}")
        n = int(external_id[1:])
        return self.customer(n) if 1 <= n <= self.size else None

    def find_owner(self, ref: ContactRef) -> str | None:
        self.calls.append(f"owner={ref.key}")
        local = ref.key.split("@")[0]
        n = int(local[1:]) if local[1:].isdigit() else 0
        return cid(n) if 1 <= n <= self.size else None

    def list_page(self, page: int, page_size: int = 100, region: str | None = None) -> CustomerPage:
        self.calls.append(f"page={page}")
        first = (page - 1) * page_size + 1
        last = min(page * page_size, self.size)
        pages = -(-self.size // page_size)
        customers = tuple(self.customer(n) for n in range(first, last + 1))
        return CustomerPage(customers, self.size, pages, page < pages)


def declared(*numbers: int) -> list[object]:
    return [want(f"u{n}", emails=[email(f"u{n}@example.com")]) for n in numbers]


def test_a_lone_customer_is_read_directly() -> None:
    org = FakeOrg(5000)
    live = read_live(org, desired(*declared(7)), ReadOptions(strategy="auto", parallelism=1))  # type: ignore[arg-type]
    assert org.calls == ["externalId=u7"]
    assert live.customers[0] is not None and live.customers[0].id == cid(7)


def test_a_small_org_is_listed_and_answers_the_look_ups() -> None:
    org = FakeOrg(150)
    wanted = desired(
        want("u1", emails=[email("u1@example.com"), email("u2@example.com")]),
        want("u3", emails=[]),
        want("u404", emails=[email("free@example.com")]),
    )
    live = read_live(org, wanted, SERIAL)
    # one page left < a GET for u404 and two look-ups: list it
    assert org.calls == ["page=1", "page=2"]
    assert [c.id if c else None for c in live.customers] == [cid(1), cid(3), None]
    assert live.owners == {
        ContactRef("emails", "u2@example.com"): cid(2),
        ContactRef("emails", "free@example.com"): None,
    }


def test_a_large_org_is_read_one_by_one_after_page_one() -> None:
    org = FakeOrg(100_000)
    live = read_live(org, desired(*declared(5, 250_000, 777)), SERIAL)
    # page 1 holds u5; the others are read one by one; u250000 is new: its email is looked up
    assert org.calls == [
        "page=1",
        "externalId=u250000",
        "externalId=u777",
        "owner=u250000@example.com",
    ]
    assert [c.id if c else None for c in live.customers] == [cid(5), None, cid(777)]


def test_many_look_ups_list_the_rest_of_the_org() -> None:
    org = FakeOrg(300)
    gains = [email(f"u{n}@example.com") for n in range(101, 301)]
    wanted = desired(want("u1", emails=gains), want("u400", emails=[]))
    live = read_live(org, wanted, SERIAL)
    # u1 on page 1 would gain 200 values: listing the 2 pages left answers them all, and
    # shows that u400 does not exist
    assert org.calls == ["page=1", "page=2", "page=3"]
    assert live.customers[1] is None
    assert live.owners[ContactRef("emails", "u150@example.com")] == cid(150)


def test_strategy_get_never_lists() -> None:
    org = FakeOrg(10)
    wanted = desired(
        want("u1", emails=[email("u2@example.com")]), want("u3", phones=[phone("5555550100")])
    )
    read_live(org, wanted, ReadOptions(strategy="get", parallelism=1))
    assert org.calls == [
        "externalId=u1",
        "externalId=u3",
        "owner=u2@example.com",
        "owner=+15555550100",
    ]


def test_strategy_list_always_lists() -> None:
    org = FakeOrg(250)
    read_live(org, desired(*declared(1)), ReadOptions(strategy="list", parallelism=1))
    assert org.calls == ["page=1", "page=2", "page=3"]


def test_parallel_reads_keep_the_declared_order() -> None:
    org = FakeOrg(100_000)
    numbers = [99_999, 3, 50_000, 7, 123, 88_888]
    live = read_live(org, desired(*declared(*numbers)), ReadOptions(strategy="get", parallelism=4))
    assert [c.external_id if c else None for c in live.customers] == [f"u{n}" for n in numbers]


def test_look_ups_of_customers_read_one_by_one_can_still_list_the_rest() -> None:
    org = FakeOrg(300)
    gains = [email(f"u{n}@example.com") for n in range(101, 301)]
    # u250 is not on page 1, so its 200 new values are only known after its GET
    wanted = desired(want("u250", emails=gains), want("u1", emails=[]))
    live = read_live(org, wanted, SERIAL)
    assert org.calls == ["page=1", "externalId=u250", "page=2", "page=3"]
    assert live.owners[ContactRef("emails", "u101@example.com")] == cid(101)
