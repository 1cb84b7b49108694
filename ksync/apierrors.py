"""Errors from the Kustomer API and how their bodies become one readable message.

Kustomer answers errors in two shapes, both handled here:

- ``{"errors": [{"code", "message", "meta"}]}``
- ``{"errors": [{"status", "code", "title", "detail", "source": {"pointer"}}]}`` (JSON:API)

Anything else falls back to a short excerpt of the body, or to the HTTP reason phrase.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ksync.roles import lacking, role_for

# How much of a body that is not a recognised error document goes into a message.
EXCERPT_CHARS = 200

# Per-error fields that carry the human text, best first.
_TEXT_FIELDS = ("detail", "message", "title")

# What each auth failure means for the user, before the API's own words.
_STATUS_PREFIX: dict[int, str] = {
    401: "the API key was rejected",
    403: "the key lacks a role needed for this request",
}


class ApiError(Exception):
    """A request to Kustomer that failed: an HTTP error status or no usable answer.

    ``path`` is the request path (with query) as ksync asked for it, never a full URL.
    ``status`` is None when no HTTP response arrived (connection refused, timeout...).
    ``headers`` are the response headers, empty without a response; a later retry layer
    reads ``Retry-After`` and the rate-limit headers from them.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(method, path, status, message)
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        self.headers: Mapping[str, str] = dict(headers or {})

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.method} {self.path} -> {self.message}"
        return f"{self.method} {self.path} -> {self.status}: {self.message}"


def error_message(status: int, reason: str, body: str, method: str = "", path: str = "") -> str:
    """The message for an error response: the API's own words, with auth failures explained
    (for a 403, the role the request needs)."""
    text = describe_body(body) or reason or f"HTTP {status}"
    prefix = lacking(role_for(method, path)) if status == 403 else _STATUS_PREFIX.get(status)
    return f"{prefix}: {text}" if prefix else text


def describe_body(body: str) -> str:
    """The text of an error body: the errors it lists, else an excerpt; "" when empty."""
    try:
        document = json.loads(body)
    except ValueError:
        return excerpt(body)
    listed = _listed_errors(document)
    return listed or excerpt(body)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, whitespace collapsed, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 3].rstrip() + "..."


def _listed_errors(document: Any) -> str:
    """The messages of an ``errors`` array (or a top-level message), joined by ``; ``."""
    if not isinstance(document, dict):
        return ""
    errors = document.get("errors")
    if isinstance(errors, dict):
        errors = [errors]
    if isinstance(errors, list):
        texts = [text for text in map(_one_error, errors) if text]
        if texts:
            return "; ".join(texts)
    return _one_error(document)


def _one_error(entry: Any) -> str:
    """The best text of one error object: detail, then message, then title, then code."""
    if isinstance(entry, str):
        return excerpt(entry)
    if not isinstance(entry, dict):
        return ""
    for name in (*_TEXT_FIELDS, "error", "code"):
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            return excerpt(value)
    return ""


def redirect_message(location: str) -> str:
    """Why a redirect is an error, naming where it pointed (without credentials or query)."""
    where = f" to {bare_url(location.strip())}" if location.strip() else ""
    return f"redirected{where}; ksync does not follow redirects: check the API URL"


def bare_url(url: str) -> str:
    """``url`` without user:password@, query and fragment, cut short: safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "an invalid URL"
    host = parts.netloc.rpartition("@")[2]
    bare = f"{parts.scheme}://{host}{parts.path}" if host else parts.path
    return excerpt(bare, 120)


def response_error(
    method: str, path: str, response: httpx.Response, redact: Callable[[str], str]
) -> ApiError:
    """The ApiError for a response that is not a success; ``redact`` cleans the message."""
    status = response.status_code
    if 300 <= status < 400:
        message = redirect_message(response.headers.get("location", ""))
    else:
        message = error_message(status, response.reason_phrase, response.text, method, path)
    return ApiError(method, path, status, redact(message), response.headers)


def response_document(
    method: str, path: str, response: httpx.Response, redact: Callable[[str], str]
) -> dict[str, Any]:
    """The JSON object of a 2xx response ({} when empty); ApiError for anything else."""
    if not response.is_success:
        raise response_error(method, path, response, redact)
    status = response.status_code
    if status == 204 or not response.content:
        return {}

    def fail(message: str) -> ApiError:
        return ApiError(method, path, status, redact(message), response.headers)

    try:
        document = response.json()
    except ValueError:
        raise fail(f"the response is not JSON: {excerpt(response.text)}") from None
    if not isinstance(document, dict):
        raise fail(f"the response is not a JSON object: {excerpt(response.text)}")
    return document
