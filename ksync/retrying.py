"""Sending one request to Kustomer: pacing, retries, counting, and reading the answer.

``Requester.request`` is the single place requests go through. Per attempt it waits for
the ``RateLimiter`` (if any), sends, reports the exchange to ``on_response`` and counts
it in ``RequestStats``. Then:

- 2xx: the JSON object of the answer;
- 429 with a limiter: every request waits until the limiter's reset or ``Retry-After``,
  then this one is sent again; these waits do not use up attempts but are bounded by
  ``RetryPolicy.max_rate_limit_wait`` (then the 429 is raised);
- 5xx, timeouts and connection errors: when ``retry`` is set, ``recover`` (if given) is
  asked whether the request went through anyway; else jittered exponential backoff and
  another attempt, bounded by ``attempts`` and ``max_total_wait``;
- anything else (4xx, redirects, bodies that are not JSON objects): ApiError at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from ksync.apierrors import ApiError, response_document, response_error
from ksync.pacing import RateLimiter, RetryPolicy

__all__ = ["OnResponse", "RequestStats", "Requester", "RetryPolicy", "json_body"]

Document = dict[str, Any]
OnResponse = Callable[[str, str, "int | None", float], None]
Recover = Callable[[], "Document | None"]
# Transport errors that no retry can fix: a bad URL scheme, a request httpx cannot send.
_PERMANENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


class RequestStats:
    """Requests sent, by method, plus 429 answers, retries and seconds waited; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method: Counter[str] = Counter()
        self._throttled = 0
        self._retries = 0
        self._waited = 0.0

    def sent(self, method: str) -> None:
        with self._lock:
            self._by_method[method] += 1

    def throttle(self) -> None:
        with self._lock:
            self._throttled += 1

    def retry(self) -> None:
        with self._lock:
            self._retries += 1

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._waited += seconds

    @property
    def by_method(self) -> dict[str, int]:
        """Requests sent per HTTP method (a copy)."""
        with self._lock:
            return dict(self._by_method)

    @property
    def requests(self) -> int:
        """Every request sent, including failed and repeated ones."""
        with self._lock:
            return sum(self._by_method.values())

    @property
    def throttled(self) -> int:
        """429 answers received."""
        return self._throttled

    @property
    def retries(self) -> int:
        """Requests sent again after a 5xx, timeout or connection error (not 429s)."""
        return self._retries

    @property
    def waited(self) -> float:
        """Seconds spent waiting for the rate limit, retries and bulk jobs."""
        return self._waited

    def __str__(self) -> str:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(self.by_method.items()))
        detail = f" ({methods})" if methods else ""
        return (
            f"{self.requests} requests{detail}, {self.retries} retries, "
            f"{self.throttled} rate-limited, waited {self.waited:.1f} s"
        )


class _Retryable(Exception):
    """An attempt failed in a way another attempt may fix."""

    def __init__(self, error: ApiError, reason: str) -> None:
        super().__init__(error)
        self.error, self.reason = error, reason


class _Throttled(Exception):
    """A 429 answer; every request now waits ``wait`` seconds."""

    def __init__(self, error: ApiError, wait: float) -> None:
        super().__init__(error)
        self.error, self.wait = error, wait


class Requester:
    """Sends requests to one base URL with the API key ``secret`` (redacted from every
    message); see the module docstring. Close it when done."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        user_agent: str,
        transport: httpx.BaseTransport | None,
        timeout: float,
        max_connections: int,
        policy: RetryPolicy,
        limiter: RateLimiter | None = None,
        on_response: OnResponse | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self.policy = policy
        self.limiter = limiter
        self.stats = RequestStats()
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {secret}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": user_agent,
            },
        )
        self._base_url = base_url
        self._secret = secret
        self._timeout = timeout
        self._on_response = on_response
        self._clock = limiter.clock if limiter is not None else time.monotonic

    def request(
        self,
        method: str,
        path: str,
        content: bytes | None = None,
        *,
        retry: bool = True,
        recover: Recover | None = None,
    ) -> Document:
        """The JSON object of a 2xx answer; ApiError for every failure.

        ``retry`` False: a 5xx, timeout or connection error is raised at once (429s are
        still waited out: the API did not take the request).
        """
        attempt, backoff_total, throttle_total, throttles = 1, 0.0, 0.0, 0
        while True:
            try:
                return self._attempt(method, path, content, throttles + 1)
            except _Throttled as throttled:
                throttles += 1
                throttle_total += throttled.wait
                if throttle_total > self.policy.max_rate_limit_wait:
                    error = throttled.error
                    note = f"still rate limited after waiting {throttle_total:.0f} s"
                    raise _noted(error, note) from None
            except _Retryable as failed:
                if recover is not None:
                    found = self._recovered(recover, failed.error)
                    if found is not None:
                        return found
                if not retry:
                    raise failed.error from None
                if attempt >= self.policy.attempts:
                    if attempt == 1:
                        raise failed.error from None
                    raise _noted(failed.error, f"gave up after {attempt} attempts") from None
                delay = self.policy.backoff(attempt)
                if backoff_total + delay > self.policy.max_total_wait:
                    note = f"gave up after {attempt} attempts and {backoff_total:.0f} s of waiting"
                    raise _noted(failed.error, note) from None
                self.pause(delay, f"a retry after {failed.reason}")
                backoff_total += delay
                attempt += 1
                self.stats.retry()

    def pause(self, seconds: float, reason: str) -> None:
        """Wait ``seconds`` on this thread only, announcing long waits to the limiter."""
        if self.limiter is not None:
            self.limiter.report_wait(seconds, reason)
        self.stats.wait(seconds)
        self.policy.sleep(seconds)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced, in case a server echoes it back."""
        return text.replace(self._secret, "[redacted]")

    # -- one attempt ---------------------------------------------------------------

    def _attempt(self, method: str, path: str, content: bytes | None, throttles: int) -> Document:
        limiter = self.limiter
        if limiter is not None:
            self.stats.wait(limiter.acquire())
        self.stats.sent(method)
        started = self._clock()
        response: httpx.Response | None = None
        try:
            response = self._http.request(method, self._base_url + path, content=content)
        except httpx.RequestError as err:
            self._report(method, path, None, started)
            raise self._transport_failure(method, path, err) from None
        finally:
            if limiter is not None:
                limiter.release(response.headers if response is not None else None)
        self._report(method, path, response.status_code, started)
        status = response.status_code
        if status == 429:
            self.stats.throttle()
            error = response_error(method, path, response, self.redact)
            if limiter is None:
                raise error
            wait = limiter.throttled(response.headers, self.policy.backoff(throttles))
            raise _Throttled(error, wait)
        if status >= 500:
            raise _Retryable(response_error(method, path, response, self.redact), str(status))
        return response_document(method, path, response, self.redact)

    def _report(self, method: str, path: str, status: int | None, started: float) -> None:
        if self._on_response is not None:
            self._on_response(method, path, status, max(0.0, self._clock() - started))

    def _transport_failure(
        self, method: str, path: str, err: httpx.RequestError
    ) -> ApiError | _Retryable:
        if isinstance(err, httpx.TimeoutException):
            reason = f"timed out after {self._timeout:g}s"
            error = ApiError(method, path, None, f"connection failed: {reason}")
            return _Retryable(error, "a timeout")
        reason = self.redact(str(err) or type(err).__name__)
        error = ApiError(method, path, None, f"connection failed: {reason}")
        if isinstance(err, httpx.TransportError) and not isinstance(err, _PERMANENT):
            return _Retryable(error, "a connection error")
        return error

    def _recovered(self, recover: Recover, error: ApiError) -> Document | None:
        try:
            return recover()
        except ApiError as lookup:
            raise error from lookup


def _noted(error: ApiError, note: str) -> ApiError:
    """``error`` with ``note`` added to its message."""
    return ApiError(
        error.method, error.path, error.status, f"{error.message} ({note})", error.headers
    )


def json_body(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON; ValueError for NaN or infinities."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")
