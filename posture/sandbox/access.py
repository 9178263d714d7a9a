"""Sandbox tokens and what they stand for.

Why fixed, fake tokens: users copy them from `posture sandbox serve` output into a shell, and
docs quote them. They open nothing but the loopback sandbox and are printed on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posture.sandbox.instance import User

# "owner_api" is the member user with an `api` token: the "owner" token is `read_api`, as
# posture recommends, and GitLab refuses every write to such a token.
ROLES: tuple[str, ...] = ("admin", "owner", "read_user", "expired", "owner_api")

# Fake by construction: the prefix says what they are, and nothing outside the sandbox
# accepts them.
_TOKENS: dict[str, str] = {
    "admin": "sandbox-admin-token-not-a-secret",
    "owner": "sandbox-owner-token-not-a-secret",
    "read_user": "sandbox-read-user-token-not-a-secret",
    "expired": "sandbox-expired-token-not-a-secret",
    "owner_api": "sandbox-owner-api-token-not-a-secret",
}

_SCOPES: dict[str, list[str]] = {
    "admin": ["api"],
    "owner": ["read_api"],
    "read_user": ["read_user"],
    "expired": ["read_api"],
    "owner_api": ["api"],
}

# Bodies copied from GitLab (GITLAB-API.md section 6; doc/api/rest/troubleshooting.md).
UNAUTHORIZED = {"message": "401 Unauthorized"}
EXPIRED = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": (
        "The request requires higher privileges than provided by the access token."
    ),
    "scope": "api read_api",
}


@dataclass(frozen=True)
class Identity:
    """Who a token authenticates: the role name, the viewer it acts as, and its scopes."""

    role: str  # "admin" | "owner" | "read_user" | "expired" | "owner_api"
    viewer: str  # "admin" | "owner": whose permissions apply
    user: User
    scopes: tuple[str, ...]

    @property
    def expired(self) -> bool:
        return self.role == "expired"

    @property
    def api_scope(self) -> bool:
        """True when the token may read the API beyond the user endpoints."""
        return bool({"api", "read_api"} & set(self.scopes))

    @property
    def token_id(self) -> int:
        return ROLES.index(self.role) + 1


def token_for(role: str) -> str:
    """The sandbox token for a role; a ValueError names the roles that exist."""
    try:
        return _TOKENS[role]
    except KeyError:
        raise ValueError(f"unknown sandbox role {role!r}; use one of {', '.join(ROLES)}") from None


def identities(admin: User, owner: User) -> dict[str, Identity]:
    """Token string -> Identity, for the two users of an instance."""
    users = dict.fromkeys(ROLES, owner) | {"admin": admin}
    viewers = dict.fromkeys(ROLES, "owner") | {"admin": "admin"}
    return {
        _TOKENS[role]: Identity(role, viewers[role], users[role], tuple(_SCOPES[role]))
        for role in ROLES
    }


def bearer_token(private_token: str | None, authorization: str | None) -> str | None:
    """The token from `PRIVATE-TOKEN` or `Authorization: Bearer`.

    doc/api/rest/authentication.md.
    """
    if private_token:
        return private_token.strip()
    if authorization:
        scheme, _sep, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None
