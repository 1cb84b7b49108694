"""Plans as text for people and as JSON for scripts. Renderers return strings."""

from __future__ import annotations

import json
from collections.abc import Callable

from ksync.model import ENTRY_KEY, customer_label
from ksync.plan import Change, Plan, ValueChange, plan_to_document

Paint = Callable[[str, str], str]

_COLOURS = {"+": "32", "-": "31", "~": "33", "bold": "1"}
_VERBS = {"create": "create", "update": "update"}
_MARK = {"create": "+", "update": "~"}


def plain(_: str, text: str) -> str:
    return text


def ansi(style: str, text: str) -> str:
    return f"\033[{_COLOURS[style]}m{text}\033[0m"


def render_text(plan: Plan, paint: Paint = plain) -> str:
    """Terraform-like: a block per changed customer, then a one-line summary."""
    lines: list[str] = []
    if plan.partial:
        lines += ["Partial plan: only part of the desired state was considered.", ""]
    if plan.empty:
        lines.append(
            f"No changes. Kustomer matches the files ({plan.unchanged} customers checked)."
        )
        return "\n".join(lines) + "\n"
    for change in plan.changes:
        lines += _change_lines(change, paint)
        lines.append("")
    lines.append(paint("bold", summary_line(plan)))
    return "\n".join(lines) + "\n"


def summary_line(plan: Plan) -> str:
    return f"Plan: {plan.creates} to create, {plan.updates} to update, {plan.unchanged} unchanged."


def _change_lines(change: Change, paint: Paint) -> list[str]:
    mark = _MARK[change.action]
    name = customer_label(change.external_id, change.id)
    header = f"{mark} {_VERBS[change.action]} customer {name}"
    lines = [paint(mark, header) + f"  ({change.source})"]
    # Removals first: they are what a reviewer most needs to see.
    ordered = sorted(change.diffs, key=lambda d: "-~+".index(d.op))
    lines += ["    " + paint(d.op, _diff_text(d)) for d in ordered]
    return lines


def _diff_text(diff: ValueChange) -> str:
    kind = ENTRY_KEY[diff.field]
    if diff.op == "~":
        return f"~ {kind} {diff.value}  type {diff.old_type or '(none)'} -> {diff.type}"
    suffix = f" ({diff.type})" if diff.type else ""
    return f"{diff.op} {kind} {diff.value}{suffix}"


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_document(plan), indent=2, ensure_ascii=False) + "\n"
