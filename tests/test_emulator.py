"""The emulator's reads, auth, routing and request log, in-process via httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ksync.emulator import Emulator, EmulatorSettings, LoggedRequest

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}

SEED: list[dict[str, Any]] = [
    {
        "id": "aaaaaaaaaaaaaaaaaaaaaaaa",
        "externalId": "crm+42@acme",
        "name": "Joe",
        "emails": [{"email": "Joe+Tag@Example.com", "type": "work", "verified": True}],
        "phones": [{"phone": "+1 (555) 123-4567", "type": "mobile"}],
        "company": {"name": "Acme"},
    },
    {"name": "Ann", "emails": [{"email": "ann@example.com"}]},
]


@pytest.fixture
def emulator() -> Emulator:
    emulator = Emulator(EmulatorSettings(api_key=KEY))
    emulator.seed(SEED)
    return emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emulator.mock_transport(), base_url="https://emulated", headers=AUTH
    ) as client:
        yield client


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    return error


def test_every_request_needs_the_bearer_key(client: httpx.Client) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": KEY},
    ):
        response = client.get("/v1/customers", headers=headers)
        assert response.status_code == 401
        error = only_error(response)
        assert error["status"] == "401"
        assert error["code"] == "unauthorized"
        assert KEY not in error["detail"]
    assert client.get("/v1/customers", headers={"authorization": f"bearer {KEY}"}).is_success


def test_missing_authorization_header_is_401(emulator: Emulator) -> None:
    answer = emulator.handle("GET", "/v1/customers", {}, b"")
    assert answer.status == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert "Authorization" in answer.json()["errors"][0]["detail"]


def test_get_by_id_returns_the_jsonapi_document(client: httpx.Client) -> None:
    response = client.get("/v1/customers/aaaaaaaaaaaaaaaaaaaaaaaa")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()["data"]
    assert data["type"] == "customer"
    assert data["id"] == "aaaaaaaaaaaaaaaaaaaaaaaa"
    assert data["relationships"] == {}
    assert data["links"] == {"self": "/v1/customers/aaaaaaaaaaaaaaaaaaaaaaaa"}
    attributes = data["attributes"]
    assert attributes["emails"] == [
        {"email": "Joe+Tag@Example.com", "type": "work", "verified": True, "id": None}
    ]
    assert attributes["phones"] == [
        {"phone": "+1 (555) 123-4567", "type": "mobile", "verified": False, "id": None}
    ]
    assert attributes["company"] == {"name": "Acme"}
    assert attributes["rev"] == 1


@pytest.mark.parametrize(
    "segment",
    [
        "externalId=crm%2B42%40acme",
        "externalId=crm+42@acme",
        "email=joe%2Btag%40example.com",
        "email=%20JOE+TAG@EXAMPLE.COM%20",
        "phone=%2B15551234567",
        "phone=+15551234567",
        "phone=1-555-123-4567",
    ],
)
def test_lookups_decode_the_path_segment(client: httpx.Client, segment: str) -> None:
    response = client.get(f"/v1/customers/{segment}")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == "aaaaaaaaaaaaaaaaaaaaaaaa"


def test_plus_in_the_path_is_not_a_space(client: httpx.Client) -> None:
    assert client.get("/v1/customers/externalId=crm%2042@acme").status_code == 404
    assert client.get("/v1/customers/email=joe%20tag@example.com").status_code == 404


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/v1/customers/bbbbbbbbbbbbbbbbbbbbbbbb", "customer bbbbbbbbbbbbbbbbbbbbbbbb not found"),
        ("/v1/customers/externalId=nobody", "no customer with externalId nobody"),
        ("/v1/customers/email=nobody%40example.com", "no customer with email nobody@example.com"),
        ("/v1/customers/phone=%2B4420", "no customer with phone +4420"),
        ("/v1/companies", "no route for /v1/companies"),
        ("/v2/customers", "no route for /v2/customers"),
    ],
)
def test_not_found_uses_the_jsonapi_error_shape(
    client: httpx.Client, path: str, detail: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert only_error(response) == {
        "status": "404",
        "code": "not_found",
        "title": "Not Found",
        "detail": detail,
        "source": {"pointer": None},
    }


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.delete("/v1/customers/aaaaaaaaaaaaaaaaaaaaaaaa")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PUT, PATCH"
    assert only_error(response)["status"] == "405"
    assert client.put("/v1/customers", json={}).status_code == 405


def make_customers(emulator: Emulator, count: int) -> list[str]:
    return emulator.seed([{"externalId": f"x{n}"} for n in range(count)])


def test_list_pages_in_creation_order(client: httpx.Client, emulator: Emulator) -> None:
    make_customers(emulator, 3)
    ids = emulator.customer_ids()
    assert ids[0] == "aaaaaaaaaaaaaaaaaaaaaaaa"
    first = client.get("/v1/customers", params={"page": 1, "pageSize": 2}).json()
    assert [item["id"] for item in first["data"]] == ids[:2]
    assert first["meta"] == {"page": 1, "pageSize": 2, "total": 5, "totalPages": 3}
    assert first["links"] == {
        "self": "/v1/customers?page=1&pageSize=2",
        "next": "/v1/customers?page=2&pageSize=2",
    }
    last = client.get(first["links"]["next"].replace("page=2", "page=3")).json()
    assert [item["id"] for item in last["data"]] == ids[4:]
    assert last["links"]["next"] is None
    beyond = client.get("/v1/customers?page=9&pageSize=2").json()
    assert beyond["data"] == []
    assert beyond["links"]["next"] is None


def test_list_follows_next_links_to_every_customer(
    client: httpx.Client, emulator: Emulator
) -> None:
    make_customers(emulator, 250)
    seen: list[str] = []
    url: str | None = "/v1/customers"
    while url is not None:
        page = client.get(url).json()
        assert page["meta"]["pageSize"] == 100
        seen.extend(item["id"] for item in page["data"])
        url = page["links"]["next"]
    assert seen == emulator.customer_ids()
    assert len(seen) == 252


def test_list_of_an_empty_org() -> None:
    empty = Emulator(EmulatorSettings(api_key=KEY))
    body = empty.handle("GET", "/v1/customers", AUTH, b"").json()
    assert body["data"] == []
    assert body["meta"] == {"page": 1, "pageSize": 100, "total": 0, "totalPages": 0}
    assert body["links"]["next"] is None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("pageSize=101", "pageSize"),
        ("pageSize=0", "pageSize"),
        ("page=x", "page"),
        ("page=-1", "page"),
    ],
)
def test_bad_paging_is_400_in_the_simple_shape(
    client: httpx.Client, query: str, parameter: str
) -> None:
    response = client.get(f"/v1/customers?{query}")
    assert response.status_code == 400
    error = only_error(response)
    assert set(error) == {"code", "message", "meta"}
    assert error["meta"] == {"parameter": parameter}
    assert parameter in error["message"]


def test_request_log_records_every_request(client: httpx.Client, emulator: Emulator) -> None:
    client.get("/v1/customers/email=joe%2Btag%40example.com")
    client.get("/v1/customers?page=2&pageSize=1", headers={"Authorization": "Bearer no"})
    client.put("/v1/customers/aaaaaaaaaaaaaaaaaaaaaaaa", json={"name": "Joseph"})
    client.post("/v1/customers", content=b"not json")
    assert emulator.request_log == [
        LoggedRequest("GET", "/v1/customers/email=joe%2Btag%40example.com", "", None, 200),
        LoggedRequest("GET", "/v1/customers", "page=2&pageSize=1", None, 401),
        LoggedRequest("PUT", "/v1/customers/aaaaaaaaaaaaaaaaaaaaaaaa", "", {"name": "Joseph"}, 200),
        LoggedRequest("POST", "/v1/customers", "", None, 400),
    ]
    assert emulator.request_log[0].decoded_path == "/v1/customers/email=joe+tag@example.com"
    emulator.clear_log()
    assert emulator.request_log == []


def test_seed_is_not_logged_and_settings_hide_the_key(emulator: Emulator) -> None:
    assert emulator.request_log == []
    assert KEY not in repr(emulator.settings)
