from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posture.rules import REGISTRY
from posture.rules.base import Verdict
from posture.rules.branches import AccessParams, ForcePushParams, branch_matches
from posture.snapshot import AccessLevel, DefaultBranchProtection, Project, ProtectedBranch
from tests.rules.factories import error, forbidden, ok, project, run, unavailable, verdicts

DEFAULT = REGISTRY["branches.default_protected"]
FORCE = REGISTRY["branches.force_push"]
PUSH = REGISTRY["branches.push_access"]
MERGE = REGISTRY["branches.merge_access"]
UNPROTECT = REGISTRY["branches.unprotect_access"]
CODE_OWNER = REGISTRY["branches.code_owner_approval"]
BRANCH_RULES = (DEFAULT, FORCE, PUSH, MERGE, UNPROTECT, CODE_OWNER)

NO_ONE, DEVELOPER, MAINTAINER, ADMIN = 0, 30, 40, 60


def role(level: int) -> AccessLevel:
    return AccessLevel(access_level=level)


def protected(name: str = "main", **fields: Any) -> ProtectedBranch:
    """A strict rule (maintainers only, no force push) unless told otherwise."""
    base: dict[str, Any] = {
        "name": name,
        "push_access_levels": [role(MAINTAINER)],
        "merge_access_levels": [role(MAINTAINER)],
        "unprotect_access_levels": [role(MAINTAINER)],
        "allow_force_push": False,
        "code_owner_approval_required": True,
    }
    base.update(fields)
    return ProtectedBranch(**base)


def repo(*branches: ProtectedBranch, **fields: Any) -> Project:
    return project(protected_branches=ok(list(branches)), **fields)


# -- branch_matches --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("main", "main", True),
        ("main", "Main", False),  # GitLab branch names are case-sensitive
        ("main", "main2", False),
        ("release/*", "release/1.0", True),
        ("release/*", "release", False),
        ("*-stable", "production-stable", True),
        ("*gitlab*", "master/gitlab/production", True),  # `*` crosses `/`
        ("*", "feature/a/b", True),
        ("v1.*", "v1.x", True),
        ("v1.*", "v10", False),
        ("a.b", "axb", False),  # regex characters are literal
        ("re[l]*", "re[l]ease", True),
    ],
)
def test_branch_matches_gitlab_wildcards(pattern: str, name: str, expected: bool) -> None:
    assert branch_matches(pattern, name) is expected


@given(st.text(min_size=1).filter(lambda s: "*" not in s), st.text())
def test_literal_patterns_match_only_themselves_and_star_suffix_matches_prefix(
    name: str, tail: str
) -> None:
    assert branch_matches(name, name)
    assert branch_matches(name + "*", name + tail)
    assert branch_matches(name, name + tail) is (tail == "")


# -- sections that were not collected ----------------------------------------------------------


@pytest.mark.parametrize("rule", BRANCH_RULES, ids=lambda r: r.id)
@pytest.mark.parametrize(
    "section", [forbidden(), unavailable(), error()], ids=lambda s: s.status.value
)
def test_uncollected_protected_branches_are_unknown_never_pass(rule, section) -> None:
    [outcome] = run(rule, project(protected_branches=section))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "protected_branches" in outcome.message


# -- branches.default_protected ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "verdict"),
    [
        ([protected("main")], Verdict.PASS),
        ([protected("ma*")], Verdict.PASS),
        ([protected("*")], Verdict.PASS),
        ([protected("release/*")], Verdict.FAIL),
        ([protected("Main")], Verdict.FAIL),
        ([], Verdict.FAIL),
    ],
)
def test_default_branch_protected(rules: list[ProtectedBranch], verdict: Verdict) -> None:
    [outcome] = run(DEFAULT, repo(*rules))
    assert outcome.verdict is verdict
    assert "main" in outcome.message


def test_default_protected_names_the_matching_rules() -> None:
    [outcome] = run(DEFAULT, repo(protected("main"), protected("m*"), protected("dev")))
    assert outcome.actual == ["m*", "main"]


def test_default_protected_uses_the_crawlers_coverage() -> None:
    coverage = DefaultBranchProtection(default_branch="main", covered=False, matched_by=[])
    subject = repo(protected("release/*"), default_branch_protection=coverage)
    assert verdicts(run(DEFAULT, subject)) == [Verdict.FAIL]


@pytest.mark.parametrize("fields", [{"default_branch": None}, {"empty_repo": True}])
def test_empty_repository_is_not_applicable(fields: dict[str, Any]) -> None:
    for rule in (DEFAULT, PUSH, MERGE, UNPROTECT, CODE_OWNER):
        [outcome] = run(rule, repo(protected("main"), **fields))
        assert outcome.verdict is Verdict.NOT_APPLICABLE, rule.id
        assert "default branch" in outcome.message


# -- branches.force_push -----------------------------------------------------------------------


def test_force_push_judged_per_protected_branch() -> None:
    subject = repo(protected("main"), protected("release/*", allow_force_push=True))
    outcomes = run(FORCE, subject)
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("main", Verdict.PASS),
        ("release/*", Verdict.FAIL),
    }
    failure = next(o for o in outcomes if o.verdict is Verdict.FAIL)
    assert "release/*" in failure.message
    assert failure.actual is True


def test_force_push_scope_default_only_judges_rules_matching_the_default_branch() -> None:
    subject = repo(protected("main"), protected("release/*", allow_force_push=True))
    outcomes = run(FORCE, subject, ForcePushParams(scope="default"))
    assert [(o.item, o.verdict) for o in outcomes] == [("main", Verdict.PASS)]
    subject = repo(protected("*", allow_force_push=True))
    assert verdicts(run(FORCE, subject, ForcePushParams(scope="default"))) == [Verdict.FAIL]


def test_force_push_unknown_field_is_unknown_for_that_branch_only() -> None:
    subject = repo(protected("main", allow_force_push=None), protected("dev"))
    outcomes = run(FORCE, subject)
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("main", Verdict.UNKNOWN),
        ("dev", Verdict.PASS),
    }


def test_force_push_without_protected_branches_is_not_applicable() -> None:
    [outcome] = run(FORCE, repo())
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert outcome.message == "no protected branches"


def test_group_rule_and_project_rule_with_the_same_name_get_distinct_items() -> None:
    subject = repo(
        protected("main", id=3),
        protected("main", id=7, inherited=True, allow_force_push=True),
    )
    outcomes = run(FORCE, subject)
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("main #3", Verdict.PASS),
        ("main #7", Verdict.FAIL),
    }
    assert "inherited from the group" in next(o.message for o in outcomes if o.item == "main #7")


# -- push / merge / unprotect access -----------------------------------------------------------

ACCESS_FIELDS = [
    (PUSH, "push_access_levels"),
    (MERGE, "merge_access_levels"),
    (UNPROTECT, "unprotect_access_levels"),
]


@pytest.mark.parametrize(("rule", "field"), ACCESS_FIELDS, ids=lambda x: getattr(x, "id", x))
@pytest.mark.parametrize(
    ("entries", "verdict"),
    [
        ([role(MAINTAINER)], Verdict.PASS),
        ([role(NO_ONE)], Verdict.PASS),
        ([role(ADMIN)], Verdict.PASS),
        ([], Verdict.PASS),
        ([role(DEVELOPER)], Verdict.FAIL),
        ([role(MAINTAINER), role(DEVELOPER)], Verdict.FAIL),
        # named entries are reported, never judged: access_level is null or, for deploy
        # keys, carries a level that is not a role
        ([AccessLevel(user_id=5), role(MAINTAINER)], Verdict.PASS),
        ([AccessLevel(group_id=9)], Verdict.PASS),
        ([AccessLevel(access_level=DEVELOPER, deploy_key_id=2)], Verdict.PASS),
    ],
)
def test_access_levels_on_the_default_branch(
    rule, field: str, entries: list[AccessLevel], verdict: Verdict
) -> None:
    [outcome] = run(rule, repo(protected("main", **{field: entries})))
    assert outcome.verdict is verdict
    assert outcome.item == "main"
    if verdict is Verdict.FAIL:
        assert "developer" in outcome.message
        assert outcome.expected == "maintainer or higher"


def test_access_actual_lists_every_entry_including_named_ones() -> None:
    entries = [
        role(MAINTAINER),
        AccessLevel(user_id=5),
        AccessLevel(access_level=40, deploy_key_id=2),
    ]
    [outcome] = run(PUSH, repo(protected("main", push_access_levels=entries)))
    assert outcome.verdict is Verdict.PASS
    assert outcome.actual == ["maintainer", "user 5", "deploy key 2"]
    assert "user 5" in outcome.message


@pytest.mark.parametrize(
    ("min_role", "level", "verdict"),
    [
        ("owner", MAINTAINER, Verdict.FAIL),
        ("owner", ADMIN, Verdict.PASS),
        ("developer", DEVELOPER, Verdict.PASS),
        ("no_one", MAINTAINER, Verdict.FAIL),
        ("no_one", NO_ONE, Verdict.PASS),
    ],
)
def test_min_role_parameter(min_role: str, level: int, verdict: Verdict) -> None:
    params = AccessParams(min_role=min_role)
    subject = repo(protected("main", push_access_levels=[role(level)]))
    assert verdicts(run(PUSH, subject, params)) == [verdict]


def test_every_rule_matching_the_default_branch_is_judged() -> None:
    """GitLab applies the most permissive matching rule, so a lax wildcard counts."""
    subject = repo(protected("main"), protected("*", merge_access_levels=[role(DEVELOPER)]))
    outcomes = run(MERGE, subject)
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("main", Verdict.PASS),
        ("*", Verdict.FAIL),
    }


def test_access_scope_all_includes_other_protected_branches() -> None:
    subject = repo(protected("main"), protected("release/*", push_access_levels=[role(30)]))
    assert verdicts(run(PUSH, subject)) == [Verdict.PASS]
    outcomes = run(PUSH, subject, AccessParams(scope="all"))
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("main", Verdict.PASS),
        ("release/*", Verdict.FAIL),
    }


@pytest.mark.parametrize("rule", [PUSH, MERGE, UNPROTECT, CODE_OWNER], ids=lambda r: r.id)
def test_unprotected_default_branch_is_left_to_default_protected(rule) -> None:
    [outcome] = run(rule, repo(protected("release/*")))
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert "branches.default_protected" in outcome.message


def test_unprotect_access_on_ce_is_unknown() -> None:
    [outcome] = run(UNPROTECT, repo(protected("main", unprotect_access_levels=None)))
    assert outcome.verdict is Verdict.UNKNOWN
    assert outcome.message == "GitLab CE does not report who may unprotect"


# -- branches.code_owner_approval --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ([True], Verdict.PASS),
        ([False, True], Verdict.PASS),  # any matching rule requiring it is enough
        ([False], Verdict.FAIL),
        ([None], Verdict.UNKNOWN),  # GitLab CE sends no such key
    ],
)
def test_code_owner_approval(values: list[bool | None], verdict: Verdict) -> None:
    names = ["main", "ma*"]
    rules = [protected(names[i], code_owner_approval_required=v) for i, v in enumerate(values)]
    [outcome] = run(CODE_OWNER, repo(*rules))
    assert outcome.verdict is verdict


def test_code_owner_failure_explains_it_needs_premium() -> None:
    [outcome] = run(CODE_OWNER, repo(protected("main", code_owner_approval_required=False)))
    assert "Premium" in outcome.message
    assert "main" in outcome.message


def test_code_owner_ignores_rules_for_other_branches() -> None:
    subject = repo(
        protected("main", code_owner_approval_required=False),
        protected("release/*", code_owner_approval_required=True),
    )
    assert verdicts(run(CODE_OWNER, subject)) == [Verdict.FAIL]
