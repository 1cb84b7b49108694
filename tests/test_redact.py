"""Redaction: no email, phone or name of a plan survives in any of its three renderings."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import desired, email, have, phone, spellings, want
from test_render import check_golden

from ksync.markdown import render_markdown
from ksync.model import ContactRef, Live, SourceRef
from ksync.plan import Plan, Problem
from ksync.planner import plan
from ksync.redact import redact_plan, redact_value
from ksync.render import render_json, render_text

A = "5f0000000000000000000001"
B = "5f0000000000000000000009"


def sample_plan() -> Plan:
    """Creates, updates, retypes and removals of emails and phones, and two problems."""
    d = desired(
        want(
            "user-1",
            emails=[email("joe@example.com", "work"), email("Joe.New@New.Example")],
            phones=[phone("+15555550100")],
            line=4,
        ),
        want(
            "user-7",
            name="Sam Sample",
            emails=[email("sam@example.com")],
            phones=[phone("(555) 555-0177")],
            line=12,
        ),
        want("user-9", phones=[phone("+15555550190", "home"), phone("555.555.0191")], line=20),
    )
    live = Live(
        (
            have(
                A,
                "user-1",
                emails=[email("joe@example.com", "home", True), email("old@example.com", "home")],
                phones=[phone("+15555550100", "mobile")],
            ),
            None,
            have(B, "user-9", phones=[phone("+15555550190", "mobile"), phone("+44 20 7946 0018")]),
        ),
        {
            ContactRef("emails", "joe.new@new.example"): None,
            ContactRef("emails", "sam@example.com"): None,
            ContactRef("phones", "+15555550177"): None,
            ContactRef("phones", "+15555550191"): None,
        },
    )
    problems = (
        Problem(
            SourceRef("contacts.yaml", 12, 5),
            "externalId=user-7: email SAM@example.com and phone +15555550177 look odd",
        ),
        Problem(
            SourceRef("contacts.yaml", 20, 5),
            "externalId=user-9: phone +15555550199 is held by customer cccccccccccccccccccccccc; so is email 'Other.Person@Example.org'",
        ),
    )
    return replace(plan(d, live), problems=problems)


ORIGINALS = [
    "joe@example.com",
    "Joe.New@New.Example",
    "old@example.com",
    "sam@example.com",
    "(555) 555-0177",
    "+15555550190",
    "555.555.0191",
    "+44 20 7946 0018",
    "+15555550199",
    "Other.Person@Example.org",
    "Sam Sample",
]


def renderings(p: Plan) -> dict[str, str]:
    return {"txt": render_text(p), "json": render_json(p), "md": render_markdown(p)}


def test_the_sample_holds_every_value() -> None:
    text = "\n".join(renderings(sample_plan()).values())
    for value in ORIGINALS:
        assert any(s in text for s in spellings(value)), value


@pytest.mark.parametrize("kind", ["txt", "json", "md"])
def test_redacted_renderings(kind: str) -> None:
    text = renderings(redact_plan(sample_plan()))[kind]
    check_golden(f"plan.redacted.{kind}", text)
    for value in ORIGINALS:
        for spelling in spellings(value):
            assert spelling not in text.lower(), (value, spelling)
    for kept in (A, B, "user-1", "user-7", "user-9", "contacts.yaml:20"):
        assert kept in text
    if kind == "md":  # the text and json renderings do not show problems
        assert "held by customer cccccccccccccccccccccccc" in text


def test_markdown_redactor_is_redact_plan() -> None:
    assert render_markdown(sample_plan(), redact_value) == render_markdown(
        redact_plan(sample_plan())
    )


def test_redact_plan_leaves_the_plan_alone() -> None:
    original = sample_plan()
    redacted = redact_plan(original)
    assert render_json(original) == render_json(sample_plan())
    assert redacted.meta["redacted"] is True
    assert [c.fingerprint for c in redacted.changes] == ["redacted", "absent", "redacted"]
    assert [r.path for r in redacted.requests] == [r.path for r in original.requests]


@pytest.mark.parametrize(
    ("field", "value", "masked"),
    [
        ("emails", "joe@example.com", "j***@example.com"),
        ("email", " Joe.Long.Name@Example.COM ", "J***@Example.COM"),
        ("emails", "j@example.com", "*@example.com"),
        ("emails", "@example.com", "*@example.com"),
        ("emails", "no-at-sign", "n***"),
        ("phones", "+15555550100", "+15*******00"),
        ("phone", "(555) 555-0100", "55******00"),
        ("phones", "+44 20 7946 0018", "+44********18"),
        ("phones", "5550100", "5*****0"),
        ("phones", "+1234", "+****"),
        ("phones", "call me", "***"),
        ("name", "Sam Sample", "S***"),
        ("name", "", "***"),
    ],
)
def test_redact_value(field: str, value: str, masked: str) -> None:
    assert redact_value(field, value) == masked
    assert redact_value(field, value) == redact_value(field, value)
