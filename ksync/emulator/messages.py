"""What flows through the emulator: requests as endpoints see them, their replies, the
responses ``Emulator.handle`` returns and the entries of its request log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from ksync.emulator.documents import JsonObject
from ksync.emulator.errors import bad_request
from ksync.emulator.jobs import BulkJobs
from ksync.emulator.roles import ALL_ROLES
from ksync.emulator.settings import EmulatorSettings
from ksync.emulator.store import Org


@dataclass(frozen=True)
class RequestBody:
    """A request body: its bytes and, when they are valid JSON, the parsed value."""

    raw: bytes
    value: Any = None
    valid: bool = False

    @classmethod
    def parse(cls, raw: bytes) -> RequestBody:
        if not raw.strip():
            return cls(raw)
        try:
            return cls(raw, json.loads(raw), True)
        except ValueError:  # invalid JSON or not UTF-8
            return cls(raw)

    def json(self) -> Any:
        """The parsed value; a 400 when the body is missing or not JSON."""
        if not self.valid:
            raise bad_request("request body must be a JSON object of customer attributes")
        return self.value


@dataclass(frozen=True)
class Request:
    """What an endpoint sees of a request."""

    method: str
    path: str
    segments: tuple[str, ...]
    query: Mapping[str, str]
    body: RequestBody

    @classmethod
    def build(cls, method: str, path: str, query: str, body: RequestBody) -> Request:
        segments = tuple(unquote(part) for part in path.split("/")[1:])
        params = dict(parse_qsl(query, keep_blank_values=True))
        return cls(method.upper(), path, segments, params, body)


@dataclass(frozen=True)
class Context:
    """What an endpoint may use besides the request: the org, its bulk jobs, the
    settings, the time of the request and the roles of the key that sent it."""

    org: Org
    settings: EmulatorSettings
    now: str
    jobs: BulkJobs = field(default_factory=BulkJobs)
    roles: frozenset[str] = ALL_ROLES


@dataclass(frozen=True)
class Reply:
    status: int
    payload: JsonObject
    headers: dict[str, str] = field(default_factory=dict)


Endpoint = Callable[[Request, Context], Reply]


@dataclass(frozen=True)
class EmulatorResponse:
    """One response: status, headers (always a JSON Content-Type) and body bytes.

    ``delay`` is the latency (seconds) the transport should wait before answering;
    ``dropped`` means the transport must close the connection without answering (the
    status is then 0 and there are no headers or body).
    """

    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0
    dropped: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, init=False)
class LoggedRequest:
    """One handled request, failed ones included.

    ``path`` is the raw path as sent (still percent-encoded), ``query`` the raw query
    string without ``?`` (empty if none), ``body`` the parsed JSON body or None when it
    was empty or not JSON, ``status`` the response status (0: the connection was
    dropped without a response). ``applied``: whether the request took effect (a write
    stored, a read answered). Left out, it is derived from the status (true for 2xx),
    which is right except for injected faults: a 500 after applying a write is logged
    with ``applied=True``.
    """

    method: str
    path: str
    query: str
    body: Any
    status: int
    applied: bool

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        body: Any,
        status: int,
        applied: bool | None = None,
    ) -> None:
        for name, value in (
            ("method", method),
            ("path", path),
            ("query", query),
            ("body", body),
            ("status", status),
            ("applied", 200 <= status < 300 if applied is None else applied),
        ):
            object.__setattr__(self, name, value)

    @property
    def decoded_path(self) -> str:
        """The path with percent-escapes decoded (``+`` kept as ``+``)."""
        return unquote(self.path)
