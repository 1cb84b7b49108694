"""Plans as GitHub-flavoured Markdown, for pull-request comments.

A one-line summary, a note for a partial plan, then one collapsed ``<details>`` section
per changed customer holding a ``diff`` block: removals first (``-``), then type changes
(``!``, which GitHub highlights as changed), then additions (``+``). Problems follow under
their own heading, as ``FILE:LINE: message`` lines in a code block.

Every value from the files or from Kustomer (labels, sources, emails, phones, messages)
is inside code: ``<code>`` with HTML escaping in the summaries, fenced blocks longer than
any run of backticks in them elsewhere; so no value can add markup, links or @mentions.
"""

from __future__ import annotations

import html
import re

from ksync.model import ENTRY_KEY, customer_label
from ksync.plan import Change, Plan, ValueChange
from ksync.redact import Redactor, redact_plan

_ORDER = "-~+"
_COUNTED = {"-": "removed", "~": "type changed", "+": "added"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BACKTICKS = re.compile(r"`+")


def render_markdown(plan: Plan, redactor: Redactor | None = None) -> str:
    """The plan as Markdown; with ``redactor``, values are masked as ``redact_plan`` does."""
    if redactor is not None:
        plan = redact_plan(plan, redactor)
    lines = [summary_markdown(plan), ""]
    if plan.partial:
        lines += ["> **Partial plan:** only part of the desired state was considered.", ""]
    for change in plan.changes:
        lines += _change_section(change)
    if plan.problems:
        lines += [f"### Problems ({len(plan.problems)})", ""]
        lines += _fenced("text", [_visible(str(p)) for p in plan.problems])
    return "\n".join(lines).rstrip("\n") + "\n"


def summary_markdown(plan: Plan) -> str:
    """The first line: what the plan would do, and how many problems stop it."""
    if plan.empty:
        text = f"no changes ({plan.unchanged} customers checked)"
    else:
        text = f"{plan.creates} to create, {plan.updates} to update, {plan.unchanged} unchanged"
    if plan.problems:
        count = len(plan.problems)
        text += f", **{count} problem{'' if count == 1 else 's'}**"
    return f"**ksync plan:** {text}"


def _change_section(change: Change) -> list[str]:
    diffs = sorted(change.diffs, key=lambda d: _ORDER.index(d.op))
    counts = [
        f"{sum(1 for d in diffs if d.op == op)} {_COUNTED[op]}"
        for op in _ORDER
        if any(d.op == op for d in diffs)
    ]
    label = _code(customer_label(change.external_id, change.id))
    summary = f"<b>{change.action}</b> customer {label} at {_code(str(change.source))}"
    if counts:
        summary += ": " + ", ".join(counts)
    return [
        f"<details><summary>{summary}</summary>",
        "",
        *_fenced("diff", [_diff_line(d) for d in diffs]),
        "</details>",
        "",
    ]


def _diff_line(diff: ValueChange) -> str:
    kind = ENTRY_KEY[diff.field]
    value = _visible(diff.value)
    if diff.op == "~":
        return f"! {kind} {value}  type {diff.old_type or '(none)'} -> {diff.type}"
    suffix = f" ({diff.type})" if diff.type else ""
    return f"{diff.op} {kind} {value}{suffix}"


def _fenced(language: str, lines: list[str]) -> list[str]:
    """A fenced code block (and a blank line after it) that no line can close early."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *lines, fence, ""]


def _code(text: str) -> str:
    return f"<code>{html.escape(_visible(text))}</code>"


def _visible(text: str) -> str:
    """``text`` on one line: control characters shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)
