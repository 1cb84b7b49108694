"""Where the Kustomer API is and which key to use: flags and environment to checked settings.

The API URL comes from ``--api-url``, else ``KUSTOMER_API_URL``, else ``KUSTOMER_ORG``
(``https://<org>.api.kustomerapp.com``), else the US host. Only HTTPS is accepted, except
plain HTTP to a loopback address (the local emulator).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

DEFAULT_API_URL = "https://api.kustomerapp.com"
API_KEY_VAR = "KUSTOMER_API_KEY"
API_URL_VAR = "KUSTOMER_API_URL"
ORG_VAR = "KUSTOMER_ORG"

# An org name must be usable as one DNS label: letters, digits, inner hyphens, <= 63 chars.
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
# What an HTTP header value can carry safely: printable ASCII, no spaces.
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]+")
# Characters no API URL needs and that parsers disagree about.
_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f\\]")


class SettingsError(Exception):
    """A missing or unusable setting (API URL, org, API key); the message says which."""


def resolve_api_url(flag: str | None, env: Mapping[str, str]) -> str:
    """The checked API base URL without a trailing ``/``; raises SettingsError."""
    if flag is not None:
        return check_api_url(flag, "--api-url")
    url = env.get(API_URL_VAR, "").strip()
    if url:
        return check_api_url(url, API_URL_VAR)
    org = env.get(ORG_VAR, "").strip()
    if org:
        return org_api_url(org)
    return DEFAULT_API_URL


def org_api_url(org: str) -> str:
    """The org host ``https://<org>.api.kustomerapp.com``; raises SettingsError."""
    if not _DNS_LABEL.fullmatch(org):
        raise SettingsError(
            f"{ORG_VAR}={org!r} is not a valid org name: use the name in your Kustomer "
            "address (letters, digits and inner hyphens, at most 63 characters)"
        )
    return f"https://{org.lower()}.api.kustomerapp.com"


def check_api_url(url: str, origin: str) -> str:
    """``url`` checked and without a trailing ``/``; ``origin`` names where it came from."""
    text = url.strip()
    if not text:
        raise SettingsError(f"{origin} is empty: give a URL such as {DEFAULT_API_URL}")
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as err:
        raise SettingsError(f"{origin}: {_shown(text)!r} is not a valid URL: {err}") from None
    problem = _url_problem(parts, text)
    if problem:
        raise SettingsError(f"{origin}: {_shown(text)!r} refused: {problem}")
    return text.rstrip("/")


def _url_problem(parts: SplitResult, text: str) -> str | None:
    """Why an API URL (``text``, parsed into ``parts``) cannot be used, or None."""
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "the API URL must start with https://"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "credentials do not belong in the URL; set KUSTOMER_API_KEY instead"
    if "?" in text or "#" in text:
        return "the URL must not have a query (?...) or fragment (#...)"
    if _BAD_URL_CHARS.search(text):
        return "the URL contains spaces, control characters or backslashes"
    if scheme == "http" and not is_loopback(parts.hostname):
        return "plain http:// is only allowed for a loopback host (localhost, 127.0.0.1, ::1)"
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(url: str) -> str:
    """``url`` safe to print: any user:password@ part replaced by ``***@``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def api_key_from_env(env: Mapping[str, str]) -> str:
    """The API key from ``KUSTOMER_API_KEY``; raises SettingsError if unset or unusable."""
    key = env.get(API_KEY_VAR, "").strip()
    if not key:
        raise SettingsError(
            f"{API_KEY_VAR} is not set: export an API key with the customer read role "
            "(and create/update roles to apply)"
        )
    check_api_key(key)
    return key


def check_api_key(key: str) -> None:
    """Raise SettingsError (without quoting the key) if it cannot go into a header."""
    if not _HEADER_TOKEN.fullmatch(key):
        raise SettingsError(
            f"{API_KEY_VAR} contains spaces or characters that cannot be sent in an "
            "HTTP header; paste the key exactly as Kustomer shows it"
        )
