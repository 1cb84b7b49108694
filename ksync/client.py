"""The Kustomer HTTP client: the only module that knows Kustomer's wire format.

JSON documents come in and leave as typed values (``LiveCustomer``, owner ids, pages,
bulk results); writes go out as one request each, or as bulk jobs (``ksync.bulk``). Every
failure is an ``ApiError`` naming the method, the path, the status and the API's own
message. The API key is sent in a header and never appears in a message, a repr or a log.

Pacing, retries and counting live in ``ksync.retrying`` and ``ksync.pacing``. Without
``retry`` and ``limiter`` every request is sent once and any failure is raised at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from ksync import __version__
from ksync.apierrors import ApiError
from ksync.bulk import BulkItemResult, CustomerPage, customer_page, run_bulk
from ksync.connection import (
    DEFAULT_API_URL,
    SettingsError,
    api_key_from_env,
    check_api_key,
    resolve_api_url,
)
from ksync.model import ENTRY_KEY, Contact, ContactRef, Field, LiveCustomer
from ksync.normalize import live_contact_key
from ksync.pacing import RateLimiter
from ksync.retrying import OnResponse, Requester, RequestStats, RetryPolicy, json_body

__all__ = [
    "DEFAULT_API_URL",
    "WRITE_METHODS",
    "ApiError",
    "BulkItemResult",
    "CustomerPage",
    "KustomerClient",
    "RateLimiter",
    "RequestStats",
    "RetryPolicy",
    "SettingsError",
    "api_key_from_env",
    "customer_from_document",
    "resolve_api_url",
]

WRITE_METHODS = ("POST", "PUT", "PATCH")
CUSTOMERS = "/v1/customers"
TOKEN_PATH = "/v1/auth/tokens/current"
MAX_PAGE_SIZE = 100

# A request path: starts with one "/", printable ASCII without spaces or fragments.
_PATH = re.compile(r"/(?!/)[\x21-\x7e]*")


class KustomerClient:
    """A connection to one Kustomer API host with one API key. Use it as a context manager.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``). Redirects are
    never followed, so the key cannot be sent anywhere but ``base_url``.

    ``retry``: retry 5xx, timeouts and connection errors of reads, updates and bulk polls,
    and recover creates (see ``send``); None sends every request once. ``limiter``: pace
    requests under the rate limit and wait out 429s (one per run). ``max_connections``:
    at least the number of worker threads. ``on_response(method, path, status or None,
    seconds)`` is called after every HTTP exchange.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        user_agent: str = f"ksync/{__version__}",
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        max_connections: int = 16,
        on_response: OnResponse | None = None,
    ) -> None:
        check_api_key(api_key)
        self.base_url = base_url.rstrip("/")
        self._retrying = retry is not None
        self._requester = Requester(
            self.base_url,
            api_key,
            user_agent=user_agent,
            transport=transport,
            timeout=timeout,
            max_connections=max_connections,
            policy=retry if retry is not None else RetryPolicy(attempts=1),
            limiter=limiter,
            on_response=on_response,
        )

    @property
    def stats(self) -> RequestStats:
        """Requests sent so far, by method, with 429s, retries and time waited."""
        return self._requester.stats

    def __repr__(self) -> str:
        return f"KustomerClient(base_url={self.base_url!r})"

    def __enter__(self) -> KustomerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._requester.close()

    # -- reads ---------------------------------------------------------------------------

    def get_customer(self, customer_id: str, region: str | None = None) -> LiveCustomer | None:
        """The customer with this Kustomer id, or None if there is none (404)."""
        return self._read_customer(f"{CUSTOMERS}/{_segment(customer_id)}", region)

    def get_customer_by_external_id(
        self, external_id: str, region: str | None = None
    ) -> LiveCustomer | None:
        """The customer with this externalId, or None if there is none (404)."""
        return self._read_customer(f"{CUSTOMERS}/externalId={_segment(external_id)}", region)

    def find_owner(self, ref: ContactRef) -> str | None:
        """The id of the customer holding this email or phone, or None if nobody does."""
        path = f"{CUSTOMERS}/{ENTRY_KEY[ref.field]}={_segment(ref.key)}"
        document = self._get_or_none(path)
        if document is None:
            return None
        data = document.get("data")
        if isinstance(data, list):  # tolerate a list answer: the first holder owns it
            if not data:
                return None
            data = data[0]
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
            return str(data["id"])
        raise ApiError("GET", path, 200, "the response has no customer document")

    def token_roles(self) -> frozenset[str] | None:
        """The roles of this key (``GET /v1/auth/tokens/current``), or None when Kustomer
        does not say (no such endpoint, or an answer without a list of roles)."""
        try:
            document = self._get_or_none(TOKEN_PATH)
        except ApiError as err:
            if err.status in (401, 403):
                raise
            return None
        data = (document or {}).get("data")
        attributes = data.get("attributes") if isinstance(data, dict) else None
        roles = attributes.get("roles") if isinstance(attributes, dict) else None
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return None
        return frozenset(roles)

    # -- writes --------------------------------------------------------------------------

    def send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send one write with a JSON body; the parsed response document.

        With ``retry``, PUT and PATCH are retried like reads. A create (``POST
        /v1/customers``) that fails with a 5xx, timeout or connection error may have gone
        through: the customer is looked up by ``body["externalId"]`` and, if found, its
        document is returned as the create's answer; else the POST is sent again. A create
        without an externalId, and any other POST, is never sent twice.

        Raises ApiError on any status other than 2xx, ValueError for a method that is not
        a write or a path that is not a plain ``/...`` path.
        """
        verb = method.upper()
        if verb not in WRITE_METHODS:
            raise ValueError(f"{method!r} is not a write method ({', '.join(WRITE_METHODS)})")
        content = json_body(body)
        if verb != "POST":
            return self._request(verb, path, content)
        external_id = body.get("externalId")
        if path != CUSTOMERS or not isinstance(external_id, str) or not external_id:
            return self._request(verb, path, content, retry=False)
        lookup = f"{CUSTOMERS}/externalId={_segment(external_id)}"
        recover = (lambda: self._get_or_none(lookup)) if self._retrying else None
        return self._request(verb, path, content, recover=recover)

    # -- listing and bulk ----------------------------------------------------------------

    def list_page(
        self, page: int, page_size: int = MAX_PAGE_SIZE, region: str | None = None
    ) -> CustomerPage:
        """Page ``page`` (1-based) of every customer, ``page_size`` (1 to 100) a page."""
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError(f"page must be a positive integer, not {page!r}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        path = f"{CUSTOMERS}?page={page}&pageSize={page_size}"
        document = self._request("GET", path)
        return customer_page(path, document, page, page_size, region, customer_from_document)

    def bulk_update(self, items: Sequence[Mapping[str, Any]]) -> list[BulkItemResult]:
        """Update up to 100 customers in one job (each item: ``id`` plus attributes)."""
        return run_bulk(self._requester, "PUT", items)

    def bulk_create(self, items: Sequence[Mapping[str, Any]]) -> list[BulkItemResult]:
        """Create up to 100 customers in one job. A submit that fails with a 5xx or a
        connection error is raised, never sent again: read the org and re-plan."""
        return run_bulk(self._requester, "POST", items)

    # -- plumbing ------------------------------------------------------------------------

    def _read_customer(self, path: str, region: str | None) -> LiveCustomer | None:
        """GET one customer document at ``path``; None on 404."""
        document = self._get_or_none(path)
        if document is None:
            return None
        data = document.get("data")
        try:
            if not isinstance(data, dict):
                raise ValueError("the response has no customer document")
            return customer_from_document(data, region)
        except ValueError as err:
            raise ApiError("GET", path, 200, str(err)) from None

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        """GET ``path``; None when the API answers 404."""
        try:
            return self._request("GET", path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def _request(
        self, method: str, path: str, content: bytes | None = None, **how: Any
    ) -> dict[str, Any]:
        """One request's JSON object; ApiError for every failure. ``how``: ``retry`` (True
        by default; only with a retry policy) and ``recover``, see ``Requester.request``."""
        if not _PATH.fullmatch(path):
            raise ValueError(f"{path!r} is not a request path starting with '/'")
        how["retry"] = how.get("retry", True) and self._retrying
        return self._requester.request(method, path, content, **how)


def customer_from_document(resource: Mapping[str, Any], region: str | None = None) -> LiveCustomer:
    """A LiveCustomer from a JSON:API customer resource ``{"type", "id", "attributes"}``.

    Missing or null arrays read as empty; entries without a string value are skipped.
    Raises ValueError when the resource has no id.
    """
    customer_id = resource.get("id")
    if not isinstance(customer_id, str) or not customer_id:
        raise ValueError("the customer document has no id")
    attributes = resource.get("attributes")
    if not isinstance(attributes, Mapping):
        attributes = {}
    rev = attributes.get("rev")
    return LiveCustomer(
        id=customer_id,
        external_id=_text_or_none(attributes.get("externalId")),
        name=_text_or_none(attributes.get("name")),
        emails=_contacts(attributes.get("emails"), "emails", region),
        phones=_contacts(attributes.get("phones"), "phones", region),
        rev=rev if isinstance(rev, int) and not isinstance(rev, bool) else None,
    )


def _contacts(entries: Any, field: Field, region: str | None) -> tuple[Contact, ...]:
    """The contacts of one array attribute, skipping entries without a string value."""
    if not isinstance(entries, list):
        return ()
    name = ENTRY_KEY[field]
    found = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        found.append(
            Contact(
                key=live_contact_key(field, value, region),
                value=value,
                type=_text_or_none(entry.get("type")),
                verified=_bool_or_none(entry.get("verified")),
            )
        )
    return tuple(found)


def _text_or_none(value: Any) -> str | None:
    """``value`` if it is a string, else None."""
    return value if isinstance(value, str) else None


def _bool_or_none(value: Any) -> bool | None:
    """``value`` if it is a boolean, else None."""
    return value if isinstance(value, bool) else None


def _segment(value: str) -> str:
    """``value`` percent-encoded as one path segment (``+`` -> %2B, ``@`` -> %40, ``/``...)."""
    if not value:
        raise ValueError("a lookup value must not be empty")
    encoded = quote(value, safe="")
    # "." and ".." would be removed from the path as dot segments; encode them.
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded
