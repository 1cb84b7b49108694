"""The apply journal: one JSON line per write, flushed to disk as soon as it is known.

After an apply that was killed, the journal tells which writes were made. It never
holds the API key: only what the plan holds and what the API answered.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from ksync.applier import Outcome
from ksync.plan import Plan

JOURNAL_FILE = "journal.jsonl"  # in the state folder (``workdir.state_dir``)


class Journal:
    """Appends entries to ``path``; safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def entry_for(plan: Plan, outcome: Outcome, now: datetime | None = None) -> dict[str, Any]:
    """What the journal says of one write: who, what was sent, the answer, before/after."""
    request = outcome.request
    change = plan.changes[request.change]
    after = {k: v for k, v in request.body.items() if k in ("emails", "phones")}
    moment = now or datetime.now(timezone.utc)
    return {
        "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "customer": {"id": change.id or outcome.customer_id, "externalId": change.external_id},
        "source": str(change.source),
        "request": {"method": request.method, "path": request.path, "body": dict(request.body)},
        "purpose": request.purpose,
        "result": outcome.status,
        "status": outcome.http_status,
        "message": outcome.message or None,
        "bulk": outcome.via_bulk,
        "before": _before(plan, outcome, after),
        "after": after,
    }


def _before(plan: Plan, outcome: Outcome, names: Iterable[str]) -> dict[str, Any]:
    """The arrays ``names`` as they were just before this write: as planned, or, for the
    second write of a customer written twice (a swap), as its first write left them."""
    request = outcome.request
    before = {k: plan.changes[request.change].before.get(k) for k in names}
    for earlier in plan.requests[: outcome.index]:
        if earlier.change == request.change:
            before.update({k: earlier.body[k] for k in before if k in earlier.body})
    return before
