"""API keys and their roles.

Kustomer's customer roles: ``org.permission.customer.read``, ``.create`` and
``.update``, and the legacy ``org.user.customer.read`` (= read) and
``org.user.customer.write`` (= create + update). The main ``api_key`` has all five;
``settings.keys`` gives other keys theirs. Which role each route needs is declared
with the route in ``ksync.emulator.routes``; bulk status polls and
``GET /v1/auth/tokens/current`` need none beyond a known key.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ksync.emulator.errors import ApiError, unauthorized
from ksync.emulator.settings import EmulatorSettings

READ = "org.permission.customer.read"
CREATE = "org.permission.customer.create"
UPDATE = "org.permission.customer.update"
LEGACY_READ = "org.user.customer.read"
LEGACY_WRITE = "org.user.customer.write"
ALL_ROLES = frozenset({READ, CREATE, UPDATE, LEGACY_READ, LEGACY_WRITE})

# The roles that grant each permission, the modern one first.
_GRANTED_BY: dict[str, tuple[str, ...]] = {
    READ: (READ, LEGACY_READ),
    CREATE: (CREATE, LEGACY_WRITE),
    UPDATE: (UPDATE, LEGACY_WRITE),
}


def authorize(headers: Mapping[str, str], settings: EmulatorSettings) -> frozenset[str]:
    """The roles of the key a request carries; a 401 ApiError if it has no known key."""
    values = [value for name, value in headers.items() if name.lower() == "authorization"]
    if not values:
        raise unauthorized("missing Authorization header; send 'Authorization: Bearer <key>'")
    scheme, _, sent = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        raise unauthorized("invalid API key")
    sent_bytes = sent.strip().encode()
    found: frozenset[str] | None = None
    candidates = {settings.api_key: ALL_ROLES, **(settings.keys or {})}
    for key, roles in candidates.items():  # compare with every key: no early exit
        if hmac.compare_digest(sent_bytes, key.encode()) and found is None:
            found = roles
    if found is None:
        raise unauthorized("invalid API key")
    return found


def require(role: str, roles: frozenset[str]) -> None:
    """A 403 ApiError naming ``role`` unless ``roles`` grant it."""
    granted_by = _GRANTED_BY.get(role, (role,))
    if roles.isdisjoint(granted_by):
        also = f" (or the legacy {granted_by[1]})" if len(granted_by) > 1 else ""
        raise ApiError(403, "forbidden", f"this API key lacks the role {role}{also}")
