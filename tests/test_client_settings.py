"""API URL and key settings, and reading customer documents into LiveCustomer."""

from __future__ import annotations

import pytest

from ksync.client import (
    DEFAULT_API_URL,
    SettingsError,
    api_key_from_env,
    customer_from_document,
    resolve_api_url,
)
from ksync.model import Contact, LiveCustomer

# -- resolve_api_url ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (
            "https://flag.example/",
            {"KUSTOMER_API_URL": "https://env.example", "KUSTOMER_ORG": "acme"},
            "https://flag.example",
        ),
        (
            None,
            {"KUSTOMER_API_URL": "https://api.prod2.kustomerapp.com/", "KUSTOMER_ORG": "acme"},
            "https://api.prod2.kustomerapp.com",
        ),
        (
            None,
            {"KUSTOMER_API_URL": " ", "KUSTOMER_ORG": "Acme-EU"},
            "https://acme-eu.api.kustomerapp.com",
        ),
        (None, {}, DEFAULT_API_URL),
        (None, {"KUSTOMER_ORG": ""}, DEFAULT_API_URL),
        ("http://localhost:8080", {}, "http://localhost:8080"),
        ("http://127.0.0.2:9/", {}, "http://127.0.0.2:9"),
        ("http://[::1]:8080", {}, "http://[::1]:8080"),
        ("https://proxy.example/kustomer//", {}, "https://proxy.example/kustomer"),
    ],
)
def test_resolve_api_url(flag: str | None, env: dict[str, str], expected: str) -> None:
    assert resolve_api_url(flag, env) == expected


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        (
            "http://api.kustomerapp.com",
            {},
            "--api-url: 'http://api.kustomerapp.com' refused: plain http:// is only allowed "
            "for a loopback host (localhost, 127.0.0.1, ::1)",
        ),
        (
            None,
            {"KUSTOMER_API_URL": "http://10.0.0.1"},
            "KUSTOMER_API_URL: 'http://10.0.0.1' refused: plain http:// is only allowed "
            "for a loopback host (localhost, 127.0.0.1, ::1)",
        ),
        (
            "ftp://api.kustomerapp.com",
            {},
            "--api-url: 'ftp://api.kustomerapp.com' refused: the API URL must start with https://",
        ),
        (
            "api.kustomerapp.com",
            {},
            "--api-url: 'api.kustomerapp.com' refused: the API URL must start with https://",
        ),
        ("https://", {}, "--api-url: 'https://' refused: the URL has no host"),
        ("", {}, "--api-url is empty: give a URL such as https://api.kustomerapp.com"),
        (
            "https://api.kustomerapp.com/?x=1",
            {},
            "--api-url: 'https://api.kustomerapp.com/?x=1' refused: "
            "the URL must not have a query (?...) or fragment (#...)",
        ),
        (
            "https://api.kustomerapp.com#top",
            {},
            "--api-url: 'https://api.kustomerapp.com#top' refused: "
            "the URL must not have a query (?...) or fragment (#...)",
        ),
        (
            "https://api.kustomer app.com",
            {},
            "--api-url: 'https://api.kustomer app.com' refused: "
            "the URL contains spaces, control characters or backslashes",
        ),
        (
            "https://api.kustomerapp.com:99999",
            {},
            "--api-url: 'https://api.kustomerapp.com:99999' is not a valid URL: "
            "Port out of range 0-65535",
        ),
        (
            None,
            {"KUSTOMER_ORG": "acme.evil.example/"},
            "KUSTOMER_ORG='acme.evil.example/' is not a valid org name: use the name in your "
            "Kustomer address (letters, digits and inner hyphens, at most 63 characters)",
        ),
        (
            None,
            {"KUSTOMER_ORG": "-acme"},
            "KUSTOMER_ORG='-acme' is not a valid org name: use the name in your "
            "Kustomer address (letters, digits and inner hyphens, at most 63 characters)",
        ),
    ],
)
def test_resolve_api_url_refusals(flag: str | None, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        resolve_api_url(flag, env)
    assert str(info.value) == message


def test_credentials_in_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as info:
        resolve_api_url("https://joe:hunter2@api.kustomerapp.com", {})
    assert str(info.value) == (
        "--api-url: 'https://***@api.kustomerapp.com' refused: "
        "credentials do not belong in the URL; set KUSTOMER_API_KEY instead"
    )


def test_org_name_too_long() -> None:
    with pytest.raises(SettingsError, match="is not a valid org name"):
        resolve_api_url(None, {"KUSTOMER_ORG": "a" * 64})
    assert resolve_api_url(None, {"KUSTOMER_ORG": "a" * 63}).startswith("https://aaa")


# -- api_key_from_env --------------------------------------------------------------------


def test_api_key_from_env() -> None:
    assert api_key_from_env({"KUSTOMER_API_KEY": " key.abc \n"}) == "key.abc"


@pytest.mark.parametrize("env", [{}, {"KUSTOMER_API_KEY": "  "}])
def test_api_key_missing(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=r"^KUSTOMER_API_KEY is not set"):
        api_key_from_env(env)


def test_api_key_with_spaces_is_refused_without_quoting_it() -> None:
    with pytest.raises(SettingsError) as info:
        api_key_from_env({"KUSTOMER_API_KEY": "abc def"})
    assert "abc" not in str(info.value)


# -- customer_from_document --------------------------------------------------------------


def test_customer_from_document_normalizes_with_the_region() -> None:
    resource = {
        "type": "customer",
        "id": "c1",
        "attributes": {
            "externalId": "ext",
            "name": "Ann",
            "emails": [
                {"email": " Ann@BÜCHER.de", "type": "home", "verified": False, "id": None},
                {"email": "not-an-email"},
            ],
            "phones": [{"phone": "030 1234567", "type": "work"}],
            "rev": 3,
        },
    }
    assert customer_from_document(resource, "DE") == LiveCustomer(
        id="c1",
        external_id="ext",
        name="Ann",
        emails=(
            Contact("ann@xn--bcher-kva.de", " Ann@BÜCHER.de", "home", False),
            Contact("not-an-email", "not-an-email"),
        ),
        phones=(Contact("+49301234567", "030 1234567", "work"),),
        rev=3,
    )


def test_customer_from_document_tolerates_gaps() -> None:
    resource = {
        "type": "customer",
        "id": "c2",
        "attributes": {
            "emails": None,
            "phones": [
                None,
                {"type": "mobile"},
                {"phone": 5},
                {"phone": ""},
                {"phone": "+33612345678"},
            ],
            "rev": "7",
        },
    }
    assert customer_from_document(resource) == LiveCustomer(
        id="c2",
        external_id=None,
        name=None,
        emails=(),
        phones=(Contact("+33612345678", "+33612345678"),),
        rev=None,
    )
    assert customer_from_document({"id": "c3"}).emails == ()


@pytest.mark.parametrize("resource", [{}, {"id": None}, {"id": ""}, {"id": 12}])
def test_customer_from_document_needs_an_id(resource: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="no id"):
        customer_from_document(resource)
