"""Partial plans: ``--customer`` and file arguments limit what plan and apply consider."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import HOME, Org, assert_converged, customer

from ksync.model import Desired, DesiredCustomer, SourceRef
from ksync.targeting import UnknownCustomer, select_customers

A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
C = "c0000000000000000000000c"
TOKEN = ("GET", "/v1/auth/tokens/current")
PARTIAL = "Partial plan: only part of the desired state was considered.\n"

# Every customer loses its old email: three pending updates.
FILES = (
    "customers:\n"
    "  - externalId: u1\n    emails: [one@example.com]\n"
    f"  - externalId: u2\n    id: {B}\n    emails: [two@example.com]\n"
    f"  - externalId: u3\n    id: {C}\n    emails: [three@example.com]\n"
)


def seed(org: Org) -> None:
    org.seed(
        customer(A, "u1", ["one@example.com", "old1@example.com"]),
        customer(B, "u2", ["two@example.com", "old2@example.com"]),
        customer(C, "u3", ["three@example.com", "old3@example.com"]),
    )


def kept(email: str) -> dict[str, Any]:
    return {"emails": [{"email": email, **HOME}]}


# select_customers on its own


def declared(external_id: str | None, id: str | None = None) -> DesiredCustomer:
    return DesiredCustomer(SourceRef("c.yaml", 1), external_id=external_id, id=id)


DESIRED = Desired((declared("u1"), declared("u2", B), declared(None, C)))


@pytest.mark.parametrize(
    ("names", "chosen"),
    [
        (["u1"], ["u1"]),
        ([B], ["u2"]),  # by id
        (["u2", B], ["u2"]),  # both names of one customer: once
        ([C, "u1"], ["u1", None]),  # file order, whatever the order named
    ],
)
def test_select_by_external_id_or_id(names: list[str], chosen: list[str | None]) -> None:
    assert [c.external_id for c in select_customers(DESIRED, names).customers] == chosen


def test_select_names_every_unknown_customer() -> None:
    with pytest.raises(UnknownCustomer) as caught:
        select_customers(DESIRED, ["u1", "zz", "nope"])
    assert str(caught.value) == (
        "--customer names no declared customer: nope, zz (give an externalId or id from the files)"
    )


# End to end


def test_customer_limits_plan_and_apply_to_one_customer(org: Org) -> None:
    seed(org)
    path = org.files(FILES)
    result = org.ksync("plan", "--detailed-exitcode", "--customer", "u1", path)
    assert result.code == 2, result
    assert result.out.startswith(PARTIAL)
    assert "externalId=u1" in result.out and "u2" not in result.out and "u3" not in result.out
    assert "Plan: 0 to create, 1 to update, 0 unchanged." in result.out
    assert org.requests() == [("GET", "/v1/customers/externalId=u1")]

    result = org.ksync("apply", "--auto-approve", "--customer", "u1", path)
    assert result.code == 0, result
    assert result.out.startswith(PARTIAL)
    assert org.requests() == [
        ("GET", "/v1/customers/externalId=u1"),
        TOKEN,
        ("PUT", f"/v1/customers/{A}"),
        ("GET", f"/v1/customers/{A}"),
    ]
    assert org.writes() == [("PUT", f"/v1/customers/{A}", kept("one@example.com"))]
    assert org.values(B, "emails") == ["two@example.com", "old2@example.com"]
    assert org.values(C, "emails") == ["three@example.com", "old3@example.com"]

    # The whole desired state still has the other two to do.
    rest = org.ksync("plan", path)
    assert "Plan: 0 to create, 2 to update, 1 unchanged." in rest.out
    assert not rest.out.startswith("Partial")
    assert org.ksync("apply", "--auto-approve", path).code == 0
    assert [w[1] for w in org.writes()] == [f"/v1/customers/{B}", f"/v1/customers/{C}"]
    assert_converged(org, path)


def test_customer_is_repeatable_by_external_id_and_by_id(org: Org) -> None:
    seed(org)
    path = org.files(FILES)
    args = ("--customer", "u1", "--customer", C, "--read-strategy", "get", path)
    result = org.ksync("plan", *args)
    assert result.code == 0, result
    assert result.out.startswith(PARTIAL)
    assert "Plan: 0 to create, 2 to update, 0 unchanged." in result.out
    assert org.requests() == [("GET", "/v1/customers/externalId=u1"), ("GET", f"/v1/customers/{C}")]

    result = org.ksync("apply", "--auto-approve", *args)
    assert result.code == 0, result
    assert org.requests() == [
        ("GET", "/v1/customers/externalId=u1"),
        ("GET", f"/v1/customers/{C}"),
        TOKEN,
        ("PUT", f"/v1/customers/{A}"),
        ("PUT", f"/v1/customers/{C}"),
        ("GET", f"/v1/customers/{A}"),
        ("GET", f"/v1/customers/{C}"),
    ]
    assert org.writes() == [
        ("PUT", f"/v1/customers/{A}", kept("one@example.com")),
        ("PUT", f"/v1/customers/{C}", kept("three@example.com")),
    ]
    assert org.values(B, "emails") == ["two@example.com", "old2@example.com"]
    assert org.ksync("apply", "--auto-approve", "--customer", "u2", path).code == 0
    assert org.writes() == [("PUT", f"/v1/customers/{B}", kept("two@example.com"))]
    assert_converged(org, path)


def test_customer_in_markdown_and_json(org: Org) -> None:
    seed(org)
    path = org.files(FILES)
    markdown = org.ksync("plan", "--format", "markdown", "--customer", "u2", path)
    assert markdown.out.splitlines()[:3] == [
        "**ksync plan:** 0 to create, 1 to update, 0 unchanged",
        "",
        "> **Partial plan:** only part of the desired state was considered.",
    ]
    assert "u1" not in markdown.out and "u3" not in markdown.out
    json_plan = org.ksync("plan", "--format", "json", "--customer", "u2", path)
    assert '"update": 1' in json_plan.out and A not in json_plan.out and C not in json_plan.out


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_unknown_customer_is_an_error_before_any_request(org: Org, command: list[str]) -> None:
    seed(org)
    path = org.files(FILES)
    result = org.ksync(*command, "--customer", "u1", "--customer", "u9", path)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "ksync: error: --customer names no declared customer: u9 "
        "(give an externalId or id from the files)\n"
    )
    assert org.requests() == []


def test_customer_by_an_id_the_files_do_not_give_is_unknown(org: Org) -> None:
    seed(org)
    result = org.ksync("plan", "--customer", A, org.files(FILES))  # u1 is declared without id
    assert result.code == 1 and f"names no declared customer: {A}" in result.err
    assert org.requests() == []


def test_customer_with_a_saved_plan_is_refused(org: Org) -> None:
    seed(org)
    assert org.ksync("plan", "--out", "plan.json", org.files(FILES)).code == 0
    result = org.ksync("apply", "--plan", "plan.json", "--customer", "u1")
    assert result.code == 1
    assert "--customer selects from files; a saved plan is applied whole" in result.err
    assert org.requests() == []


def test_a_file_argument_limits_the_desired_state_to_that_file(org: Org) -> None:
    seed(org)
    (org.tmp / "contacts").mkdir()
    one = org.files(
        "customers:\n  - externalId: u1\n    emails: [one@example.com]\n", "contacts/one.yaml"
    )
    org.files(
        f"customers:\n  - externalId: u2\n    id: {B}\n    emails: [two@example.com]\n",
        "contacts/two.yaml",
    )
    result = org.ksync("plan", "--detailed-exitcode", one)
    assert result.code == 2, result
    assert "externalId=u1" in result.out and "u2" not in result.out
    assert "Plan: 0 to create, 1 to update, 0 unchanged." in result.out
    assert org.requests() == [("GET", "/v1/customers/externalId=u1")]

    result = org.ksync("apply", "--auto-approve", one)
    assert result.code == 0, result
    assert org.writes() == [("PUT", f"/v1/customers/{A}", kept("one@example.com"))]
    assert org.values(B, "emails") == ["two@example.com", "old2@example.com"]
    assert_converged(org, one)

    # The directory holds both files: u2 is still to do, u3 (in no file) is never read.
    result = org.ksync("apply", "--auto-approve", "contacts")
    assert result.code == 0, result
    assert org.writes() == [("PUT", f"/v1/customers/{B}", kept("two@example.com"))]
    assert all(C not in path for _, path in org.requests())
    assert org.values(C, "emails") == ["three@example.com", "old3@example.com"]
    assert_converged(org, "contacts")
