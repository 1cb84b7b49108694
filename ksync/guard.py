"""The safety rail against mass removal: a pure check of a plan before apply."""

from __future__ import annotations

from ksync.plan import Plan

DEFAULT_MAX_REMOVAL_RATIO = 0.30
MIN_MANAGED = 10


def removal_refusal(plan: Plan, max_ratio: float = DEFAULT_MAX_REMOVAL_RATIO) -> str | None:
    """Why apply must not go ahead without --force, or None when the plan is fine.

    Refuses a plan that removes values from more than ``max_ratio`` of the managed
    customers, when at least ``MIN_MANAGED`` customers are managed.
    """
    managed = len(plan.changes) + plan.unchanged
    removing = sum(1 for c in plan.changes if any(d.op == "-" for d in c.diffs))
    # Compared in whole numbers: 29 of 100 at a 0.29 limit is allowed, 30 is not.
    if managed < MIN_MANAGED or removing * 10**6 <= round(max_ratio * 10**6) * managed:
        return None
    return (
        f"this plan removes values from {removing} of {managed} managed customers "
        f"({removing / managed:.2%}), over the limit of {max_ratio:.2%}; nothing was "
        "written. Check the plan, then use --force, or raise --max-removal-ratio"
    )
