"""Approvals: how many people must agree before a change merges, and who counts.

Merge request approvals are GitLab Premium. On Free or CE the endpoints answer 403 or 404,
the sections are not ``ok``, and these rules report ``unknown`` rather than a pass.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from posture.rules.branches import branch_matches, default_branch
from posture.snapshot import ApprovalRule, Project

RULES_DOCS = "https://docs.gitlab.com/user/project/merge_requests/approvals/rules/"
SETTINGS_DOCS = "https://docs.gitlab.com/user/project/merge_requests/approvals/settings/"
API = Reference(
    "GitLab API: merge request approvals", "https://docs.gitlab.com/api/merge_request_approvals/"
)
SETTINGS_UI = "Project > Settings > Merge requests > Merge request approvals > Approval settings"
LOCKED_NOTE = (
    " If the setting is locked, change it where it is inherited from: the top-level group "
    "(PUT /groups/:id/merge_request_approval_setting) or the instance."
)

#: Rule types whose approvals gate every merge request; report and code-owner rules do not.
_COUNTED_TYPES = {"regular", "any_approver", None}


# -- approvals.min_required ----------------------------------------------------------------


class MinApprovals(Params):
    min: int = Field(2, ge=0, description="approvals the default branch must require")


def _applies(rule: ApprovalRule, branch: str, project: Project) -> bool:
    """Whether an approval rule gates merge requests into ``branch``."""
    if rule.applies_to_all_protected_branches:
        coverage = project.default_branch_protection
        return coverage is None or coverage.covered  # only protected branches are targeted
    if not rule.protected_branches:  # a rule without branches targets all branches
        return True
    return any(branch_matches(pattern, branch) for pattern in rule.protected_branches)


def _legacy_approvals(project: Project) -> int | None:
    if project.approvals_before_merge is not None:
        return project.approvals_before_merge
    settings = project.approval_settings.data if project.approval_settings.ok else None
    return settings.approvals_before_merge if settings is not None else None


def check_min_required(project: Project, params: MinApprovals, _ctx: Context) -> Iterator[Outcome]:
    branch = default_branch(project)
    if branch is None:
        yield not_applicable("no default branch (empty repository)")
        return
    rules = [
        r
        for r in project.approval_rules.data or []
        if r.rule_type in _COUNTED_TYPES and _applies(r, branch, project)
    ]
    if rules:
        effective = max(r.approvals_required for r in rules)
        names = ", ".join(f'"{r.name}"' for r in rules if r.approvals_required == effective)
        source = f"approval rule {names}"
    else:
        legacy = _legacy_approvals(project)
        if legacy is not None:
            effective = legacy
            source = "no approval rule applies; legacy approvals_before_merge"
        else:
            effective = 0
            source = "no approval rule applies and approvals_before_merge is not set"
    noun = "approval" if effective == 1 else "approvals"
    message = f"merge requests into {branch} need {effective} {noun} ({source})"
    if effective >= params.min:
        yield passed(message, expected=params.min, actual=effective)
    else:
        yield failed(f"{message}; required: {params.min}", expected=params.min, actual=effective)


# -- boolean approval settings ----------------------------------------------------------------


def _judge_setting(
    project: Project, field: str, *, bad: bool, risk: str, ok_text: str
) -> Iterator[Outcome]:
    settings = project.approval_settings.data
    if settings is None:
        yield unknown("GitLab returned no merge request approval settings", expected=not bad)
        return
    value = getattr(settings, field)
    if value is None:
        yield unknown(f"GitLab did not report {field}", expected=not bad)
    elif value is bad:
        yield failed(f"{field} is {str(value).lower()}: {risk}", expected=not bad, actual=value)
    else:
        yield passed(f"{field} is {str(value).lower()}: {ok_text}", expected=not bad, actual=value)


def check_author_can_approve(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    yield from _judge_setting(
        project,
        "merge_requests_author_approval",
        bad=True,
        risk="authors can approve their own merge requests",
        ok_text="authors cannot approve their own merge requests",
    )


def check_committer_can_approve(
    project: Project, _params: Params, _ctx: Context
) -> Iterator[Outcome]:
    yield from _judge_setting(
        project,
        "merge_requests_disable_committers_approval",
        bad=False,
        risk="users who added commits can approve the merge request",
        ok_text="users who added commits cannot approve",
    )


def check_reset_on_push(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    settings = project.approval_settings.data
    selective = settings is not None and settings.selective_code_owner_removals is True
    risk = "approvals survive new commits"
    if selective:
        risk += " (only Code Owner approvals on changed files are removed)"
    yield from _judge_setting(
        project,
        "reset_approvals_on_push",
        bad=False,
        risk=risk,
        ok_text="approvals are removed when commits are added",
    )


def check_override_approvers(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    yield from _judge_setting(
        project,
        "disable_overriding_approvers_per_merge_request",
        bad=False,
        risk="approval rules can be edited in each merge request",
        ok_text="approval rules cannot be edited in merge requests",
    )


def check_reauthentication(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    yield from _judge_setting(
        project,
        "require_reauthentication_to_approve",
        bad=False,
        risk="approving does not ask the approver to authenticate again",
        ok_text="approvers re-authenticate to approve",
    )


_SETTINGS = ("approval_settings",)

RULES: tuple[Rule, ...] = (
    Rule(
        id="approvals.min_required",
        title="Merge requests into the default branch need enough approvals",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "Requiring two approvals means no single person, or single stolen account, can "
            "get a change into the default branch. With zero or one the review is optional "
            "or a formality."
        ),
        remediation=(
            "Project > Settings > Merge requests > Merge request approvals: add or edit an "
            "approval rule that targets all branches or all protected branches and set "
            "Required number of approvals to 2. API: POST /projects/:id/approval_rules with "
            "name, approvals_required=2 and applies_to_all_protected_branches=true, or PUT "
            "/projects/:id/approval_rules/:approval_rule_id with approvals_required=2."
        ),
        references=(Reference("GitLab: merge request approval rules", RULES_DOCS), API),
        soc2=("CC8.1",),
        cis=("1.1.3",),
        check=check_min_required,
        params=MinApprovals,
        requires=("approval_rules",),
        premium=True,
    ),
    Rule(
        id="approvals.author_can_approve",
        title="Authors cannot approve their own merge requests",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "An author approving their own change defeats the point of review: one person "
            "(or one compromised account) satisfies the approval rule alone."
        ),
        remediation=(
            f"{SETTINGS_UI}: select Prevent approval by author. API: POST "
            "/projects/:id/approvals with merge_requests_author_approval=false." + LOCKED_NOTE
        ),
        references=(
            Reference(
                "GitLab: prevent approval by author", f"{SETTINGS_DOCS}#prevent-approval-by-author"
            ),
            API,
        ),
        soc2=("CC8.1", "CC6.3"),
        check=check_author_can_approve,
        requires=_SETTINGS,
        premium=True,
    ),
    Rule(
        id="approvals.committer_can_approve",
        title="Users who add commits cannot approve the merge request",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "Someone who pushed commits to a merge request is a co-author of it; letting them "
            "approve lets code reach the default branch without an independent reviewer."
        ),
        remediation=(
            f"{SETTINGS_UI}: select Prevent approvals by users who add commits. API: POST "
            "/projects/:id/approvals with merge_requests_disable_committers_approval=true."
            + LOCKED_NOTE
        ),
        references=(
            Reference(
                "GitLab: prevent approvals by users who add commits",
                f"{SETTINGS_DOCS}#prevent-approvals-by-users-who-add-commits",
            ),
            API,
        ),
        soc2=("CC8.1", "CC6.3"),
        check=check_committer_can_approve,
        requires=_SETTINGS,
        premium=True,
    ),
    Rule(
        id="approvals.reset_on_push",
        title="Approvals are removed when new commits are pushed",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "If approvals survive new commits, a change can be approved and then altered "
            "before it merges: what ships is not what was reviewed."
        ),
        remediation=(
            f"{SETTINGS_UI}: select Remove all approvals when commits are added to the source "
            "branch. API: POST /projects/:id/approvals with reset_approvals_on_push=true."
            + LOCKED_NOTE
        ),
        references=(
            Reference(
                "GitLab: remove all approvals when commits are added",
                f"{SETTINGS_DOCS}#remove-all-approvals-when-commits-are-added-to-the-source-branch",
            ),
            API,
        ),
        soc2=("CC8.1",),
        cis=("1.1.4",),
        check=check_reset_on_push,
        requires=_SETTINGS,
        premium=True,
    ),
    Rule(
        id="approvals.override_approvers",
        title="Approval rules cannot be edited in individual merge requests",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "When approval rules can be edited per merge request, the author can lower the "
            "required approvals or pick their own approvers, bypassing the project's rules."
        ),
        remediation=(
            f"{SETTINGS_UI}: select Prevent editing approval rules in merge requests. API: "
            "POST /projects/:id/approvals with "
            "disable_overriding_approvers_per_merge_request=true." + LOCKED_NOTE
        ),
        references=(
            Reference(
                "GitLab: prevent editing approval rules in merge requests",
                f"{SETTINGS_DOCS}#prevent-editing-approval-rules-in-merge-requests",
            ),
            API,
        ),
        soc2=("CC8.1",),
        check=check_override_approvers,
        requires=_SETTINGS,
        premium=True,
    ),
    Rule(
        id="approvals.reauthentication",
        title="Approvers must re-authenticate to approve",
        severity=Severity.LOW,
        targets=(Target.PROJECT,),
        rationale=(
            "Asking for a password or SAML sign-in at approval time means a hijacked browser "
            "session or a stolen token alone cannot approve a change; it also serves as an "
            "electronic signature for regulated work."
        ),
        remediation=(
            f"{SETTINGS_UI}: select Require user re-authentication (password or SAML) to "
            "approve. API: POST /projects/:id/approvals with "
            "require_reauthentication_to_approve=true." + LOCKED_NOTE
        ),
        references=(
            Reference(
                "GitLab: require user re-authentication to approve",
                f"{SETTINGS_DOCS}#require-user-re-authentication-to-approve",
            ),
            API,
        ),
        soc2=("CC8.1", "CC6.1"),
        check=check_reauthentication,
        requires=_SETTINGS,
        premium=True,
    ),
)
