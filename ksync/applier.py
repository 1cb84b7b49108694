"""Executing a Plan: its requests in dependency waves, skipping those whose prerequisites
failed. The applier does not diff again; it sends exactly what the Plan holds.

Requests of one wave do not depend on each other, so they run on up to ``parallelism``
threads, and with ``bulk`` a wave's PUTs (and POSTs) are sent as bulk jobs of up to 100
when that needs fewer requests. A wave starts only when the previous one has finished,
so a value is always released before another customer takes it. Outcomes are reported
in plan order, whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from ksync.plan import Plan, Request
from ksync.progress import NO_PROGRESS, Progress

Status = Literal["ok", "failed", "skipped"]
BULK_LIMIT = 100
# A bulk job costs a submit, at least one poll and a read of its results.
BULK_MIN = 5


class BulkResult(Protocol):
    @property
    def id(self) -> str | None: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str | None: ...


class Writer(Protocol):
    def send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def bulk_update(self, items: Sequence[Mapping[str, Any]]) -> Sequence[BulkResult]: ...

    def bulk_create(self, items: Sequence[Mapping[str, Any]]) -> Sequence[BulkResult]: ...


@dataclass(frozen=True)
class Outcome:
    index: int
    request: Request
    status: Status
    message: str = ""
    customer_id: str | None = None  # the id a create was given
    via_bulk: bool = False
    http_status: int | None = None  # of the request (of the bulk job for bulk items)


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status != "ok")

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 8
    bulk: bool = True
    progress: Progress = NO_PROGRESS
    # Called from worker threads right after each write, before it is reported.
    record: Callable[[Outcome], None] = lambda _: None


def waves(requests: Sequence[Request]) -> list[list[int]]:
    """Request indexes grouped so that each depends only on earlier groups."""
    level: list[int] = []
    for request in requests:
        level.append(1 + max((level[a] for a in request.after), default=-1))
    grouped: list[list[int]] = [[] for _ in range(max(level, default=-1) + 1)]
    for index, depth in enumerate(level):
        grouped[depth].append(index)
    return grouped


def apply_plan(
    plan: Plan,
    writer: Writer,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    error_types: tuple[type[Exception], ...] = (Exception,),
    options: ApplyOptions = ApplyOptions(),
) -> ApplyResult:
    """Send every request whose prerequisites succeeded; report each outcome in order."""
    outcomes: dict[int, Outcome] = {}
    options.progress.start("applying", len(plan.requests))
    try:
        for wave in waves(plan.requests):
            runnable = []
            for index in wave:
                blocked = [a for a in plan.requests[index].after if outcomes[a].status != "ok"]
                if blocked:
                    outcomes[index] = _skipped(plan, index, blocked)
                else:
                    runnable.append(index)
            for outcome in _run_wave(plan, runnable, writer, error_types, options):
                outcomes[outcome.index] = outcome
            for index in wave:
                on_outcome(outcomes[index])
    finally:
        options.progress.finish()
    return ApplyResult(tuple(outcomes[i] for i in range(len(plan.requests))))


def _skipped(plan: Plan, index: int, blocked: list[int]) -> Outcome:
    reason = ", ".join(_describe(plan.requests[a]) for a in blocked)
    return Outcome(index, plan.requests[index], "skipped", f"not sent: waits for {reason}")


def _run_wave(
    plan: Plan,
    indexes: list[int],
    writer: Writer,
    error_types: tuple[type[Exception], ...],
    options: ApplyOptions,
) -> list[Outcome]:
    tasks: list[Callable[[], list[Outcome]]] = []
    for method in ("PUT", "POST"):
        group = [i for i in indexes if plan.requests[i].method == method]
        if options.bulk and len(group) >= BULK_MIN:
            for start in range(0, len(group), BULK_LIMIT):
                batch = group[start : start + BULK_LIMIT]
                tasks.append(partial(_send_bulk, plan, batch, writer, error_types, options))
        else:
            tasks += [partial(_send_single, plan, i, writer, error_types, options) for i in group]
    if options.parallelism <= 1 or len(tasks) <= 1:
        return [o for task in tasks for o in task()]
    with ThreadPoolExecutor(max_workers=options.parallelism) as pool:
        return [o for done in pool.map(lambda task: task(), tasks) for o in done]


def _send_single(
    plan: Plan,
    index: int,
    writer: Writer,
    error_types: tuple[type[Exception], ...],
    options: ApplyOptions,
) -> list[Outcome]:
    return [_send_one(plan, index, writer, error_types, options)]


def _send_one(
    plan: Plan,
    index: int,
    writer: Writer,
    error_types: tuple[type[Exception], ...],
    options: ApplyOptions,
) -> Outcome:
    request = plan.requests[index]
    try:
        document = writer.send(request.method, request.path, request.body)
        created = _created_id(request, document)
        outcome = Outcome(index, request, "ok", customer_id=created, http_status=_ok(request))
    except error_types as err:
        status = getattr(err, "status", None)
        outcome = Outcome(index, request, "failed", str(err), http_status=status)
    _done(outcome, options)
    return outcome


def _send_bulk(
    plan: Plan,
    batch: list[int],
    writer: Writer,
    error_types: tuple[type[Exception], ...],
    options: ApplyOptions,
) -> list[Outcome]:
    requests = [plan.requests[i] for i in batch]
    creating = requests[0].method == "POST"
    try:
        if creating:
            results = writer.bulk_create([dict(r.body) for r in requests])
        else:
            items = [{"id": _id_of(r), **r.body} for r in requests]
            results = writer.bulk_update(items)
    except error_types as err:
        status = getattr(err, "status", None)
        outcomes = [
            Outcome(i, plan.requests[i], "failed", str(err), via_bulk=True, http_status=status)
            for i in batch
        ]
    else:
        outcomes = [
            _bulk_outcome(i, plan.requests[i], result)
            for i, result in zip(batch, results, strict=True)
        ]
    for outcome in outcomes:
        _done(outcome, options)
    return outcomes


def _bulk_outcome(index: int, request: Request, result: BulkResult) -> Outcome:
    if result.status == "error":
        message = f"{request.method} {request.path} (bulk item) -> {result.error or 'error'}"
        return Outcome(index, request, "failed", message, via_bulk=True)
    created = result.id if request.method == "POST" else None
    status = _ok(request)
    return Outcome(index, request, "ok", customer_id=created, via_bulk=True, http_status=status)


def _ok(request: Request) -> int:
    """The status Kustomer answers a successful write with."""
    return 201 if request.method == "POST" else 200


def _done(outcome: Outcome, options: ApplyOptions) -> None:
    options.record(outcome)
    options.progress.advance()


def _created_id(request: Request, document: Mapping[str, Any]) -> str | None:
    if request.method != "POST":
        return None
    data = document.get("data")
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def _id_of(request: Request) -> str:
    return unquote(request.path.rsplit("/", 1)[1])


def _describe(request: Request) -> str:
    return f"{request.method} {request.path}"
