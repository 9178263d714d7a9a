"""Branches: who may change the code that ships, and how.

A protected default branch is what turns merge request review into a control: without it
anyone with the Developer role pushes straight to the code that is built and deployed.
When several protected-branch rules match a branch, GitLab applies the most permissive one,
so every matching rule is judged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from posture.rules.base import (
    LEVEL_NAMES,
    ROLE_LEVELS,
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
from posture.snapshot import AccessLevel, Project, ProtectedBranch

DOCS = "https://docs.gitlab.com/user/project/repository/branches/protected/"
API_DOCS = "https://docs.gitlab.com/api/protected_branches/"
PROTECTED_BRANCHES = Reference("GitLab: protected branches", DOCS)
PROTECTED_BRANCHES_API = Reference("GitLab API: protected branches", API_DOCS)

Scope = Literal["default", "all"]
Role = Literal["no_one", "developer", "maintainer", "owner", "admin"]


def branch_matches(pattern: str, name: str) -> bool:
    """GitLab's protected-branch wildcard: ``*`` matches any run of characters, ``/`` included.

    Everything else is literal and case-sensitive, as GitLab compares branch names.
    """
    if "*" not in pattern:
        return pattern == name
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, name, flags=re.DOTALL) is not None


def default_branch(project: Project) -> str | None:
    """The branch merge requests target, or None while the repository is empty."""
    if project.empty_repo is True:
        return None
    return project.default_branch or None


def _protected(project: Project) -> list[ProtectedBranch]:
    return project.protected_branches.data or []


def _matching(project: Project, branch: str) -> list[ProtectedBranch]:
    return [b for b in _protected(project) if branch_matches(b.name, branch)]


def _item(branch: ProtectedBranch, among: list[ProtectedBranch]) -> str:
    """The branch rule's name; the id is added only when two rules share a name."""
    if branch.id is not None and sum(b.name == branch.name for b in among) > 1:
        return f"{branch.name} #{branch.id}"
    return branch.name


def _origin(branch: ProtectedBranch) -> str:
    return " (inherited from the group)" if branch.inherited else ""


def _in_scope(project: Project, scope: Scope) -> tuple[list[ProtectedBranch], Outcome | None]:
    """The rules to judge, or the not_applicable outcome that explains why there are none."""
    if scope == "all":
        branches = _protected(project)
        return branches, None if branches else not_applicable("no protected branches")
    name = default_branch(project)
    if name is None:
        return [], not_applicable("no default branch (empty repository)")
    branches = _matching(project, name)
    if not branches:
        return [], not_applicable(
            f"default branch {name} is not protected (reported by branches.default_protected)"
        )
    return branches, None


# -- branches.default_protected ------------------------------------------------------------


def check_default_protected(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    name = default_branch(project)
    if name is None:
        yield not_applicable("no default branch (empty repository)")
        return
    coverage = project.default_branch_protection
    if coverage is not None and coverage.default_branch == name:
        matched = coverage.matched_by
    else:  # a snapshot written without the derived field: work it out from the rules
        matched = sorted({b.name for b in _matching(project, name)})
    if matched:
        yield passed(
            f"default branch {name} is protected by {', '.join(matched)}",
            expected="protected",
            actual=matched,
        )
    else:
        yield failed(
            f"default branch {name} is not protected: anyone with the Developer role can "
            "push to it and force push",
            expected="protected",
            actual=[],
        )


# -- branches.force_push ---------------------------------------------------------------------


class ForcePushParams(Params):
    scope: Scope = Field(
        "all",
        description='"all" protected branches, or only the rules matching the "default" branch',
    )


def check_force_push(project: Project, params: ForcePushParams, _ctx: Context) -> Iterator[Outcome]:
    branches, none = _in_scope(project, params.scope)
    if none is not None:
        yield none
        return
    for branch in branches:
        item = _item(branch, branches)
        allowed = branch.allow_force_push
        if allowed is None:
            yield unknown(f"GitLab did not report allow_force_push for {branch.name}", item=item)
        elif allowed:
            yield failed(
                f"force push is allowed on {branch.name}{_origin(branch)}: history can be "
                "rewritten and reviewed commits replaced",
                item=item,
                expected=False,
                actual=True,
            )
        else:
            yield passed(
                f"force push is denied on {branch.name}", item=item, expected=False, actual=False
            )


# -- push / merge / unprotect access ---------------------------------------------------------


class AccessParams(Params):
    scope: Scope = Field(
        "default",
        description='only the rules matching the "default" branch, or "all" protected branches',
    )
    min_role: Role = Field(
        "maintainer",
        description="lowest role an access entry may grant; no_one allows only 'No one'",
    )


def _describe(entry: AccessLevel) -> str:
    if entry.user_id is not None:
        return f"user {entry.user_id}"
    if entry.group_id is not None:
        return f"group {entry.group_id}"
    if entry.deploy_key_id is not None:
        return f"deploy key {entry.deploy_key_id}"
    if entry.access_level is None:
        return entry.access_level_description or "unknown entry"
    return LEVEL_NAMES.get(entry.access_level, f"access level {entry.access_level}")


def _is_role(entry: AccessLevel) -> bool:
    """A role entry; user, group and deploy-key entries name people, not roles."""
    return (
        entry.access_level is not None
        and entry.user_id is None
        and entry.group_id is None
        and entry.deploy_key_id is None
    )


def _too_broad(level: int, min_role: Role) -> bool:
    if level == 0:  # "No one" is never too broad
        return False
    required = ROLE_LEVELS[min_role]
    return required == 0 or level < required


def _judge_access(
    project: Project, params: AccessParams, field: str, verb: str
) -> Iterator[Outcome]:
    branches, none = _in_scope(project, params.scope)
    if none is not None:
        yield none
        return
    expected = "no one" if params.min_role == "no_one" else f"{params.min_role} or higher"
    for branch in branches:
        item = _item(branch, branches)
        entries: list[AccessLevel] | None = getattr(branch, field)
        if entries is None:
            yield unknown("GitLab CE does not report who may unprotect", item=item)
            continue
        actual = [_describe(e) for e in entries]
        broad = sorted(
            {
                _describe(e)
                for e in entries
                if _is_role(e) and _too_broad(e.access_level or 0, params.min_role)
            }
        )
        named = [_describe(e) for e in entries if not _is_role(e)]
        extra = f"; also {', '.join(named)} (named entries, not judged)" if named else ""
        if broad:
            yield failed(
                f"the {' and '.join(broad)} role{'s' if len(broad) > 1 else ''} may {verb} "
                f"{branch.name}{_origin(branch)} "
                f"(allowed: {expected}){extra}",
                item=item,
                expected=expected,
                actual=actual,
            )
        else:
            who = ", ".join(_describe(e) for e in entries if _is_role(e)) or "no role entries"
            yield passed(
                f"who may {verb} {branch.name}: {who}{extra}",
                item=item,
                expected=expected,
                actual=actual,
            )


def check_push_access(project: Project, params: AccessParams, _ctx: Context) -> Iterator[Outcome]:
    yield from _judge_access(project, params, "push_access_levels", "push to")


def check_merge_access(project: Project, params: AccessParams, _ctx: Context) -> Iterator[Outcome]:
    yield from _judge_access(project, params, "merge_access_levels", "merge into")


def check_unprotect_access(
    project: Project, params: AccessParams, _ctx: Context
) -> Iterator[Outcome]:
    yield from _judge_access(project, params, "unprotect_access_levels", "unprotect")


# -- branches.code_owner_approval ------------------------------------------------------------


def check_code_owner_approval(
    project: Project, _params: Params, _ctx: Context
) -> Iterator[Outcome]:
    branches, none = _in_scope(project, "default")
    if none is not None:
        yield none
        return
    name = default_branch(project)
    requiring = [b.name for b in branches if b.code_owner_approval_required is True]
    if requiring:
        yield passed(
            f"code owner approval is required on {name} (by {', '.join(requiring)})",
            expected=True,
            actual=True,
        )
    elif any(b.code_owner_approval_required is None for b in branches):
        yield unknown(
            "GitLab did not report code_owner_approval_required (GitLab CE has no such setting)",
            expected=True,
        )
    else:
        yield failed(
            f"code owner approval is not required on {name} (it needs GitLab Premium; "
            "GitLab Free always reports false)",
            expected=True,
            actual=False,
        )


_REQUIRES = ("protected_branches",)
_PROTECT_UI = "Project > Settings > Repository > Protected branches"

RULES: tuple[Rule, ...] = (
    Rule(
        id="branches.default_protected",
        title="The default branch is protected",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "The default branch is what gets built, released and deployed. Unprotected, "
            "anyone with the Developer role can push to it directly, force push over reviewed "
            "history or delete it, and merge request review stops being a control."
        ),
        remediation=(
            f"{_PROTECT_UI}: Add protected branch, pick the default branch (or a wildcard "
            "that matches it), Allowed to merge: Maintainers, Allowed to push and merge: "
            "Maintainers or No one. API: POST /projects/:id/protected_branches with "
            "name=<default branch>, push_access_level=40, merge_access_level=40, "
            "allow_force_push=false."
        ),
        references=(
            PROTECTED_BRANCHES,
            PROTECTED_BRANCHES_API,
            Reference(
                "GitLab: default branch protection",
                "https://docs.gitlab.com/user/project/repository/branches/default/",
            ),
        ),
        soc2=("CC8.1", "CC6.1"),
        cis=("1.1.20",),
        check=check_default_protected,
        requires=_REQUIRES,
    ),
    Rule(
        id="branches.force_push",
        title="Force push is denied on protected branches",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "Force push rewrites a branch's history: commits that were reviewed and approved "
            "can be replaced or removed without a trace in merge requests. GitLab applies the "
            "most permissive matching rule, so one rule allowing it is enough."
        ),
        remediation=(
            f"{_PROTECT_UI}: turn off Allowed to force push for the branch. API: PATCH "
            "/projects/:id/protected_branches/:name with allow_force_push=false (for a rule "
            "inherited from the group: PATCH /groups/:id/protected_branches/:name)."
        ),
        references=(
            Reference(
                "GitLab: allow force push on a protected branch",
                f"{DOCS}#allow-force-push-on-a-protected-branch",
            ),
            PROTECTED_BRANCHES_API,
        ),
        soc2=("CC8.1",),
        cis=("1.1.16",),
        check=check_force_push,
        params=ForcePushParams,
        requires=_REQUIRES,
    ),
    Rule(
        id="branches.push_access",
        title="Only trusted roles can push directly to the default branch",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "Whoever may push to the default branch can ship code without a merge request, "
            "skipping review, approvals and pipeline checks. Granting it to Developers makes "
            "every developer account a path to production."
        ),
        remediation=(
            f"{_PROTECT_UI}: set Allowed to push and merge to Maintainers or No one. API: "
            "PATCH /projects/:id/protected_branches/:name with allowed_to_push="
            '[{"id": <entry id>, "access_level": 40}] (Premium); on Free, DELETE '
            "/projects/:id/protected_branches/:name and POST /projects/:id/protected_branches "
            "with push_access_level=40."
        ),
        references=(
            Reference(
                "GitLab: require everyone to submit merge requests",
                f"{DOCS}#require-everyone-to-submit-merge-requests-for-a-protected-branch",
            ),
            PROTECTED_BRANCHES_API,
        ),
        soc2=("CC6.3", "CC8.1"),
        cis=("1.1.15",),
        check=check_push_access,
        params=AccessParams,
        requires=_REQUIRES,
    ),
    Rule(
        id="branches.merge_access",
        title="Only trusted roles can merge into the default branch",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "Merging is the moment a change becomes part of what ships. Limiting it to "
            "Maintainers keeps the final decision with the people accountable for the code."
        ),
        remediation=(
            f"{_PROTECT_UI}: set Allowed to merge to Maintainers. API: PATCH "
            "/projects/:id/protected_branches/:name with allowed_to_merge="
            '[{"id": <entry id>, "access_level": 40}] (Premium); on Free, DELETE and POST '
            "/projects/:id/protected_branches with merge_access_level=40."
        ),
        references=(PROTECTED_BRANCHES, PROTECTED_BRANCHES_API),
        soc2=("CC6.3", "CC8.1"),
        cis=("1.1.15",),
        check=check_merge_access,
        params=AccessParams,
        requires=_REQUIRES,
    ),
    Rule(
        id="branches.unprotect_access",
        title="Only trusted roles can unprotect the default branch",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "Whoever may unprotect a branch can switch every other branch control off, push, "
            "and protect it again. That power should sit with Maintainers or above."
        ),
        remediation=(
            "Set who may unprotect with the API (the UI does not show it): PATCH "
            "/projects/:id/protected_branches/:name with allowed_to_unprotect="
            '[{"access_level": 40}] (Premium), or create the rule with POST '
            "/projects/:id/protected_branches and unprotect_access_level=40."
        ),
        references=(
            PROTECTED_BRANCHES,
            Reference(
                "GitLab API: update a protected branch",
                f"{API_DOCS}#update-a-protected-branch",
            ),
        ),
        soc2=("CC6.3", "CC8.1"),
        check=check_unprotect_access,
        params=AccessParams,
        requires=_REQUIRES,
    ),
    Rule(
        id="branches.code_owner_approval",
        title="Code owner approval is required on the default branch",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "With code owner approval required, a change to files listed in CODEOWNERS "
            "(deployment config, security code) cannot merge until one of their owners "
            "approves it, and direct pushes touching them are refused."
        ),
        remediation=(
            f"{_PROTECT_UI}: turn on Code owner approval for the default branch's rule. API: "
            "PATCH /projects/:id/protected_branches/:name with "
            "code_owner_approval_required=true. Needs GitLab Premium and a CODEOWNERS file."
        ),
        references=(
            Reference(
                "GitLab: require code owner approval on a protected branch",
                f"{DOCS}#require-code-owner-approval-on-a-protected-branch",
            ),
            Reference("GitLab: code owners", "https://docs.gitlab.com/user/project/codeowners/"),
        ),
        soc2=("CC8.1",),
        cis=("1.1.7",),
        check=check_code_owner_approval,
        requires=_REQUIRES,
        premium=True,
    ),
)
