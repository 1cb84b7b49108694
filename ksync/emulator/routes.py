"""The customers API: one function per endpoint, chosen by path and method.

Routes (all under ``/v1``; path segments are percent-decoded with ``unquote``, so a
literal ``+`` stays ``+``):

- ``GET /v1/customers?page=N&pageSize=M``: list in creation order;
- ``POST /v1/customers``: create, 201;
- ``GET /v1/customers/{id}``, ``/externalId={v}``, ``/email={v}``, ``/phone={v}``;
- ``PUT /v1/customers/{id}[?replace=true]`` and ``PATCH /v1/customers/{id}``: update
  (PATCH always merges; it ignores ``replace``);
- ``PUT``/``POST /v1/customers/bulk``, ``GET /v1/bulk/{id}[/batches]``: bulk jobs
  (``ksync.emulator.bulk``);
- ``GET /v1/auth/tokens/current``: the key's roles.

Each route needs a role (``ksync.emulator.roles``): reads need read, creates create,
updates update; bulk polls and the token check need only a known key. A route is
matched before its role is checked, so a wrong method is 405 whatever the key.
"""

from __future__ import annotations

import math
import re

from ksync.emulator import bulk
from ksync.emulator.documents import (
    clean_attributes,
    new_document,
    render_resource,
    updated_document,
)
from ksync.emulator.errors import bad_request, method_not_allowed, not_found
from ksync.emulator.messages import Context, Endpoint, Reply, Request, RequestBody
from ksync.emulator.roles import CREATE, READ, UPDATE, require

MAX_PAGE_SIZE = 100
LOOKUP_KINDS = ("externalId", "email", "phone")

__all__ = ["Context", "Reply", "Request", "RequestBody", "dispatch"]


Route = dict[str, tuple[Endpoint, str | None]]


def _route(segments: tuple[str, ...]) -> Route | None:
    """The endpoints of a path, by method, with the role each needs."""
    if segments == ("v1", "customers"):
        return {"GET": (list_customers, READ), "POST": (create_customer, CREATE)}
    if segments == ("v1", "customers", "bulk"):
        return {"PUT": (bulk.submit, UPDATE), "POST": (bulk.submit, CREATE)}
    if len(segments) == 3 and segments[:2] == ("v1", "customers") and segments[2]:
        return {
            "GET": (get_customer, READ),
            "PUT": (update_customer, UPDATE),
            "PATCH": (update_customer, UPDATE),
        }
    if len(segments) == 3 and segments[:2] == ("v1", "bulk") and segments[2]:
        return {"GET": (bulk.status, None)}
    if len(segments) == 4 and segments[:2] == ("v1", "bulk") and segments[3] == "batches":
        return {"GET": (bulk.batches, None)}
    if segments == ("v1", "auth", "tokens", "current"):
        return {"GET": (current_token, None)}
    return None


def dispatch(request: Request, context: Context) -> Reply:
    """Run the endpoint for a request; raises ApiError for 403/404/405 and endpoint errors."""
    endpoints = _route(request.segments)
    if endpoints is None:
        raise not_found(f"no route for {request.path}")
    chosen = endpoints.get(request.method)
    if chosen is None:
        raise method_not_allowed(request.method, request.path, list(endpoints))
    endpoint, role = chosen
    if role is not None:
        require(role, context.roles)
    return endpoint(request, context)


def current_token(request: Request, context: Context) -> Reply:
    """``GET /v1/auth/tokens/current``: the sorted roles of the key.

    The shape of this body is a guess: Kustomer documents the endpoint (to check a key),
    not what it returns.
    """
    attributes = {"roles": sorted(context.roles)}
    return Reply(200, {"data": {"type": "token", "id": "current", "attributes": attributes}})


def _document(customer_id: str, context: Context, status: int = 200) -> Reply:
    stored = context.org.get(customer_id)
    assert stored is not None
    return Reply(status, {"data": render_resource(customer_id, stored)})


def get_customer(request: Request, context: Context) -> Reply:
    segment = request.segments[2]
    for kind in LOOKUP_KINDS:
        prefix = f"{kind}="
        if segment.startswith(prefix):
            value = segment[len(prefix) :]
            holder = context.org.holder(kind, value)
            if holder is None:
                raise not_found(f"no customer with {kind} {value}")
            return _document(holder, context)
    if context.org.get(segment) is None:
        raise not_found(f"customer {segment} not found")
    return _document(segment, context)


def _positive_int(request: Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise bad_request(f"{name} must be a positive integer, not {text!r}", parameter=name)
    return int(text)


def list_customers(request: Request, context: Context) -> Reply:
    page = _positive_int(request, "page", 1)
    size = _positive_int(request, "pageSize", MAX_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise bad_request(
            f"pageSize must be at most {MAX_PAGE_SIZE}, not {size}", parameter="pageSize"
        )
    customers = context.org.items()
    total_pages = math.ceil(len(customers) / size)
    chosen = customers[(page - 1) * size : page * size]
    next_link = f"/v1/customers?page={page + 1}&pageSize={size}" if page < total_pages else None
    payload = {
        "data": [render_resource(customer_id, stored) for customer_id, stored in chosen],
        "meta": {
            "page": page,
            "pageSize": size,
            "total": len(customers),
            "totalPages": total_pages,
        },
        "links": {"self": f"/v1/customers?page={page}&pageSize={size}", "next": next_link},
    }
    return Reply(200, payload)


def create_customer(request: Request, context: Context) -> Reply:
    cleaned = clean_attributes(request.body.json())
    customer_id = context.org.new_id()
    document = new_document(cleaned, context.now)
    context.org.save(customer_id, document, context.settings.conflict_status)
    return _document(customer_id, context, 201)


def _replace_flag(request: Request) -> bool:
    if request.method == "PATCH":
        return False
    text = request.query.get("replace", "false").lower()
    if text not in ("true", "false"):
        raise bad_request(f"replace must be true or false, not {text!r}", parameter="replace")
    return text == "true"


def update_customer(request: Request, context: Context) -> Reply:
    customer_id = request.segments[2]
    stored = context.org.get(customer_id)
    if stored is None:
        raise not_found(f"customer {customer_id} not found")
    replace = _replace_flag(request)
    cleaned = clean_attributes(request.body.json())
    document = updated_document(stored, cleaned, context.now, replace=replace)
    context.org.save(customer_id, document, context.settings.conflict_status)
    return _document(customer_id, context)
