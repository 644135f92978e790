"""Who is calling, and what their role lets them do.

Bearer tokens are checked against the ledger's token store (only SHA-256 hashes are stored). Roles
grant permissions; a role is not a rank, so separation of duties holds: a deployer cannot approve
its own override, and an approver cannot move an alias.

    role       read  review  gate  promote  override
    viewer      x
    reviewer    x      x
    deployer    x      x      x      x
    approver    x      x                       x
    admin       x      x      x      x         x

Anonymous access exists only when `allow_anonymous` is switched on explicitly (a local demo): the
anonymous caller then acts as admin. A missing, malformed, unknown or revoked token is 401; a role
without the permission is 403. The token store being unreachable is 503 (never "let them in").
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from api.errors import ForbiddenError, UnauthenticatedError
from ledger.tokens import Role, TokenStore

__all__ = [
    "ANONYMOUS",
    "ROLE_PERMISSIONS",
    "Permission",
    "Principal",
    "authenticate_header",
    "authorize",
]

Permission = Literal["read", "review", "gate", "promote", "override"]

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    "viewer": frozenset({"read"}),
    "reviewer": frozenset({"read", "review"}),
    "deployer": frozenset({"read", "review", "gate", "promote"}),
    "approver": frozenset({"read", "review", "override"}),
    "admin": frozenset({"read", "review", "gate", "promote", "override"}),
}


class Principal(BaseModel):
    """The authenticated caller: a token's id, name and role (or the demo's anonymous caller)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    role: Role
    anonymous: bool = False

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


ANONYMOUS: Final = Principal(id="anonymous", name="anonymous", role="admin", anonymous=True)


def authenticate_header(
    authorization: str | None, tokens: TokenStore, *, allow_anonymous: bool
) -> Principal:
    """The caller named by an ``Authorization`` header value.

    Args:
        authorization: The header value (``Bearer <token>``), or None when absent.
        tokens: The ledger's token store.
        allow_anonymous: Let requests without a header through as the anonymous admin.

    Raises:
        UnauthenticatedError: No usable token, or an unknown or revoked one.
        LedgerUnavailableError: The token store cannot be read (the API answers 503).
    """
    if authorization is None or not authorization.strip():
        if allow_anonymous:
            return ANONYMOUS
        raise UnauthenticatedError("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise UnauthenticatedError(
            f"unsupported authorization scheme {scheme!r}: send 'Authorization: Bearer <token>'"
        )
    info = tokens.authenticate(secret)
    if info is None:
        raise UnauthenticatedError(
            "unknown or revoked bearer token; create one with `promogate token create`"
        )
    return Principal(id=info.id, name=info.name, role=info.role)


def authorize(principal: Principal, permission: Permission) -> Principal:
    """The principal, if its role grants `permission`.

    Args:
        principal: The authenticated caller.
        permission: What the route needs.

    Raises:
        ForbiddenError: The role does not grant it.
    """
    if not principal.can(permission):
        allowed = sorted(r for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
        raise ForbiddenError(
            f"token {principal.name!r} has role {principal.role!r}, which may not {permission}; "
            f"roles that may: {', '.join(allowed)}"
        )
    return principal
