"""The mass-removal guard: ``removal_refusal`` on its own, and apply refusing end to end."""

from __future__ import annotations

import pytest
from conftest import HOME, Org, assert_converged, customer

from ksync.guard import DEFAULT_MAX_REMOVAL_RATIO, MIN_MANAGED, removal_refusal
from ksync.model import SourceRef
from ksync.plan import Change, Plan, ValueChange

REMOVE = ValueChange("emails", "-", "old@example.com", "home")
ADD = ValueChange("emails", "+", "new@example.com", "other")
RETYPE = ValueChange("phones", "~", "+15555550100", "work", "mobile")


def change(n: int, *diffs: ValueChange, action: str = "update") -> Change:
    return Change(
        action="create" if action == "create" else "update",
        source=SourceRef("contacts.yaml", n + 2),
        external_id=f"user-{n}",
        id=None if action == "create" else f"{n:024x}",
        diffs=diffs,
        fingerprint="absent" if action == "create" else "sha256:0",
    )


def plan_of(removing: int, managed: int, other_changes: int = 0) -> Plan:
    """``managed`` customers: ``removing`` lose a value, ``other_changes`` only gain one."""
    changes = [change(n, REMOVE, ADD) for n in range(removing)]
    changes += [change(removing + n, ADD) for n in range(other_changes)]
    return Plan(changes=tuple(changes), requests=(), unchanged=managed - len(changes))


def test_the_defaults() -> None:
    assert (DEFAULT_MAX_REMOVAL_RATIO, MIN_MANAGED) == (0.30, 10)


@pytest.mark.parametrize(("removing", "refused"), [(29, False), (30, False), (31, True)])
def test_threshold_with_100_managed_customers(removing: int, refused: bool) -> None:
    # Changes that only add values count as managed, never as removals.
    refusal = removal_refusal(plan_of(removing, 100, other_changes=20))
    assert (refusal is not None) == refused
    assert removal_refusal(plan_of(removing, 100), DEFAULT_MAX_REMOVAL_RATIO) == refusal


def test_the_refusal_names_the_numbers_the_limit_and_the_way_out() -> None:
    assert removal_refusal(plan_of(31, 100)) == (
        "this plan removes values from 31 of 100 managed customers (31.00%), over the limit "
        "of 30.00%; nothing was written. Check the plan, then use --force, or raise "
        "--max-removal-ratio"
    )


@pytest.mark.parametrize("managed", [1, 5, MIN_MANAGED - 1])
def test_fewer_than_10_managed_customers_are_never_refused(managed: int) -> None:
    assert removal_refusal(plan_of(managed, managed)) is None
    assert removal_refusal(plan_of(managed, managed), 0.0) is None


@pytest.mark.parametrize(("removing", "refused"), [(3, False), (4, True)])
def test_exactly_10_managed_customers_are_checked(removing: int, refused: bool) -> None:
    assert (removal_refusal(plan_of(removing, MIN_MANAGED)) is not None) == refused


@pytest.mark.parametrize(
    ("ratio", "removing", "refused"),
    [
        (0.29, 29, False),
        (0.29, 30, True),
        (0.07, 7, False),  # 0.07 * 100 is 7.000000000000001 in floating point
        (0.07, 8, True),
        (0.5, 50, False),
        (0.5, 51, True),
        (0.0, 1, True),
        (1.0, 100, False),
    ],
)
def test_other_limits_compare_whole_numbers(ratio: float, removing: int, refused: bool) -> None:
    assert (removal_refusal(plan_of(removing, 100), ratio) is not None) == refused


def test_only_removals_count() -> None:
    changes = [change(n, RETYPE, ADD) for n in range(40)]
    changes += [change(40 + n, ADD, action="create") for n in range(40)]
    assert removal_refusal(Plan(tuple(changes), (), unchanged=20)) is None
    assert removal_refusal(Plan((), (), unchanged=100)) is None


# End to end: 100 managed customers, each with two emails.
IDS = [f"{n:024x}" for n in range(1, 101)]
TOKEN = ("GET", "/v1/auth/tokens/current")  # the key's roles, read before any write


def seed_100(org: Org) -> None:
    org.seed(
        *(
            customer(cid, f"user-{n:03d}", [f"keep{n}@example.com", f"old{n}@example.com"])
            for n, cid in enumerate(IDS)
        )
    )


def files_removing(org: Org, removing: int) -> str:
    """The desired state: the first ``removing`` customers drop their old email."""
    lines = ["customers:"]
    for n in range(len(IDS)):
        kept = [f"keep{n}@example.com"] + ([] if n < removing else [f"old{n}@example.com"])
        lines += [f"  - externalId: user-{n:03d}", f"    emails: [{', '.join(kept)}]"]
    return org.files("\n".join(lines) + "\n")


@pytest.mark.parametrize("way_out", [["--force"], ["--max-removal-ratio", "0.5"]])
def test_apply_refuses_31_percent_removals_until_told(org: Org, way_out: list[str]) -> None:
    seed_100(org)
    files = files_removing(org, 31)
    refused = org.ksync("apply", "--auto-approve", "--no-bulk", files)
    assert refused.code == 3
    assert refused.err == (
        "ksync: refused: this plan removes values from 31 of 100 managed customers (31.00%), "
        "over the limit of 30.00%; nothing was written. Check the plan, then use --force, or "
        "raise --max-removal-ratio\n"
    )
    assert "Plan: 0 to create, 31 to update, 69 unchanged." in refused.out  # shown first
    assert org.requests() == [("GET", "/v1/customers?page=1&pageSize=100")]
    assert org.writes() == []
    assert org.values(IDS[0], "emails") == ["keep0@example.com", "old0@example.com"]

    result = org.ksync("apply", "--auto-approve", "--no-bulk", *way_out, files)
    assert result.code == 0, result
    assert org.requests() == [
        ("GET", "/v1/customers?page=1&pageSize=100"),
        TOKEN,
        *(("PUT", f"/v1/customers/{cid}") for cid in IDS[:31]),
        ("GET", "/v1/customers?page=1&pageSize=100"),  # verification: one page, not 31 reads
    ]
    assert org.writes() == [
        ("PUT", f"/v1/customers/{cid}", {"emails": [{"email": f"keep{n}@example.com", **HOME}]})
        for n, cid in enumerate(IDS[:31])
    ]
    assert "Verified: 31 of 31 written customers match the plan." in result.out
    assert org.values(IDS[30], "emails") == ["keep30@example.com"]
    assert org.values(IDS[31], "emails") == ["keep31@example.com", "old31@example.com"]
    assert_converged(org, files)


@pytest.mark.parametrize(("removing", "bulk"), [(29, False), (30, True)])
def test_apply_goes_ahead_at_or_below_the_limit(org: Org, removing: int, bulk: bool) -> None:
    seed_100(org)
    files = files_removing(org, removing)
    result = org.ksync("apply", "--auto-approve", *([] if bulk else ["--no-bulk"]), files)
    assert result.code == 0, result
    if bulk:  # the default: one bulk job for the whole wave
        ((method, path, items),) = org.writes()
        assert (method, path, len(items)) == ("PUT", "/v1/customers/bulk", removing)
    else:
        assert [w[:2] for w in org.writes()] == [
            ("PUT", f"/v1/customers/{c}") for c in IDS[:removing]
        ]
    assert f"Verified: {removing} of {removing} written customers match the plan." in result.out
    assert_converged(org, files)


def test_a_stricter_limit_refuses_what_the_default_allows(org: Org) -> None:
    seed_100(org)
    files = files_removing(org, 29)
    result = org.ksync("apply", "--auto-approve", "--max-removal-ratio", "0.1", files)
    assert result.code == 3
    assert "29 of 100 managed customers (29.00%), over the limit of 10.00%" in result.err
    assert org.writes() == []
    assert org.ksync("apply", "--auto-approve", "--no-bulk", files).code == 0
    assert len(org.writes()) == 29
    assert_converged(org, files)


def test_fewer_than_10_managed_customers_apply_even_removing_all(org: Org) -> None:
    org.seed(
        *(customer(cid, f"user-{n:03d}", [f"old{n}@example.com"]) for n, cid in enumerate(IDS[:9]))
    )
    files = org.files(
        "customers:\n"
        + "".join(f"  - externalId: user-{n:03d}\n    emails: []\n" for n in range(9))
    )
    result = org.ksync("apply", "--auto-approve", "--no-bulk", files)
    assert result.code == 0, result
    assert org.writes() == [("PUT", f"/v1/customers/{cid}", {"emails": []}) for cid in IDS[:9]]
    assert_converged(org, files)


def test_a_saved_plan_is_guarded_too(org: Org) -> None:
    seed_100(org)
    files = files_removing(org, 31)
    assert org.ksync("plan", "--out", "plan.json", files).code == 0
    refused = org.ksync("apply", "--plan", "plan.json")
    assert refused.code == 3 and "31 of 100 managed customers" in refused.err
    assert org.writes() == []
    result = org.ksync("apply", "--plan", "plan.json", "--force", "--no-bulk")
    assert result.code == 0, result
    assert len(org.writes()) == 31
    assert_converged(org, files)
