"""End to end: the real CLI against the emulator over loopback HTTP.

Every scenario asserts the exact requests sent and ends with "plan again: no changes".
"""

from __future__ import annotations

from conftest import HOME, Org, assert_converged, customer

A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
C = "c0000000000000000000000c"


def test_keep_one_of_two_emails(org: Org) -> None:
    org.seed(customer(A, "user-1", ["joe@example.com", "old@example.com"], ["+15555550100"]))
    files = org.files(
        "customers:\n  - externalId: user-1\n    emails: [JOE@example.com]\n"
        "    phones: ['+1 (555) 555-0100']\n"
    )
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert org.requests() == [
        ("GET", "/v1/customers/externalId=user-1"),
        ("GET", "/v1/auth/tokens/current"),  # the key's roles, before any write
        ("PUT", f"/v1/customers/{A}"),
        ("GET", f"/v1/customers/{A}"),  # verification
    ]
    assert org.writes() == [
        ("PUT", f"/v1/customers/{A}", {"emails": [{"email": "joe@example.com", **HOME}]})
    ]
    assert "- email old@example.com (home)" in result.out
    assert "Plan: 0 to create, 1 to update, 0 unchanged." in result.out
    assert org.values(A, "phones") == ["+15555550100"]
    assert_converged(org, files)


def test_remove_all_phones(org: Org) -> None:
    org.seed(customer(A, "user-2", ["ann@example.com"], ["+15555550120", "+15555550121"]))
    files = org.files("customers:\n  - externalId: user-2\n    id: " + A + "\n    phones: []\n")
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert org.requests() == [
        ("GET", f"/v1/customers/{A}"),
        ("GET", "/v1/auth/tokens/current"),
        ("PUT", f"/v1/customers/{A}"),
        ("GET", f"/v1/customers/{A}"),
    ]
    assert org.writes() == [("PUT", f"/v1/customers/{A}", {"phones": []})]
    assert org.values(A, "emails") == ["ann@example.com"]
    assert_converged(org, files)


def test_move_email_and_phone_to_a_new_customer(org: Org) -> None:
    org.seed(customer(A, "legacy-7", ["sam@example.com"], ["+15555550177"]))
    files = org.files(
        "customers:\n"
        "  - externalId: user-7\n    name: Sam\n    emails: [sam@example.com]\n"
        "    phones: ['+15555550177']\n"
        "  - externalId: legacy-7\n    emails: []\n    phones: []\n"
    )
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    # Two declared customers: page 1 of the listing answers both reads and look-ups.
    assert org.requests() == [
        ("GET", "/v1/customers?page=1&pageSize=100"),
        ("GET", "/v1/auth/tokens/current"),
        ("PUT", f"/v1/customers/{A}"),
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers?page=1&pageSize=100"),  # verification: one page for both
    ]
    assert org.writes() == [
        ("PUT", f"/v1/customers/{A}", {"emails": [], "phones": []}),
        (
            "POST",
            "/v1/customers",
            {
                "externalId": "user-7",
                "name": "Sam",
                "emails": [{"email": "sam@example.com", "type": "other"}],
                "phones": [{"phone": "+15555550177", "type": "other"}],
            },
        ),
    ]
    assert "Plan: 1 to create, 1 to update, 0 unchanged." in result.out
    assert_converged(org, files)


def test_swap_emails_between_two_customers(org: Org) -> None:
    org.seed(customer(A, "a", ["x@example.com"]), customer(B, "b", ["y@example.com"]))
    files = org.files(
        "customers:\n  - externalId: a\n    emails: [y@example.com]\n"
        "  - externalId: b\n    emails: [x@example.com]\n"
    )
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert org.writes() == [
        ("PUT", f"/v1/customers/{A}", {"emails": []}),
        ("PUT", f"/v1/customers/{B}", {"emails": [{"email": "x@example.com", "type": "other"}]}),
        ("PUT", f"/v1/customers/{A}", {"emails": [{"email": "y@example.com", "type": "other"}]}),
    ]
    assert org.values(A, "emails") == ["y@example.com"]
    assert org.values(B, "emails") == ["x@example.com"]
    assert_converged(org, files)


def test_conflict_with_undeclared_holder_writes_nothing(org: Org) -> None:
    org.seed(
        customer(A, "u1", ["a@example.com"]), customer(C, "someone-else", ["taken@example.com"])
    )
    files = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com, Taken@example.com]\n"
    )
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = org.ksync(*command, files)
        assert result.code == 1
        assert f"email taken@example.com is held by customer {C}" in result.err
        assert org.requests() == [
            ("GET", "/v1/customers/externalId=u1"),
            ("GET", "/v1/customers/email=taken%40example.com"),
        ]
    org.direct("PUT", f"/v1/customers/{C}", {"emails": []})
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert org.writes() == [
        (
            "PUT",
            f"/v1/customers/{A}",
            {
                "emails": [
                    {"email": "a@example.com", **HOME},
                    {"email": "Taken@example.com", "type": "other"},
                ]
            },
        )
    ]
    assert_converged(org, files)


def test_formatting_only_differences_are_not_changes(org: Org) -> None:
    org.seed(
        customer(A, "u1", ["Joe@Example.com", "b@example.com"], ["+15555550100", "+442079460958"])
    )
    files = org.files(
        "defaults:\n  phone_region: GB\ncustomers:\n  - externalId: u1\n"
        "    emails: [' B@EXAMPLE.COM ', joe@example.com]\n"
        "    phones: ['020 7946 0958', '+1 555-555-0100']\n"
    )
    result = org.ksync("plan", "--detailed-exitcode", files)
    assert (result.code, result.out) == (
        0,
        "No changes. Kustomer matches the files (1 customers checked).\n",
    )
    assert org.requests() == [("GET", "/v1/customers/externalId=u1")]
    assert_converged(org, files)


def test_stale_saved_plan_is_refused(org: Org) -> None:
    org.seed(customer(A, "u1", ["a@example.com", "b@example.com"]))
    files = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    saved = org.ksync("plan", "--out", "plan.json", files)
    assert saved.code == 0 and "apply it with: ksync apply --plan plan.json" in saved.out
    assert org.direct("PUT", f"/v1/customers/{A}", {"emails": [{"email": "c@example.com"}]}) == 200
    result = org.ksync("apply", "--plan", "plan.json")
    assert result.code == 3
    assert "the plan is stale: 1 customer(s) changed" in result.err and "u1" in result.err
    assert org.requests() == [("GET", f"/v1/customers/{A}")]
    assert org.values(A, "emails") == ["c@example.com"]
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)


def test_saved_plan_applies_without_prompt(org: Org) -> None:
    org.seed(customer(A, "u1", ["a@example.com", "b@example.com"]))
    files = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com]\n  - externalId: u2\n    emails: [n@example.com]\n"
    )
    assert org.ksync("plan", "--out", "plan.json", files).code == 0
    result = org.ksync("apply", "--plan", "plan.json")
    assert result.code == 0, result
    assert org.requests() == [
        ("GET", f"/v1/customers/{A}"),  # the plan is still fresh
        ("GET", "/v1/customers/externalId=u2"),  # still absent
        ("GET", "/v1/auth/tokens/current"),
        ("PUT", f"/v1/customers/{A}"),
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers?page=1&pageSize=100"),  # verification
    ]
    assert "Apply complete: 2 writes sent, 0 failed, 0 not sent." in result.out
    assert "Verified: 2 of 2 written customers match the plan." in result.out
    assert_converged(org, files)


def test_failure_on_one_customer_while_others_apply(org: Org) -> None:
    org.seed(
        customer(A, "u1", ["a@example.com"]),
        customer(B, "u2", ["b@example.com", "b2@example.com"]),
        customer(C, "outsider", []),
    )
    files = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com, new@example.com]\n"
        "  - externalId: u2\n    emails: [b@example.com]\n"
    )
    assert org.ksync("plan", "--out", "plan.json", files).code == 0
    # Someone else takes the value after the plan was made; the outsider is not in the plan.
    org.direct("PUT", f"/v1/customers/{C}", {"emails": [{"email": "new@example.com"}]})
    result = org.ksync("apply", "--plan", "plan.json")
    assert result.code == 1
    assert f"PUT /v1/customers/{A} -> 409: " in result.err
    assert "new@example.com" in result.err and C in result.err
    assert [w[:2] for w in org.writes()] == [
        ("PUT", f"/v1/customers/{A}"),
        ("PUT", f"/v1/customers/{B}"),
    ]
    assert org.values(B, "emails") == ["b@example.com"]
    assert "Apply complete: 2 writes sent, 1 failed, 0 not sent." in result.out
    assert "Verified: 1 of 1 written customers match the plan." in result.out
    # A new plan shows only what is left: the conflict on u1.
    left = org.ksync("plan", files)
    assert left.code == 1 and f"held by customer {C}" in left.err
    org.direct("PUT", f"/v1/customers/{C}", {"emails": []})
    left = org.ksync("plan", "--format", "json", files)
    assert '"update": 1' in left.out and f'"id": "{A}"' in left.out and B not in left.out
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)
