"""Importing: live customers -> YAML that plans to no changes, deterministically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import email, have, phone
from test_render import check_golden

from ksync.client import KustomerClient
from ksync.config import load_desired
from ksync.emulator import Emulator, EmulatorSettings
from ksync.importer import (
    customers_to_yaml,
    plan_files,
    read_all,
    read_selected,
    render_files,
    skipped_arrays,
)
from ksync.live import read_live
from ksync.model import Contact, LiveCustomer
from ksync.planner import plan

KEY = "import-test-key"

SEED: list[dict[str, Any]] = [
    {
        "externalId": "user-1",
        "name": "Joe Schmoe",
        "emails": [
            {"email": "Joe@Example.COM", "type": "home", "verified": True},
            {"email": "joe@work.example"},
        ],
        "phones": [
            {"phone": "(555) 555-0100", "type": "mobile"},
            {"phone": "555.555.0101"},
        ],
    },
    {
        "emails": [{"email": "Solo@Example.com", "type": "work"}],
        "phones": [{"phone": "+44 20 7946 0018", "type": "work"}],
    },
    {"externalId": "yes", "emails": [], "phones": []},
    {
        "externalId": "0123",
        "emails": [{"email": "on@example.com", "type": "other"}],
        "phones": [{"phone": "+15555550102", "type": "fax"}],
    },
    {"externalId": "a: b # c", "emails": [{"email": "no@example.com"}]},
]
# Arrays the files cannot reproduce: the same number as user-1's in another spelling,
# and a number that does not validate.
UNIMPORTABLE: list[dict[str, Any]] = [
    {
        "externalId": "user-2",
        "emails": [{"email": "two@example.com"}],
        "phones": [{"phone": "+15555550101"}],
    },
    {"externalId": "user-3", "phones": [{"phone": "12"}]},
]


def connect(*customers: dict[str, Any]) -> tuple[Emulator, KustomerClient]:
    emulator = Emulator(EmulatorSettings(api_key=KEY))
    emulator.seed(list(customers))
    client = KustomerClient("http://emulator.test", KEY, transport=emulator.mock_transport())
    return emulator, client


def everyone(emulator: Emulator, client: KustomerClient) -> list[LiveCustomer]:
    found = [client.get_customer(i, "US") for i in emulator.customer_ids()]
    return [c for c in found if c is not None]


def assert_plans_nothing(client: KustomerClient, path: Path) -> None:
    desired = load_desired([str(path)])
    result = plan(desired, read_live(client, desired))
    assert result.empty and result.requests == () and result.problems == ()
    assert result.unchanged == len(desired.customers)


def test_import_then_plan_shows_no_changes(tmp_path: Path) -> None:
    emulator, client = connect(*SEED)
    text = customers_to_yaml(everyone(emulator, client), phone_region="US")
    path = tmp_path / "contacts.yaml"
    path.write_text(text, encoding="utf-8")
    assert_plans_nothing(client, path)
    again = customers_to_yaml(list(reversed(everyone(emulator, client))), phone_region="US")
    assert again == text
    check_golden("import.yaml", text)


def test_unimportable_arrays_are_left_unmanaged(tmp_path: Path) -> None:
    emulator, client = connect(*SEED, *UNIMPORTABLE)
    customers = everyone(emulator, client)
    skipped = [str(s) for s in skipped_arrays(customers, "US")]
    assert skipped == [
        "customer externalId=user-2 id=5e0000000000000000000006: phones not imported (not managed): '+15555550101' is also held by customer externalId=user-1 id=5e0000000000000000000001",
        "customer externalId=user-3 id=5e0000000000000000000007: phones not imported (not managed): '12' is not a valid phone number",
    ]
    path = tmp_path / "contacts.yaml"
    path.write_text(customers_to_yaml(customers, phone_region="US"), encoding="utf-8")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    by_id = {c.get("externalId"): c for c in document["customers"]}
    assert by_id["user-2"] == {"externalId": "user-2", "emails": ["two@example.com"]}
    assert by_id["user-3"] == {"externalId": "user-3", "emails": []}
    assert_plans_nothing(client, path)


def test_national_numbers_without_a_region_are_left_unmanaged() -> None:
    customer = have("a" * 24, "u", emails=[email("a@example.com")], phones=[phone("555.555.0101")])
    (skipped,) = skipped_arrays([customer])
    assert skipped.field == "phones"
    assert "no +country code and no phone_region" in skipped.reason
    assert "phones" not in yaml.safe_load(customers_to_yaml([customer]))["customers"][0]


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="'us' is not a phone region"):
        customers_to_yaml([], phone_region="us")


def test_same_value_twice_in_one_customer_is_left_unmanaged() -> None:
    customer = have("a" * 24, "u", emails=[email("a@example.com"), email("A@example.com", "work")])
    (skipped,) = skipped_arrays([customer])
    assert skipped.reason == "'a@example.com' and 'A@example.com' are the same email"


def test_format_and_quoting() -> None:
    tricky = [
        "yes",
        "no",
        "on",
        "0123",
        "=",
        "~",
        "null",
        "1e3",
        "a: b",
        "#x",
        "- x",
        "'",
        '"',
        "ü",
    ]
    customers = [
        have(f"{i:024x}", value, emails=[email(f"x{i}@example.com")])
        for i, value in enumerate(tricky)
    ]
    customers.append(
        LiveCustomer(
            id="f" * 24,
            external_id=None,
            name="Not Written",
            emails=(Contact("p@example.com", "p@example.com", "pager"),),
            phones=(phone("+15555550100", "mobile", True), phone("+15555550101")),
        )
    )
    text = customers_to_yaml(customers, schema_ref="schema.json")
    assert text.startswith("# yaml-language-server: $schema=schema.json\nversion: 1\ncustomers:\n")
    loaded = yaml.safe_load(text)
    assert [c.get("externalId") for c in loaded["customers"]] == [*sorted(tricky), None]
    assert loaded["customers"][-1] == {
        "id": "f" * 24,
        "emails": ["p@example.com"],  # a type the format does not know is not written
        "phones": [{"phone": "+15555550100", "type": "mobile"}, "+15555550101"],
    }
    assert (
        '  - id: ffffffffffffffffffffffff\n    emails:\n      - p@example.com\n    phones:\n      - phone: "+15555550100"\n        type: mobile\n      - "+15555550101"\n'
        in text
    )
    assert "Not Written" not in text and "verified" not in text


def test_files_are_cut_in_file_order(tmp_path: Path) -> None:
    customers = [have(f"{i:024x}", f"user-{i:02d}") for i in range(5)]
    files = plan_files(reversed(customers), max_per_file=2)
    assert {name: [c.external_id for c in chunk] for name, chunk in files.items()} == {
        "customers-0001.yaml": ["user-00", "user-01"],
        "customers-0002.yaml": ["user-02", "user-03"],
        "customers-0003.yaml": ["user-04"],
    }
    assert plan_files([]) == {"customers-0001.yaml": []}
    with pytest.raises(ValueError, match="at least 1"):
        plan_files(customers, max_per_file=0)


def test_rendered_files_skip_values_held_in_another_file(tmp_path: Path) -> None:
    emulator, client = connect(*SEED, *UNIMPORTABLE)
    files = render_files(everyone(emulator, client), phone_region="US", max_per_file=2)
    assert list(files) == [f"customers-000{n}.yaml" for n in (1, 2, 3, 4)]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert "+15555550101" not in files["customers-0004.yaml"]  # user-2's phones: skipped
    assert_plans_nothing(client, tmp_path)


def test_read_selected_names_every_missing_customer() -> None:
    emulator, client = connect(*SEED)
    first = emulator.customer_ids()[0]
    found = read_selected(client, [first], ["user-1", "yes"])
    assert [c.external_id for c in found] == ["user-1", "yes"]
    with pytest.raises(LookupError) as caught:
        read_selected(client, ["0" * 24], ["user-1", "nobody"])
    assert str(caught.value) == f"no such customer in Kustomer: id={'0' * 24}, externalId=nobody"


@dataclass(frozen=True)
class FakePage:
    customers: tuple[LiveCustomer, ...]
    has_next: bool


class FakeLister:
    def __init__(self, pages: Sequence[Sequence[LiveCustomer]]) -> None:
        self.pages = pages
        self.calls: list[tuple[int, int, str | None]] = []

    def list_page(self, page: int, page_size: int = 100, region: str | None = None) -> FakePage:
        self.calls.append((page, page_size, region))
        return FakePage(tuple(self.pages[page - 1]), page < len(self.pages))


def test_read_all_follows_pages_and_skips_repeats() -> None:
    a, b, c = (have(x * 24, f"user-{x}") for x in "abc")
    lister = FakeLister([[a, b], [b, c], []])
    assert [x.id for x in read_all(lister, region="GB")] == [a.id, b.id, c.id]
    assert lister.calls == [(1, 100, "GB"), (2, 100, "GB"), (3, 100, "GB")]
