"""Many customers at once: pages of the customer list, and bulk jobs.

``GET /v1/customers?page=N&pageSize=M`` answers ``data[]``, ``meta.total``,
``meta.totalPages`` and ``links.next`` (null on the last page): see ``customer_page``.

``PUT /v1/customers/bulk`` (updates, each item with its ``id``) or ``POST`` (creates)
answers with a job; ``GET /v1/bulk/{id}`` is polled until ``attributes.status`` is
``complete``, then ``GET /v1/bulk/{id}/batches`` lists ``results[]`` per item.

A bulk update whose submit fails with a 5xx or a connection error is sent again (the
updates are idempotent). A bulk create is not: it may have gone through, and sending it
again could create every customer twice, so the ApiError is raised and the caller reads
the org again and re-plans. 429s are waited out for both: the API did not take them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from ksync.apierrors import ApiError, excerpt
from ksync.model import LiveCustomer
from ksync.retrying import Document, Requester, json_body

__all__ = [
    "BULK_PATH",
    "MAX_BULK_ITEMS",
    "BulkItemResult",
    "CustomerPage",
    "customer_page",
    "run_bulk",
]

MAX_BULK_ITEMS = 100
BULK_PATH = "/v1/customers/bulk"
# At most this many pages of batches are followed through links.next.
_MAX_BATCH_PAGES = 100
_FAILED = frozenset({"failed", "error", "cancelled", "canceled"})

BulkStatus = Literal["created", "updated", "error"]
_STATUSES: tuple[BulkStatus, ...] = ("created", "updated", "error")
NO_RESULT = "no result for this item"


@dataclass(frozen=True)
class CustomerPage:
    """One page of ``GET /v1/customers``: its customers, the org's total and page count."""

    customers: tuple[LiveCustomer, ...]
    total: int
    total_pages: int
    has_next: bool


def customer_page(
    path: str,
    document: Document,
    page: int,
    page_size: int,
    region: str | None,
    parse: Callable[[Mapping[str, Any], str | None], LiveCustomer],
) -> CustomerPage:
    """The page in the list ``document`` answered for ``path``; ``parse`` reads a customer.

    Missing counts are inferred: the page is full -> there may be a next one.
    """
    data = document.get("data")
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise ApiError("GET", path, 200, "the response has no list of customer documents")
    try:
        customers = tuple(parse(item, region) for item in data)
    except ValueError as err:
        raise ApiError("GET", path, 200, str(err)) from None
    meta = document.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    links = document.get("links")
    pages = _count(meta.get("totalPages"))
    if isinstance(links, dict) and "next" in links:
        has_next = bool(links["next"])
    else:
        has_next = page < pages if pages is not None else len(customers) >= page_size
    total = _count(meta.get("total"))
    seen = (page - 1) * page_size + len(customers)
    return CustomerPage(
        customers,
        total if total is not None else seen,
        pages if pages is not None else page + int(has_next),
        has_next,
    )


def _count(value: Any) -> int | None:
    """``value`` if it is a non-negative integer, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


@dataclass(frozen=True)
class BulkItemResult:
    """What happened to item ``index`` of a bulk request. ``id`` is the customer's id
    (None for a create that failed); ``error`` is the API's text when ``status`` is
    ``error``."""

    index: int
    id: str | None
    status: BulkStatus
    error: str | None = None


def run_bulk(
    requester: Requester, method: Literal["PUT", "POST"], items: Sequence[Mapping[str, Any]]
) -> list[BulkItemResult]:
    """Submit ``items``, wait for the job and return one result per item, in order.

    ValueError for more than ``MAX_BULK_ITEMS`` items, an item that is not an object or,
    for updates, an item without an ``id``; ``[]`` for no items, without a request.
    """
    checked = _checked(method, items)
    if not checked:
        return []
    submitted = requester.request(method, BULK_PATH, json_body(checked), retry=method == "PUT")
    job_id, status = _job(method, BULK_PATH, submitted)
    job_path = f"/v1/bulk/{quote(job_id, safe='')}"
    _wait_until_complete(requester, job_path, job_id, status)
    found: dict[int, BulkItemResult] = {}
    path: str | None = f"{job_path}/batches"
    pages = 0
    while path is not None and pages < _MAX_BATCH_PAGES:
        document = requester.request("GET", path)
        for result in _batch_results("GET", path, document):
            if 0 <= result.index < len(checked):
                found.setdefault(result.index, result)
        path, pages = _next_page(document), pages + 1
    return [_completed(found.get(index), index, item) for index, item in enumerate(checked)]


def _checked(method: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError("bulk items must be a sequence of customer objects")
    if len(items) > MAX_BULK_ITEMS:
        raise ValueError(f"a bulk request carries at most {MAX_BULK_ITEMS} items, not {len(items)}")
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(f"bulk item {index} is not an object of customer attributes")
        if method == "PUT" and not (isinstance(item.get("id"), str) and item["id"]):
            raise ValueError(f"bulk update item {index} has no id")
    return [dict(item) for item in items]


def _job(method: str, path: str, document: Document) -> tuple[str, str]:
    """The id and status of the bulk job in ``document``."""
    data = document.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise ApiError(method, path, 200, "the response has no bulk job document")
    attributes = data.get("attributes")
    status = attributes.get("status") if isinstance(attributes, dict) else None
    return data["id"], status if isinstance(status, str) else "unknown"


def _wait_until_complete(requester: Requester, path: str, job_id: str, status: str) -> None:
    """Poll the job, backing off, until it is complete; ApiError when it fails or is slow."""
    policy = requester.policy
    waited, delay = 0.0, policy.poll_base
    while status != "complete":
        if status in _FAILED:
            raise ApiError("GET", path, 200, f"bulk job {job_id} ended with status {status}")
        if waited + delay > policy.max_poll_wait:
            raise ApiError(
                "GET",
                path,
                None,
                f"bulk job {job_id} is still {status} after {waited:.0f} s; its items may "
                "yet be applied: read the customers again before sending them again",
            )
        requester.pause(delay, f"bulk job {job_id}")
        waited += delay
        delay = min(policy.poll_cap, delay * 2)
        status = _job("GET", path, requester.request("GET", path))[1]


def _batch_results(method: str, path: str, document: Document) -> list[BulkItemResult]:
    data = document.get("data")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ApiError(method, path, 200, "the response has no list of batches")
    found = []
    for batch in data:
        attributes = batch.get("attributes") if isinstance(batch, dict) else None
        results = attributes.get("results") if isinstance(attributes, dict) else None
        for entry in results if isinstance(results, list) else []:
            result = _result(entry)
            if result is not None:
                found.append(result)
    return found


def _result(entry: Any) -> BulkItemResult | None:
    """One entry of ``results[]``; None when it names no item."""
    if not isinstance(entry, dict):
        return None
    index = entry.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        return None
    customer_id = entry.get("id") if isinstance(entry.get("id"), str) else None
    status = entry.get("status")
    error = entry.get("error")
    text = excerpt(error if isinstance(error, str) else str(error)) if error else None
    for known in _STATUSES:
        if status == known:
            if known == "error":
                return BulkItemResult(index, customer_id, known, text or "failed")
            return BulkItemResult(index, customer_id, known, None)
    return BulkItemResult(index, customer_id, "error", f"unexpected result status {status!r}")


def _completed(
    result: BulkItemResult | None, index: int, item: Mapping[str, Any]
) -> BulkItemResult:
    """``result``, or an error result for an item the job said nothing about."""
    given = item.get("id")
    item_id = given if isinstance(given, str) else None
    if result is None:
        return BulkItemResult(index, item_id, "error", NO_RESULT)
    if result.id is None and item_id is not None:
        return BulkItemResult(index, item_id, result.status, result.error)
    return result


def _next_page(document: Document) -> str | None:
    links = document.get("links")
    following = links.get("next") if isinstance(links, dict) else None
    if isinstance(following, str) and following.startswith("/v1/bulk/"):
        return following
    return None
