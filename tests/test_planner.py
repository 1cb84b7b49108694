"""The planner, table by table: (desired, live, owners) -> changes and exact requests."""

from __future__ import annotations

from builders import desired, email, have, phone, want

from ksync.model import ContactRef, Live
from ksync.planner import lookups_needed, plan

A = "a" * 24
B = "b" * 24
C = "c" * 24


def test_identical_states_plan_nothing() -> None:
    d = desired(want("u1", emails=[email("joe@example.com")], phones=[phone("+15555550100")]))
    live = Live(
        (have(A, "u1", emails=[email("joe@example.com", "home")], phones=[phone("+15555550100")]),),
        {},
    )
    result = plan(d, live)
    assert result.empty and result.requests == () and result.unchanged == 1


def test_spelling_case_format_and_order_are_not_changes() -> None:
    d = desired(
        want(
            "u1",
            emails=[email("B@Example.com"), email(" a@EXAMPLE.com ")],
            phones=[phone("(555) 555-0101"), phone("+1 555 555 0100")],
        )
    )
    stored = have(
        A,
        "u1",
        emails=[email("a@example.com", "home"), email("b@example.com", "work")],
        phones=[phone("+15555550100", "mobile"), phone("+15555550101", "home")],
    )
    assert plan(d, Live((stored,), {})).empty


def test_keep_one_of_two_emails_sends_only_emails_with_stored_entry() -> None:
    d = desired(want("u1", emails=[email("JOE@example.com")], phones=[phone("+15555550100")]))
    stored = have(
        A,
        "u1",
        emails=[email("joe@example.com", "work", True), email("old@example.com", "home", False)],
        phones=[phone("+15555550100", "mobile", False)],
    )
    result = plan(d, Live((stored,), {}))
    assert [(r.method, r.path, r.body) for r in result.requests] == [
        (
            "PUT",
            f"/v1/customers/{A}",
            {"emails": [{"email": "joe@example.com", "type": "work", "verified": True}]},
        )
    ]
    assert [(c.op, c.value) for c in result.changes[0].diffs] == [("-", "old@example.com")]
    assert (result.creates, result.updates, result.unchanged) == (0, 1, 0)


def test_remove_all_phones_sends_empty_list() -> None:
    d = desired(want("u1", phones=[]))
    stored = have(A, "u1", emails=[email("x@example.com")], phones=[phone("+15555550100", "home")])
    result = plan(d, Live((stored,), {}))
    assert [r.body for r in result.requests] == [{"phones": []}]


def test_unmanaged_arrays_are_never_sent() -> None:
    d = desired(want("u1", emails=[email("new@example.com")]))
    stored = have(A, "u1", emails=[], phones=[phone("+15555550100")])
    result = plan(d, Live((stored,), {ContactRef("emails", "new@example.com"): None}))
    assert [r.body for r in result.requests] == [
        {"emails": [{"email": "new@example.com", "type": "other"}]}
    ]


def test_type_change_and_missing_type_keeps_live_type() -> None:
    d = desired(want("u1", emails=[email("a@example.com", "work"), email("b@example.com")]))
    stored = have(
        A, "u1", emails=[email("a@example.com", "home", True), email("b@example.com", "home")]
    )
    result = plan(d, Live((stored,), {}))
    assert [(c.op, c.value, c.old_type, c.type) for c in result.changes[0].diffs] == [
        ("~", "a@example.com", "home", "work")
    ]
    assert result.requests[0].body == {
        "emails": [
            {"email": "a@example.com", "type": "work", "verified": True},
            {"email": "b@example.com", "type": "home"},
        ]
    }


def test_missing_customer_by_external_id_is_created() -> None:
    d = desired(
        want(
            "u9", name="Nine", emails=[email("n@example.com", "work")], phones=[phone("5555550199")]
        )
    )
    owners = {
        ContactRef("emails", "n@example.com"): None,
        ContactRef("phones", "+15555550199"): None,
    }
    result = plan(d, Live((None,), owners))
    assert result.changes[0].action == "create"
    assert [(r.method, r.path, r.body) for r in result.requests] == [
        (
            "POST",
            "/v1/customers",
            {
                "externalId": "u9",
                "name": "Nine",
                "emails": [{"email": "n@example.com", "type": "work"}],
                "phones": [{"phone": "+15555550199", "type": "other"}],
            },
        )
    ]


def test_missing_customer_by_id_is_a_problem() -> None:
    result = plan(desired(want(id=A, emails=[])), Live((None,), {}))
    assert [str(p) for p in result.problems] == [f"contacts.yaml:1: customer id {A} does not exist"]
    assert result.requests == ()


def test_external_id_mismatch_is_a_problem() -> None:
    result = plan(desired(want("u1", id=A, emails=[])), Live((have(A, "other"),), {}))
    assert [p.message for p in result.problems] == [
        f"customer id {A} has externalId 'other', but the files say 'u1'"
    ]


def test_move_to_new_customer_releases_first() -> None:
    d = desired(
        want("old", emails=[], phones=[], line=1),
        want("new", emails=[email("joe@example.com")], phones=[phone("+15555550100")], line=9),
    )
    old = have(A, "old", emails=[email("joe@example.com", "home")], phones=[phone("+15555550100")])
    result = plan(d, Live((old, None), {}))
    assert [(r.method, r.path, r.body, r.after) for r in result.requests] == [
        ("PUT", f"/v1/customers/{A}", {"emails": [], "phones": []}, ()),
        (
            "POST",
            "/v1/customers",
            {
                "externalId": "new",
                "emails": [{"email": "joe@example.com", "type": "other"}],
                "phones": [{"phone": "+15555550100", "type": "other"}],
            },
            (0,),
        ),
    ]


def test_receiver_declared_first_still_waits_for_holder() -> None:
    d = desired(
        want("new", emails=[email("joe@example.com")]),
        want("old", emails=[email("keep@example.com")]),
    )
    old = have(A, "old", emails=[email("joe@example.com"), email("keep@example.com")])
    result = plan(d, Live((None, old), {}))
    assert [(r.method, r.after) for r in result.requests] == [("PUT", ()), ("POST", (0,))]


def test_swap_writes_one_customer_twice() -> None:
    d = desired(
        want("a", emails=[email("y@example.com")]), want("b", emails=[email("x@example.com")])
    )
    live = Live(
        (
            have(A, "a", emails=[email("x@example.com", "home")]),
            have(B, "b", emails=[email("y@example.com", "work")]),
        ),
        {},
    )
    result = plan(d, live)
    assert [(r.path, r.body, r.purpose, r.after) for r in result.requests] == [
        (f"/v1/customers/{A}", {"emails": []}, "release", ()),
        (
            f"/v1/customers/{B}",
            {"emails": [{"email": "x@example.com", "type": "other"}]},
            "update",
            (0,),
        ),
        (
            f"/v1/customers/{A}",
            {"emails": [{"email": "y@example.com", "type": "other"}]},
            "update",
            (0, 1),
        ),
    ]


def test_three_way_rotation_is_ordered_and_bounded() -> None:
    d = desired(
        want("a", emails=[email("y@example.com")]),
        want("b", emails=[email("z@example.com")]),
        want("c", emails=[email("x@example.com")]),
    )
    live = Live(
        (
            have(A, "a", emails=[email("x@example.com")]),
            have(B, "b", emails=[email("y@example.com")]),
            have(C, "c", emails=[email("z@example.com")]),
        ),
        {},
    )
    paths = [r.path.rsplit("/", 1)[1] for r in plan(d, live).requests]
    assert paths == [A, C, B, A]


def test_value_held_by_undeclared_customer_is_a_conflict() -> None:
    d = desired(want("u1", emails=[email("taken@example.com")]))
    live = Live((have(A, "u1"),), {ContactRef("emails", "taken@example.com"): C})
    result = plan(d, live)
    assert [p.message for p in result.problems] == [
        f"externalId=u1: email taken@example.com is held by customer {C}, which the files do "
        "not declare; remove it there first or declare that customer"
    ]
    assert result.requests == ()


def test_value_held_by_declared_customer_that_does_not_manage_it_is_a_conflict() -> None:
    d = desired(want("u1", emails=[email("x@example.com")]), want("u2", phones=[]))
    live = Live((have(A, "u1"), have(B, "u2", emails=[email("x@example.com")])), {})
    result = plan(d, live)
    assert [p.message for p in result.problems] == [
        "externalId=u1: email x@example.com is held by externalId=u2 (contacts.yaml:1), whose "
        "emails the files do not manage; list its emails without it"
    ]


def test_lookups_skip_values_held_by_declared_customers() -> None:
    d = desired(
        want("u1", emails=[email("x@example.com"), email("free@example.com")]),
        want("u2", emails=[]),
        want("u3", phones=[phone("+15555550100")]),
    )
    customers = (have(A, "u1"), have(B, "u2", emails=[email("x@example.com")]), None)
    assert lookups_needed(d, customers) == [
        ContactRef("emails", "free@example.com"),
        ContactRef("phones", "+15555550100"),
    ]


def test_value_stored_twice_is_deduplicated() -> None:
    d = desired(want("u1", emails=[email("a@example.com")]))
    stored = have(A, "u1", emails=[email("a@example.com", "home"), email("A@example.com", "work")])
    result = plan(d, Live((stored,), {}))
    assert [(c.op, c.value) for c in result.changes[0].diffs] == [("-", "A@example.com")]
    assert result.requests[0].body == {"emails": [{"email": "a@example.com", "type": "home"}]}
