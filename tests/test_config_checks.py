"""Checks beyond the schema: emails, phones, regions, and values declared twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksync.config import ConfigError, load_desired


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return name


def problems(*names: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_desired(names)
    return [str(problem) for problem in caught.value.problems]


def test_invalid_emails_point_at_the_address() -> None:
    write(
        "x.yaml",
        "customers:\n"
        "  - externalId: a\n"
        "    emails:\n"
        "      - bob@\n"
        "      - email: 'joe at example.com'\n"
        "        type: work\n",
    )
    assert problems("x.yaml") == [
        "x.yaml:4:9: customers[0].emails[0]: 'bob@' is not a valid email address",
        "x.yaml:5:16: customers[0].emails[1].email: 'joe at example.com' is not a valid"
        " email address",
    ]


def test_phone_without_country_code_needs_a_region() -> None:
    write("x.yaml", "customers:\n  - externalId: a\n    phones: ['555-0100', '+1 555']\n")
    assert problems("x.yaml") == [
        "x.yaml:3:14: customers[0].phones[0]: '555-0100' is not a valid phone number"
        " (no +country code and no phone_region)",
        "x.yaml:3:26: customers[0].phones[1]: '+1 555' is not a valid phone number",
    ]


def test_region_reads_national_numbers() -> None:
    write(
        "x.yaml",
        "defaults:\n  phone_region: GB\n"
        "customers:\n  - externalId: a\n    phones: ['020 7946 0958']\n",
    )
    (customer,) = load_desired(["x.yaml"]).customers
    assert customer.phones is not None
    assert customer.phones[0].key == "+442079460958"
    assert customer.phone_region == "GB"


def test_unknown_region() -> None:
    write(
        "x.yaml",
        "defaults:\n  phone_region: us\n"
        "customers:\n  - externalId: a\n    emails: [bob@]\n"
        "    phones: ['555-0100', '+1 555']\n",
    )
    write("y.yaml", "defaults:\n  phone_region: XX\ncustomers: []\n")
    assert problems("x.yaml", "y.yaml") == [
        "x.yaml:2:17: defaults.phone_region: 'us' is not a phone region; did you mean 'US'?",
        "x.yaml:5:14: customers[0].emails[0]: 'bob@' is not a valid email address",
        "x.yaml:6:26: customers[0].phones[1]: '+1 555' is not a valid phone number",
        "y.yaml:2:17: defaults.phone_region: 'XX' is not a phone region"
        " (use a two-letter country code such as US or GB)",
    ]


def test_customer_declared_twice_across_files() -> None:
    write("a.yaml", "customers:\n  - externalId: user-3\n  - id: 58863fe94aa1701100efcb1d\n")
    write(
        "more/b.yaml",
        "customers:\n"
        "  - externalId: user-4\n"
        "  - externalId: user-3\n"
        "    id: 58863FE94AA1701100EFCB1D\n",
    )
    assert problems("a.yaml", "more") == [
        "more/b.yaml:3:5: customers[1]: customer externalId=user-3 is already declared at a.yaml:2",
        "more/b.yaml:3:5: customers[1]: customer id=58863FE94AA1701100EFCB1D is already"
        " declared at a.yaml:3",
    ]


def test_email_declared_for_two_customers_names_both() -> None:
    write("a.yaml", "customers:\n  - externalId: user-3\n    emails: [joe@example.com]\n")
    write(
        "b.yaml",
        "customers:\n"
        "  - id: 58863fe94aa1701100efcb1d\n"
        "    emails:\n"
        "      - email: ' JOE@example.com'\n",
    )
    assert problems("a.yaml", "b.yaml") == [
        "b.yaml:4:9: customers[0].emails[0]: 'JOE@example.com' is already declared for"
        " customer externalId=user-3 at a.yaml:3 as 'joe@example.com'",
    ]


def test_phones_are_compared_normalized() -> None:
    write(
        "x.yaml",
        "defaults:\n  phone_region: US\n"
        "customers:\n"
        "  - externalId: a\n    phones: ['+15555550100']\n"
        "  - externalId: b\n    phones: ['(555) 555-0100', '+1 555 555 0101']\n"
        "  - externalId: c\n    phones: ['555-555-0100']\n",
    )
    assert problems("x.yaml") == [
        "x.yaml:7:14: customers[1].phones[0]: '(555) 555-0100' is already declared for"
        " customer externalId=a at x.yaml:5 as '+15555550100'",
        "x.yaml:9:14: customers[2].phones[0]: '555-555-0100' is already declared for"
        " customer externalId=a at x.yaml:5 as '+15555550100'",
    ]


def test_same_value_twice_in_one_customer() -> None:
    write(
        "x.yaml",
        "customers:\n"
        "  - externalId: a\n"
        "    emails:\n"
        "      - joe@example.com\n"
        "      - email: joe@example.com\n"
        "        type: work\n"
        "      - Joe@Example.com\n"
        "    phones: ['+15555550100', '+15555550100']\n",
    )
    assert problems("x.yaml") == [
        "x.yaml:5:9: customers[0].emails[1]: 'joe@example.com' is listed twice (first at line 4)",
        "x.yaml:7:9: customers[0].emails[2]: 'Joe@Example.com' is listed twice"
        " (first at line 4 as 'joe@example.com')",
        "x.yaml:8:30: customers[0].phones[1]: '+15555550100' is listed twice (first at line 8)",
    ]


def test_values_with_schema_errors_are_not_checked_again() -> None:
    write(
        "x.yaml",
        "customers:\n  - externalId: a\n    emails:\n      - email: 42\n      - {}\n",
    )
    assert problems("x.yaml") == [
        "x.yaml:4:16: customers[0].emails[0].email: 42 is a number; quote it as a string",
        "x.yaml:5:9: customers[0].emails[1]: missing required key 'email'",
    ]
