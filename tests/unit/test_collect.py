"""The border: GitLab JSON in, snapshot models out, secret values dropped."""

from __future__ import annotations

import pytest

from posture.gitlab import collect

FAKE_PAT = "glpat-EXAMPLEexample1234567"


def test_protected_branch_on_ce_keeps_missing_ee_keys_as_unknown() -> None:
    ce = {
        "id": 1,
        "name": "main",
        "push_access_levels": [{"access_level": 40, "access_level_description": "Maintainers"}],
        "merge_access_levels": [{"access_level": 30, "access_level_description": "Developers"}],
        "allow_force_push": False,
    }
    branch = collect.protected_branch(ce)
    assert branch.unprotect_access_levels is None  # CE sends no key: unknown, not "nobody"
    assert branch.code_owner_approval_required is None
    assert branch.inherited is None
    assert branch.push_access_levels[0].access_level == 40


def test_protected_branch_keeps_user_group_and_deploy_key_entries() -> None:
    ee = {
        "id": 2,
        "name": "release/*",
        "push_access_levels": [
            {"access_level": None, "user_id": 7, "group_id": None},
            {"access_level": None, "deploy_key_id": 3},
        ],
        "merge_access_levels": [],
        "unprotect_access_levels": [{"access_level": 40}],
        "allow_force_push": True,
        "code_owner_approval_required": False,
        "inherited": True,
    }
    branch = collect.protected_branch(ee)
    assert {lv.user_id for lv in branch.push_access_levels} == {7, None}
    assert {lv.deploy_key_id for lv in branch.push_access_levels} == {3, None}
    assert branch.allow_force_push is True
    assert branch.unprotect_access_levels is not None


@pytest.mark.parametrize(
    ("pattern", "branch", "expected"),
    [
        ("main", "main", True),
        ("main", "main2", False),
        ("*", "main", True),
        ("ma*", "main", True),
        ("*-stable", "16-stable", True),
        ("release/*", "release/1.0/hotfix", True),  # GitLab's * crosses slashes
        ("release/*", "release", False),
        ("m.in", "main", False),  # only * is special
        ("[a]*", "a-branch", False),
    ],
)
def test_branch_wildcards_follow_gitlab(pattern: str, branch: str, expected: bool) -> None:
    assert collect.branch_pattern_matches(pattern, branch) is expected


def test_default_branch_covered_by_wildcard_and_literal() -> None:
    branches = collect.protected_branches(
        [{"id": 1, "name": "ma*"}, {"id": 2, "name": "main"}, {"id": 3, "name": "dev"}]
    )
    cover = collect.default_branch_protection("main", branches)
    assert cover.covered
    assert cover.matched_by == ["ma*", "main"]
    assert not collect.default_branch_protection("trunk", branches).covered
    assert not collect.default_branch_protection(None, branches).covered


def test_variable_value_never_leaves_the_collector() -> None:
    item = {
        "key": "DEPLOY_TOKEN",
        "value": FAKE_PAT,
        "variable_type": "env_var",
        "protected": False,
        "masked": False,
        "hidden": False,
        "raw": True,
        "environment_scope": "*",
        "description": None,
    }
    var = collect.variable(item)
    dumped = var.model_dump_json()
    assert FAKE_PAT not in dumped
    assert "value" not in var.model_dump()
    assert var.looks_like_secret is True
    assert var.name_suggests_secret is True
    assert var.value_available is True


def test_hidden_variable_has_no_value_to_judge() -> None:
    var = collect.variable({"key": "X", "value": None, "hidden": True, "masked": True})
    assert var.value_available is False
    assert var.looks_like_secret is False
    assert var.maskable is None


def test_instance_variables_have_no_scope_or_hidden_flag() -> None:
    var = collect.variable({"key": "A", "value": "x", "masked": False}, scoped=False)
    assert var.environment_scope is None
    assert var.hidden is None


def test_variables_sorted_by_key_then_scope() -> None:
    out = collect.variables(
        [
            {"key": "B", "value": "1", "environment_scope": "*"},
            {"key": "A", "value": "1", "environment_scope": "prod"},
            {"key": "A", "value": "1", "environment_scope": "*"},
        ]
    )
    assert [(v.key, v.environment_scope) for v in out] == [("A", "*"), ("A", "prod"), ("B", "*")]


def test_webhook_loses_credentials_and_lists_events() -> None:
    hook = collect.webhook(
        {
            "id": 5,
            "url": "http://ci:s3cr3t-EXAMPLE@hooks.example.com/notify?token=abcEXAMPLE&x=1",
            "push_events": True,
            "merge_requests_events": True,
            "tag_push_events": False,
            "enable_ssl_verification": False,
            "url_variables": [{"key": "secret_part"}],
            "custom_headers": [{"key": "X-Auth"}],
        }
    )
    assert "s3cr3t-EXAMPLE" not in hook.model_dump_json()
    assert "abcEXAMPLE" not in hook.model_dump_json()
    assert hook.url_had_userinfo
    assert "token" in hook.url_redacted_parts
    assert hook.url_scheme == "http"
    assert hook.url_host == "hooks.example.com"
    assert hook.events == ["merge_requests_events", "push_events"]
    assert hook.url_variable_keys == ["secret_part"]
    assert hook.custom_header_keys == ["X-Auth"]


def test_runner_paused_falls_back_to_inverted_active() -> None:
    assert collect.runner_paused({"active": True}) is False
    assert collect.runner_paused({"active": False}) is True
    assert collect.runner_paused({"paused": True, "active": True}) is True
    assert collect.runner_paused({}) is None


def test_runner_refs_deduplicated_and_sorted() -> None:
    refs = collect.runner_refs(
        [{"id": 9, "runner_type": "instance_type"}, {"id": 2}, {"id": 9, "runner_type": "x"}]
    )
    assert [r.id for r in refs] == [2, 9]


def test_access_token_keeps_only_the_day_it_was_last_used() -> None:
    tokens = collect.access_tokens(
        [
            {
                "id": 1,
                "name": "bot",
                "scopes": ["api"],
                "last_used_at": "2026-11-20T10:11:12.000Z",
                "token": "glpat-should-never-be-here",
            }
        ]
    )
    assert tokens[0].last_used_on == "2026-11-20"
    assert "should-never-be-here" not in tokens[0].model_dump_json()


def test_approval_settings_reads_the_pre_16_9_reauthentication_name() -> None:
    old = collect.approval_settings({"require_password_to_approve": True})
    new = collect.approval_settings({"require_reauthentication_to_approve": False})
    assert old.require_reauthentication_to_approve is True
    assert new.require_reauthentication_to_approve is False


def test_approval_rule_counts_approvers_and_branches() -> None:
    rule = collect.approval_rule(
        {
            "id": 3,
            "name": "All Members",
            "rule_type": "any_approver",
            "approvals_required": 2,
            "eligible_approvers": [{"id": 1}, {"id": 2}, {"id": 3}],
            "users": [],
            "groups": [],
            "protected_branches": [{"id": 1, "name": "main"}],
        }
    )
    assert rule.eligible_approvers_count == 3
    assert rule.protected_branches == ["main"]


def test_ci_settings_present_only_for_project_administrators() -> None:
    assert not collect.has_ci_settings({"id": 1, "public_jobs": True})
    raw = {
        "id": 1,
        "ci_pipeline_variables_minimum_override_role": "developer",
        "runners_token": "GR1348941EXAMPLE",
    }
    assert collect.has_ci_settings(raw)
    settings = collect.ci_settings(raw)
    assert settings.ci_pipeline_variables_minimum_override_role == "developer"
    assert "GR1348941EXAMPLE" not in settings.model_dump_json()


def test_group_approval_settings_keep_value_lock_and_inheritance() -> None:
    settings = collect.group_approval_settings(
        {"allow_author_approval": {"value": True, "locked": False, "inherited_from": None}}
    )
    assert settings.allow_author_approval is not None
    assert settings.allow_author_approval.value is True
    assert settings.retain_approvals_on_push is None
