"""``ksync import`` through the CLI: files that plan to no changes, and its refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Org
from test_importer import SEED, UNIMPORTABLE
from test_render import GOLDEN

PAGE_1 = ("GET", "/v1/customers?page=1&pageSize=100")
TOKEN = ("GET", "/v1/auth/tokens/current")
IMPORTED = (GOLDEN / "import.yaml").read_text(encoding="utf-8")  # SEED, in region US
NOBODY = "0" * 24


def assert_plans_nothing(org: Org, *paths: str) -> None:
    """plan shows no changes and sends only reads; apply writes nothing."""
    result = org.ksync("plan", "--detailed-exitcode", *paths)
    assert (result.code, result.err) == (0, ""), result
    assert result.out.startswith("No changes. Kustomer matches the files")
    assert org.requests() and all(method == "GET" for method, _ in org.requests())
    applied = org.ksync("apply", "--auto-approve", *paths)
    assert applied.code == 0 and applied.out.startswith("No changes.")
    assert org.writes() == []


def test_import_all_to_a_file(org: Org) -> None:
    org.seed(*SEED)
    result = org.ksync("import", "--all", "--phone-region", "US", "--out", "contacts.yaml")
    assert (result.code, result.out) == (0, "")
    assert result.err == "Imported 5 customers to contacts.yaml.\n"
    assert org.requests() == [PAGE_1]
    assert Path("contacts.yaml").read_text(encoding="utf-8") == IMPORTED
    assert org.ksync("validate", "contacts.yaml").code == 0
    assert_plans_nothing(org, "contacts.yaml")
    assert org.requests() == [PAGE_1]  # apply: the plan was empty, so no roles check either


def test_import_all_to_stdout(org: Org) -> None:
    org.seed(*SEED)
    result = org.ksync("import", "--all", "--phone-region", "US")
    assert (result.code, result.out) == (0, IMPORTED)
    assert result.err == "Imported 5 customers to stdout.\n"
    assert org.requests() == [PAGE_1]


def test_import_all_to_a_directory(org: Org) -> None:
    org.seed(*SEED)
    result = org.ksync("import", "--all", "--phone-region", "US", "--out-dir", "contacts")
    assert (result.code, result.out) == (0, "")
    assert result.err == "Imported 5 customers to 1 file(s) in contacts.\n"
    assert sorted(p.name for p in Path("contacts").iterdir()) == ["customers-0001.yaml"]
    assert Path("contacts/customers-0001.yaml").read_text(encoding="utf-8") == IMPORTED
    assert_plans_nothing(org, "contacts")


def test_import_an_empty_org_gives_a_valid_empty_directory(org: Org) -> None:
    result = org.ksync("import", "--all", "--out-dir", "contacts")
    assert result.code == 0 and result.err == "Imported 0 customers to 1 file(s) in contacts.\n"
    assert org.ksync("validate", "contacts").out == "0 customers declared; the files are valid.\n"
    result = org.ksync("plan", "--detailed-exitcode", "contacts")
    assert result.code == 0 and org.requests() == []


def test_import_by_id_and_external_id(org: Org) -> None:
    ids = org.seed(*SEED)
    solo = ids[1]  # the customer without an externalId
    result = org.ksync(
        "import", "--id", solo, "--external-id", "user-1", "--id", ids[0], "--phone-region", "US"
    )
    assert result.code == 0, result
    assert org.requests() == [  # ids first, then externalIds
        ("GET", f"/v1/customers/{solo}"),
        ("GET", f"/v1/customers/{ids[0]}"),
        ("GET", "/v1/customers/externalId=user-1"),  # user-1 again: written once
    ]
    assert result.err == "Imported 2 customers to stdout.\n"
    customers = yaml.safe_load(result.out)["customers"]
    assert [c.get("externalId", c.get("id")) for c in customers] == ["user-1", solo]
    # The same entries as in a whole-org import.
    everyone = yaml.safe_load(IMPORTED)["customers"]
    assert customers == [everyone[2], everyone[4]]
    Path("two.yaml").write_text(result.out, encoding="utf-8")
    assert_plans_nothing(org, "two.yaml")


ODD_SPELLINGS: list[dict[str, Any]] = [
    {
        "externalId": "user-1",
        "emails": [
            {"email": "Joe.Schmoe@Example.COM", "type": "home", "verified": True},
            {"email": "JOE@WORK.example"},
        ],
        "phones": [
            {"phone": "(555) 555-0100", "type": "mobile"},
            {"phone": "555.555.0101", "type": "work"},
            {"phone": "+1 555 555 0102"},
            {"phone": "+44 20 7946 0018", "type": "home"},
        ],
    },
    {"externalId": "user-2", "emails": [{"email": "MiXeD@CaSe.Example", "type": "other"}]},
]


def test_round_trip_keeps_spellings_and_plans_no_changes(org: Org) -> None:
    ids = org.seed(*ODD_SPELLINGS)
    result = org.ksync("import", "--all", "--phone-region", "US", "--out", "contacts.yaml")
    assert (result.code, result.err) == (0, "Imported 2 customers to contacts.yaml.\n")
    text = Path("contacts.yaml").read_text(encoding="utf-8")
    for spelling in (
        '"(555) 555-0100"',
        '"555.555.0101"',
        "Joe.Schmoe@Example.COM",
        "MiXeD@CaSe.Example",
    ):
        assert spelling in text
    assert_plans_nothing(org, "contacts.yaml")

    # A reviewer adds one phone: only that array is sent, every stored spelling kept.
    document = yaml.safe_load(text)
    document["customers"][0]["phones"].append("555-555-0199")
    Path("contacts.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = org.ksync("apply", "--auto-approve", "contacts.yaml")
    assert result.code == 0, result
    assert "+ phone +15555550199 (other)" in result.out
    assert org.requests() == [
        PAGE_1,
        TOKEN,
        ("PUT", f"/v1/customers/{ids[0]}"),
        ("GET", f"/v1/customers/{ids[0]}"),
    ]
    assert org.writes() == [
        (
            "PUT",
            f"/v1/customers/{ids[0]}",
            {
                "phones": [
                    {"phone": "(555) 555-0100", "type": "mobile", "verified": False},
                    {"phone": "555.555.0101", "type": "work", "verified": False},
                    {"phone": "+1 555 555 0102", "verified": False},
                    {"phone": "+44 20 7946 0018", "type": "home", "verified": False},
                    {"phone": "+15555550199", "type": "other"},
                ]
            },
        )
    ]
    assert "Verified: 1 of 1 written customers match the plan." in result.out
    assert_plans_nothing(org, "contacts.yaml")


def test_round_trip_of_one_customer_read_by_external_id(org: Org) -> None:
    org.seed(*ODD_SPELLINGS)
    result = org.ksync(
        "import", "--external-id", "user-1", "--phone-region", "US", "--out", "one.yaml"
    )
    assert result.code == 0, result
    assert org.requests() == [("GET", "/v1/customers/externalId=user-1")]
    assert_plans_nothing(org, "one.yaml")


def test_without_a_region_national_numbers_are_not_managed(org: Org) -> None:
    ids = org.seed(*ODD_SPELLINGS)
    result = org.ksync("import", "--all", "--out", "contacts.yaml")
    assert result.code == 0
    assert result.err == (
        f"ksync: warning: customer externalId=user-1 id={ids[0]}: phones not imported (not "
        "managed): '(555) 555-0100' is not a valid phone number (no +country code and no "
        "phone_region)\n"
        "Imported 2 customers to contacts.yaml.\n"
    )
    customers = yaml.safe_load(Path("contacts.yaml").read_text(encoding="utf-8"))["customers"]
    assert "phones" not in customers[0] and customers[1]["phones"] == []
    assert_plans_nothing(org, "contacts.yaml")


def test_arrays_that_cannot_be_written_are_named_and_left_out(org: Org) -> None:
    ids = org.seed(*SEED, *UNIMPORTABLE)
    result = org.ksync("import", "--all", "--phone-region", "US", "--out", "contacts.yaml")
    assert result.code == 0
    assert result.err.splitlines() == [
        f"ksync: warning: customer externalId=user-2 id={ids[5]}: phones not imported (not managed): '+15555550101' is also held by customer externalId=user-1 id={ids[0]}",
        f"ksync: warning: customer externalId=user-3 id={ids[6]}: phones not imported (not managed): '12' is not a valid phone number",
        "Imported 7 customers to contacts.yaml.",
    ]
    assert_plans_nothing(org, "contacts.yaml")


def test_a_missing_customer_is_named_and_nothing_is_written(org: Org) -> None:
    org.seed(*SEED)
    Path("contacts.yaml").write_text("customers: []\n", encoding="utf-8")
    result = org.ksync(
        "import",
        "--id",
        NOBODY,
        "--external-id",
        "user-1",
        "--external-id",
        "nobody",
        "--out",
        "contacts.yaml",
    )
    assert (result.code, result.out) == (1, "")
    assert (
        result.err
        == f"ksync: error: no such customer in Kustomer: id={NOBODY}, externalId=nobody\n"
    )
    assert Path("contacts.yaml").read_text(encoding="utf-8") == "customers: []\n"
    assert org.writes() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --all, or --id/--external-id (not both)"),
        (["--all", "--id", NOBODY], "give --all, or --id/--external-id (not both)"),
        (["--all", "--external-id", "user-1"], "give --all, or --id/--external-id (not both)"),
        (
            ["--all", "--out", "a.yaml", "--out-dir", "d"],
            "give --out FILE or --out-dir DIR, not both",
        ),
    ],
)
def test_refusals_send_no_request(org: Org, args: list[str], message: str) -> None:
    org.seed(*SEED)
    result = org.ksync("import", *args)
    assert (result.code, result.out, result.err) == (1, "", f"ksync: refused: {message}\n")
    assert org.requests() == []
    assert not Path("a.yaml").exists() and not Path("d").exists()


@pytest.mark.parametrize("select", [["--all"], ["--external-id", "user-1"]])
def test_an_unknown_phone_region_is_an_error_before_any_request(
    org: Org, select: list[str]
) -> None:
    org.seed(*SEED)
    result = org.ksync("import", *select, "--phone-region", "XX", "--out", "contacts.yaml")
    assert (result.code, result.out) == (1, "")
    assert result.err == "ksync: error: 'XX' is not a phone region (e.g. US or GB)\n"
    assert org.requests() == []
    assert not Path("contacts.yaml").exists()
