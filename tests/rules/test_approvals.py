from __future__ import annotations

from typing import Any

import pytest

from posture.rules import REGISTRY
from posture.rules.approvals import MinApprovals
from posture.rules.base import Verdict
from posture.snapshot import ApprovalRule, ApprovalSettings, DefaultBranchProtection
from tests.rules.factories import error, forbidden, ok, project, run, unavailable, verdicts

MIN = REGISTRY["approvals.min_required"]
UNCOLLECTED = [forbidden(), unavailable("404 Not Found (GitLab CE)"), error()]


def rule(
    name: str = "review",
    required: int = 2,
    *,
    rule_type: str | None = "regular",
    branches: tuple[str, ...] = (),
    all_protected: bool = False,
) -> ApprovalRule:
    return ApprovalRule(
        id=1,
        name=name,
        rule_type=rule_type,
        approvals_required=required,
        eligible_approvers_count=3,
        applies_to_all_protected_branches=all_protected,
        protected_branches=list(branches),
    )


def with_rules(*rules: ApprovalRule, **fields: Any):
    return project(approval_rules=ok(list(rules)), **fields)


# -- approvals.min_required ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "verdict", "actual"),
    [
        ([rule(required=2)], Verdict.PASS, 2),
        ([rule(required=3)], Verdict.PASS, 3),
        ([rule(required=1)], Verdict.FAIL, 1),
        ([rule("any", 2, rule_type="any_approver")], Verdict.PASS, 2),
        ([rule("a", 1), rule("b", 2)], Verdict.PASS, 2),  # the strictest rule decides
        ([rule(required=2, rule_type=None)], Verdict.PASS, 2),  # older GitLab: no rule_type
        # report and code-owner rules do not gate every merge request
        ([rule("coverage", 2, rule_type="report_approver")], Verdict.FAIL, 0),
        ([rule("owners", 2, rule_type="code_owner")], Verdict.FAIL, 0),
        ([], Verdict.FAIL, 0),
    ],
)
def test_min_required(rules: list[ApprovalRule], verdict: Verdict, actual: int) -> None:
    [outcome] = run(MIN, with_rules(*rules))
    assert outcome.verdict is verdict
    assert outcome.actual == actual
    assert outcome.expected == 2
    assert f"need {actual} approval" in outcome.message


def test_min_required_names_the_deciding_rule() -> None:
    [outcome] = run(MIN, with_rules(rule("security", 2), rule("docs", 1)))
    assert '"security"' in outcome.message
    assert '"docs"' not in outcome.message


@pytest.mark.parametrize(
    ("branches", "verdict"),
    [
        (("main",), Verdict.PASS),
        (("ma*",), Verdict.PASS),
        (("release/*",), Verdict.FAIL),  # scoped to other branches: does not gate main
        (("release/*", "main"), Verdict.PASS),
    ],
)
def test_rules_scoped_to_protected_branches(branches: tuple[str, ...], verdict: Verdict) -> None:
    assert verdicts(run(MIN, with_rules(rule(required=2, branches=branches)))) == [verdict]


@pytest.mark.parametrize(
    ("coverage", "verdict"),
    [
        (None, Verdict.PASS),
        (
            DefaultBranchProtection(default_branch="main", covered=True, matched_by=["main"]),
            Verdict.PASS,
        ),
        (DefaultBranchProtection(default_branch="main", covered=False), Verdict.FAIL),
    ],
)
def test_all_protected_branches_rule_needs_a_protected_default_branch(
    coverage: DefaultBranchProtection | None, verdict: Verdict
) -> None:
    subject = with_rules(
        rule(required=2, all_protected=True, branches=("release/*",)),
        default_branch_protection=coverage,
    )
    assert verdicts(run(MIN, subject)) == [verdict]


def test_falls_back_to_legacy_project_field_and_says_so() -> None:
    [outcome] = run(MIN, with_rules(approvals_before_merge=2))
    assert outcome.verdict is Verdict.PASS
    assert "approvals_before_merge" in outcome.message


def test_falls_back_to_legacy_approval_settings_field() -> None:
    settings = ok(ApprovalSettings(approvals_before_merge=1))
    [outcome] = run(MIN, with_rules(approval_settings=settings))
    assert outcome.verdict is Verdict.FAIL
    assert outcome.actual == 1
    assert "legacy approvals_before_merge" in outcome.message


def test_approval_rules_win_over_the_legacy_field() -> None:
    [outcome] = run(MIN, with_rules(rule(required=1), approvals_before_merge=5))
    assert outcome.verdict is Verdict.FAIL
    assert outcome.actual == 1


def test_min_parameter() -> None:
    assert verdicts(run(MIN, with_rules(rule(required=1)), MinApprovals(min=1))) == [Verdict.PASS]
    assert verdicts(run(MIN, with_rules(), MinApprovals(min=0))) == [Verdict.PASS]
    with pytest.raises(ValueError):
        MinApprovals(min=-1)


def test_min_required_without_default_branch_is_not_applicable() -> None:
    [outcome] = run(MIN, with_rules(rule(), default_branch=None))
    assert outcome.verdict is Verdict.NOT_APPLICABLE


@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_approval_rules_are_unknown(section) -> None:
    [outcome] = run(MIN, project(approval_rules=section, approvals_before_merge=3))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "approval_rules" in outcome.message


# -- the boolean approval settings -------------------------------------------------------------

SETTINGS_RULES = [
    ("approvals.author_can_approve", "merge_requests_author_approval", True),
    ("approvals.committer_can_approve", "merge_requests_disable_committers_approval", False),
    ("approvals.reset_on_push", "reset_approvals_on_push", False),
    ("approvals.override_approvers", "disable_overriding_approvers_per_merge_request", False),
    ("approvals.reauthentication", "require_reauthentication_to_approve", False),
]
SETTING_IDS = [s[0] for s in SETTINGS_RULES]


@pytest.mark.parametrize(("rule_id", "field", "bad"), SETTINGS_RULES, ids=SETTING_IDS)
def test_setting_fails_on_the_risky_value_and_passes_on_the_safe_one(
    rule_id: str, field: str, bad: bool
) -> None:
    target = REGISTRY[rule_id]
    [outcome] = run(target, project(approval_settings=ok(ApprovalSettings(**{field: bad}))))
    assert outcome.verdict is Verdict.FAIL
    assert field in outcome.message
    assert (outcome.expected, outcome.actual) == (not bad, bad)
    [outcome] = run(target, project(approval_settings=ok(ApprovalSettings(**{field: not bad}))))
    assert outcome.verdict is Verdict.PASS


@pytest.mark.parametrize(("rule_id", "field", "bad"), SETTINGS_RULES, ids=SETTING_IDS)
def test_setting_not_reported_is_unknown(rule_id: str, field: str, bad: bool) -> None:
    target = REGISTRY[rule_id]
    [outcome] = run(target, project(approval_settings=ok(ApprovalSettings())))
    assert outcome.verdict is Verdict.UNKNOWN
    assert field in outcome.message
    # a collected section with a null body is no better
    [outcome] = run(target, project(approval_settings=ok(None)))
    assert outcome.verdict is Verdict.UNKNOWN


@pytest.mark.parametrize("rule_id", SETTING_IDS)
@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_approval_settings_are_unknown(rule_id: str, section) -> None:
    [outcome] = run(REGISTRY[rule_id], project(approval_settings=section))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "approval_settings" in outcome.message


def test_reset_on_push_mentions_selective_code_owner_removal() -> None:
    settings = ApprovalSettings(reset_approvals_on_push=False, selective_code_owner_removals=True)
    [outcome] = run(REGISTRY["approvals.reset_on_push"], project(approval_settings=ok(settings)))
    assert outcome.verdict is Verdict.FAIL
    assert "Code Owner" in outcome.message


def test_approval_rules_are_marked_premium() -> None:
    assert all(r.premium for r in REGISTRY.values() if r.family == "approvals")
