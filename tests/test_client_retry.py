"""Retries, rate-limit waits, create recovery and counting, on a fake clock."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from test_pacing import START, FakeTime

from ksync.client import ApiError, KustomerClient, RetryPolicy
from ksync.emulator import Emulator, EmulatorSettings

BASE = "https://acme.api.kustomerapp.com"
KEY = "secret-key.JWT_abc123"
CID = "5886a2d8e4b0c2a1f0e1d2c3"
DOC = {"data": {"type": "customer", "id": CID, "attributes": {"externalId": "u1"}}}

Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """Answers each request with the next of ``answers`` (the last one repeats)."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.raw_path.decode()))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def status(code: int, document: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(
        code, json=document or {"errors": [{"detail": f"status {code}"}]}, headers=headers
    )


OK = httpx.Response(200, json=DOC)


class Setup:
    def __init__(self) -> None:
        self.fake = FakeTime()
        self.waits: list[tuple[float, str]] = []
        self.exchanges: list[tuple[str, str, int | None, float]] = []
        self.clients: list[KustomerClient] = []

    def client(
        self, transport: httpx.BaseTransport, *, limiter: bool = True, **policy: Any
    ) -> KustomerClient:
        fake = self.fake
        client = KustomerClient(
            BASE,
            KEY,
            transport=transport,
            retry=RetryPolicy(sleep=fake.sleep, random=lambda: 0.5, **policy),
            limiter=fake.limiter(on_wait=lambda s, why: self.waits.append((s, why)))
            if limiter
            else None,
            on_response=lambda *exchange: self.exchanges.append(exchange),
        )
        self.clients.append(client)
        return client

    def serve(
        self, *answers: httpx.Response | Exception | Handler, **policy: Any
    ) -> tuple[KustomerClient, Server]:
        server = Server(*answers)
        return self.client(httpx.MockTransport(server), **policy), server


@pytest.fixture
def setup() -> Iterator[Setup]:
    made = Setup()
    yield made
    for client in made.clients:
        client.close()


def test_429_waits_for_the_reset_then_succeeds(setup: Setup) -> None:
    limited = status(
        429, **{"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "41"}
    )
    client, server = setup.serve(limited, OK)
    assert client.get_customer(CID) is not None
    assert len(server.requests) == 2
    assert setup.fake.sleeps == [pytest.approx(41)]
    assert setup.waits == [(pytest.approx(41), "the rate limit")]
    assert (client.stats.throttled, client.stats.retries) == (1, 0)


def test_429_retry_after_wins(setup: Setup) -> None:
    limited = status(
        429,
        **{"Retry-After": "7", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(START + 50)},
    )
    client, _ = setup.serve(limited, OK)
    client.get_customer(CID)
    assert setup.fake.sleeps == [7]


def test_429_waits_are_bounded(setup: Setup) -> None:
    client, server = setup.serve(status(429, **{"Retry-After": "60"}), max_rate_limit_wait=900.0)
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert info.value.status == 429
    assert "still rate limited after waiting 960 s" in str(info.value)
    assert len(server.requests) == 16  # 15 waits of 60 s fit in 900 s
    assert client.stats.throttled == 16


def test_429s_do_not_use_up_attempts(setup: Setup) -> None:
    throttled = status(429, **{"Retry-After": "2"})
    client, server = setup.serve(throttled, status(503), throttled, status(503), OK, attempts=3)
    assert client.get_customer(CID) is not None
    assert len(server.requests) == 5


def test_503_burst_then_success(setup: Setup) -> None:
    client, server = setup.serve(status(503), status(503), status(500), OK)
    assert client.get_customer(CID) is not None
    assert len(server.requests) == 4
    assert setup.fake.sleeps == [0.375, 0.75, 1.5]  # 0.5, 1, 2 jittered to 75%
    assert setup.waits == [(1.5, "a retry after 500")]  # only waits over 1 s
    assert client.stats.retries == 3


def test_attempts_are_bounded(setup: Setup) -> None:
    client, server = setup.serve(status(502), attempts=6)
    with pytest.raises(ApiError) as info:
        client.send("PUT", f"/v1/customers/{CID}", {"name": "x"})
    assert len(server.requests) == 6
    assert (
        str(info.value) == f"PUT /v1/customers/{CID} -> 502: status 502 (gave up after 6 attempts)"
    )


def test_total_backoff_is_bounded(setup: Setup) -> None:
    client, server = setup.serve(status(503), attempts=10, base=4.0, max_total_wait=20.0)
    with pytest.raises(ApiError, match=r"gave up after 3 attempts and 9 s of waiting"):
        client.get_customer(CID)
    assert setup.fake.sleeps == [3.0, 6.0]  # the next, 12 s, would pass 20 s in all
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_connection_errors_are_retried_on_get_and_put(setup: Setup, error: Exception) -> None:
    client, server = setup.serve(error, OK)
    assert client.get_customer(CID) is not None
    client, server = setup.serve(error, OK)
    assert client.send("PUT", f"/v1/customers/{CID}", {"name": "x"}) == DOC
    assert [m for m, _ in server.requests] == ["PUT", "PUT"]


@pytest.mark.parametrize("code", [400, 401, 403, 409, 413])
def test_4xx_is_never_retried(setup: Setup, code: int) -> None:
    client, server = setup.serve(status(code), OK)
    with pytest.raises(ApiError) as info:
        client.send("PUT", f"/v1/customers/{CID}", {"name": "x"})
    assert info.value.status == code
    assert len(server.requests) == 1


def test_404_is_still_none(setup: Setup) -> None:
    client, server = setup.serve(status(404), OK)
    assert client.get_customer_by_external_id("nobody") is None
    assert len(server.requests) == 1


class Org:
    """A fake server remembering the customers created; ``fail`` decides each POST's fate."""

    def __init__(self, fail: list[str]) -> None:
        self.fail = fail  # per POST: "timeout-after-create", "503", "ok"
        self.customers: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.requests.append((request.method, path))
        if request.method == "POST":
            fate = self.fail.pop(0) if self.fail else "ok"
            if fate == "503":
                return status(503)
            body = json.loads(request.content)
            self.customers[body["externalId"]] = {
                "data": {"type": "customer", "id": CID, "attributes": body}
            }
            if fate == "timeout-after-create":
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(201, json=self.customers[body["externalId"]])
        external_id = unquote(path.rpartition("externalId=")[2])
        if external_id in self.customers:
            return httpx.Response(200, json=self.customers[external_id])
        return status(404)


def test_a_create_that_timed_out_but_went_through_is_not_sent_again(setup: Setup) -> None:
    org = Org(["timeout-after-create"])
    client = setup.client(httpx.MockTransport(org))
    document = client.send("POST", "/v1/customers", {"externalId": "u 1", "name": "Ann"})
    assert document["data"]["attributes"] == {"externalId": "u 1", "name": "Ann"}
    assert org.requests == [("POST", "/v1/customers"), ("GET", "/v1/customers/externalId=u%201")]
    assert setup.fake.sleeps == []


def test_a_create_that_failed_is_sent_again(setup: Setup) -> None:
    org = Org(["503"])
    client = setup.client(httpx.MockTransport(org))
    document = client.send("POST", "/v1/customers", {"externalId": "u1"})
    assert document["data"]["id"] == CID
    assert org.requests == [
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers/externalId=u1"),
        ("POST", "/v1/customers"),
    ]
    assert client.stats.by_method == {"POST": 2, "GET": 1}


def test_a_create_without_external_id_is_never_sent_twice(setup: Setup) -> None:
    client, server = setup.serve(status(503), OK)
    with pytest.raises(ApiError) as info:
        client.send("POST", "/v1/customers", {"name": "x"})
    assert info.value.status == 503
    assert server.requests == [("POST", "/v1/customers")]


def test_without_a_policy_nothing_is_retried() -> None:
    server = Server(status(503))
    with KustomerClient(BASE, KEY, transport=httpx.MockTransport(server)) as client:
        with pytest.raises(ApiError):
            client.get_customer(CID)
        with pytest.raises(ApiError):
            client.send("POST", "/v1/customers", {"externalId": "u1"})
    assert len(server.requests) == 2


def test_on_response_and_stats(setup: Setup) -> None:
    client, _ = setup.serve(httpx.ConnectError("refused"), status(503), OK, OK)
    client.get_customer(CID)
    client.send("PUT", f"/v1/customers/{CID}", {"name": "x"})
    path = f"/v1/customers/{CID}"
    assert [e[:3] for e in setup.exchanges] == [
        ("GET", path, None),
        ("GET", path, 503),
        ("GET", path, 200),
        ("PUT", path, 200),
    ]
    assert all(e[3] >= 0 for e in setup.exchanges)
    assert KEY not in repr(setup.exchanges)
    stats = client.stats
    assert (stats.requests, stats.by_method, stats.retries) == (4, {"GET": 3, "PUT": 1}, 2)
    assert str(stats) == "4 requests (GET 3, PUT 1), 2 retries, 0 rate-limited, waited 1.1 s"


def test_max_connections() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        KustomerClient(BASE, KEY, max_connections=0)
    with KustomerClient(BASE, KEY, max_connections=32) as client:
        pool = client._requester._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == 32


# -- against the emulator ----------------------------------------------------------------


def emulated(fake: FakeTime, **settings: Any) -> Emulator:
    emulator = Emulator(EmulatorSettings(api_key=KEY, **settings), clock=fake.utc, sleep=fake.sleep)
    emulator.seed([{"id": CID, "externalId": "u1"}])
    return emulator


@pytest.mark.parametrize(
    ("reset_format", "share"), [("epoch", 1.0), ("seconds", 1.0), ("epoch", 0.5)]
)
def test_a_steady_run_converges_on_the_rate_limit(reset_format: str, share: float) -> None:
    fake = FakeTime()
    emulator = emulated(fake, rate_limit=60, reset_format=reset_format)
    limiter = fake.limiter(max_share=share)
    starts: list[float] = []  # instant answers: a request's start is when it is answered
    with KustomerClient(
        BASE,
        KEY,
        transport=emulator.mock_transport(),
        retry=RetryPolicy(sleep=fake.sleep),
        limiter=limiter,
        on_response=lambda *exchange: starts.append(fake.now),
    ) as client:
        for _ in range(300):
            assert client.get_customer(CID) is not None
    assert [r.status for r in emulator.request_log] == [200] * 300
    assert limiter.target_rpm == 60 * share
    per_window = Counter(int(moment // 60) for moment in starts)
    assert max(per_window.values()) <= 60 * share
    after_first = [moment for moment in starts if moment >= (START // 60 + 1) * 60]
    rate = len(after_first) / (after_first[-1] - after_first[0]) * 60
    assert rate >= 0.9 * 60 * share


def test_a_run_with_throttling_and_faults_all_succeeds(setup: Setup) -> None:
    fake = setup.fake
    emulator = emulated(
        fake,
        rate_limit=60,
        retry_after=True,
        fault_rate=0.2,
        drop_rate=0.05,
        throttle_rate=0.05,
        seed=7,
    )
    client = setup.client(emulator.mock_transport())
    for _ in range(300):
        assert client.get_customer(CID) is not None
    statuses = [r.status for r in emulator.request_log]
    assert statuses.count(200) == 300
    assert client.stats.retries == statuses.count(500) + statuses.count(503) + statuses.count(0)
    assert client.stats.throttled == statuses.count(429)


def test_creates_that_fail_after_being_applied_are_recovered(setup: Setup) -> None:
    fake = setup.fake
    emulator = emulated(fake, fault_after_apply_rate=0.5, fault_rate=0.2, seed=3)
    client = setup.client(emulator.mock_transport())
    for n in range(40):
        document = client.send("POST", "/v1/customers", {"externalId": f"new-{n}"})
        assert document["data"]["attributes"]["externalId"] == f"new-{n}"
    assert emulator.customer_count() == 41  # each created exactly once
    log = emulator.request_log
    assert any(r.status == 500 and r.applied for r in log)


def test_threads_share_one_limiter_without_429s() -> None:
    fake = FakeTime()
    emulator = emulated(fake, rate_limit=60, fault_rate=0.1, seed=0)
    with KustomerClient(
        BASE,
        KEY,
        transport=emulator.mock_transport(),
        retry=RetryPolicy(sleep=fake.sleep),
        limiter=fake.limiter(),
        max_connections=4,
    ) as client:

        def work() -> None:
            for _ in range(50):
                assert client.get_customer(CID) is not None

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = [r.status for r in emulator.request_log]
        assert statuses.count(200) == 200
        assert 429 not in statuses
        assert client.stats.by_method == {"GET": len(statuses)}
