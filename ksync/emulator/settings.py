"""Settings of the emulated Kustomer org.

Where the real API's behaviour is unknown or varies (see ``kustomer-api.md``), the
emulator makes it a setting. Every knob is a field with a default matching the most
likely real behaviour (and, for the chaos knobs, doing nothing), so new knobs are added
as new fields without touching existing callers. Vary one with
``dataclasses.replace(settings, conflict_status=400)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ResetFormat = Literal["epoch", "seconds"]
RESET_FORMATS: tuple[ResetFormat, ...] = ("epoch", "seconds")
# Synthetic phones are +1555 and 7 digits of the customer's number.
MAX_SYNTHETIC_CUSTOMERS = 9_999_999


def _check_key(name: str, key: object) -> None:
    if not isinstance(key, str) or not key or any(ch.isspace() for ch in key):
        raise ValueError(f"{name} must be a non-empty string without spaces")


def _check_rate(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise ValueError(f"{name} must be between 0 and 1, not {value!r}")


def _check_duration(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of milliseconds >= 0, not {value!r}")


@dataclass(frozen=True)
class EmulatorSettings:
    """How the emulated org behaves.

    Keys and roles:

    - ``api_key``: the main key, accepted as ``Authorization: Bearer <api_key>``; it has
      every role. Left out of ``repr`` so it never ends up in logs or output.
    - ``keys``: further keys and their roles (``ksync.emulator.roles``), e.g.
      ``{"ro-key": frozenset({"org.permission.customer.read"})}``. A known key lacking
      the role a request needs gets 403; an unknown key 401.

    API variants:

    - ``conflict_status``: HTTP status of the org-wide uniqueness rejection (409 is the
      likely real value; 400 is possible).
    - ``bulk_polls_to_complete``: status polls (``GET /v1/bulk/{id}``) before a bulk job
      shows ``complete`` and its items are applied; 0 = done when it is submitted.

    Rate limit (one budget for the whole org, every key, fixed 60-second windows
    aligned to the minute):

    - ``rate_limit``: requests per minute; None = unlimited and no ``x-ratelimit-*``
      headers.
    - ``reset_format``: ``x-ratelimit-reset`` as the window end in epoch seconds, or as
      whole seconds (rounded up) from now until then.
    - ``retry_after``: 429s also carry ``Retry-After`` in seconds.

    Latency, applied by ``EmulatorServer`` and ``mock_transport`` through the Emulator's
    ``sleep``: ``latency_ms`` always, plus uniform ``0..jitter_ms``, plus ``spike_ms``
    for a ``spike_rate`` fraction of requests.

    Faults, drawn from a ``random.Random(seed)`` (None = unpredictable) per request:

    - ``drop_rate``: the connection is closed without a response; nothing is applied;
    - ``fault_rate``: a 500 or 503 is returned; nothing is applied;
    - ``throttle_rate``: an extra 429, as if another integration used the budget;
    - ``fault_after_apply_rate``: a successful write is applied, then answered with a
      500 (the client sees a failure that went through).

    Synthetic org: ``customers`` generated at start (``ksync.emulator.synthetic``).
    """

    api_key: str = field(default="emulator-key", repr=False)
    conflict_status: int = 409
    keys: Mapping[str, frozenset[str]] | None = field(default=None, repr=False, hash=False)
    rate_limit: int | None = None
    reset_format: ResetFormat = "epoch"
    retry_after: bool = False
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    spike_rate: float = 0.0
    spike_ms: float = 2000.0
    fault_rate: float = 0.0
    drop_rate: float = 0.0
    throttle_rate: float = 0.0
    fault_after_apply_rate: float = 0.0
    seed: int | None = None
    bulk_polls_to_complete: int = 2
    customers: int = 0

    def __post_init__(self) -> None:
        _check_key("api_key", self.api_key)
        if not 400 <= self.conflict_status <= 499:
            raise ValueError(f"conflict_status must be a 4xx status, not {self.conflict_status}")
        if self.keys is not None:
            object.__setattr__(self, "keys", self._checked_keys(self.keys))
        if self.rate_limit is not None and (
            not isinstance(self.rate_limit, int) or self.rate_limit < 1
        ):
            raise ValueError(f"rate_limit must be a positive integer, not {self.rate_limit!r}")
        if self.reset_format not in RESET_FORMATS:
            raise ValueError(f"reset_format must be epoch or seconds, not {self.reset_format!r}")
        for name in ("latency_ms", "jitter_ms", "spike_ms"):
            _check_duration(name, getattr(self, name))
        for name in ("spike_rate", "fault_rate", "drop_rate", "throttle_rate"):
            _check_rate(name, getattr(self, name))
        _check_rate("fault_after_apply_rate", self.fault_after_apply_rate)
        if self.bulk_polls_to_complete < 0:
            raise ValueError(
                f"bulk_polls_to_complete must be >= 0, not {self.bulk_polls_to_complete}"
            )
        if not 0 <= self.customers <= MAX_SYNTHETIC_CUSTOMERS:
            raise ValueError(
                f"customers must be between 0 and {MAX_SYNTHETIC_CUSTOMERS}, not {self.customers}"
            )

    def _checked_keys(self, keys: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        checked: dict[str, frozenset[str]] = {}
        for key, roles in keys.items():
            _check_key("every key of keys", key)
            if key == self.api_key:
                raise ValueError("keys must not repeat api_key (it already has every role)")
            if isinstance(roles, str) or not all(isinstance(r, str) and r for r in roles):
                raise ValueError("the roles of each key must be a set of role names")
            checked[key] = frozenset(roles)
        return checked
