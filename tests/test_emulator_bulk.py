"""Bulk jobs, API key roles and the token check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ksync.emulator import Emulator, EmulatorSettings
from ksync.emulator.roles import CREATE, LEGACY_READ, LEGACY_WRITE, READ, UPDATE

KEY = "bulk-key"
JOE = "aaaaaaaaaaaaaaaaaaaaaaaa"
ANN = "bbbbbbbbbbbbbbbbbbbbbbbb"
KEYS = {
    "reader": frozenset({READ}),
    "creator": frozenset({CREATE}),
    "legacy-writer": frozenset({LEGACY_WRITE}),
    "legacy-reader": frozenset({LEGACY_READ, "org.permission.conversation.read"}),
}


def make_emulator(**settings: Any) -> Emulator:
    emulator = Emulator(EmulatorSettings(api_key=KEY, keys=KEYS, **settings))
    emulator.seed(
        [
            {"id": JOE, "externalId": "joe", "name": "Joe", "tags": ["vip"]},
            {"id": ANN, "externalId": "ann", "emails": [{"email": "ann@example.com"}]},
        ]
    )
    return emulator


@pytest.fixture
def emulator() -> Emulator:
    return make_emulator()


def client_for(emulator: Emulator, key: str = KEY) -> httpx.Client:
    return httpx.Client(
        transport=emulator.mock_transport(),
        base_url="https://emulated",
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with client_for(emulator) as client:
        yield client


def status_of(client: httpx.Client, job: str) -> str:
    response = client.get(f"/v1/bulk/{job}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["type"], data["id"]) == ("bulk", job)
    status: str = data["attributes"]["status"]
    return status


def test_bulk_create_lifecycle_with_an_item_error(client: httpx.Client, emulator: Emulator) -> None:
    items = [
        {"externalId": "new-1", "emails": [{"email": "new1@example.com"}]},
        {"externalId": "new-2", "emails": [{"email": "ANN@example.com"}]},  # taken by Ann
        {"externalId": "new-3"},
    ]
    submitted = client.post("/v1/customers/bulk", json=items)
    assert submitted.status_code == 201
    data = submitted.json()["data"]
    job = data["id"]
    assert data["type"] == "bulk"
    assert data["links"] == {"self": f"/v1/bulk/{job}"}
    assert data["attributes"]["status"] == "queued"
    assert data["attributes"]["count"] == 3
    assert data["attributes"]["method"] == "POST"

    not_yet = client.get(f"/v1/bulk/{job}/batches")
    assert not_yet.status_code == 409
    assert not_yet.json()["errors"][0]["code"] == "bulk_not_complete"
    assert status_of(client, job) == "running"
    assert len(emulator.customer_ids()) == 2  # nothing applied until complete
    assert client.get(f"/v1/bulk/{job}/batches").status_code == 409  # does not advance it
    assert status_of(client, job) == "complete"

    ids = emulator.customer_ids()
    assert len(ids) == 4
    batches = client.get(f"/v1/bulk/{job}/batches")
    assert batches.status_code == 200
    [batch] = batches.json()["data"]
    assert batch["type"] == "batch"
    assert batch["attributes"]["results"] == [
        {"index": 0, "id": ids[2], "status": "created", "error": None},
        {
            "index": 1,
            "id": None,
            "status": "error",
            "error": f"email ANN@example.com already belongs to customer {ANN}",
        },
        {"index": 2, "id": ids[3], "status": "created", "error": None},
    ]
    assert [emulator.customer(i)["externalId"] for i in ids[2:]] == ["new-1", "new-3"]
    final = client.get(f"/v1/bulk/{job}").json()["data"]["attributes"]
    assert (final["status"], final["succeeded"], final["failed"]) == ("complete", 2, 1)
    assert len(emulator.customer_ids()) == 4  # applied once


def test_bulk_update_merges_each_item_on_its_own(emulator: Emulator) -> None:
    emulator.settings = EmulatorSettings(api_key=KEY, keys=KEYS, bulk_polls_to_complete=1)
    items: list[Any] = [
        {"id": JOE, "emails": [{"email": "joe@example.com", "type": "work"}]},
        {"id": ANN, "externalId": "joe"},  # Joe's externalId
        {"id": "cccccccccccccccccccccccc", "name": "Nobody"},
        {"name": "no id"},
        "not an object",
        {"id": ANN, "phones": [{"phone": "+15550001111", "type": "cell"}]},
        {"id": ANN, "name": "Ann"},
    ]
    with client_for(emulator) as client:
        submitted = client.put("/v1/customers/bulk", json=items)
        assert submitted.status_code == 201
        job = submitted.json()["data"]["id"]
        assert submitted.json()["data"]["attributes"]["status"] == "queued"
        assert status_of(client, job) == "complete"  # one poll
        results = client.get(f"/v1/bulk/{job}/batches").json()["data"][0]["attributes"]["results"]
    assert [(r["index"], r["id"], r["status"]) for r in results] == [
        (0, JOE, "updated"),
        (1, ANN, "error"),
        (2, "cccccccccccccccccccccccc", "error"),
        (3, None, "error"),
        (4, None, "error"),
        (5, ANN, "error"),
        (6, ANN, "updated"),
    ]
    assert results[1]["error"] == f"externalId joe already belongs to customer {JOE}"
    assert results[2]["error"] == "customer cccccccccccccccccccccccc not found"
    assert "id" in results[3]["error"]
    assert "type must be one of" in results[5]["error"]
    joe = emulator.customer(JOE)
    assert (joe["name"], joe["tags"], joe["rev"]) == ("Joe", ["vip"], 2)  # merged
    ann = emulator.customer(ANN)
    assert (ann["name"], ann["externalId"], ann["phones"], ann["rev"]) == ("Ann", "ann", [], 2)


def test_bulk_polls_zero_completes_at_submission() -> None:
    emulator = make_emulator(bulk_polls_to_complete=0)
    with client_for(emulator) as client:
        submitted = client.post("/v1/customers/bulk", json=[{"externalId": "now"}])
        data = submitted.json()["data"]
        assert data["attributes"]["status"] == "complete"
        assert len(emulator.customer_ids()) == 3
        results = client.get(f"/v1/bulk/{data['id']}/batches").json()["data"][0]
        assert results["attributes"]["results"][0]["status"] == "created"


def test_slow_jobs_stay_queued_then_run_then_complete() -> None:
    emulator = make_emulator(bulk_polls_to_complete=4)
    with client_for(emulator) as client:
        job = client.post("/v1/customers/bulk", json=[{"externalId": "x"}]).json()["data"]["id"]
        assert [status_of(client, job) for _ in range(5)] == [
            "queued",
            "queued",
            "running",
            "complete",
            "complete",
        ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"externalId": f"x{n}"} for n in range(101)], "1 to 100 items, not 101"),
        ([], "1 to 100 items, not 0"),
        ({"externalId": "x"}, "JSON array"),
        (None, "JSON array"),
    ],
)
def test_bad_bulk_bodies_are_400(
    client: httpx.Client, emulator: Emulator, body: Any, message: str
) -> None:
    for method in ("POST", "PUT"):
        if body is None:
            response = client.request(method, "/v1/customers/bulk", content=b"{oops")
        else:
            response = client.request(method, "/v1/customers/bulk", json=body)
        assert response.status_code == 400
        assert message in response.json()["errors"][0]["message"]
    assert len(emulator.customer_ids()) == 2


def test_a_hundred_items_are_fine(client: httpx.Client, emulator: Emulator) -> None:
    items = [{"externalId": f"x{n}"} for n in range(100)]
    job = client.post("/v1/customers/bulk", json=items).json()["data"]["id"]
    while status_of(client, job) != "complete":
        pass
    assert len(emulator.customer_ids()) == 102


def test_unknown_jobs_and_methods(client: httpx.Client) -> None:
    assert client.get("/v1/bulk/b0ffffffffffffffffffffff").status_code == 404
    assert client.get("/v1/bulk/b0ffffffffffffffffffffff/batches").status_code == 404
    response = client.get("/v1/customers/bulk")
    assert response.status_code == 405
    assert response.headers["allow"] == "PUT, POST"


# -- roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "method", "path", "body", "role"),
    [
        ("reader", "POST", "/v1/customers", {}, CREATE),
        ("reader", "PUT", f"/v1/customers/{JOE}", {"name": "X"}, UPDATE),
        ("reader", "PATCH", f"/v1/customers/{JOE}", {"name": "X"}, UPDATE),
        ("reader", "POST", "/v1/customers/bulk", [{}], CREATE),
        ("creator", "PUT", "/v1/customers/bulk", [{"id": JOE}], UPDATE),
        ("creator", "GET", "/v1/customers", None, READ),
        ("legacy-writer", "GET", f"/v1/customers/{JOE}", None, READ),
        ("legacy-reader", "POST", "/v1/customers", {}, CREATE),
    ],
)
def test_a_key_without_the_role_gets_403_naming_it(
    emulator: Emulator, key: str, method: str, path: str, body: Any, role: str
) -> None:
    before = emulator.snapshot()
    with client_for(emulator, key) as client:
        response = client.request(method, path, json=body)
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert (error["status"], error["code"]) == ("403", "forbidden")
    assert f"lacks the role {role}" in error["detail"]
    assert emulator.snapshot() == before


@pytest.mark.parametrize(
    ("key", "method", "path", "body", "status"),
    [
        ("reader", "GET", "/v1/customers/externalId=joe", None, 200),
        ("legacy-reader", "GET", "/v1/customers", None, 200),
        ("creator", "POST", "/v1/customers", {"externalId": "c"}, 201),
        ("creator", "POST", "/v1/customers/bulk", [{"externalId": "c"}], 201),
        ("legacy-writer", "POST", "/v1/customers", {"externalId": "w"}, 201),
        ("legacy-writer", "PUT", f"/v1/customers/{JOE}", {"name": "W"}, 200),
        ("legacy-writer", "PUT", "/v1/customers/bulk", [{"id": JOE}], 201),
        ("reader", "DELETE", "/v1/customers", None, 405),
    ],
)
def test_a_key_with_the_role_gets_through(
    emulator: Emulator, key: str, method: str, path: str, body: Any, status: int
) -> None:
    with client_for(emulator, key) as client:
        assert client.request(method, path, json=body).status_code == status


def test_bulk_polls_need_only_a_known_key(emulator: Emulator) -> None:
    with client_for(emulator, "creator") as client:
        job = client.post("/v1/customers/bulk", json=[{"externalId": "c"}]).json()["data"]["id"]
        assert status_of(client, job) == "running"


def test_unknown_key_is_401(emulator: Emulator) -> None:
    with client_for(emulator, "stranger") as client:
        assert client.get("/v1/customers").status_code == 401
        assert client.get("/v1/auth/tokens/current").status_code == 401


@pytest.mark.parametrize(
    ("key", "roles"),
    [
        (KEY, sorted([READ, CREATE, UPDATE, LEGACY_READ, LEGACY_WRITE])),
        ("reader", [READ]),
        ("legacy-reader", ["org.permission.conversation.read", LEGACY_READ]),
    ],
)
def test_tokens_current_lists_the_key_roles(emulator: Emulator, key: str, roles: list[str]) -> None:
    with client_for(emulator, key) as client:
        response = client.get("/v1/auth/tokens/current")
    assert response.status_code == 200
    assert response.json() == {
        "data": {"type": "token", "id": "current", "attributes": {"roles": roles}}
    }


def test_keys_are_checked_and_hidden() -> None:
    with pytest.raises(ValueError, match="api_key"):
        EmulatorSettings(api_key="k", keys={"k": frozenset({READ})})
    with pytest.raises(ValueError, match="key"):
        EmulatorSettings(keys={"has space": frozenset({READ})})
    with pytest.raises(ValueError, match="roles"):
        EmulatorSettings(keys={"k2": READ})  # type: ignore[dict-item]
    assert "reader" not in repr(EmulatorSettings(keys=KEYS))
