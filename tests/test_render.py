"""Renderers against golden files. Set KSYNC_UPDATE_GOLDEN=1 to rewrite them, then review."""

from __future__ import annotations

import json
import os
from pathlib import Path

from builders import desired, email, have, phone, want

from ksync.model import ContactRef, Live
from ksync.plan import Plan
from ksync.planner import plan
from ksync.render import ansi, render_json, render_text

GOLDEN = Path(__file__).parent / "golden"
A = "5f0000000000000000000001"


def sample_plan() -> Plan:
    d = desired(
        want(
            "user-1",
            emails=[email("joe@example.com", "work"), email("joe@new.example")],
            phones=[phone("+15555550100")],
            line=4,
        ),
        want("user-7", name="Sam", emails=[email("sam@example.com")], line=12),
        want("user-8", phones=[], line=20),
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
            have("5f0000000000000000000008", "user-8"),
        ),
        {
            ContactRef("emails", "joe@new.example"): None,
            ContactRef("emails", "sam@example.com"): None,
        },
    )
    return plan(d, live)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("KSYNC_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_text() -> None:
    check_golden("plan.txt", render_text(sample_plan()))


def test_text_in_colour() -> None:
    check_golden("plan.ansi.txt", render_text(sample_plan(), ansi))


def test_json() -> None:
    text = render_json(sample_plan())
    check_golden("plan.json", text)
    document = json.loads(text)
    assert document["format_version"] == 1
    assert document["summary"] == {"create": 1, "update": 1, "unchanged": 1}


def test_no_changes_is_said_plainly() -> None:
    empty = Plan(changes=(), requests=(), unchanged=3)
    assert render_text(empty) == "No changes. Kustomer matches the files (3 customers checked).\n"


def test_partial_banner() -> None:
    empty = Plan(changes=(), requests=(), unchanged=1, partial=True)
    assert render_text(empty).startswith("Partial plan:")
