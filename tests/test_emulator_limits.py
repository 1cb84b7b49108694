"""The emulator's rate limit, latency and injected faults (fake clock, fake sleep)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from ksync.emulator import Emulator, EmulatorResponse, EmulatorSettings, LoggedRequest

KEY = "limits-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
START = datetime(2026, 12, 4, 15, 0, 10, tzinfo=timezone.utc)
WINDOW_END = int(datetime(2026, 12, 4, 15, 1, tzinfo=timezone.utc).timestamp())


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make(clock: FakeClock | None = None, **settings: Any) -> tuple[Emulator, list[float]]:
    sleeps: list[float] = []
    emulator = Emulator(
        EmulatorSettings(api_key=KEY, **settings), clock=clock or FakeClock(), sleep=sleeps.append
    )
    return emulator, sleeps


def get(emulator: Emulator, path: str = "/v1/customers") -> EmulatorResponse:
    return emulator.handle("GET", path, AUTH, b"")


def post(emulator: Emulator, body: Any, path: str = "/v1/customers") -> EmulatorResponse:
    return emulator.handle("POST", path, AUTH, json.dumps(body).encode())


def limits(answer: EmulatorResponse) -> tuple[str, str, str]:
    headers = answer.headers
    return (
        headers["x-ratelimit-limit"],
        headers["x-ratelimit-remaining"],
        headers["x-ratelimit-reset"],
    )


# -- rate limit ----------------------------------------------------------------------


def test_unlimited_by_default_has_no_rate_headers() -> None:
    emulator, _ = make()
    assert not any(name.startswith("x-ratelimit") for name in get(emulator).headers)


def test_headers_with_epoch_reset_and_window_rollover() -> None:
    clock = FakeClock()
    emulator, _ = make(clock, rate_limit=3)
    assert limits(get(emulator)) == ("3", "2", str(WINDOW_END))
    clock.advance(49.5)  # 15:00:59.5, same window
    assert limits(get(emulator)) == ("3", "1", str(WINDOW_END))
    clock.advance(0.5)  # 15:01:00, a new window with a full budget
    assert limits(get(emulator)) == ("3", "2", str(WINDOW_END + 60))


def test_headers_with_seconds_reset_round_up() -> None:
    clock = FakeClock()
    emulator, _ = make(clock, rate_limit=5, reset_format="seconds")
    assert limits(get(emulator)) == ("5", "4", "50")
    clock.advance(0.25)
    assert limits(get(emulator)) == ("5", "3", "50")  # 49.75 s rounds up
    clock.advance(49.75)  # exactly the next window's start: a whole window to go
    assert limits(get(emulator)) == ("5", "4", "60")


def test_past_the_limit_is_429_without_retry_after_by_default() -> None:
    clock = FakeClock()
    emulator, _ = make(clock, rate_limit=2)
    assert [get(emulator).status for _ in range(2)] == [200, 200]
    rejected = post(emulator, {"externalId": "late"})
    assert rejected.status == 429
    assert limits(rejected) == ("2", "0", str(WINDOW_END))
    assert "Retry-After" not in rejected.headers
    error = rejected.json()["errors"][0]
    assert (error["status"], error["code"]) == ("429", "rate_limited")
    assert "2 requests per minute" in error["detail"]
    assert emulator.customer_ids() == []  # not applied...
    assert emulator.request_log[-1] == LoggedRequest(
        "POST", "/v1/customers", "", {"externalId": "late"}, 429, applied=False
    )  # ...but logged
    clock.advance(50)  # the next window: rejected requests used no budget
    assert limits(get(emulator)) == ("2", "1", str(WINDOW_END + 60))


def test_retry_after_counts_the_seconds_to_the_reset() -> None:
    clock = FakeClock()
    emulator, _ = make(clock, rate_limit=1, retry_after=True)
    assert "Retry-After" not in get(emulator).headers  # only on 429s
    clock.advance(20.2)
    rejected = get(emulator)
    assert rejected.status == 429
    assert rejected.headers["Retry-After"] == "30"  # 29.8 rounded up
    assert rejected.headers["x-ratelimit-reset"] == str(WINDOW_END)


def test_a_bulk_request_counts_once() -> None:
    emulator, _ = make(rate_limit=10)
    answer = post(emulator, [{"externalId": f"b{n}"} for n in range(100)], "/v1/customers/bulk")
    assert answer.status == 201
    assert answer.headers["x-ratelimit-remaining"] == "9"
    job = answer.json()["data"]["id"]
    assert get(emulator, f"/v1/bulk/{job}").headers["x-ratelimit-remaining"] == "8"


def test_unknown_keys_get_headers_but_use_no_budget() -> None:
    emulator, _ = make(rate_limit=5)
    rejected = emulator.handle("GET", "/v1/customers", {"Authorization": "Bearer nope"}, b"")
    assert rejected.status == 401
    assert rejected.headers["x-ratelimit-remaining"] == "5"
    assert get(emulator).headers["x-ratelimit-remaining"] == "4"


# -- latency -------------------------------------------------------------------------


def test_no_latency_means_no_sleep() -> None:
    emulator, sleeps = make()
    with httpx.Client(transport=emulator.mock_transport(), base_url="https://e") as client:
        client.get("/v1/customers", headers=AUTH)
    assert sleeps == []


def test_latency_and_jitter_go_through_the_injected_sleep() -> None:
    emulator, sleeps = make(latency_ms=100, jitter_ms=50, seed=7)
    with httpx.Client(transport=emulator.mock_transport(), base_url="https://e") as client:
        for _ in range(3):
            assert client.get("/v1/customers", headers=AUTH).status_code == 200
    draws = random.Random(7)
    expected = [(100 + draws.uniform(0, 50)) / 1000 for _ in range(3)]
    assert sleeps == pytest.approx(expected)
    assert all(0.1 <= delay <= 0.15 for delay in sleeps)


def test_spikes_add_spike_ms() -> None:
    emulator, sleeps = make(latency_ms=10, spike_rate=1.0, spike_ms=3000, seed=1)
    assert get(emulator).delay == pytest.approx(3.01)
    assert sleeps == []  # handle itself never sleeps: the transport does
    emulator.settings = replace(emulator.settings, spike_rate=0.0)
    assert get(emulator).delay == pytest.approx(0.01)


# -- faults --------------------------------------------------------------------------


def statuses_with_faults(seed: int) -> tuple[list[int], Emulator]:
    emulator, _ = make(fault_rate=0.5, seed=seed)
    answers = [post(emulator, {"externalId": f"f{n}"}) for n in range(30)]
    return [answer.status for answer in answers], emulator


def test_faults_are_500_or_503_not_applied_and_logged() -> None:
    statuses, emulator = statuses_with_faults(seed=3)
    assert statuses == statuses_with_faults(seed=3)[0]  # the seed replays them
    assert set(statuses) == {201, 500, 503}
    created = [emulator.customer(cid)["externalId"] for cid in emulator.customer_ids()]
    assert created == [f"f{n}" for n, status in enumerate(statuses) if status == 201]
    log = emulator.request_log
    assert [entry.status for entry in log] == statuses
    assert all(entry.applied == (entry.status == 201) for entry in log)


def test_fault_body_is_a_jsonapi_error() -> None:
    emulator, _ = make(fault_rate=1.0, seed=0, rate_limit=10)
    answer = get(emulator)
    error = answer.json()["errors"][0]
    assert answer.status in (500, 503)
    assert error["status"] == str(answer.status)
    assert error["detail"].startswith("injected fault")
    assert answer.headers["x-ratelimit-remaining"] == "10"


def test_faults_never_touch_seeding_or_snapshots() -> None:
    emulator, _ = make(fault_rate=1.0, drop_rate=1.0, throttle_rate=1.0, seed=0)
    ids = emulator.seed([{"externalId": "s"}])
    assert list(emulator.snapshot()) == ids
    assert emulator.customer(ids[0])["externalId"] == "s"
    assert emulator.request_log == []


def test_dropped_requests_raise_in_mock_transport_and_are_logged_with_status_0() -> None:
    emulator, sleeps = make(drop_rate=1.0, latency_ms=5, seed=0)
    with (
        httpx.Client(transport=emulator.mock_transport(), base_url="https://e") as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.post("/v1/customers", json={"externalId": "gone"}, headers=AUTH)
    assert emulator.customer_ids() == []
    assert emulator.request_log == [
        LoggedRequest("POST", "/v1/customers", "", {"externalId": "gone"}, 0, applied=False)
    ]
    assert sleeps == [0.005]  # the delay comes before the connection closes


def test_throttling_adds_429s_with_rate_headers() -> None:
    emulator, _ = make(throttle_rate=1.0, rate_limit=100, seed=0)
    answer = post(emulator, {"externalId": "t"})
    assert answer.status == 429
    assert limits(answer) == ("100", "100", str(WINDOW_END))  # no budget used
    assert "Retry-After" not in answer.headers
    assert emulator.customer_ids() == []
    assert emulator.request_log[0].applied is False
    emulator.settings = replace(emulator.settings, retry_after=True)
    assert get(emulator).headers["Retry-After"] == "1"


def test_throttling_with_a_fixed_seed_is_repeatable() -> None:
    def run() -> list[int]:
        emulator, _ = make(throttle_rate=0.3, seed=11)
        return [get(emulator).status for _ in range(20)]

    statuses = run()
    assert statuses == run()
    assert set(statuses) == {200, 429}


def test_fault_after_apply_stores_the_write_but_answers_500() -> None:
    emulator, _ = make(fault_after_apply_rate=1.0, seed=0)
    created = post(emulator, {"externalId": "went-through"})
    assert created.status == 500
    assert created.json()["errors"][0]["detail"].startswith("injected fault")
    [customer_id] = emulator.customer_ids()
    assert emulator.customer(customer_id)["externalId"] == "went-through"
    updated = emulator.handle("PUT", f"/v1/customers/{customer_id}", AUTH, b'{"name": "N"}')
    assert updated.status == 500
    assert emulator.customer(customer_id)["name"] == "N"
    assert get(emulator).status == 200  # reads are not hit
    assert post(emulator, {"externalId": "went-through"}).status == 409  # nor failed writes
    assert [(e.status, e.applied) for e in emulator.request_log] == [
        (500, True),
        (500, True),
        (200, True),
        (409, False),
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rate_limit": 0}, "rate_limit"),
        ({"reset_format": "minutes"}, "reset_format"),
        ({"fault_rate": 1.5}, "fault_rate"),
        ({"drop_rate": -0.1}, "drop_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"jitter_ms": float("inf")}, "jitter_ms"),
        ({"bulk_polls_to_complete": -1}, "bulk_polls_to_complete"),
        ({"customers": -1}, "customers"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorSettings(**settings)


def test_replacing_settings_with_a_seed_replays_the_same_faults() -> None:
    from dataclasses import replace as replaced

    emulator = Emulator()

    def statuses() -> list[int]:
        emulator.settings = replaced(emulator.settings, fault_rate=0.5, seed=None)
        emulator.settings = replaced(emulator.settings, seed=7)
        headers = {"Authorization": "Bearer emulator-key"}
        return [emulator.handle("GET", "/v1/customers", headers, b"").status for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200} < set(first)  # some faults, some successes
