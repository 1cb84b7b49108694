"""RateLimiter and RetryPolicy on a fake clock: nothing here really sleeps."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from ksync.pacing import RateLimiter, RetryPolicy

START = 1_800_000_030.0  # epoch seconds, 30 s into a minute


class FakeTime:
    """A clock that only moves when someone sleeps; thread-safe."""

    def __init__(self, start: float = START, *, advance: bool = True) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.advance = advance
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.advance:
                self.now += seconds

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def limiter(
        self, rpm: int | None = None, max_share: float = 1.0, **kwargs: object
    ) -> RateLimiter:
        return RateLimiter(
            rpm,
            max_share,
            clock=self.clock,
            wall=self.clock,
            sleep=self.sleep,
            **kwargs,  # type: ignore[arg-type]
        )


def headers(limit: int = 100, remaining: int = 50, reset: float | str = 30) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(reset),
    }


def run(limiter: RateLimiter, count: int, answer: dict[str, str] | None = None) -> list[float]:
    """``count`` sequential requests answered instantly; the wait before each."""
    waits = []
    for _ in range(count):
        waits.append(limiter.acquire())
        limiter.release(answer)
    return waits


def test_no_pacing_until_a_limit_is_known() -> None:
    fake = FakeTime()
    limiter = fake.limiter()
    assert limiter.target_rpm is None
    assert run(limiter, 50, {}) == [0.0] * 50
    assert fake.sleeps == []


def test_paces_evenly_at_the_configured_rate() -> None:
    fake = FakeTime()
    limiter = fake.limiter(rpm=60)
    assert run(limiter, 5) == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert fake.now == START + 4


def test_a_slow_request_is_not_made_up_for_with_a_burst() -> None:
    fake = FakeTime()
    limiter = fake.limiter(rpm=60)
    limiter.acquire()
    limiter.release(None)
    fake.now += 5  # the request took 5 s
    assert run(limiter, 2) == [0.0, 1.0]


def test_learns_the_limit_from_the_headers_and_keeps_the_lower() -> None:
    fake = FakeTime()
    limiter = fake.limiter()
    limiter.acquire()
    limiter.release(headers(limit=120, remaining=119))
    assert limiter.limit == 120
    assert limiter.target_rpm == 120
    assert run(limiter, 3) == [0.0, 0.5, 0.5]  # the first paced start goes at once

    configured = fake.limiter(rpm=30)
    configured.release(headers(limit=120))
    assert configured.target_rpm == 30
    lower = fake.limiter(rpm=1000)
    lower.release(headers(limit=120))
    assert lower.target_rpm == 120


def test_max_share_leaves_the_rest_of_the_budget() -> None:
    fake = FakeTime()
    limiter = fake.limiter(rpm=60, max_share=0.5)
    assert limiter.target_rpm == 30
    assert run(limiter, 3) == [0.0, 2.0, 2.0]

    # 100/min, 80% ours: once 20 are left in the window, wait for the reset.
    shared = fake.limiter(max_share=0.8)
    shared.acquire()
    shared.release(headers(limit=100, remaining=22, reset=40))
    assert shared.acquire() == 0.0
    shared.release(headers(limit=100, remaining=21, reset=40))
    assert shared.acquire() == pytest.approx(0.75)  # paced at 80/min
    shared.release(headers(limit=100, remaining=20, reset=39.25))
    assert fake.now + shared.acquire() == pytest.approx(START + 40)


@pytest.mark.parametrize("reset_format", ["epoch", "seconds"])
def test_no_budget_left_waits_for_the_reset(reset_format: str) -> None:
    fake = FakeTime()
    waits: list[tuple[float, str]] = []
    limiter = fake.limiter(on_wait=lambda s, why: waits.append((s, why)))
    reset = START + 41 if reset_format == "epoch" else 41
    limiter.acquire()
    limiter.release({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    assert limiter.acquire() == pytest.approx(41)
    assert waits == [(pytest.approx(41), "the rate limit")]
    limiter.release(None)
    # The window has reset: what was left in the old one no longer counts.
    assert limiter.acquire() == 0.0


def test_requests_in_flight_use_up_the_budget() -> None:
    fake = FakeTime()
    limiter = fake.limiter()
    limiter.acquire()
    limiter.release(headers(limit=1000, remaining=2, reset=20))
    fake.advance = False
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(0.06)  # paced at 1000/min; 1 left
    assert limiter.acquire() == pytest.approx(20)  # 2 left, 2 in flight: wait for the reset


def test_stale_answers_do_not_raise_the_remaining_budget() -> None:
    fake = FakeTime()
    limiter = fake.limiter()
    limiter.release({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"})
    limiter.release({"x-ratelimit-remaining": "5", "x-ratelimit-reset": "29.5"})  # overtaken
    assert limiter.acquire() == pytest.approx(30)


def test_a_429_holds_everybody_until_the_reset() -> None:
    fake = FakeTime(advance=False)
    reported: list[float] = []
    limiter = fake.limiter(on_wait=lambda s, why: reported.append(s))
    answer = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(START + 25)}
    wait = limiter.throttled(answer, fallback=1.0)
    assert wait == pytest.approx(25)
    assert [limiter.acquire() for _ in range(3)] == [pytest.approx(25)] * 3
    assert reported == [pytest.approx(25)]  # announced once, not once per request


def test_retry_after_wins_over_the_reset() -> None:
    fake = FakeTime(advance=False)
    limiter = fake.limiter()
    answer = {**headers(remaining=0, reset=50), "Retry-After": "7"}
    assert limiter.throttled(answer, fallback=1.0) == 7
    assert limiter.acquire() == 7


def test_retry_after_as_an_http_date() -> None:
    fake = FakeTime(advance=False)
    limiter = fake.limiter()
    date = "Fri, 15 Jan 2027 08:00:12 GMT"
    fake.now = datetime(2027, 1, 15, 8, 0, 0, tzinfo=timezone.utc).timestamp()
    assert limiter.throttled({"Retry-After": date}, fallback=1.0) == pytest.approx(12)


def test_a_429_without_headers_waits_the_fallback() -> None:
    limiter = FakeTime(advance=False).limiter()
    assert limiter.throttled({}, fallback=2.5) == 2.5
    assert limiter.throttled({"retry-after": "soon"}, fallback=1.0) == 2.5  # still paused


def test_short_waits_are_not_reported() -> None:
    reported: list[float] = []
    limiter = FakeTime().limiter(rpm=120, on_wait=lambda s, why: reported.append(s))
    run(limiter, 10)
    assert reported == []


def test_threads_get_distinct_evenly_spaced_starts() -> None:
    fake = FakeTime(advance=False)
    limiter = fake.limiter(rpm=60)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            wait = limiter.acquire()
            with lock:
                waits.append(wait)
            limiter.release(None)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [float(n) for n in range(40)]


@pytest.mark.parametrize(("rpm", "share"), [(0, 1.0), (-5, 1.0), (60, 0.0), (60, 1.5), (True, 1.0)])
def test_bad_settings(rpm: int, share: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rpm, share)


def test_retry_policy_backoff_is_jittered_exponential_and_capped() -> None:
    low = RetryPolicy(random=lambda: 0.0)
    high = RetryPolicy(random=lambda: 1.0)
    assert [low.backoff(n) for n in range(1, 9)] == [0.25, 0.5, 1, 2, 4, 8, 15, 15]
    assert [high.backoff(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert RetryPolicy() == RetryPolicy(attempts=6, base=0.5, cap=30.0, max_total_wait=300.0)


@pytest.mark.parametrize(
    "settings", [{"attempts": 0}, {"base": -1}, {"poll_base": 0}, {"poll_cap": 0.1}]
)
def test_retry_policy_refuses_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**settings)  # type: ignore[arg-type]
