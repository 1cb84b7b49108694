"""The Emulator: an in-memory Kustomer org and its request handling, with no server.

``Emulator.handle`` takes a method, a target (path plus optional query string),
headers and body bytes and returns an ``EmulatorResponse``; ``EmulatorServer`` puts it
on a socket and ``mock_transport`` hands it to httpx in-process. A lock serializes
every request and every accessor, so a request is all or nothing.

Each request goes through, in order: the injected trouble drawn for it
(``ksync.emulator.chaos``: a dropped connection, then a 500/503 fault, neither applied),
the key (401), the org's rate limit and injected throttling (429), the route and the
role it needs (404/405/403), the endpoint, and an injected 500 after a successful
write. ``handle`` never sleeps: it returns the delay, and the transport waits it out
(through ``Emulator.sleep``) before answering, outside the lock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from os import PathLike

import httpx

from ksync.emulator.chaos import Chaos, Dice, fault_after_apply, injected_fault
from ksync.emulator.documents import JsonObject, render_attributes, render_resource
from ksync.emulator.errors import ApiError, internal_error
from ksync.emulator.jobs import BulkJobs
from ksync.emulator.messages import (
    Context,
    EmulatorResponse,
    LoggedRequest,
    Reply,
    Request,
    RequestBody,
)
from ksync.emulator.ratelimit import RateLimiter, too_many_requests
from ksync.emulator.roles import authorize
from ksync.emulator.routes import dispatch
from ksync.emulator.seeding import read_seed_file, seed_org
from ksync.emulator.settings import EmulatorSettings
from ksync.emulator.store import Org
from ksync.emulator.synthetic import add_synthetic

__all__ = ["Clock", "Emulator", "EmulatorResponse", "LoggedRequest", "Sleep", "format_timestamp"]

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]
_WRITES = frozenset({"POST", "PUT", "PATCH"})


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as Kustomer writes it: 2026-12-04T15:00:00.000Z."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _Outcome:
    reply: Reply
    applied: bool


class Emulator:
    """An in-memory Kustomer org speaking the customers API.

    ``settings`` may be replaced between requests (e.g. to change ``conflict_status``);
    replacing them restarts the fault dice from their ``seed``, so a seed replays the same
    faults; ``customers`` (the synthetic org) is used at construction only.
    ``clock`` gives the time stamped on writes and the rate-limit windows; ``sleep``
    waits out injected latency (``time.sleep`` by default). Pass fakes for repeatable,
    fast tests.
    """

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._settings = settings or EmulatorSettings()
        self.sleep: Sleep = sleep or time.sleep
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._org = Org()
        self._jobs = BulkJobs()
        self._limiter = RateLimiter()
        self._chaos = Chaos(self._settings.seed)
        self._log: list[LoggedRequest] = []
        if self.settings.customers:
            now = format_timestamp(self._clock())
            add_synthetic(self._org, self.settings.customers, now, self.settings.conflict_status)

    @property
    def settings(self) -> EmulatorSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: EmulatorSettings) -> None:
        with self._lock:
            self._settings = settings
            self._chaos = Chaos(settings.seed)

    # -- requests -------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> EmulatorResponse:
        """Handle one request; never raises (an emulator bug becomes a 500)."""
        path, _, query = target.partition("?")
        parsed = RequestBody.parse(body)
        with self._lock:
            settings = self.settings
            moment = self._clock()
            dice = self._chaos.roll(settings)
            if dice.drop:
                self._log.append(LoggedRequest(method.upper(), path, query, parsed.value, 0, False))
                return EmulatorResponse(0, {}, b"", delay=dice.delay, dropped=True)
            outcome = self._process(method, path, query, headers, parsed, moment, dice)
            reply = outcome.reply
            rate_headers = self._limiter.headers(moment.timestamp(), settings)
            entry = LoggedRequest(
                method.upper(), path, query, parsed.value, reply.status, outcome.applied
            )
            self._log.append(entry)
        response_headers = {"Content-Type": "application/json", **reply.headers, **rate_headers}
        body_bytes = json.dumps(reply.payload).encode()
        return EmulatorResponse(reply.status, response_headers, body_bytes, delay=dice.delay)

    def _process(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        parsed: RequestBody,
        moment: datetime,
        dice: Dice,
    ) -> _Outcome:
        settings, now = self.settings, moment.timestamp()
        applied = False
        try:
            if dice.fault_status:
                raise injected_fault(dice.fault_status)
            roles = authorize(headers, settings)
            retry = self._limiter.seconds_to_reset(now) if settings.retry_after else None
            if not self._limiter.has_room(now, settings.rate_limit):
                message = f"rate limit of {settings.rate_limit} requests per minute exceeded"
                raise too_many_requests(message, retry)
            if dice.throttle:
                raise too_many_requests(
                    "too many requests (throttled)", 1 if settings.retry_after else None
                )
            self._limiter.consume(now)
            request = Request.build(method, path, query, parsed)
            stamp = format_timestamp(moment)
            context = Context(self._org, settings, stamp, self._jobs, roles)
            reply = dispatch(request, context)
            applied = True
            if dice.fault_after_apply and request.method in _WRITES and reply.status < 300:
                raise fault_after_apply()
        except ApiError as error:
            reply = Reply(error.status, error.payload(), error.headers)
        except Exception as exc:
            bug = internal_error(exc)
            reply = Reply(bug.status, bug.payload())
        return _Outcome(reply, applied)

    def mock_transport(self) -> httpx.MockTransport:
        """An httpx transport sending every request to ``handle``, in-process.

        Injected latency is waited out through ``sleep``; a dropped connection raises
        ``httpx.RemoteProtocolError``, as httpx does over a real socket.
        """

        def respond(request: httpx.Request) -> httpx.Response:
            target = request.url.raw_path.decode("ascii")
            headers = dict(request.headers.items())
            answer = self.handle(request.method, target, headers, request.read())
            if answer.delay > 0:
                self.sleep(answer.delay)
            if answer.dropped:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

        return httpx.MockTransport(respond)

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Every request handled since the start or the last ``clear_log`` (a copy)."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- state (never logged, never faulted, not rate limited) -----------------------

    def seed(self, customers: list[JsonObject]) -> list[str]:
        """Add customers directly (no log entry, no auth); returns their ids in order.

        Each is an attributes object plus an optional ``id`` (24 lowercase hex chars).
        Read-only attributes given (``rev``, ``createdAt``...) are kept. All or nothing:
        a malformed customer or a duplicate unique value raises ValueError naming it.
        """
        with self._lock:
            now = format_timestamp(self._clock())
            return seed_org(self._org, customers, now, self.settings.conflict_status)

    def load_seed(self, path: str | PathLike[str]) -> list[str]:
        """Seed from a JSON file ``{"customers": [...]}``; ValueError if malformed."""
        customers = read_seed_file(path)
        try:
            return self.seed(customers)
        except ValueError as error:
            raise ValueError(f"seed file {path}: {error}") from None

    def snapshot(self) -> dict[str, JsonObject]:
        """Every customer's JSON:API resource by id, as the API would return it (copies)."""
        with self._lock:
            return {key: render_resource(key, stored) for key, stored in self._org.items()}

    def customer(self, customer_id: str) -> JsonObject:
        """One customer's attributes as the API returns them (a copy); KeyError if none."""
        with self._lock:
            stored = self._org.get(customer_id)
            if stored is None:
                raise KeyError(customer_id)
            return render_attributes(stored)

    def customer_ids(self) -> list[str]:
        """Every customer id, in creation order."""
        with self._lock:
            return [key for key, _ in self._org.items()]

    def customer_count(self) -> int:
        """How many customers the org has."""
        with self._lock:
            return len(self._org)
