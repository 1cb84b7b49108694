"""Pacing requests under Kustomer's rate limit: one ``RateLimiter`` per run, shared by
every request of a client and safe to use from many threads.

Kustomer gives each org one budget per 60-second window, shared by every key and
integration, and reports it in ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (epoch seconds when above 1e9, else seconds from now). The limiter:

- spaces request starts evenly at the target rate: the configured ``rpm`` or the
  learned limit, whichever is lower, times ``max_share``; no pacing until a limit is known;
- when the remaining budget (minus requests in flight) falls to what ``max_share`` leaves
  for other integrations, holds every request until the window resets;
- after a 429, holds every request until ``Retry-After`` (which wins) or the reset.

``RetryPolicy`` holds the other waits: backoff between retries and bulk job polls.

Each request calls ``acquire()`` before it is sent and ``release(headers)`` once it is
answered (``headers`` None when no response came). Waits over ``REPORT_AFTER`` seconds
are announced through ``on_wait(seconds, reason)``, once however many threads share them.
"""

from __future__ import annotations

import math
import random as _random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

__all__ = ["RATE_LIMIT_REASON", "REPORT_AFTER", "RateLimiter", "RetryPolicy", "header_number"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
OnWait = Callable[[float, str], None]

REPORT_AFTER = 1.0
RATE_LIMIT_REASON = "the rate limit"
# x-ratelimit-reset values above this are epoch seconds, below it seconds from now.
_EPOCH_THRESHOLD = 1e9
# Two reset moments this close together belong to the same window.
_SAME_WINDOW = 1.0


class RateLimiter:
    """Paces request starts for one org budget; thread-safe.

    ``clock`` is monotonic time for spacing and waiting, ``wall`` is epoch time to read
    reset moments given in epoch seconds; ``sleep`` waits. Pass fakes in tests.
    """

    def __init__(
        self,
        rpm: int | None = None,
        max_share: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = time.sleep,
        on_wait: OnWait | None = None,
    ) -> None:
        if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1):
            raise ValueError(f"rpm must be a positive integer, not {rpm!r}")
        if not 0 < max_share <= 1:
            raise ValueError(f"max_share must be above 0 and at most 1, not {max_share!r}")
        self.rpm = rpm
        self.max_share = max_share
        self.clock = clock
        self.sleep = sleep
        self._wall = wall
        self._on_wait = on_wait
        self._lock = threading.Lock()
        self._limit: int | None = None  # the org's limit, from x-ratelimit-limit
        self._remaining: int | None = None  # of the window ending at _reset_at
        self._reset_at: float | None = None  # on ``clock``
        self._in_flight = 0
        self._next_start = -math.inf
        self._paused_until = -math.inf
        self._reported_until = -math.inf

    @property
    def limit(self) -> int | None:
        """The org's requests per minute as the API last reported it, if known."""
        return self._limit

    @property
    def target_rpm(self) -> float | None:
        """Requests per minute this limiter paces to; None while no limit is known."""
        known = [n for n in (self.rpm, self._limit) if n is not None]
        return min(known) * self.max_share if known else None

    # -- one request ---------------------------------------------------------------

    def acquire(self) -> float:
        """Wait until a request may start and count it in flight; the seconds waited."""
        with self._lock:
            now = self.clock()
            self._forget_past_window(now)
            start = max(now, self._paused_until)
            if self._exhausted() and self._reset_at is not None:
                start = max(start, self._reset_at)
            target = self.target_rpm
            if target is not None:
                start = max(start, self._next_start)
                self._next_start = start + 60.0 / target
            self._in_flight += 1
            wait = start - now
            report = self._claim_report(now, start, wait)
        if report:
            self.report_wait(wait, RATE_LIMIT_REASON)
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)

    def release(self, headers: Mapping[str, str] | None) -> None:
        """A request is over: learn from the response ``headers`` (None: no response)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if headers is not None:
                self._learn(headers, self.clock())

    def throttled(self, headers: Mapping[str, str], fallback: float) -> float:
        """A 429 came back: hold every request; the seconds until they may go again.

        ``Retry-After`` wins; else the ``x-ratelimit-reset``; else ``fallback`` seconds.
        """
        with self._lock:
            now = self.clock()
            self._learn(headers, now)
            retry_after = _retry_after(headers, self._wall())
            if retry_after is not None:
                until = now + retry_after
                self._remaining = None  # Retry-After decides, not the window
            elif self._reset_at is not None and self._reset_at > now:
                until = self._reset_at
                self._remaining = 0
            else:
                until = now + max(0.0, fallback)
            self._paused_until = max(self._paused_until, until)
            return max(0.0, self._paused_until - now)

    def report_wait(self, seconds: float, reason: str) -> None:
        """Announce a wait through ``on_wait`` when it is longer than ``REPORT_AFTER``."""
        if self._on_wait is not None and seconds > REPORT_AFTER:
            self._on_wait(seconds, reason)

    # -- state (lock held) -----------------------------------------------------------

    def _forget_past_window(self, now: float) -> None:
        if self._reset_at is not None and now >= self._reset_at:
            self._remaining = None
            self._reset_at = None

    def _exhausted(self) -> bool:
        """Whether the budget left, minus requests in flight, is down to others' share."""
        if self._remaining is None:
            return False
        reserve = math.floor(self._limit * (1 - self.max_share)) if self._limit else 0
        return self._remaining - self._in_flight <= reserve

    def _claim_report(self, now: float, start: float, wait: float) -> bool:
        """Whether this wait is news: not already announced by another request."""
        if wait <= REPORT_AFTER:
            return False
        if now < self._reported_until and start <= self._reported_until + REPORT_AFTER:
            return False
        self._reported_until = max(self._reported_until, start)
        return True

    def _learn(self, headers: Mapping[str, str], now: float) -> None:
        limit = header_number(headers, "x-ratelimit-limit")
        if limit is not None and limit >= 1:
            self._limit = int(limit)
        reset = header_number(headers, "x-ratelimit-reset")
        remaining = header_number(headers, "x-ratelimit-remaining")
        if reset is None or remaining is None or remaining < 0:
            return
        seconds = reset - self._wall() if reset > _EPOCH_THRESHOLD else reset
        reset_at = now + max(0.0, seconds)
        if reset_at <= now:
            return
        if self._reset_at is None or reset_at >= self._reset_at + _SAME_WINDOW:
            self._remaining, self._reset_at = int(remaining), reset_at  # a new window
        elif reset_at > self._reset_at - _SAME_WINDOW:
            # Answers overtake each other: the lowest count of a window is the newest.
            known = self._remaining
            self._remaining = int(remaining) if known is None else min(known, int(remaining))


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. Delays are seconds; ``sleep`` and ``random`` are for tests.

    - ``attempts``: tries of one request on 5xx, timeouts and connection errors (1 = none);
      backoff before try n+1 is ``min(cap, base * 2**(n-1))``, jittered to 50-100%;
      ``max_total_wait`` bounds the sum of those waits for one request;
    - ``max_rate_limit_wait``: the most one request waits out 429s;
    - ``poll_base``/``poll_cap``/``max_poll_wait``: bulk job polls, doubling from
      ``poll_base`` up to ``poll_cap``, giving up after ``max_poll_wait`` in total.
    """

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    max_total_wait: float = 300.0
    max_rate_limit_wait: float = 900.0
    poll_base: float = 0.2
    poll_cap: float = 5.0
    max_poll_wait: float = 600.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValueError(f"attempts must be an integer, not {self.attempts!r}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        for name in ("base", "cap", "max_total_wait", "max_rate_limit_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if self.poll_base <= 0 or self.poll_cap < self.poll_base or self.max_poll_wait < 0:
            raise ValueError("poll_base must be > 0, poll_cap >= poll_base, max_poll_wait >= 0")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), jittered."""
        ceiling = min(self.cap, self.base * 2 ** min(attempt - 1, 60))
        return float(ceiling / 2 + self.random() * ceiling / 2)


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A header as a finite number, or None when missing or not a number."""
    text = _header(headers, name)
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _retry_after(headers: Mapping[str, str], wall_now: float) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date), or None."""
    seconds = header_number(headers, "retry-after")
    if seconds is not None:
        return max(0.0, seconds)
    text = _header(headers, "retry-after")
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - wall_now)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """The header ``name`` (lower case), whatever the case of the mapping's keys."""
    text = headers.get(name)
    if text is not None:
        return text
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
