"""KustomerClient against httpx.MockTransport handlers: requests sent, answers read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ksync import __version__
from ksync.client import ApiError, KustomerClient, SettingsError
from ksync.model import Contact, ContactRef, LiveCustomer

BASE = "https://acme.api.kustomerapp.com"
KEY = "secret-key.JWT_abc123"
CID = "5886a2d8e4b0c2a1f0e1d2c3"
OTHER = "5a1f00000000000000000001"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A fake server: answers with ``handler`` and remembers every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def paths(self) -> list[str]:
        return [r.url.raw_path.decode("ascii") for r in self.requests]


def customer_doc(customer_id: str = CID, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "customer", "id": customer_id, "attributes": attributes}}


def reply(status: int, document: Any = None, **kwargs: Any) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if document is None:
            return httpx.Response(status, **kwargs)
        return httpx.Response(status, json=document, **kwargs)

    return handler


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], tuple[KustomerClient, Recorder]]]:
    clients: list[KustomerClient] = []

    def make(handler: Handler) -> tuple[KustomerClient, Recorder]:
        recorder = Recorder(handler)
        client = KustomerClient(BASE, KEY, transport=httpx.MockTransport(recorder))
        clients.append(client)
        return client, recorder

    yield make
    for client in clients:
        client.close()


Serve = Callable[[Handler], tuple[KustomerClient, Recorder]]


# -- reads -------------------------------------------------------------------------------


def test_get_customer_by_id(serve: Serve) -> None:
    doc = customer_doc(
        externalId="ext-1",
        name="Joe",
        emails=[{"email": "Joe@Example.COM", "type": "work", "verified": True, "id": None}],
        phones=[{"phone": "+1 (415) 555-0100", "type": "mobile"}],
        rev=7,
    )
    client, server = serve(reply(200, doc))
    live = client.get_customer(CID)
    assert server.paths == [f"/v1/customers/{CID}"]
    assert server.requests[0].method == "GET"
    assert str(server.requests[0].url) == f"{BASE}/v1/customers/{CID}"
    assert live == LiveCustomer(
        id=CID,
        external_id="ext-1",
        name="Joe",
        emails=(Contact("joe@example.com", "Joe@Example.COM", "work", True),),
        phones=(Contact("+14155550100", "+1 (415) 555-0100", "mobile", None),),
        rev=7,
    )


def test_get_customer_by_external_id_encodes_the_value(serve: Serve) -> None:
    client, server = serve(reply(200, customer_doc(externalId="crm/42 a+b")))
    live = client.get_customer_by_external_id("crm/42 a+b")
    assert server.paths == ["/v1/customers/externalId=crm%2F42%20a%2Bb"]
    assert live is not None and live.external_id == "crm/42 a+b"


def test_dot_ids_are_not_dot_segments(serve: Serve) -> None:
    client, server = serve(reply(404))
    assert client.get_customer("..") is None
    assert server.paths == ["/v1/customers/%2E%2E"]


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        (ContactRef("emails", "a+b@x.com"), "/v1/customers/email=a%2Bb%40x.com"),
        (ContactRef("phones", "+14155550100"), "/v1/customers/phone=%2B14155550100"),
    ],
)
def test_find_owner(serve: Serve, ref: ContactRef, path: str) -> None:
    client, server = serve(reply(200, customer_doc(OTHER)))
    assert client.find_owner(ref) == OTHER
    assert server.paths == [path]


def test_find_owner_tolerates_a_list(serve: Serve) -> None:
    client, _ = serve(reply(200, {"data": [{"type": "customer", "id": OTHER}]}))
    assert client.find_owner(ContactRef("emails", "a@x.com")) == OTHER
    client, _ = serve(reply(200, {"data": []}))
    assert client.find_owner(ContactRef("emails", "a@x.com")) is None


def test_404_is_none(serve: Serve) -> None:
    client, server = serve(reply(404, {"errors": [{"status": 404, "title": "Not Found"}]}))
    assert client.get_customer(CID) is None
    assert client.get_customer_by_external_id("x") is None
    assert client.find_owner(ContactRef("phones", "+14155550100")) is None
    assert len(server.requests) == 3


def test_read_without_a_customer_document(serve: Serve) -> None:
    client, _ = serve(reply(200, {"data": None}))
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert (
        str(info.value) == f"GET /v1/customers/{CID} -> 200: the response has no customer document"
    )


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null"])
def test_json_that_is_not_an_object(serve: Serve, body: bytes) -> None:
    client, _ = serve(lambda r: httpx.Response(200, content=body))
    with pytest.raises(ApiError, match="is not a JSON object") as info:
        client.get_customer(CID)
    assert info.value.status == 200


def test_invalid_json(serve: Serve) -> None:
    client, _ = serve(lambda r: httpx.Response(200, content=b"<html>oops</html>"))
    with pytest.raises(ApiError, match=r"the response is not JSON: <html>oops</html>"):
        client.get_customer(CID)


# -- request headers ---------------------------------------------------------------------


def test_headers_sent(serve: Serve) -> None:
    client, server = serve(reply(200, customer_doc()))
    client.get_customer(CID)
    headers = server.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"ksync/{__version__}"


def test_repr_hides_the_key() -> None:
    with KustomerClient(BASE, KEY) as client:
        assert KEY not in repr(client)
        assert repr(client) == f"KustomerClient(base_url='{BASE}')"


def test_key_that_cannot_be_a_header_is_refused_without_quoting_it() -> None:
    with pytest.raises(SettingsError) as info:
        KustomerClient(BASE, "abc def\n")
    assert "abc" not in str(info.value)


# -- errors ------------------------------------------------------------------------------

CONFLICT = f"email joe@example.com already belongs to customer {OTHER}"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"errors": [{"code": "conflict", "message": CONFLICT, "meta": {}}]}, CONFLICT),
        (
            {
                "errors": [
                    {
                        "status": 409,
                        "code": "conflict",
                        "title": "Conflict",
                        "detail": CONFLICT,
                        "source": {"pointer": "/emails/0"},
                    }
                ]
            },
            CONFLICT,
        ),
        (
            {"errors": [{"title": "Bad Request"}, {"message": "need an email"}, {"code": "x"}]},
            "Bad Request; need an email; x",
        ),
    ],
)
def test_error_shapes_on_send(serve: Serve, document: Any, message: str) -> None:
    client, _ = serve(reply(409, document))
    with pytest.raises(ApiError) as info:
        client.send("PUT", f"/v1/customers/{CID}", {"emails": []})
    err = info.value
    assert (err.method, err.path, err.status, err.message) == (
        "PUT",
        f"/v1/customers/{CID}",
        409,
        message,
    )
    assert str(err) == f"PUT /v1/customers/{CID} -> 409: {message}"


@pytest.mark.parametrize(
    ("status", "prefix"),
    [
        (401, "the API key was rejected"),
        (403, "the key lacks the role needed to read customers (org.permission.customer.read)"),
    ],
)
def test_auth_failures(serve: Serve, status: int, prefix: str) -> None:
    body = {"errors": [{"status": status, "title": "Unauthorized", "detail": "bad token"}]}
    client, _ = serve(reply(status, body))
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert info.value.status == status
    assert info.value.message == f"{prefix}: bad token"


@pytest.mark.parametrize(
    ("status", "reason"), [(429, "Too Many Requests"), (500, "Internal Server Error")]
)
def test_rate_limit_and_server_errors(serve: Serve, status: int, reason: str) -> None:
    client, _ = serve(reply(status, headers={"Retry-After": "3"}))
    with pytest.raises(ApiError) as info:
        client.send("POST", "/v1/customers", {"name": "x"})
    assert info.value.status == status
    assert str(info.value) == f"POST /v1/customers -> {status}: {reason}"
    assert info.value.headers["retry-after"] == "3"


def test_non_json_error_body_is_excerpted(serve: Serve) -> None:
    page = "<html>\n  <body>" + "Bad gateway " * 40 + "</body></html>"
    client, _ = serve(lambda r: httpx.Response(502, text=page))
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    message = info.value.message
    assert message.startswith("<html> <body>Bad gateway Bad gateway")
    assert message.endswith("...") and len(message) <= 200


def test_connection_error(serve: Serve) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client, _ = serve(refuse)
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert info.value.status is None
    assert str(info.value) == (
        f"GET /v1/customers/{CID} -> connection failed: [Errno 111] Connection refused"
    )


def test_timeout(serve: Serve) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client, _ = serve(slow)
    with pytest.raises(ApiError, match=r"-> connection failed: timed out after 30s$"):
        client.find_owner(ContactRef("emails", "a@x.com"))


def test_key_never_in_error_messages(serve: Serve) -> None:
    echo = {"errors": [{"detail": f"token Bearer {KEY} is expired"}]}
    client, _ = serve(reply(401, echo))
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert str(info.value).endswith("token Bearer [redacted] is expired")

    def leak(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy said {request.headers['authorization']}")

    client, _ = serve(leak)
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert KEY not in str(info.value)


def test_redirects_are_not_followed(serve: Serve) -> None:
    location = "https://user:pw@evil.example/v1/customers/x?token=1"
    client, server = serve(reply(302, headers={"Location": location}))
    with pytest.raises(ApiError) as info:
        client.get_customer(CID)
    assert server.paths == [f"/v1/customers/{CID}"]
    assert info.value.status == 302
    assert info.value.message == (
        "redirected to https://evil.example/v1/customers/x; "
        "ksync does not follow redirects: check the API URL"
    )


# -- writes ------------------------------------------------------------------------------


def test_send_posts_json_and_returns_the_document(serve: Serve) -> None:
    created = customer_doc(name="Zoë")
    client, server = serve(reply(201, created))
    body = {"name": "Zoë", "emails": [{"email": "z@x.com", "type": "other"}]}
    assert client.send("post", "/v1/customers", body) == created
    request = server.requests[0]
    assert request.method == "POST"
    assert json.loads(request.content) == body


def test_send_keeps_the_query(serve: Serve) -> None:
    client, server = serve(reply(200, customer_doc()))
    client.send("PUT", f"/v1/customers/{CID}?replace=false", {"emails": []})
    assert server.paths == [f"/v1/customers/{CID}?replace=false"]


def test_send_with_an_empty_answer(serve: Serve) -> None:
    client, _ = serve(reply(204))
    assert client.send("PUT", f"/v1/customers/{CID}", {}) == {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers"),
        ("DELETE", "/v1/customers/1"),
        ("PUT", "https://evil.example/v1/customers"),
        ("PUT", "//evil.example/v1/customers"),
        ("PUT", "v1/customers"),
        ("PUT", "/v1/customers/a b"),
    ],
)
def test_send_refuses_bad_requests(serve: Serve, method: str, path: str) -> None:
    client, server = serve(reply(200, {}))
    with pytest.raises(ValueError):
        client.send(method, path, {})
    assert server.requests == []


def test_base_url_with_a_path_prefix() -> None:
    server = Recorder(reply(200, customer_doc()))
    transport = httpx.MockTransport(server)
    with KustomerClient("http://127.0.0.1:8080/proxy/", KEY, transport=transport) as client:
        client.get_customer(CID)
    assert str(server.requests[0].url) == f"http://127.0.0.1:8080/proxy/v1/customers/{CID}"


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("PUT", f"/v1/customers/{CID}", "update customers (org.permission.customer.update)"),
        ("POST", "/v1/customers", "create customers (org.permission.customer.create)"),
    ],
)
def test_forbidden_writes_name_the_role(serve: Serve, method: str, path: str, role: str) -> None:
    client, _ = serve(reply(403, {"errors": [{"message": "forbidden"}]}))
    with pytest.raises(ApiError) as info:
        client.send(method, path, {"emails": []})
    assert (
        str(info.value)
        == f"{method} {path} -> 403: the key lacks the role needed to {role}: forbidden"
    )
