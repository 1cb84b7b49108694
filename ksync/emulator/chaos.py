"""Injected trouble: latency, dropped connections, faults and extra throttling.

One ``random.Random(settings.seed)`` draws, for every request in the order handled, a
``Dice``: what goes wrong with it. The draws happen in a fixed order (drop, fault and
its status, throttle, fault after apply, jitter, spike), each only when its setting is
non-zero, so a seed replays the same trouble for the same requests and settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ksync.emulator.errors import ApiError
from ksync.emulator.settings import EmulatorSettings

FAULT_STATUSES = (500, 503)


@dataclass(frozen=True)
class Dice:
    """What happens to one request.

    ``drop``: close the connection without answering; ``fault_status``: 500 or 503
    instead of handling it (0: none); ``throttle``: an extra 429;
    ``fault_after_apply``: handle it, then answer 500 if it was a successful write;
    ``delay``: seconds to wait before answering.
    """

    drop: bool = False
    fault_status: int = 0
    throttle: bool = False
    fault_after_apply: bool = False
    delay: float = 0.0


class Chaos:
    """Draws the Dice of each request."""

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed)

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def roll(self, settings: EmulatorSettings) -> Dice:
        drop = self._chance(settings.drop_rate)
        fault_status = 0
        if self._chance(settings.fault_rate):
            fault_status = self._random.choice(FAULT_STATUSES)
        throttle = self._chance(settings.throttle_rate)
        after_apply = self._chance(settings.fault_after_apply_rate)
        delay_ms = settings.latency_ms
        if settings.jitter_ms > 0:
            delay_ms += self._random.uniform(0, settings.jitter_ms)
        if self._chance(settings.spike_rate):
            delay_ms += settings.spike_ms
        return Dice(drop, fault_status, throttle, after_apply, delay_ms / 1000)


def injected_fault(status: int) -> ApiError:
    """The 500 or 503 of a fault (JSON:API shape)."""
    if status == 503:
        return ApiError(503, "service_unavailable", "injected fault: service unavailable")
    return ApiError(status, "internal_error", "injected fault: internal server error")


def fault_after_apply() -> ApiError:
    return ApiError(500, "internal_error", "injected fault: internal server error")
