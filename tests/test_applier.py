"""The applier sends a plan's requests in dependency waves, skips those whose
prerequisites failed, and batches a wave's writes into bulk jobs when that is cheaper."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ksync.applier import BULK_MIN, ApplyOptions, Outcome, apply_plan, waves
from ksync.plan import Plan, Request


class Refusal(Exception):
    status = 409


@dataclass(frozen=True)
class Item:
    id: str | None
    status: str
    error: str | None = None


class FakeWriter:
    def __init__(self, failing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.failing = failing
        self.sent: list[str] = []
        self.bulk: list[list[str]] = []
        self._lock = threading.Lock()

    def send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.sent.append(path)
        if path in self.failing:
            raise Refusal(f"{method} {path} -> 409: taken")
        return {"data": {"id": "new-id"}} if method == "POST" else {}

    def bulk_update(self, items: Sequence[Mapping[str, Any]]) -> list[Item]:
        with self._lock:
            self.bulk.append([str(i["id"]) for i in items])
        return [
            Item(str(i["id"]), "error", "taken")
            if f"/{i['id']}" in self.failing
            else Item(str(i["id"]), "updated")
            for i in items
        ]

    def bulk_create(self, items: Sequence[Mapping[str, Any]]) -> list[Item]:
        raise AssertionError("no creates in these tests")


def request(path: str, change: int, after: tuple[int, ...] = ()) -> Request:
    return Request("PUT", path, {"emails": []}, change, "update", after)


def test_waves_group_independent_requests() -> None:
    requests = [
        request("/a", 0),
        request("/b", 1, (0,)),
        request("/c", 2),
        request("/d", 3, (1, 2)),
    ]
    assert waves(requests) == [[0, 2], [1], [3]]


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
    seen: list[int] = []
    recorded: list[int] = []
    options = ApplyOptions(record=lambda o: recorded.append(o.index))
    result = apply_plan(plan, writer, lambda o: seen.append(o.index), (Refusal,), options)
    assert sorted(writer.sent) == ["/a", "/c"]
    assert [(o.status, o.message, o.http_status) for o in result.outcomes] == [
        ("failed", "PUT /a -> 409: taken", 409),
        ("skipped", "not sent: waits for PUT /a", None),
        ("ok", "", 200),
        ("skipped", "not sent: waits for PUT /b", None),
    ]
    assert seen == [0, 2, 1, 3]  # wave by wave, in plan order within a wave
    assert sorted(recorded) == [0, 2]  # only writes that were sent are recorded
    assert not result.ok


def test_a_wide_wave_goes_in_bulk_jobs_of_at_most_100() -> None:
    count = 150
    plan = Plan(
        changes=(),
        requests=tuple(request(f"/{n:03d}", n) for n in range(count)),
        unchanged=0,
    )
    writer = FakeWriter({"/007"})
    result = apply_plan(plan, writer, error_types=(Refusal,))
    assert writer.sent == []
    assert sorted(len(batch) for batch in writer.bulk) == [50, 100]
    assert sorted(i for batch in writer.bulk for i in batch) == [f"{n:03d}" for n in range(count)]
    failed = [o for o in result.outcomes if o.status == "failed"]
    assert [(o.index, o.message) for o in failed] == [(7, "PUT /007 (bulk item) -> taken")]
    assert all(o.via_bulk for o in result.outcomes)


def test_small_waves_and_no_bulk_send_single_requests() -> None:
    plan = Plan(
        changes=(),
        requests=tuple(request(f"/{n}", n) for n in range(BULK_MIN)),
        unchanged=0,
    )
    writer = FakeWriter()
    result = apply_plan(plan, writer, options=ApplyOptions(bulk=False))
    assert sorted(writer.sent) == [f"/{n}" for n in range(BULK_MIN)] and writer.bulk == []
    assert result.ok
    small = Plan(changes=(), requests=plan.requests[: BULK_MIN - 1], unchanged=0)
    small_writer = FakeWriter()
    assert apply_plan(small, small_writer).ok
    assert (len(small_writer.sent), small_writer.bulk) == (BULK_MIN - 1, [])


def test_created_ids_are_kept() -> None:
    plan = Plan(
        changes=(),
        requests=(Request("POST", "/v1/customers", {"externalId": "x"}, 0, "create"),),
        unchanged=0,
    )
    outcome: Outcome = apply_plan(plan, FakeWriter()).outcomes[0]
    assert (outcome.status, outcome.customer_id, outcome.http_status) == ("ok", "new-id", 201)
