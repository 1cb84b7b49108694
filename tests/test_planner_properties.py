"""Property tests of the planner: applying a plan's requests in order reaches the desired
state, never breaks org-wide uniqueness on the way, and planning again finds nothing."""

from __future__ import annotations

from typing import Any

from builders import desired, email, phone, want
from hypothesis import given, settings
from hypothesis import strategies as st

from ksync.model import ENTRY_KEY, FIELDS, Contact, ContactRef, Field, Live, LiveCustomer
from ksync.normalize import contact_key
from ksync.plan import Plan
from ksync.planner import lookups_needed, plan

EMAILS = [f"user{i}@example.com" for i in range(6)]
PHONES = [f"+1555555010{i}" for i in range(6)]
IDS = [f"{i:024x}" for i in range(1, 5)]
OUTSIDER = "f" * 24

State = dict[str, dict[str, Any]]  # customer id -> attributes


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[State, list[Any]]:
    """A live org (declared customers + one outsider) and a desired state for some of it."""
    count = draw(st.integers(1, 4))
    owner_of = {
        (field, value): draw(st.sampled_from([*IDS[:count], OUTSIDER, None]))
        for field, pool in (("emails", EMAILS), ("phones", PHONES))
        for value in pool
    }
    state: State = {
        cid: {"externalId": f"u{cid[-1]}", "emails": [], "phones": []} for cid in IDS[:count]
    }
    state[OUTSIDER] = {"externalId": "outsider", "emails": [], "phones": []}
    for (field, value), cid in owner_of.items():
        if cid is not None:
            entry = {ENTRY_KEY[field]: value, "type": "home", "verified": False}
            state[cid][field].append(entry)
    free = {"emails": list(EMAILS), "phones": list(PHONES)}
    customers = []
    for index in range(count + draw(st.integers(0, 1))):  # maybe one more, to create
        arrays: dict[str, Any] = {}
        for field in FIELDS:
            if draw(st.booleans()):
                if not free[field]:
                    arrays[field] = []
                    continue
                picked = draw(st.lists(st.sampled_from(free[field]), unique=True, max_size=3))
                free[field] = [v for v in free[field] if v not in picked]
                arrays[field] = picked
        ext = f"u{IDS[index][-1]}" if index < count else "new"
        customers.append((ext, arrays))
    return state, customers


def _desired(customers: list[Any]) -> Any:
    return desired(
        *(
            want(
                ext,
                emails=[email(v) for v in a["emails"]] if "emails" in a else None,
                phones=[phone(v) for v in a["phones"]] if "phones" in a else None,
            )
            for ext, a in customers
        )
    )


def _live(state: State, customers: list[Any]) -> Live:
    by_ext = {attrs["externalId"]: cid for cid, attrs in state.items()}
    found = tuple(
        _customer(by_ext[ext], state[by_ext[ext]]) if ext in by_ext else None
        for ext, _ in customers
    )
    d = _desired(customers)
    owners = {}
    for ref in lookups_needed(d, found):
        owners[ref] = next((cid for cid, attrs in state.items() if _holds(attrs, ref)), None)
    return Live(found, owners)


def _holds(attrs: dict[str, Any], ref: ContactRef) -> bool:
    return any(contact_key(ref.field, e[ENTRY_KEY[ref.field]]) == ref.key for e in attrs[ref.field])


def _customer(cid: str, attrs: dict[str, Any]) -> LiveCustomer:
    def contacts(field: Field) -> tuple[Contact, ...]:
        return tuple(
            Contact(
                contact_key(field, e[ENTRY_KEY[field]], "US"),
                e[ENTRY_KEY[field]],
                e.get("type"),
                e.get("verified"),
            )
            for e in attrs[field]
        )

    return LiveCustomer(cid, attrs["externalId"], None, contacts("emails"), contacts("phones"))


def _conflicts(state: State, customers: list[Any]) -> bool:
    """Some wanted value is held where it may not be taken from: by the outsider, or
    by a declared customer whose files do not manage that array."""
    declared = {ext: arrays for ext, arrays in customers}
    for _, arrays in customers:
        for field, values in arrays.items():
            for attrs in state.values():
                held = {e[ENTRY_KEY[field]] for e in attrs[field]}
                holder_arrays = declared.get(attrs["externalId"])
                if held & set(values) and (holder_arrays is None or field not in holder_arrays):
                    return True
    return False


def _execute(result: Plan, state: State) -> None:
    """Apply the requests like Kustomer would, checking uniqueness after each."""
    for number, request in enumerate(result.requests):
        assert all(a < number for a in request.after)
        if request.method == "POST":
            state[f"{len(state) + 100:024x}"] = {"emails": [], "phones": [], **request.body}
        else:
            cid = request.path.rsplit("/", 1)[1]
            assert cid != OUTSIDER
            assert set(request.body) <= set(FIELDS)
            state[cid].update(request.body)
        _assert_unique(state)


def _assert_unique(state: State) -> None:
    for field in FIELDS:
        values = [e[ENTRY_KEY[field]] for attrs in state.values() for e in attrs[field]]
        assert len(values) == len(set(values)), f"{field} not unique: {values}"


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_applying_a_plan_reaches_the_desired_state(scenario: tuple[State, list[Any]]) -> None:
    state, customers = scenario
    outsider_before = dict(state[OUTSIDER])
    result = plan(_desired(customers), _live(state, customers))
    if _conflicts(state, customers):
        assert result.problems and not result.requests
        return
    assert not result.problems
    writes: dict[int, int] = {}
    for request in result.requests:
        writes[request.change] = writes.get(request.change, 0) + 1
    assert all(n <= 2 for n in writes.values())
    _execute(result, state)
    assert state[OUTSIDER] == outsider_before
    by_ext = {attrs["externalId"]: attrs for attrs in state.values()}
    for ext, arrays in customers:
        for field, values in arrays.items():
            assert sorted(e[ENTRY_KEY[field]] for e in by_ext[ext][field]) == sorted(values)
    again = plan(_desired(customers), _live(state, customers))
    assert again.empty and not again.problems
