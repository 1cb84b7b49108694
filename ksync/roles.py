"""Which role of the API key each request needs (from Kustomer's documentation).

Used to say which role a 403 lacked, and to check a key's roles before any write when
Kustomer tells them (``GET /v1/auth/tokens/current``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ksync.plan import Plan


@dataclass(frozen=True)
class Role:
    action: str  # what the role allows, as in "the key lacks the role needed to ..."
    name: str
    legacy: tuple[str, ...]  # older roles that grant the same

    def granted_by(self, roles: Iterable[str]) -> bool:
        held = set(roles)
        return self.name in held or any(r in held for r in self.legacy)


READ = Role("read customers", "org.permission.customer.read", ("org.user.customer.read",))
CREATE = Role("create customers", "org.permission.customer.create", ("org.user.customer.write",))
UPDATE = Role("update customers", "org.permission.customer.update", ("org.user.customer.write",))


def role_for(method: str, path: str) -> Role | None:
    """The role a customers request needs; None for other requests."""
    if not path.startswith("/v1/customers"):
        return None
    if method == "GET":
        return READ
    if method == "POST" and "search" not in path:
        return CREATE
    if method in ("PUT", "PATCH"):
        return UPDATE
    return None


def lacking(role: Role | None) -> str:
    """The start of a 403 message."""
    if role is None:
        return "the key lacks a role needed for this request"
    return f"the key lacks the role needed to {role.action} ({role.name})"


def missing_roles(plan: Plan, granted: Iterable[str]) -> list[Role]:
    """The roles the plan's writes need that the key does not hold."""
    held = list(granted)
    needed = []
    for role, method in ((CREATE, "POST"), (UPDATE, "PUT")):
        if any(r.method == method for r in plan.requests) and not role.granted_by(held):
            needed.append(role)
    return needed
