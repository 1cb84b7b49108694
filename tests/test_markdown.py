"""Markdown plans for pull-request comments, against golden files."""

from __future__ import annotations

from dataclasses import replace

from builders import desired, email, have, phone, want
from test_render import check_golden, sample_plan

from ksync.markdown import render_markdown
from ksync.model import ContactRef, Live, SourceRef
from ksync.plan import Change, Plan, Problem, ValueChange
from ksync.planner import plan


def test_markdown() -> None:
    text = render_markdown(sample_plan())
    check_golden("plan.md", text)
    assert text.splitlines()[0] == "**ksync plan:** 1 to create, 1 to update, 1 unchanged"


def test_no_changes() -> None:
    empty = Plan(changes=(), requests=(), unchanged=3)
    assert render_markdown(empty) == "**ksync plan:** no changes (3 customers checked)\n"


def test_partial_plan_with_problems() -> None:
    d = desired(
        want("user-9", phones=[phone("+15555550190"), phone("+15555550191")], line=20),
        want("user-10", emails=[email("ten@example.com", "work")], line=30),
    )
    live = Live(
        (
            have("9" * 24, "user-9", phones=[phone("+15555550190", "mobile")]),
            have("a" * 24, "user-10", emails=[email("ten@example.com", "home")]),
        ),
        {ContactRef("phones", "+15555550191"): "c" * 24},
    )
    text = render_markdown(replace(plan(d, live), partial=True))
    check_golden("plan.problems.md", text)
    assert text.splitlines()[0].endswith(", **1 problem**")
    assert "> **Partial plan:**" in text


def test_values_cannot_add_markup() -> None:
    change = Change(
        action="update",
        source=SourceRef("a<b>.yaml", 3),
        external_id="<img src=x>@octocat",
        id="f" * 24,
        diffs=(ValueChange("emails", "-", "a```b@example.com", "home"),),
        fingerprint="sha256:0",
    )
    problem = Problem(SourceRef("a.yaml", 1), "``` <b>@octocat</b>\n# heading")
    text = render_markdown(Plan(changes=(change,), requests=(), unchanged=0, problems=(problem,)))
    assert text == (
        "**ksync plan:** 0 to create, 1 to update, 0 unchanged, **1 problem**\n"
        "\n"
        "<details><summary><b>update</b> customer <code>externalId=&lt;img src=x&gt;@octocat"
        " id=ffffffffffffffffffffffff</code> at <code>a&lt;b&gt;.yaml:3</code>: 1 removed</summary>\n"
        "\n"
        "````diff\n"
        "- email a```b@example.com (home)\n"
        "````\n"
        "\n"
        "</details>\n"
        "\n"
        "### Problems (1)\n"
        "\n"
        "````text\n"
        "a.yaml:1: ``` <b>@octocat</b>\\x0a# heading\n"
        "````\n"
    )
