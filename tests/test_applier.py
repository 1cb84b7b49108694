"""The applier sends a plan's requests in order and skips those whose prerequisites failed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ksync.applier import apply_plan
from ksync.plan import Plan, Request


class Refusal(Exception):
    pass


class FakeWriter:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.sent: list[str] = []

    def send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.sent.append(path)
        if path in self.failing:
            raise Refusal(f"{method} {path} -> 409: taken")
        return {}


def request(path: str, change: int, after: tuple[int, ...] = ()) -> Request:
    return Request("PUT", path, {"emails": []}, change, "update", after)


def test_failure_skips_only_dependents() -> None:
    plan = Plan(
        changes=(),
        requests=(
            request("/a", 0),
            request("/b", 1, (0,)),
            request("/c", 2),
            request("/d", 3, (1,)),
        ),
        unchanged=0,
    )
    writer = FakeWriter({"/a"})
    seen: list[str] = []
    result = apply_plan(plan, writer, lambda o: seen.append(o.status), (Refusal,))
    assert writer.sent == ["/a", "/c"]
    assert [(o.status, o.message) for o in result.outcomes] == [
        ("failed", "PUT /a -> 409: taken"),
        ("skipped", "not sent: waits for PUT /a"),
        ("ok", ""),
        ("skipped", "not sent: waits for PUT /b"),
    ]
    assert seen == ["failed", "skipped", "ok", "skipped"]
    assert not result.ok


def test_all_ok() -> None:
    plan = Plan(changes=(), requests=(request("/a", 0), request("/b", 1, (0,))), unchanged=0)
    result = apply_plan(plan, FakeWriter(set()))
    assert result.ok and [o.status for o in result.outcomes] == ["ok", "ok"]
