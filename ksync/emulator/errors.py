"""Error responses, in the two shapes Kustomer documents.

JSON:API shape, ``{"errors": [{"status", "code", "title", "detail", "source": {"pointer"}}]}``,
used for:

- 401: missing or wrong API key;
- 403: a known key lacking the role a route needs (``detail`` names the role);
- 404: no such customer, route or bulk job;
- 405: the route exists but not for this method (with an ``Allow`` header);
- the uniqueness rejection (``settings.conflict_status``, 409 by default), whose
  ``detail`` names the value and the customer holding it and whose ``source.pointer``
  points at the offending value in the stored document (e.g. ``/emails/1/email``);
- 409 ``bulk_not_complete``: the batches of a bulk job asked for before it completed;
- 429 ``rate_limited``: over the rate limit, or injected throttling;
- 500/503: injected faults (``ksync.emulator.chaos``), or 500 for a bug in the emulator.

Simple shape, ``{"errors": [{"code", "message", "meta"}]}``, used for every 400: a body
that is not a JSON object, a malformed attribute or contact entry, a bad query
parameter. ``meta`` says where (``pointer`` into the body, or ``parameter``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

ErrorShape = Literal["jsonapi", "simple"]


class ApiError(Exception):
    """An error response. Raised anywhere while handling a request, it ends the request
    and nothing is written."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        shape: ErrorShape = "jsonapi",
        pointer: str | None = None,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.shape: ErrorShape = shape
        self.pointer = pointer
        self.meta = dict(meta or {})
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, Any]:
        """The JSON body of the response."""
        if self.shape == "simple":
            return {"errors": [{"code": self.code, "message": self.message, "meta": self.meta}]}
        return {
            "errors": [
                {
                    "status": str(self.status),
                    "code": self.code,
                    "title": _title(self.status),
                    "detail": self.message,
                    "source": {"pointer": self.pointer},
                }
            ]
        }


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def bad_request(message: str, **meta: Any) -> ApiError:
    """400 in the simple shape; ``meta`` says where the problem is."""
    return ApiError(400, "invalid_request", message, shape="simple", meta=meta)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def method_not_allowed(method: str, path: str, allowed: list[str]) -> ApiError:
    return ApiError(
        405,
        "method_not_allowed",
        f"{method} is not allowed on {path}; use {', '.join(allowed)}",
        headers={"Allow": ", ".join(allowed)},
    )


def conflict(status: int, message: str, pointer: str) -> ApiError:
    """The org-wide uniqueness rejection, with the status the settings choose."""
    return ApiError(status, "duplicate_value", message, pointer=pointer)


def internal_error(exc: BaseException) -> ApiError:
    return ApiError(500, "internal_error", f"emulator bug: {exc!r}")
