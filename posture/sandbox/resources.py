"""Model -> GitLab JSON for resources below groups and projects.

Why apart from `serialize.py`: these are the security-relevant shapes (variables, webhooks,
branch protection, approvals, runners, keys, tokens) and each one follows its own doc page,
named beside the function. Secret values are never emitted, except where GitLab itself
returns them (a CI variable's `value`, a webhook's `url` as stored).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from posture.sandbox.catalog import is_expired, timestamp
from posture.sandbox.defaults import GROUP_HOOK_EVENTS, PROJECT_HOOK_EVENTS
from posture.sandbox.instance import ROLE_LEVELS, BranchAccess
from posture.sandbox.serialize import RESOURCE_TIME, Flavor, group_basic, user_basic

if TYPE_CHECKING:
    from posture.sandbox.catalog import GroupNode, ProjectNode, RunnerNode
    from posture.sandbox.instance import (
        AccessToken,
        ApprovalRule,
        DeployKey,
        DeployToken,
        ProtectedBranch,
        Variable,
        Webhook,
    )


# --- CI/CD variables ---------------------------------------------------------------------


def project_variable(var: Variable) -> dict[str, Any]:
    """doc/api/project_level_variables.md; a hidden variable's value is null."""
    return {
        "variable_type": var.variable_type,
        "key": var.key,
        "value": None if var.hidden else var.value,
        "hidden": var.hidden,
        "protected": var.protected,
        "masked": var.masked,
        "raw": var.raw,
        "environment_scope": var.environment_scope,
        "description": var.description,
    }


def group_variable(flavor: Flavor, var: Variable) -> dict[str, Any]:
    """doc/api/group_level_variables.md; `environment_scope` is Premium, "*" otherwise."""
    return {
        "key": var.key,
        "variable_type": var.variable_type,
        "value": None if var.hidden else var.value,
        "protected": var.protected,
        "masked": var.masked,
        "hidden": var.hidden,
        "raw": var.raw,
        "environment_scope": var.environment_scope if flavor.premium else "*",
        "description": var.description,
    }


def instance_variable(var: Variable) -> dict[str, Any]:
    """doc/api/instance_level_ci_variables.md: no `environment_scope`, no `hidden`."""
    return {
        "key": var.key,
        "description": var.description,
        "variable_type": var.variable_type,
        "value": var.value,
        "protected": var.protected,
        "masked": var.masked,
        "raw": var.raw,
    }


# --- webhooks ----------------------------------------------------------------------------


def hook(hook: Webhook, *, project_id: int | None = None, group_id: int | None = None) -> dict:
    """doc/api/project_webhooks.md, doc/api/group_webhooks.md.

    `token` is never returned; `url_variables` and `custom_headers` give keys only.
    """
    events = set(hook.events)
    body: dict[str, Any] = {
        "id": hook.id,
        "url": hook.url,
        "name": hook.name,
        "description": hook.description,
    }
    if project_id is not None:
        body["project_id"] = project_id
    else:
        body["group_id"] = group_id
    body["push_events_branch_filter"] = hook.push_events_branch_filter
    body["branch_filter_strategy"] = hook.branch_filter_strategy
    names = PROJECT_HOOK_EVENTS if project_id is not None else GROUP_HOOK_EVENTS
    for name in names:
        body[name] = name in events
    body.update(
        {
            "enable_ssl_verification": hook.enable_ssl_verification,
            "alert_status": "executable",
            "disabled_until": None,
            "url_variables": [{"key": k} for k in hook.url_variables],
            "created_at": timestamp(RESOURCE_TIME, hook.id or 0),
            "custom_webhook_template": "",
            "custom_headers": [{"key": k} for k in hook.custom_headers],
        }
    )
    return body


# --- protected branches ------------------------------------------------------------------

LEVEL_DESCRIPTIONS = {0: "No one", 30: "Developers + Maintainers", 40: "Maintainers", 60: "Admins"}


def _access_entry(
    flavor: Flavor, entry: BranchAccess, keys: dict[str, DeployKey], *, push: bool
) -> dict[str, Any] | None:
    """One access level; user and group entries are Premium and vanish elsewhere."""
    catalog = flavor.catalog
    body: dict[str, Any] = {"id": entry.id}
    if entry.user is not None or entry.group is not None:
        if not flavor.premium:
            return None
        body["access_level"] = None
        if entry.user is not None:
            user = catalog.users[entry.user]
            body["access_level_description"] = user.name
            body["user_id"], body["group_id"] = user.id, None
        else:
            group = catalog.group_paths[(entry.group or "").lower()]
            body["access_level_description"] = group.model.name
            body["user_id"], body["group_id"] = None, group.id
        return body
    if entry.deploy_key is not None:
        key = keys[entry.deploy_key]
        body["access_level"] = 40
        body["access_level_description"] = key.title
        if push:
            body["deploy_key_id"] = key.id
    else:
        level = entry.access_level or 0
        body["access_level"] = level
        body["access_level_description"] = LEVEL_DESCRIPTIONS[level]
        if push:
            body["deploy_key_id"] = None
    if flavor.ee:
        body["user_id"], body["group_id"] = None, None
    return body


def protected_branch(
    flavor: Flavor,
    branch: ProtectedBranch,
    keys: dict[str, DeployKey] | None = None,
    *,
    inherited: bool = False,
) -> dict[str, Any]:
    """doc/api/protected_branches.md and doc/api/group_protected_branches.md.

    EE builds (Free included) add `unprotect_access_levels`, `code_owner_approval_required`
    and `inherited`; CE sends none of them. Code owner approval is Premium.
    """
    keys = keys or {}

    def entries(items: list[BranchAccess], *, push: bool = False) -> list[dict[str, Any]]:
        out = (_access_entry(flavor, e, keys, push=push) for e in items)
        return [e for e in out if e is not None]

    body: dict[str, Any] = {
        "id": branch.id,
        "name": branch.name,
        "push_access_levels": entries(branch.push, push=True),
        "merge_access_levels": entries(branch.merge),
        "allow_force_push": branch.allow_force_push,
    }
    if flavor.ee:
        body["unprotect_access_levels"] = entries(branch.unprotect)
        body["code_owner_approval_required"] = (
            branch.code_owner_approval_required if flavor.premium else False
        )
        body["inherited"] = inherited
    return body


def project_protected_branches(flavor: Flavor, node: ProjectNode) -> list[dict[str, Any]]:
    """The project's branches plus, on Premium, those inherited from its top-level group."""
    rows = [(b.id or 0, protected_branch(flavor, b, node.deploy_keys)) for b in node.branches()]
    if flavor.premium:
        top = node.group.top
        rows += [
            (b.id or 0, protected_branch(flavor, b, inherited=True))
            for b in top.model.protected_branches
        ]
    return [body for _id, body in sorted(rows, key=lambda r: r[0])]


# --- merge request approvals -------------------------------------------------------------

# (project /approvals key, approval-setting key, inverted?, restrictive group value)
_APPROVAL_KEYS = (
    ("merge_requests_author_approval", "allow_author_approval", False, False),
    ("merge_requests_disable_committers_approval", "allow_committer_approval", True, False),
    (
        "disable_overriding_approvers_per_merge_request",
        "allow_overrides_to_approver_list_per_merge_request",
        True,
        False,
    ),
    ("reset_approvals_on_push", "retain_approvals_on_push", True, False),
    ("selective_code_owner_removals", "selective_code_owner_removals", False, None),
    ("require_reauthentication_to_approve", "require_reauthentication_to_approve", False, True),
)


def approval_setting(flavor: Flavor, node: ProjectNode) -> dict[str, Any]:
    """`GET /projects/:id/merge_request_approval_setting` (doc/api/
    merge_request_approval_settings.md): each value wrapped with `locked` and `inherited_from`.

    A restrictive value on any ancestor group locks the setting for the project.
    """
    approvals = node.model.approvals
    groups = [node.group, *node.group.ancestors()]
    out: dict[str, Any] = {}
    for project_key, key, inverted, restrictive in _APPROVAL_KEYS:
        raw = getattr(approvals, project_key)
        value = (not raw) if inverted else raw
        locked = False
        if restrictive is not None:
            for group in groups:
                settings = group.model.approval_settings
                if settings is not None and getattr(settings, key) == restrictive:
                    value, locked = restrictive, True
                    break
        out[key] = {"value": value, "locked": locked, "inherited_from": "group" if locked else None}
        if key == "require_reauthentication_to_approve":
            out["require_password_to_approve"] = dict(out[key])
    return out


def group_approval_setting(node: GroupNode) -> dict[str, Any]:
    """`GET /groups/:id/merge_request_approval_setting`; ancestors' restrictions lock it."""
    from posture.sandbox.instance import GroupApprovalSettings

    own = node.model.approval_settings or GroupApprovalSettings()
    out: dict[str, Any] = {}
    for _project_key, key, _inverted, restrictive in _APPROVAL_KEYS:
        value, locked, source = getattr(own, key), False, None
        if restrictive is not None:
            for anc in node.ancestors():
                settings = anc.model.approval_settings
                if settings is not None and getattr(settings, key) == restrictive:
                    value, locked, source = restrictive, True, "group"
                    break
        out[key] = {"value": value, "locked": locked, "inherited_from": source}
        if key == "require_reauthentication_to_approve":
            out["require_password_to_approve"] = dict(out[key])
    return out


def approvals(flavor: Flavor, node: ProjectNode) -> dict[str, Any]:
    """`GET /projects/:id/approvals` (doc/api/merge_request_approvals.md): plain booleans,
    the effective values after group locks, under the project-level names."""
    wrapped = approval_setting(flavor, node)
    body: dict[str, Any] = {
        "approvers": [],
        "approver_groups": [],
        "approvals_before_merge": 0,
    }
    for project_key, key, inverted, _restrictive in _APPROVAL_KEYS:
        value = wrapped[key]["value"]
        body[project_key] = (not value) if inverted else value
    body["require_password_to_approve"] = body["require_reauthentication_to_approve"]
    return body


def approval_rule(flavor: Flavor, node: ProjectNode, rule: ApprovalRule) -> dict[str, Any]:
    """One entry of `GET /projects/:id/approval_rules` (doc/api/merge_request_approvals.md)."""
    catalog = flavor.catalog
    users = [catalog.users[name] for name in rule.users]
    groups = [catalog.group_paths[path.lower()] for path in rule.groups]
    eligible = {u.username: u for u in users}
    owner = catalog.instance.users.owner
    if any(g.level >= ROLE_LEVELS["developer"] for g in groups):
        eligible.setdefault(owner.username, owner)
    branches = {b.name: b for b in node.branches()}
    return {
        "id": rule.id,
        "name": rule.name,
        "rule_type": rule.rule_type,
        "report_type": None,
        "eligible_approvers": [user_basic(flavor, u) for u in eligible.values()],
        "approvals_required": rule.approvals_required,
        "users": [user_basic(flavor, u) for u in users],
        "groups": [group_basic(flavor, g) for g in groups],
        "contains_hidden_groups": False,
        "protected_branches": [
            protected_branch(flavor, branches[name], node.deploy_keys)
            for name in rule.protected_branches
        ],
        "applies_to_all_protected_branches": not rule.protected_branches,
    }


# --- runners -----------------------------------------------------------------------------


def _runner_status(online: bool | None) -> str:
    if online is None:
        return "never_contacted"
    return "online" if online else "offline"


def runner_short(runner: RunnerNode) -> dict[str, Any]:
    """The list shape (doc/api/runners.md); `paused` and the deprecated `active` both sent."""
    model = runner.model
    return {
        "id": runner.id,
        "description": model.description or model.name,
        "ip_address": "",
        "active": not model.paused,
        "paused": model.paused,
        "is_shared": runner.runner_type == "instance_type",
        "runner_type": runner.runner_type,
        "name": model.name,
        "online": model.online,
        "status": _runner_status(model.online),
    }


def runner_detail(flavor: Flavor, runner: RunnerNode) -> dict[str, Any]:
    """`GET /runners/:id` (doc/api/runners.md): the full record, never the token.

    The doc example omits `run_untagged` and `locked`; GitLab sends them (GITLAB-API.md 2).
    """
    model = runner.model
    body = runner_short(runner)
    body.update(
        {
            "architecture": "amd64",
            "platform": "linux",
            "contacted_at": timestamp(RESOURCE_TIME, 50_000 + runner.id),
            "maintenance_note": model.maintenance_note,
            "projects": [
                {
                    "id": p.id,
                    "name": p.model.name,
                    "name_with_namespace": p.name_with_namespace,
                    "path": p.model.path,
                    "path_with_namespace": p.full_path,
                }
                for p in runner.projects
            ],
            "groups": [
                {
                    "id": g.id,
                    "web_url": f"{flavor.base_url}/groups/{g.full_path}",
                    "name": g.model.name,
                }
                for g in runner.groups
            ],
            "revision": "5a7ce2b1",
            "tag_list": list(model.tag_list),
            "version": model.version,
            "access_level": model.access_level,
            "maximum_timeout": model.maximum_timeout,
            "run_untagged": model.run_untagged,
            "locked": model.locked,
        }
    )
    return body


# --- deploy keys and tokens, access tokens -----------------------------------------------


def default_public_key(title: str) -> str:
    """A fake but well-formed ed25519 public key, stable per title (public keys are not secret)."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(title.encode()).digest()
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {title}"


def deploy_key(key: DeployKey) -> dict[str, Any]:
    """`GET /projects/:id/deploy_keys` (doc/api/deploy_keys.md)."""
    public = key.key or default_public_key(key.title)
    raw = public.split()[1].encode()
    md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    sha = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return {
        "id": key.id,
        "title": key.title,
        "created_at": timestamp(RESOURCE_TIME, key.id or 0),
        "expires_at": key.expires_at,
        "key": public,
        "usage_type": "auth_and_signing",
        "fingerprint": ":".join(md5[i : i + 2] for i in range(0, 32, 2)),
        "fingerprint_sha256": f"SHA256:{sha}",
        "can_push": key.can_push,
    }


def _datetime(date: str | None) -> str | None:
    if not date:
        return None
    return date if "T" in date else f"{date}T00:00:00.000Z"


def deploy_token(token: DeployToken) -> dict[str, Any]:
    """`GET /projects/:id/deploy_tokens`, `/groups/:id/deploy_tokens` (doc/api/
    deploy_tokens.md); the token value is only ever returned at creation."""
    return {
        "id": token.id,
        "name": token.name,
        "username": token.username or f"gitlab+deploy-token-{token.id}",
        "expires_at": _datetime(token.expires_at),
        "revoked": token.revoked,
        "expired": is_expired(token.expires_at),
        "scopes": list(token.scopes),
    }


def access_token(token: AccessToken) -> dict[str, Any]:
    """doc/api/project_access_tokens.md, doc/api/group_access_tokens.md; never the value."""
    active = not token.revoked and not is_expired(token.expires_at)
    return {
        "id": token.id,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": timestamp(RESOURCE_TIME, 100_000 + (token.id or 0)),
        "description": token.description,
        "scopes": list(token.scopes),
        "user_id": 10_000 + (token.id or 0),
        "last_used_at": token.last_used_at,
        "active": active,
        "expires_at": token.expires_at,
        "access_level": token.access_level,
    }


def job_token_scope(node: ProjectNode) -> dict[str, Any]:
    """`GET /projects/:id/job_token_scope` (doc/api/project_job_token_scopes.md)."""
    scope = node.model.job_token_scope
    return {"inbound_enabled": scope.inbound_enabled, "outbound_enabled": scope.outbound_enabled}
