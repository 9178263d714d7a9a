"""The final rule catalog as the baseline sees it: ids, targets, defaults and params.

Other families are being written while the baseline is; until they land, tests that need the
whole catalog (the shipped baselines, the starter baseline) stand in a stub for each missing
rule, with a params model that mirrors the catalog. Tests against the real registry skip
while a rule is missing and switch on by themselves once it lands.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from posture.rules import REGISTRY
from posture.rules.base import NoParams, Params, Rule, Severity, Target

Role = Literal["no_one", "developer", "maintainer", "owner", "admin"]
P, G, I, R = Target.PROJECT, Target.GROUP, Target.INSTANCE, Target.RUNNER  # noqa: E741


class BranchScopeAll(Params):
    scope: Literal["default", "all"] = "all"


class AccessLevels(Params):
    scope: Literal["default", "all"] = "default"
    min_role: Role = "maintainer"


class MinApprovals(Params):
    min: int = 2


class OverrideRole(Params):
    allowed: list[Literal["no_one_allowed", "developer", "maintainer", "owner"]] = Field(
        default_factory=lambda: ["no_one_allowed", "maintainer", "owner"]
    )


class NameHints(Params):
    name_hints: bool = True


class VariableScope(Params):
    scope: Literal["secret_like", "all"] = "secret_like"


class MaxProjects(Params):
    max_projects: int = 10


class Hosts(Params):
    hosts: list[str] = Field(default_factory=list)


class MaxDays(Params):
    max_days: int = 365


class Forbidden(Params):
    forbidden: list[str] = Field(
        default_factory=lambda: ["api", "sudo", "admin_mode", "write_repository"]
    )


H, M, L = Severity.HIGH, Severity.MEDIUM, Severity.LOW

#: id → (targets, default severity, default_enabled, params model)
CATALOG: dict[str, tuple[tuple[Target, ...], Severity, bool, type[Params]]] = {
    "project.visibility": ((P,), H, True, NoParams),
    "group.visibility": ((G,), M, True, NoParams),
    "instance.default_visibility": ((I,), M, True, NoParams),
    "instance.restricted_visibility": ((I,), M, True, NoParams),
    "branches.default_protected": ((P,), H, True, NoParams),
    "branches.force_push": ((P,), H, True, BranchScopeAll),
    "branches.push_access": ((P,), H, True, AccessLevels),
    "branches.merge_access": ((P,), H, True, AccessLevels),
    "branches.unprotect_access": ((P,), M, True, AccessLevels),
    "branches.code_owner_approval": ((P,), M, True, NoParams),
    "approvals.min_required": ((P,), H, True, MinApprovals),
    "approvals.author_can_approve": ((P,), H, True, NoParams),
    "approvals.committer_can_approve": ((P,), M, True, NoParams),
    "approvals.reset_on_push": ((P,), M, True, NoParams),
    "approvals.override_approvers": ((P,), M, True, NoParams),
    "approvals.reauthentication": ((P,), L, True, NoParams),
    "pipelines.public_jobs": ((P,), M, True, NoParams),
    "pipelines.variable_override_role": ((P,), M, True, OverrideRole),
    "pipelines.job_token_scope": ((P,), M, True, NoParams),
    "variables.secret_like_unmasked": ((I, G, P), H, True, NameHints),
    "variables.unprotected": ((I, G, P), M, True, VariableScope),
    "variables.broad_scope_secret": ((I, G), M, True, MaxProjects),
    "variables.prefer_hidden": ((I, G, P), L, False, NoParams),
    "webhooks.ssl_verification": ((G, P), H, True, NoParams),
    "webhooks.plain_http": ((G, P), M, True, NoParams),
    "webhooks.credentials_in_url": ((G, P), H, True, NoParams),
    "webhooks.allowed_hosts": ((G, P), M, True, Hosts),
    "runners.instance_runners_enabled": ((P,), L, True, NoParams),
    "runners.run_untagged": ((R,), M, True, NoParams),
    "runners.unlocked": ((R,), M, True, NoParams),
    "runners.protected_refs_only": ((R,), M, True, NoParams),
    "access.deploy_key_write": ((P,), M, True, NoParams),
    "access.token_expiry": ((G, P), M, True, MaxDays),
    "access.token_scopes": ((G, P), M, True, Forbidden),
}


def missing_rules() -> list[str]:
    """Catalog ids the registry does not hold yet."""
    return [rule_id for rule_id in CATALOG if rule_id not in REGISTRY]


def stub(rule_id: str) -> Rule:
    targets, severity, default_enabled, params = CATALOG[rule_id]
    return Rule(
        id=rule_id,
        title=f"stub of {rule_id}",
        severity=severity,
        targets=targets,
        rationale="stub",
        remediation="stub",
        references=(),
        soc2=(),
        check=lambda *_: iter(()),
        params=params,
        default_enabled=default_enabled,
    )
