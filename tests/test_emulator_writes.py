"""The emulator's writes: create, update, validation and org-wide uniqueness."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from ksync.emulator import Emulator, EmulatorSettings

KEY = "test-key"
JOE = "aaaaaaaaaaaaaaaaaaaaaaaa"
ANN = "bbbbbbbbbbbbbbbbbbbbbbbb"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    emulator = Emulator(EmulatorSettings(api_key=KEY), clock=clock)
    emulator.seed(
        [
            {
                "id": JOE,
                "externalId": "joe",
                "name": "Joe",
                "emails": [{"email": "joe@example.com", "type": "work", "verified": True}],
                "phones": [{"phone": "+15551234567", "type": "mobile"}],
                "sharedEmails": [{"email": "team@example.com"}],
                "tags": ["vip"],
            },
            {"id": ANN, "externalId": "ann", "emails": [{"email": "ann@example.com"}]},
        ]
    )
    return emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emulator.mock_transport(),
        base_url="https://emulated",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        yield client


def only_error(response: httpx.Response) -> dict[str, Any]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1
    return errors[0]


def test_create_returns_201_with_rev_1_and_null_entry_ids(
    client: httpx.Client, emulator: Emulator
) -> None:
    body = {
        "name": "New",
        "externalId": "new-1",
        "emails": [{"email": "new@example.com", "type": "home"}],
        "phones": [{"phone": "+447700900123"}],
        "custom": {"tierStr": "gold"},
        "rev": 99,
        "id": "ffffffffffffffffffffffff",
        "createdAt": "1999-01-01T00:00:00.000Z",
    }
    response = client.post("/v1/customers", json=body)
    assert response.status_code == 201
    data = response.json()["data"]
    assert len(data["id"]) == 24
    assert int(data["id"], 16) >= 0
    assert data["id"] == data["id"].lower()
    assert data["links"] == {"self": f"/v1/customers/{data['id']}"}
    assert data["attributes"] == {
        "name": "New",
        "externalId": "new-1",
        "emails": [{"email": "new@example.com", "type": "home", "verified": False, "id": None}],
        "phones": [{"phone": "+447700900123", "verified": False, "id": None}],
        "custom": {"tierStr": "gold"},
        "createdAt": "2026-12-04T15:00:00.000Z",
        "updatedAt": "2026-12-04T15:00:00.000Z",
        "modifiedAt": "2026-12-04T15:00:00.000Z",
        "rev": 1,
    }
    assert emulator.customer(data["id"]) == data["attributes"]


def test_generated_ids_are_repeatable(clock: FakeClock) -> None:
    def ids() -> list[str]:
        emulator = Emulator(clock=clock)
        auth = {"Authorization": "Bearer emulator-key"}
        made = [emulator.handle("POST", "/v1/customers", auth, b"{}") for _ in range(3)]
        return [answer.json()["data"]["id"] for answer in made]

    first = ids()
    assert first == ids()
    assert len(set(first)) == 3


def test_create_with_no_arrays_stores_empty_ones(client: httpx.Client) -> None:
    attributes = client.post("/v1/customers", json={}).json()["data"]["attributes"]
    assert attributes["emails"] == []
    assert attributes["phones"] == []


def test_put_merges_top_level_keys_and_bumps_rev(
    client: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    before = emulator.customer(JOE)
    clock.advance(61.5)
    response = client.put(
        f"/v1/customers/{JOE}",
        json={"emails": [{"email": "joe@new.example", "type": "other"}], "rev": 1, "id": ANN},
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == JOE
    after = data["attributes"]
    assert after["emails"] == [
        {"email": "joe@new.example", "type": "other", "verified": False, "id": None}
    ]
    for kept in ("name", "externalId", "phones", "sharedEmails", "tags", "createdAt"):
        assert after[kept] == before[kept]
    assert after["rev"] == before["rev"] + 1 == 2
    assert after["updatedAt"] == after["modifiedAt"] == "2026-12-04T15:01:01.500Z"
    assert emulator.customer(JOE) == after


def test_put_replace_true_replaces_the_document(client: httpx.Client, emulator: Emulator) -> None:
    created_at = emulator.customer(JOE)["createdAt"]
    response = client.put(f"/v1/customers/{JOE}?replace=true", json={"name": "Only"})
    assert response.status_code == 200
    assert response.json()["data"]["attributes"] == {
        "createdAt": created_at,
        "name": "Only",
        "emails": [],
        "phones": [],
        "rev": 2,
        "updatedAt": "2026-12-04T15:00:00.000Z",
        "modifiedAt": "2026-12-04T15:00:00.000Z",
    }
    # The values it dropped are free for others again.
    assert client.get("/v1/customers/email=joe%40example.com").status_code == 404
    assert client.put(f"/v1/customers/{ANN}", json={"externalId": "joe"}).status_code == 200


def test_put_replace_false_and_patch_merge(client: httpx.Client, emulator: Emulator) -> None:
    assert client.put(f"/v1/customers/{JOE}?replace=false", json={"name": "A"}).status_code == 200
    response = client.patch(f"/v1/customers/{JOE}?replace=true", json={"name": "B"})
    assert response.status_code == 200
    attributes = emulator.customer(JOE)
    assert attributes["name"] == "B"
    assert attributes["tags"] == ["vip"]
    assert attributes["rev"] == 3


def test_update_of_a_missing_customer_is_404(client: httpx.Client) -> None:
    response = client.put("/v1/customers/cccccccccccccccccccccccc", json={"name": "X"})
    assert response.status_code == 404
    assert only_error(response)["detail"] == "customer cccccccccccccccccccccccc not found"


def test_empty_emails_array_is_accepted(client: httpx.Client, emulator: Emulator) -> None:
    assert client.patch(f"/v1/customers/{JOE}", json={"emails": []}).status_code == 200
    assert emulator.customer(JOE)["emails"] == []


@pytest.mark.parametrize(
    ("body", "message", "pointer"),
    [
        ([], "request body must be a JSON object of customer attributes", None),
        ({"emails": {"email": "a@b.c"}}, "emails must be a list", "/emails"),
        ({"phones": "+15550000000"}, "phones must be a list", "/phones"),
        ({"emails": ["a@b.c"]}, "emails[0] must be an object", "/emails/0"),
        ({"emails": [{"type": "work"}]}, "emails[0]: need to specify an email", "/emails/0"),
        ({"phones": [{"phone": 15550000000}]}, "phones[0]: need to specify an phone", "/phones/0"),
        (
            {"emails": [{"email": "a@b.c", "type": "mobile"}]},
            "emails[0].type must be one of home, work, other, not 'mobile'",
            "/emails/0/type",
        ),
        (
            {"phones": [{"phone": "+1555", "type": "cell"}]},
            "phones[0].type must be one of mobile, home, work, fax, other, not 'cell'",
            "/phones/0/type",
        ),
        (
            {"emails": [{"email": "a@b.c", "verified": "yes"}]},
            "emails[0].verified must be true or false",
            "/emails/0",
        ),
        ({"externalId": 42}, "externalId must be a string", "/externalId"),
        ({"sharedEmails": [{}]}, "sharedEmails[0]: need to specify an email", "/sharedEmails/0"),
    ],
)
def test_malformed_bodies_are_400_in_the_simple_shape(
    client: httpx.Client, emulator: Emulator, body: Any, message: str, pointer: str | None
) -> None:
    before = emulator.snapshot()
    for response in (
        client.post("/v1/customers", json=body),
        client.put(f"/v1/customers/{JOE}", json=body),
    ):
        assert response.status_code == 400
        expected_meta = {} if pointer is None else {"pointer": pointer}
        assert only_error(response) == {
            "code": "invalid_request",
            "message": message,
            "meta": expected_meta,
        }
    assert emulator.snapshot() == before


def test_missing_or_invalid_json_body_is_400(client: httpx.Client) -> None:
    for content in (b"", b"{nope", b"\xff"):
        response = client.post("/v1/customers", content=content)
        assert response.status_code == 400
        assert only_error(response)["message"].startswith("request body must be a JSON object")


@pytest.mark.parametrize(
    ("body", "detail", "pointer"),
    [
        (
            {"emails": [{"email": "ann@example.com"}]},
            f"email ann@example.com already belongs to customer {ANN}",
            "/emails/0/email",
        ),
        (
            {"emails": [{"email": "x@example.com"}, {"email": " ANN@Example.COM "}]},
            f"email  ANN@Example.COM  already belongs to customer {ANN}",
            "/emails/1/email",
        ),
        (
            {"externalId": "ann"},
            f"externalId ann already belongs to customer {ANN}",
            "/externalId",
        ),
        (
            {"emails": [{"email": "x@example.com"}, {"email": "X@example.com"}]},
            "email X@example.com is listed more than once (/emails/0/email and /emails/1/email)",
            "/emails/1/email",
        ),
    ],
)
def test_uniqueness_rejects_and_writes_nothing(
    client: httpx.Client, emulator: Emulator, body: dict[str, Any], detail: str, pointer: str
) -> None:
    before = emulator.snapshot()
    response = client.put(f"/v1/customers/{JOE}", json=body)
    assert response.status_code == 409
    assert only_error(response) == {
        "status": "409",
        "code": "duplicate_value",
        "title": "Conflict",
        "detail": detail,
        "source": {"pointer": pointer},
    }
    assert emulator.snapshot() == before


def test_phone_uniqueness_compares_digits(client: httpx.Client, emulator: Emulator) -> None:
    before = emulator.snapshot()
    response = client.post("/v1/customers", json={"phones": [{"phone": "1 (555) 123-4567"}]})
    assert response.status_code == 409
    assert only_error(response)["detail"] == (
        f"phone 1 (555) 123-4567 already belongs to customer {JOE}"
    )
    assert emulator.snapshot() == before
    assert len(emulator.customer_ids()) == 2


def test_shared_arrays_are_not_unique(client: httpx.Client) -> None:
    body = {"sharedEmails": [{"email": "team@example.com"}, {"email": "team@example.com"}]}
    assert client.post("/v1/customers", json=body).status_code == 201


def test_a_customer_may_keep_its_own_values(client: httpx.Client) -> None:
    body = {
        "externalId": "joe",
        "emails": [{"email": "JOE@example.com"}, {"email": "joe2@example.com"}],
    }
    assert client.put(f"/v1/customers/{JOE}", json=body).status_code == 200
    assert client.get("/v1/customers/email=joe%40example.com").json()["data"]["id"] == JOE


def test_moving_a_value_frees_it(client: httpx.Client) -> None:
    assert client.put(f"/v1/customers/{ANN}", json={"emails": []}).status_code == 200
    assert (
        client.put(
            f"/v1/customers/{JOE}", json={"emails": [{"email": "ann@example.com"}]}
        ).status_code
        == 200
    )
    assert client.get("/v1/customers/email=ann%40example.com").json()["data"]["id"] == JOE


def test_conflict_status_is_a_setting(emulator: Emulator) -> None:
    emulator.settings = EmulatorSettings(api_key=KEY, conflict_status=400)
    answer = emulator.handle(
        "POST",
        "/v1/customers",
        {"Authorization": f"Bearer {KEY}"},
        b'{"externalId": "joe"}',
    )
    assert answer.status == 400
    assert answer.json()["errors"][0]["status"] == "400"
    assert answer.json()["errors"][0]["title"] == "Bad Request"


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="conflict_status"):
        EmulatorSettings(conflict_status=200)
    with pytest.raises(ValueError, match="api_key"):
        EmulatorSettings(api_key="")


def test_snapshot_is_a_deep_copy(emulator: Emulator) -> None:
    snapshot = emulator.snapshot()
    assert list(snapshot) == [JOE, ANN]
    assert snapshot[JOE]["attributes"]["emails"][0]["id"] is None
    snapshot[JOE]["attributes"]["emails"].clear()
    emulator.customer(JOE)["tags"].append("mutated")
    assert emulator.snapshot()[JOE]["attributes"]["emails"] != []
    assert emulator.customer(JOE)["tags"] == ["vip"]
    with pytest.raises(KeyError):
        emulator.customer("cccccccccccccccccccccccc")
