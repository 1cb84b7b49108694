"""The org's rate limit: one budget for every key, over fixed 60-second windows.

Windows are aligned to the minute (epoch seconds divisible by 60), on the Emulator's
clock. A request that is answered counts; rejected ones (429s, injected faults, dropped
connections, unknown keys) do not. A bulk request is one request.
"""

from __future__ import annotations

import math

from ksync.emulator.errors import ApiError
from ksync.emulator.settings import EmulatorSettings

WINDOW_SECONDS = 60


class RateLimiter:
    """Requests counted in the current window."""

    def __init__(self) -> None:
        self._window_start = 0
        self._used = 0

    def _roll(self, now: float) -> None:
        start = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        if start != self._window_start:
            self._window_start, self._used = start, 0

    def has_room(self, now: float, limit: int | None) -> bool:
        self._roll(now)
        return limit is None or self._used < limit

    def consume(self, now: float) -> None:
        self._roll(now)
        self._used += 1

    def seconds_to_reset(self, now: float) -> int:
        """Whole seconds, rounded up, until the current window ends (1 to 60)."""
        self._roll(now)
        return max(1, math.ceil(self._window_start + WINDOW_SECONDS - now))

    def headers(self, now: float, settings: EmulatorSettings) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers; none when unlimited."""
        if settings.rate_limit is None:
            return {}
        self._roll(now)
        if settings.reset_format == "epoch":
            reset = self._window_start + WINDOW_SECONDS
        else:
            reset = self.seconds_to_reset(now)
        return {
            "x-ratelimit-limit": str(settings.rate_limit),
            "x-ratelimit-remaining": str(max(0, settings.rate_limit - self._used)),
            "x-ratelimit-reset": str(reset),
        }


def too_many_requests(message: str, retry_after: int | None) -> ApiError:
    """A 429 (JSON:API shape), with ``Retry-After`` when given."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return ApiError(429, "rate_limited", message, headers=headers)
