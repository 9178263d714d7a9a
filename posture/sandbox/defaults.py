"""Default values GitLab reports for settings an instance description leaves out.

Why one module: the loader validates `settings:` overrides against these keys (a typo fails at
load time), and the serializers start every JSON object from them, so both stay in step.
"""

from __future__ import annotations

from typing import Any

# A fixed clock for every synthesized timestamp: responses are byte-for-byte reproducible.
EPOCH = "2024-01-01T00:00:00Z"

# Extra keys a project may set through `settings:` (doc/api/projects.md, "Get a single
# project"). Modelled fields (visibility, public_jobs, ...) are not listed here on purpose.
PROJECT_SETTING_DEFAULTS: dict[str, Any] = {
    "only_allow_merge_if_pipeline_succeeds": False,
    "allow_merge_on_skipped_pipeline": False,
    "only_allow_merge_if_all_discussions_are_resolved": False,
    "remove_source_branch_after_merge": True,
    "request_access_enabled": True,
    "merge_method": "merge",
    "squash_option": "default_off",
    "printing_merge_request_link_enabled": True,
    "enforce_auth_checks_on_uploads": True,
    "ci_config_path": "",
    "ci_default_git_depth": 20,
    "ci_delete_pipelines_in_seconds": None,
    "ci_forward_deployment_enabled": True,
    "ci_forward_deployment_rollback_allowed": True,
    "ci_separated_caches": True,
    "ci_allow_fork_pipelines_to_run_in_parent_project": True,
    "ci_push_repository_for_job_token_allowed": False,
    "build_git_strategy": "fetch",
    "keep_latest_artifact": True,
    "runner_token_expiration_interval": None,
    "auto_cancel_pending_pipelines": "enabled",
    "build_timeout": 3600,
    "auto_devops_enabled": False,
    "auto_devops_deploy_strategy": "continuous",
    "lfs_enabled": True,
    "packages_enabled": True,
    "emails_enabled": True,
    "issues_access_level": "enabled",
    "repository_access_level": "enabled",
    "merge_requests_access_level": "enabled",
    "forking_access_level": "enabled",
    "wiki_access_level": "enabled",
    "builds_access_level": "enabled",
    "snippets_access_level": "enabled",
    "pages_access_level": "private",
    "container_registry_access_level": "enabled",
    "security_and_compliance_access_level": "private",
    "secret_push_protection_enabled": False,
    "warn_about_potentially_unwanted_characters": True,
    "autoclose_referenced_issues": True,
}

# Keys only users who can administer the project see (lib/api/entities/project.rb,
# `with_options if: admin_project`). GITLAB-API.md section 2: missing is not false.
PROJECT_ADMIN_ONLY_KEYS: tuple[str, ...] = (
    "ci_default_git_depth",
    "ci_delete_pipelines_in_seconds",
    "ci_forward_deployment_enabled",
    "ci_forward_deployment_rollback_allowed",
    "ci_job_token_scope_enabled",
    "ci_separated_caches",
    "ci_allow_fork_pipelines_to_run_in_parent_project",
    "ci_id_token_sub_claim_components",
    "build_git_strategy",
    "keep_latest_artifact",
    "restrict_user_defined_variables",
    "ci_pipeline_variables_minimum_override_role",
    "runners_token",
    "runner_token_expiration_interval",
    "group_runners_enabled",
    "auto_cancel_pending_pipelines",
    "build_timeout",
    "auto_devops_enabled",
    "auto_devops_deploy_strategy",
    "ci_push_repository_for_job_token_allowed",
    "import_url",
    "import_type",
)

# Extra keys a group may set through `settings:` (doc/api/groups.md).
GROUP_SETTING_DEFAULTS: dict[str, Any] = {
    "share_with_group_lock": False,
    "require_two_factor_authentication": False,
    "two_factor_grace_period": 48,
    "project_creation_level": "developer",
    "auto_devops_enabled": None,
    "subgroup_creation_level": "maintainer",
    "emails_enabled": True,
    "mentions_disabled": None,
    "lfs_enabled": True,
    "request_access_enabled": True,
    "default_branch": None,
    "default_branch_protection": 2,
    "default_branch_protection_defaults": {
        "allowed_to_push": [{"access_level": 40}],
        "allow_force_push": False,
        "allowed_to_merge": [{"access_level": 40}],
        "developer_can_initial_push": False,
    },
    "shared_runners_setting": "enabled",
    "prevent_sharing_groups_outside_hierarchy": False,
    "membership_lock": False,
    "ip_restriction_ranges": None,
    "enabled_git_access_protocol": "all",
}

# doc/api/settings.md. Instance `settings:` overrides are merged onto this as given (the real
# page has hundreds of keys; posture reads a handful).
APPLICATION_SETTING_DEFAULTS: dict[str, Any] = {
    "id": 1,
    "default_projects_limit": 100000,
    "signup_enabled": True,
    "require_admin_approval_after_user_signup": True,
    "email_confirmation_setting": "off",
    "password_authentication_enabled_for_web": True,
    "password_authentication_enabled_for_git": True,
    "require_two_factor_authentication": False,
    "two_factor_grace_period": 48,
    "default_project_visibility": "private",
    "default_group_visibility": "private",
    "default_snippet_visibility": "private",
    "restricted_visibility_levels": [],
    "default_branch_protection": 2,
    "default_branch_protection_defaults": {
        "allowed_to_push": [{"access_level": 40}],
        "allow_force_push": False,
        "allowed_to_merge": [{"access_level": 40}],
        "developer_can_initial_push": False,
    },
    "max_personal_access_token_lifetime": None,
    "require_personal_access_token_expiry": True,
    "allow_local_requests_from_web_hooks_and_services": False,
    "allow_local_requests_from_system_hooks": True,
    "deny_all_requests_except_allowed": False,
    "shared_runners_enabled": True,
    "allow_runner_registration_token": False,
    "valid_runner_registrars": ["project", "group"],
    "throttle_authenticated_api_enabled": False,
    "throttle_authenticated_api_requests_per_period": 7200,
    "throttle_authenticated_api_period_in_seconds": 3600,
    "throttle_unauthenticated_api_enabled": False,
    "user_oauth_applications": True,
    "admin_mode": False,
    "disable_admin_oauth_scopes": False,
    "prevent_merge_requests_author_approval": False,
    "prevent_merge_requests_committers_approval": False,
    "disable_overriding_approvers_per_merge_request": False,
}

# Webhook event flags (doc/api/project_webhooks.md, doc/api/group_webhooks.md).
PROJECT_HOOK_EVENTS: tuple[str, ...] = (
    "push_events",
    "issues_events",
    "confidential_issues_events",
    "merge_requests_events",
    "tag_push_events",
    "note_events",
    "confidential_note_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "releases_events",
    "feature_flag_events",
    "emoji_events",
    "resource_access_token_events",
    "repository_update_events",
)
GROUP_HOOK_EVENTS: tuple[str, ...] = (
    *PROJECT_HOOK_EVENTS,
    "subgroup_events",
    "member_events",
)
