"""The bulk endpoints: asynchronous creates and updates of up to 100 customers.

- ``POST /v1/customers/bulk`` (creates) and ``PUT /v1/customers/bulk`` (updates, each
  item with its ``id``, merged like ``PUT /v1/customers/{id}``): the body is a JSON
  array of 1 to 100 objects, else 400. Answer 201 with the job,
  ``{"data": {"type": "bulk", "id", "attributes": {"status": "queued", "method",
  "url", "count", "createdAt", "updatedAt"}, "links": {"self": "/v1/bulk/<id>"}}}``.
- ``GET /v1/bulk/{id}``: the job; each call advances it one step (see
  ``ksync.emulator.jobs``). On completion the items are applied in order, each on its
  own (validated and uniqueness-checked; a failing item does not stop the others), and
  ``attributes`` gains ``succeeded`` and ``failed`` counts.
- ``GET /v1/bulk/{id}/batches``: once complete, ``{"data": [{"type": "batch", "id",
  "attributes": {"results": [{"index", "id", "status": "created"|"updated"|"error",
  "error"}]}}]}`` (``id`` null for a failed create, ``error`` null on success). Before
  completion it is a 409 (code ``bulk_not_complete``): the emulator's choice. Polling
  the batches does not advance the job.
"""

from __future__ import annotations

from typing import Any

from ksync.emulator.documents import JsonObject, clean_attributes, new_document, updated_document
from ksync.emulator.errors import ApiError, bad_request, not_found
from ksync.emulator.jobs import BulkJob
from ksync.emulator.messages import Context, Reply, Request

MAX_BULK_ITEMS = 100


def submit(request: Request, context: Context) -> Reply:
    """``POST`` or ``PUT /v1/customers/bulk``."""
    items = request.body.value  # None when missing or not JSON
    if not isinstance(items, list):
        raise bad_request("request body must be a JSON array of customers")
    if not 1 <= len(items) <= MAX_BULK_ITEMS:
        raise bad_request(f"a bulk request carries 1 to {MAX_BULK_ITEMS} items, not {len(items)}")
    polls = context.settings.bulk_polls_to_complete
    job = context.jobs.add(request.method, items, polls, context.now)
    if job.status == "complete":
        _complete(job, context)
    return Reply(201, {"data": job.resource()})


def _job(request: Request, context: Context) -> BulkJob:
    job = context.jobs.get(request.segments[2])
    if job is None:
        raise not_found(f"bulk job {request.segments[2]} not found")
    return job


def status(request: Request, context: Context) -> Reply:
    """``GET /v1/bulk/{id}``: advance the job one step and show it."""
    job = _job(request, context)
    if job.results is None:
        job.polls += 1
        job.updated_at = context.now
        if job.status == "complete":
            _complete(job, context)
    return Reply(200, {"data": job.resource()})


def batches(request: Request, context: Context) -> Reply:
    """``GET /v1/bulk/{id}/batches``: the per-item results of a complete job."""
    job = _job(request, context)
    if job.results is None:
        raise ApiError(
            409, "bulk_not_complete", f"bulk job {job.id} is {job.status}, not complete yet"
        )
    batch = {"type": "batch", "id": job.batch_id, "attributes": {"results": job.results}}
    return Reply(200, {"data": [batch]})


def _complete(job: BulkJob, context: Context) -> None:
    job.results = [_apply(index, item, job.method, context) for index, item in enumerate(job.items)]


def _apply(index: int, item: Any, method: str, context: Context) -> JsonObject:
    customer_id: str | None = None
    try:
        if not isinstance(item, dict):
            raise bad_request("item must be a JSON object of customer attributes")
        if method == "POST":
            cleaned = clean_attributes(item)
            customer_id = context.org.new_id()
            document = new_document(cleaned, context.now)
            context.org.save(customer_id, document, context.settings.conflict_status)
            return _result(index, customer_id, "created")
        given = item.get("id")
        if not isinstance(given, str) or not given:
            raise bad_request("item must have the id of the customer to update")
        customer_id = given
        stored = context.org.get(customer_id)
        if stored is None:
            raise not_found(f"customer {customer_id} not found")
        document = updated_document(stored, clean_attributes(item), context.now, replace=False)
        context.org.save(customer_id, document, context.settings.conflict_status)
        return _result(index, customer_id, "updated")
    except ApiError as error:
        failed_id = customer_id if method == "PUT" else None
        return _result(index, failed_id, "error", error.message)


def _result(
    index: int, customer_id: str | None, outcome: str, error: str | None = None
) -> JsonObject:
    return {"index": index, "id": customer_id, "status": outcome, "error": error}
