"""Bulk jobs and customer pages, against the emulator and MockTransport handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_pacing import FakeTime

from ksync.bulk import NO_RESULT, BulkItemResult
from ksync.client import ApiError, KustomerClient, RetryPolicy
from ksync.emulator import Emulator, EmulatorSettings

BASE = "https://acme.api.kustomerapp.com"
KEY = "bulk-key-1"
JOE = "aaaaaaaaaaaaaaaaaaaaaaaa"
ANN = "bbbbbbbbbbbbbbbbbbbbbbbb"
JOB = "b00000000000000000000001"


class Setup:
    def __init__(self) -> None:
        self.fake = FakeTime()
        self.waits: list[tuple[float, str]] = []
        self.emulator = Emulator(
            EmulatorSettings(api_key=KEY), clock=self.fake.utc, sleep=self.fake.sleep
        )
        self.emulator.seed(
            [
                {"id": JOE, "externalId": "joe", "name": "Joe"},
                {"id": ANN, "externalId": "ann", "emails": [{"email": "ann@example.com"}]},
            ]
        )
        self.clients: list[KustomerClient] = []

    def client(self, transport: httpx.BaseTransport | None = None, **policy: Any) -> KustomerClient:
        fake = self.fake
        client = KustomerClient(
            BASE,
            KEY,
            transport=transport or self.emulator.mock_transport(),
            retry=RetryPolicy(sleep=fake.sleep, random=lambda: 0.5, **policy),
            limiter=fake.limiter(on_wait=lambda s, why: self.waits.append((s, why))),
        )
        self.clients.append(client)
        return client

    def requests(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.emulator.request_log]


@pytest.fixture
def setup() -> Iterator[Setup]:
    made = Setup()
    yield made
    for client in made.clients:
        client.close()


def test_bulk_create_lifecycle_with_an_item_error(setup: Setup) -> None:
    client = setup.client()
    results = client.bulk_create(
        [
            {"externalId": "new-1", "emails": [{"email": "new1@example.com"}]},
            {"externalId": "new-2", "emails": [{"email": "ANN@example.com"}]},  # Ann's
            {"externalId": "new-3"},
        ]
    )
    assert [(r.index, r.status) for r in results] == [
        (0, "created"),
        (1, "error"),
        (2, "created"),
    ]
    assert results[1] == BulkItemResult(
        1, None, "error", f"email ANN@example.com already belongs to customer {ANN}"
    )
    assert results[0].id and results[0].error is None
    assert setup.emulator.customer(results[2].id or "")["externalId"] == "new-3"
    assert setup.requests() == [
        ("POST", "/v1/customers/bulk"),
        ("GET", f"/v1/bulk/{JOB}"),  # running
        ("GET", f"/v1/bulk/{JOB}"),  # complete
        ("GET", f"/v1/bulk/{JOB}/batches"),
    ]
    assert setup.fake.sleeps == [0.2, 0.4]
    assert client.stats.by_method == {"POST": 1, "GET": 3}


def test_bulk_update_lifecycle(setup: Setup) -> None:
    setup.emulator.settings = EmulatorSettings(api_key=KEY, bulk_polls_to_complete=6)
    client = setup.client()
    results = client.bulk_update(
        [
            {"id": JOE, "phones": [{"phone": "+14155550100"}]},
            {"id": "cccccccccccccccccccccccc", "name": "Nobody"},
        ]
    )
    assert results == [
        BulkItemResult(0, JOE, "updated"),
        BulkItemResult(1, "cccccccccccccccccccccccc", "error", results[1].error),
    ]
    assert "not found" in (results[1].error or "")
    assert setup.emulator.customer(JOE)["phones"][0]["phone"] == "+14155550100"
    assert setup.fake.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert setup.waits == [
        (1.6, f"bulk job {JOB}"),
        (3.2, f"bulk job {JOB}"),
        (5.0, f"bulk job {JOB}"),
    ]


def test_a_job_complete_at_submission_is_not_polled(setup: Setup) -> None:
    setup.emulator.settings = EmulatorSettings(api_key=KEY, bulk_polls_to_complete=0)
    client = setup.client()
    assert client.bulk_update([{"id": ANN, "name": "Ann"}]) == [BulkItemResult(0, ANN, "updated")]
    assert [m for m, _ in setup.requests()] == ["PUT", "GET"]


def test_bulk_item_limits(setup: Setup) -> None:
    client = setup.client()
    with pytest.raises(ValueError, match="at most 100 items, not 101"):
        client.bulk_create([{"externalId": f"x{n}"} for n in range(101)])
    with pytest.raises(ValueError, match="bulk update item 1 has no id"):
        client.bulk_update([{"id": JOE}, {"name": "no id"}])
    with pytest.raises(ValueError, match="not an object"):
        client.bulk_create(["x"])  # type: ignore[list-item]
    assert client.bulk_create([]) == []
    assert setup.requests() == []


def test_a_slow_job_gives_up(setup: Setup) -> None:
    setup.emulator.settings = EmulatorSettings(api_key=KEY, bulk_polls_to_complete=1000)
    client = setup.client(max_poll_wait=20.0)
    with pytest.raises(ApiError, match=rf"bulk job {JOB} is still queued after 16 s"):
        client.bulk_update([{"id": JOE, "name": "Joe"}])
    assert sum(setup.fake.sleeps) <= 20.0


class Jobs:
    """A fake bulk API: ``submit`` answers the submit, then polls are ``polls`` in order."""

    def __init__(self, submit: Any, polls: list[str], results: list[dict[str, Any]]) -> None:
        self.submit, self.polls, self.results = submit, polls, results
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.requests.append((request.method, path))
        if path == "/v1/customers/bulk":
            answer = self.submit.pop(0) if isinstance(self.submit, list) else self.submit
            if isinstance(answer, Exception):
                raise answer
            return answer  # type: ignore[no-any-return]
        if path.endswith("/batches"):
            batch = {"type": "batch", "id": "x", "attributes": {"results": self.results}}
            return httpx.Response(200, json={"data": [batch]})
        status = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        return httpx.Response(200, json=job(status))


def job(status: str) -> dict[str, Any]:
    return {"data": {"type": "bulk", "id": "j1", "attributes": {"status": status}}}


QUEUED = httpx.Response(201, json=job("queued"))
FAILED = httpx.Response(503, json={"errors": [{"detail": "try later"}]})


def test_missing_and_odd_results_are_errors(setup: Setup) -> None:
    results = [
        {"index": 2, "id": "c2", "status": "created", "error": None},
        {"index": 0, "id": None, "status": "weird"},
        {"index": 7, "id": "c7", "status": "created"},  # no such item
        {"id": "c9", "status": "created"},  # no index
    ]
    jobs = Jobs(QUEUED, ["complete"], results)
    client = setup.client(httpx.MockTransport(jobs))
    got = client.bulk_create([{"externalId": f"n{n}"} for n in range(3)])
    assert got == [
        BulkItemResult(0, None, "error", "unexpected result status 'weird'"),
        BulkItemResult(1, None, "error", NO_RESULT),
        BulkItemResult(2, "c2", "created"),
    ]


def test_a_failed_bulk_create_submit_is_not_sent_again(setup: Setup) -> None:
    for failure in (FAILED, httpx.ReadTimeout("timed out")):
        jobs = Jobs([failure, QUEUED], ["complete"], [])
        client = setup.client(httpx.MockTransport(jobs))
        with pytest.raises(ApiError) as info:
            client.bulk_create([{"externalId": "n1"}])
        assert info.value.path == "/v1/customers/bulk"
        assert jobs.requests == [("POST", "/v1/customers/bulk")]


def test_a_failed_bulk_update_submit_is_sent_again(setup: Setup) -> None:
    ok: list[dict[str, Any]] = [{"index": 0, "id": JOE, "status": "updated", "error": None}]
    jobs = Jobs([FAILED, httpx.ConnectError("refused"), QUEUED], ["running", "complete"], ok)
    client = setup.client(httpx.MockTransport(jobs))
    assert client.bulk_update([{"id": JOE, "name": "J"}]) == [BulkItemResult(0, JOE, "updated")]
    assert [m for m, _ in jobs.requests] == ["PUT", "PUT", "PUT", "GET", "GET", "GET"]


def test_a_failed_job_is_an_error(setup: Setup) -> None:
    client = setup.client(httpx.MockTransport(Jobs(QUEUED, ["running", "failed"], [])))
    with pytest.raises(ApiError, match="bulk job j1 ended with status failed"):
        client.bulk_update([{"id": JOE}])


# -- pages -------------------------------------------------------------------------------


def test_list_pages(setup: Setup) -> None:
    setup.emulator.seed([{"externalId": f"c{n}"} for n in range(248)])
    client = setup.client()
    pages = [client.list_page(n, 100) for n in (1, 2, 3)]
    assert [len(p.customers) for p in pages] == [100, 100, 50]
    assert [p.has_next for p in pages] == [True, True, False]
    assert {(p.total, p.total_pages) for p in pages} == {(250, 3)}
    assert pages[0].customers[0].id == JOE
    assert pages[2].customers[-1].external_id == "c247"
    assert setup.requests()[0] == ("GET", "/v1/customers")
    assert setup.emulator.request_log[0].query == "page=1&pageSize=100"
    beyond = client.list_page(4)
    assert (beyond.customers, beyond.has_next) == ((), False)


def test_list_page_without_meta_or_links(setup: Setup) -> None:
    body = {"data": [{"type": "customer", "id": JOE, "attributes": {}}] * 2}
    client = setup.client(httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    page = client.list_page(3, page_size=2)
    assert (page.total, page.total_pages, page.has_next) == (6, 4, True)


@pytest.mark.parametrize(("page", "size"), [(0, 100), (1, 0), (1, 101)])
def test_list_page_refuses_bad_arguments(setup: Setup, page: int, size: int) -> None:
    with pytest.raises(ValueError):
        setup.client().list_page(page, size)


def test_list_page_without_a_list(setup: Setup) -> None:
    body = {"data": {"id": JOE}}
    client = setup.client(httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    with pytest.raises(ApiError, match="no list of customer documents"):
        client.list_page(1)
