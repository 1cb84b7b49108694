"""The Kustomer HTTP client: the only module that knows Kustomer's wire format.

JSON documents come in and leave as typed values (``LiveCustomer``, owner ids); writes go
out as one request each. Every failure is an ``ApiError`` naming the method, the path, the
status and the API's own message. The API key is sent in a header and never appears in a
message, a repr or a log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from ksync import __version__
from ksync.apierrors import ApiError, error_message, excerpt
from ksync.connection import (
    DEFAULT_API_URL,
    SettingsError,
    api_key_from_env,
    check_api_key,
    resolve_api_url,
)
from ksync.model import ENTRY_KEY, Contact, ContactRef, Field, LiveCustomer
from ksync.normalize import live_contact_key

__all__ = [
    "DEFAULT_API_URL",
    "WRITE_METHODS",
    "ApiError",
    "KustomerClient",
    "SettingsError",
    "api_key_from_env",
    "customer_from_document",
    "resolve_api_url",
]

WRITE_METHODS = ("POST", "PUT", "PATCH")
CUSTOMERS = "/v1/customers"

# A request path: starts with one "/", printable ASCII without spaces or fragments.
_PATH = re.compile(r"/(?!/)[\x21-\x7e]*")
_REDACTED = "[redacted]"


class KustomerClient:
    """A connection to one Kustomer API host with one API key. Use it as a context manager.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``). Redirects are
    never followed, so the key cannot be sent anywhere but ``base_url``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        user_agent: str = f"ksync/{__version__}",
    ) -> None:
        check_api_key(api_key)
        self.base_url = base_url.rstrip("/")
        self._secret = api_key
        self._timeout = timeout
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": user_agent,
            },
        )

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
        self._http.close()

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

    # -- writes --------------------------------------------------------------------------

    def send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send one write with a JSON body; the parsed response document.

        Raises ApiError on any status other than 2xx, ValueError for a method that is not
        a write or a path that is not a plain ``/...`` path.
        """
        verb = method.upper()
        if verb not in WRITE_METHODS:
            raise ValueError(f"{method!r} is not a write method ({', '.join(WRITE_METHODS)})")
        content = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return self._request(verb, path, content.encode("utf-8"))

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

    def _request(self, method: str, path: str, content: bytes | None = None) -> dict[str, Any]:
        """Send one request and return its JSON object; every failure is an ApiError.

        The single place requests go through, so pacing and retries can wrap it.
        """
        if not _PATH.fullmatch(path):
            raise ValueError(f"{path!r} is not a request path starting with '/'")
        try:
            response = self._http.request(method, self.base_url + path, content=content)
        except httpx.TimeoutException:
            reason = f"timed out after {self._timeout:g}s"
            raise ApiError(method, path, None, f"connection failed: {reason}") from None
        except httpx.RequestError as err:
            reason = self._redact(str(err) or type(err).__name__)
            raise ApiError(method, path, None, f"connection failed: {reason}") from None
        return self._document(method, path, response)

    def _document(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a 2xx response; ApiError for any other answer."""
        status = response.status_code

        def fail(message: str) -> ApiError:
            return ApiError(method, path, status, self._redact(message), response.headers)

        if 300 <= status < 400:
            raise fail(_redirect_message(response))
        if not response.is_success:
            raise fail(error_message(status, response.reason_phrase, response.text))
        if status == 204 or not response.content:
            return {}
        try:
            document = response.json()
        except ValueError:
            raise fail(f"the response is not JSON: {excerpt(response.text)}") from None
        if not isinstance(document, dict):
            raise fail(f"the response is not a JSON object: {excerpt(response.text)}")
        return document

    def _redact(self, text: str) -> str:
        """``text`` with the API key replaced, in case a server echoes it back."""
        return text.replace(self._secret, _REDACTED)


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


def _redirect_message(response: httpx.Response) -> str:
    """Why a redirect is an error, naming where it pointed (without credentials or query)."""
    location = response.headers.get("location", "").strip()
    where = f" to {_bare_url(location)}" if location else ""
    return f"redirected{where}; ksync does not follow redirects: check the API URL"


def _bare_url(url: str) -> str:
    """``url`` without user:password@, query and fragment, cut short: safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "an invalid URL"
    host = parts.netloc.rpartition("@")[2]
    bare = f"{parts.scheme}://{host}{parts.path}" if host else parts.path
    return excerpt(bare, 120)
