"""Bulk jobs: what was submitted, how far along it is, and its per-item results.

A job is ``queued`` when submitted and ``complete`` after ``polls_to_complete`` status
polls, ``running`` on the poll before that (so 2 polls show running, then complete;
1 poll goes straight to complete; 0 means complete at submission). Its items are
applied when it completes (``ksync.emulator.bulk``).

Not thread-safe on its own: the Emulator holds a lock around every use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ksync.emulator.documents import JsonObject

# Job ids are this prefix plus a counter in hex (24 hex chars, like customer ids); the
# one batch of a job has the batch prefix and the same counter.
_JOB_PREFIX = "b0"
_BATCH_PREFIX = "ba"


@dataclass
class BulkJob:
    """One bulk request: ``method`` is POST (create) or PUT (update)."""

    id: str
    batch_id: str
    method: str
    items: list[Any]
    polls_to_complete: int
    created_at: str
    updated_at: str
    polls: int = 0
    results: list[JsonObject] | None = field(default=None)

    @property
    def status(self) -> str:
        if self.results is not None or self.polls >= self.polls_to_complete:
            return "complete"
        if self.polls > 0 and self.polls == self.polls_to_complete - 1:
            return "running"
        return "queued"

    def resource(self) -> JsonObject:
        """The job as ``data`` of a response."""
        attributes: JsonObject = {
            "status": self.status,
            "method": self.method,
            "url": "/v1/customers/bulk",
            "count": len(self.items),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        if self.results is not None:
            failed = sum(1 for result in self.results if result["status"] == "error")
            attributes["succeeded"] = len(self.results) - failed
            attributes["failed"] = failed
        return {
            "type": "bulk",
            "id": self.id,
            "attributes": attributes,
            "links": {"self": f"/v1/bulk/{self.id}"},
        }


class BulkJobs:
    """Every bulk job of the org, by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, BulkJob] = {}

    def add(self, method: str, items: list[Any], polls_to_complete: int, now: str) -> BulkJob:
        serial = len(self._jobs) + 1
        job = BulkJob(
            id=f"{_JOB_PREFIX}{serial:022x}",
            batch_id=f"{_BATCH_PREFIX}{serial:022x}",
            method=method,
            items=items,
            polls_to_complete=polls_to_complete,
            created_at=now,
            updated_at=now,
        )
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> BulkJob | None:
        return self._jobs.get(job_id)
