"""Access: deploy keys, deploy tokens and group or project access tokens.

These are credentials held by machines, not people: nobody leaves the company with them, so
nobody remembers to revoke them. What they may do (write access, scopes) and how long they
live decide how much a leaked one is worth. Expiry is judged against the day the snapshot was
taken (``meta.run.started_at``), never the wall clock, so the same snapshot always gives the
same result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic import Field

from posture.rules.base import (
    Context,
    Outcome,
    Params,
    Reference,
    Rule,
    Severity,
    Target,
    failed,
    not_applicable,
    passed,
    unknown,
)
from posture.snapshot import AccessToken, DeployKey, DeployToken, Group, Project

DEPLOY_KEYS = Reference("GitLab: deploy keys", "https://docs.gitlab.com/user/project/deploy_keys/")
DEPLOY_KEYS_API = Reference("GitLab API: deploy keys", "https://docs.gitlab.com/api/deploy_keys/")
DEPLOY_TOKENS = Reference(
    "GitLab: deploy tokens", "https://docs.gitlab.com/user/project/deploy_tokens/"
)
DEPLOY_TOKENS_API = Reference(
    "GitLab API: deploy tokens", "https://docs.gitlab.com/api/deploy_tokens/"
)
PROJECT_TOKENS = Reference(
    "GitLab: project access tokens",
    "https://docs.gitlab.com/user/project/settings/project_access_tokens/",
)
GROUP_TOKENS = Reference(
    "GitLab: group access tokens",
    "https://docs.gitlab.com/user/group/settings/group_access_tokens/",
)
PROJECT_TOKENS_API = Reference(
    "GitLab API: project access tokens", "https://docs.gitlab.com/api/project_access_tokens/"
)
GROUP_TOKENS_API = Reference(
    "GitLab API: group access tokens", "https://docs.gitlab.com/api/group_access_tokens/"
)
TOKEN_OVERVIEW = Reference("GitLab: token overview", "https://docs.gitlab.com/security/tokens/")

Holder = Group | Project

#: Roles an access token's bot user can hold (doc/api/project_access_tokens.md).
TOKEN_ROLES = {
    10: "guest",
    15: "planner",
    20: "reporter",
    30: "developer",
    40: "maintainer",
    50: "owner",
}

#: The shipped default: scopes that let a token change code, packages, runners or anything
#: through the API. Read-only scopes are left to the token's purpose.
FORBIDDEN_SCOPES = [
    "api",
    "sudo",
    "admin_mode",
    "write_repository",
    "write_registry",
    "write_package_registry",
    "create_runner",
    "manage_runner",
    "k8s_proxy",
]


# -- access.deploy_key_write ------------------------------------------------------------------


def key_item(key: DeployKey) -> str:
    return f"deploy key {key.id} ({key.title})" if key.title else f"deploy key {key.id}"


def check_deploy_key_write(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    keys = project.deploy_keys.data or []
    if not keys:
        yield not_applicable("no deploy keys")
        return
    for key in keys:
        item = key_item(key)
        if key.can_push is None:
            yield unknown("GitLab did not report whether the key can push", item=item)
        elif key.can_push:
            yield failed(
                "has write access: whoever holds the private key pushes to the repository "
                "without a user account, to every branch its protection rules allow",
                item=item,
                expected=False,
                actual=True,
            )
        else:
            yield passed("read-only", item=item, expected=False, actual=False)


# -- tokens: shared ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """A deploy token or an access token, as the token rules see it."""

    kind: str  # "deploy token" | "access token"
    id: int
    name: str | None
    scopes: list[str]
    expires_at: str | None
    role: str | None = None

    @property
    def deploy(self) -> bool:
        return self.kind == "deploy token"

    @property
    def item(self) -> str:
        return f"{self.kind} {self.id} ({self.name})" if self.name else f"{self.kind} {self.id}"


def audit_moment(ctx: Context) -> datetime:
    """When the snapshot was taken, in UTC: the rules' "now" (never the wall clock)."""
    started = ctx.snapshot.meta.run.started_at
    if started.tzinfo is None:
        return started.replace(tzinfo=UTC)
    return started.astimezone(UTC)


def audit_day(ctx: Context) -> date:
    """The UTC day the snapshot was taken: the rules' "today"."""
    return audit_moment(ctx).date()


def expiry(value: str) -> datetime | None:
    """When a token stops working: ``2026-01-31`` (access tokens) means 00:00 UTC that day,
    ``2026-01-31T00:00:00.000Z`` (deploy tokens) is exact. None when it cannot be read."""
    text = value.strip()
    try:
        if len(text) <= 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dead(expires_at: str | None, now: datetime) -> bool:
    """Past its expiry date, even if GitLab's own flag says nothing (or was not sent)."""
    if expires_at is None:
        return False
    moment = expiry(expires_at)
    return moment is not None and moment <= now


def active_credentials(holder: Holder, now: datetime) -> list[Credential]:
    """Tokens that still work: revoked, expired and inactive ones can do no harm.

    A flag GitLab did not send counts as active: posture never assumes a credential is dead.
    """
    found: list[Credential] = []
    for token in holder.deploy_tokens.data or []:
        if token.revoked or token.expired or _dead(token.expires_at, now):
            continue
        found.append(_deploy(token))
    for access in holder.access_tokens.data or []:
        if access.revoked or access.active is False or _dead(access.expires_at, now):
            continue
        found.append(_access(access))
    return found


def _deploy(token: DeployToken) -> Credential:
    return Credential("deploy token", token.id, token.name, token.scopes, token.expires_at)


def _access(token: AccessToken) -> Credential:
    role = TOKEN_ROLES.get(token.access_level) if token.access_level is not None else None
    return Credential(
        "access token", token.id, token.name, token.scopes, token.expires_at, role=role
    )


NO_TOKENS = "no active deploy tokens or access tokens"


# -- access.token_expiry ----------------------------------------------------------------------


class MaxDays(Params):
    max_days: int = Field(
        default=365,
        ge=1,
        description="a token may expire at most this many days after the audit",
    )


def check_token_expiry(holder: Holder, params: MaxDays, ctx: Context) -> Iterator[Outcome]:
    now = audit_moment(ctx)
    credentials = active_credentials(holder, now)
    if not credentials:
        yield not_applicable(NO_TOKENS)
        return
    for credential in credentials:
        yield _judge_expiry(credential, params, now.date())


def _judge_expiry(credential: Credential, params: MaxDays, today: date) -> Outcome:
    item = credential.item
    limit = f"at most {params.max_days} days"
    if credential.expires_at is None:
        why = " (deploy tokens never expire unless given a date)" if credential.deploy else ""
        return failed(
            f"never expires{why}; allowed: {limit}",
            item=item,
            expected=params.max_days,
            actual=None,
        )
    moment = expiry(credential.expires_at)
    if moment is None:
        return unknown("GitLab sent an expiry date posture could not read", item=item)
    day = moment.date()
    days = (day - today).days
    when = f"expires on {day.isoformat()}, {days} day{'s' if days != 1 else ''} after the audit"
    if days > params.max_days:
        return failed(f"{when}; allowed: {limit}", item=item, expected=params.max_days, actual=days)
    return passed(when, item=item, expected=params.max_days, actual=days)


# -- access.token_scopes ----------------------------------------------------------------------


class ForbiddenScopes(Params):
    forbidden: list[str] = Field(
        default_factory=lambda: list(FORBIDDEN_SCOPES),
        description="scopes no deploy token or access token may have",
    )


def check_token_scopes(holder: Holder, params: ForbiddenScopes, ctx: Context) -> Iterator[Outcome]:
    credentials = active_credentials(holder, audit_moment(ctx))
    if not credentials:
        yield not_applicable(NO_TOKENS)
        return
    forbidden = set(params.forbidden)
    for credential in credentials:
        item = credential.item
        scopes = sorted(credential.scopes)
        role = f" with the {credential.role} role" if credential.role else ""
        if not scopes:
            yield unknown("GitLab reported no scopes for this token", item=item)
            continue
        bad = [s for s in scopes if s in forbidden]
        if bad:
            yield failed(
                f"has forbidden scope{'s' if len(bad) > 1 else ''} {', '.join(bad)}{role}",
                item=item,
                expected=f"none of {', '.join(params.forbidden)}",
                actual=scopes,
            )
        else:
            yield passed(
                f"scopes {', '.join(scopes)}{role}",
                item=item,
                expected=f"none of {', '.join(params.forbidden)}",
                actual=scopes,
            )


_TOKEN_REFS = (
    DEPLOY_TOKENS,
    PROJECT_TOKENS,
    GROUP_TOKENS,
    DEPLOY_TOKENS_API,
    PROJECT_TOKENS_API,
    GROUP_TOKENS_API,
)

RULES: tuple[Rule, ...] = (
    Rule(
        id="access.deploy_key_write",
        title="Deploy keys are read-only",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "A deploy key with write access pushes to the repository as no user at all: its "
            "pushes bypass per-user permissions and, on branches that allow deploy keys, merge "
            "request review. SSH private keys are copied onto build hosts and rarely rotated."
        ),
        remediation=(
            "Settings > Repository > Deploy keys: edit the key and clear Grant write "
            "permissions to this key (use a separate, narrowly allowed key where a job must "
            "push). API: PUT /projects/:id/deploy_keys/:key_id with can_push=false."
        ),
        references=(DEPLOY_KEYS, DEPLOY_KEYS_API),
        soc2=("CC6.1", "CC6.3", "CC8.1"),
        check=check_deploy_key_write,
        requires=("deploy_keys",),
    ),
    Rule(
        id="access.token_expiry",
        title="Deploy tokens and access tokens expire",
        severity=Severity.MEDIUM,
        targets=(Target.GROUP, Target.PROJECT),
        rationale=(
            "A token without an expiry date, or with one years away, keeps working long after "
            "the system or person it was made for is gone, and a leaked copy stays useful to "
            "an attacker. Deploy tokens never expire unless given a date."
        ),
        remediation=(
            "Access tokens: Settings > Access tokens, rotate the token with a nearer expiry. "
            "API: POST /projects/:id/access_tokens/:token_id/rotate (POST "
            "/groups/:id/access_tokens/:token_id/rotate) with expires_at=YYYY-MM-DD. Deploy "
            "tokens cannot be changed: Settings > Repository > Deploy tokens, create a "
            "replacement with an expiration date and revoke the old one. API: POST "
            "/projects/:id/deploy_tokens with expires_at, then DELETE "
            "/projects/:id/deploy_tokens/:token_id (/groups/:id/deploy_tokens for groups)."
        ),
        references=(*_TOKEN_REFS, TOKEN_OVERVIEW),
        soc2=("CC6.1", "CC6.2"),
        check=check_token_expiry,
        params=MaxDays,
        requires=("deploy_tokens", "access_tokens"),
    ),
    Rule(
        id="access.token_scopes",
        title="Deploy tokens and access tokens carry no broad scopes",
        severity=Severity.MEDIUM,
        targets=(Target.GROUP, Target.PROJECT),
        rationale=(
            "A token with the api scope can do through the API whatever its role allows, and "
            "write scopes push code or publish packages and images that others deploy. Most "
            "automation needs only read_repository or read_registry."
        ),
        remediation=(
            "A token's scopes cannot be changed: create a replacement with only the scopes its "
            "job needs and revoke the old one. Access tokens: Settings > Access tokens; API: "
            "POST /projects/:id/access_tokens (POST /groups/:id/access_tokens) with scopes, "
            "then DELETE /projects/:id/access_tokens/:token_id. Deploy tokens: Settings > "
            "Repository > Deploy tokens; API: POST /projects/:id/deploy_tokens with scopes, "
            "then DELETE /projects/:id/deploy_tokens/:token_id."
        ),
        references=(*_TOKEN_REFS, TOKEN_OVERVIEW),
        soc2=("CC6.1", "CC6.3"),
        check=check_token_scopes,
        params=ForbiddenScopes,
        requires=("deploy_tokens", "access_tokens"),
    ),
)
