"""Executing a Plan: its requests in order, skipping those whose prerequisites failed.

The applier does not diff again; it sends exactly what the Plan holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ksync.plan import Plan, Request

Status = Literal["ok", "failed", "skipped"]


class Writer(Protocol):
    def send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Outcome:
    index: int
    request: Request
    status: Status
    message: str = ""


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status != "ok")

    @property
    def ok(self) -> bool:
        return not self.failed


def apply_plan(
    plan: Plan,
    writer: Writer,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    error_types: tuple[type[Exception], ...] = (Exception,),
) -> ApplyResult:
    """Send every request whose prerequisites succeeded; report each outcome."""
    outcomes: list[Outcome] = []
    for index, request in enumerate(plan.requests):
        blocked = [a for a in request.after if outcomes[a].status != "ok"]
        if blocked:
            reason = ", ".join(_describe(plan.requests[a]) for a in blocked)
            outcome = Outcome(index, request, "skipped", f"not sent: waits for {reason}")
        else:
            try:
                writer.send(request.method, request.path, request.body)
                outcome = Outcome(index, request, "ok")
            except error_types as err:
                outcome = Outcome(index, request, "failed", str(err))
        outcomes.append(outcome)
        on_outcome(outcome)
    return ApplyResult(tuple(outcomes))


def _describe(request: Request) -> str:
    return f"{request.method} {request.path}"
