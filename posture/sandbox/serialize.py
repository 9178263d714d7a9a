"""Model -> GitLab JSON for users, the instance, groups and projects.

Why a separate layer: field names, tier-dependent keys and role-dependent keys are exactly what
a crawler gets wrong, so they live in one place that names its doc page per function.
Resources below a project or group (variables, hooks, ...) are in `resources.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from posture.sandbox.catalog import Catalog, GroupNode, ProjectNode, timestamp
from posture.sandbox.defaults import (
    APPLICATION_SETTING_DEFAULTS,
    GROUP_SETTING_DEFAULTS,
    PROJECT_ADMIN_ONLY_KEYS,
    PROJECT_SETTING_DEFAULTS,
)
from posture.sandbox.instance import ROLE_LEVELS

if TYPE_CHECKING:
    from posture.sandbox.instance import User

# Offsets keep each kind's synthesized timestamps apart (minutes after the epoch).
GROUP_TIME, PROJECT_TIME, RESOURCE_TIME, USER_TIME = 0, 200_000, 400_000, 0


@dataclass(frozen=True)
class Flavor:
    """What kind of GitLab is being imitated, and where it lives."""

    catalog: Catalog
    base_url: str  # external URL incl. path prefix, e.g. http://127.0.0.1:41234/gitlab
    tier: str = "premium"  # "free" | "premium"
    edition: str = "ee"  # "ee" | "ce"

    @property
    def ee(self) -> bool:
        return self.edition == "ee"

    @property
    def premium(self) -> bool:
        return self.ee and self.tier == "premium"

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v4"


# --- users and the instance ------------------------------------------------------------


def user_basic(flavor: Flavor, user: User) -> dict[str, Any]:
    """UserBasic (doc/api/users.md)."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{flavor.base_url}/{user.username}",
    }


def current_user(flavor: Flavor, user: User, *, admin: bool) -> dict[str, Any]:
    """`GET /user` (doc/api/users.md): `is_admin` only appears for administrators."""
    body = {
        **user_basic(flavor, user),
        "created_at": timestamp(USER_TIME, user.id or 0),
        "bio": "",
        "location": "",
        "public_email": None,
        "linkedin": "",
        "twitter": "",
        "discord": "",
        "website_url": "",
        "organization": "",
        "job_title": "",
        "pronouns": None,
        "bot": False,
        "work_information": None,
        "local_time": None,
        "last_sign_in_at": timestamp(USER_TIME, 1000),
        "confirmed_at": timestamp(USER_TIME, user.id or 0),
        "last_activity_on": "2024-01-02",
        "email": f"{user.username}@example.invalid",
        "theme_id": 1,
        "color_scheme_id": 1,
        "projects_limit": 100000,
        "current_sign_in_at": timestamp(USER_TIME, 1000),
        "identities": [],
        "can_create_group": True,
        "can_create_project": True,
        "two_factor_enabled": True,
        "external": False,
        "private_profile": False,
        "commit_email": f"{user.username}@example.invalid",
    }
    if admin:
        body["is_admin"] = True
        body["note"] = None
        body["namespace_id"] = user.id
        body["created_by"] = None
    return body


def token_self(user: User, scopes: list[str], token_id: int) -> dict[str, Any]:
    """`GET /personal_access_tokens/self` (doc/api/personal_access_tokens.md); never the value."""
    return {
        "id": token_id,
        "name": f"posture-sandbox-{user.username}",
        "revoked": False,
        "created_at": timestamp(USER_TIME, 500 + token_id),
        "description": "Sandbox token (fake, printed on purpose)",
        "scopes": scopes,
        "user_id": user.id,
        "last_used_at": None,
        "active": True,
        "expires_at": "2099-12-31",
    }


def metadata(flavor: Flavor) -> dict[str, Any]:
    """`GET /metadata` (doc/api/metadata.md); `enterprise` tells EE from CE."""
    version = flavor.catalog.instance.version
    return {
        "version": f"{version}-ee" if flavor.ee else version,
        "revision": flavor.catalog.instance.revision,
        "kas": {
            "enabled": False,
            "externalUrl": None,
            "externalK8sProxyUrl": None,
            "version": None,
        },
        "enterprise": flavor.ee,
    }


def version(flavor: Flavor) -> dict[str, Any]:
    """`GET /version` (doc/api/version.md)."""
    meta = metadata(flavor)
    return {"version": meta["version"], "revision": meta["revision"]}


def application_settings(flavor: Flavor) -> dict[str, Any]:
    """`GET /application/settings` (doc/api/settings.md): defaults, then the file's values."""
    return {**APPLICATION_SETTING_DEFAULTS, **flavor.catalog.instance.settings}


# --- groups ------------------------------------------------------------------------------


def group_web_url(flavor: Flavor, group: GroupNode) -> str:
    return f"{flavor.base_url}/groups/{group.full_path}"


def group_basic(flavor: Flavor, group: GroupNode) -> dict[str, Any]:
    """The small group shape used inside approval rules and runner details."""
    return {
        "id": group.id,
        "web_url": group_web_url(flavor, group),
        "name": group.model.name,
        "path": group.model.path,
        "description": group.model.description,
        "visibility": group.model.visibility,
        "full_name": group.full_name,
        "full_path": group.full_path,
        "parent_id": group.parent.id if group.parent else None,
        "avatar_url": None,
    }


def group(flavor: Flavor, node: GroupNode, viewer: str, *, detail: bool) -> dict[str, Any]:
    """A group as in `GET /groups` (detail=False) or `GET /groups/:id` (doc/api/groups.md)."""
    settings = {**GROUP_SETTING_DEFAULTS, **node.model.settings}
    body: dict[str, Any] = {
        "id": node.id,
        "web_url": group_web_url(flavor, node),
        "name": node.model.name,
        "path": node.model.path,
        "description": node.model.description,
        "visibility": node.model.visibility,
        "share_with_group_lock": settings["share_with_group_lock"],
        "require_two_factor_authentication": settings["require_two_factor_authentication"],
        "two_factor_grace_period": settings["two_factor_grace_period"],
        "project_creation_level": settings["project_creation_level"],
        "auto_devops_enabled": settings["auto_devops_enabled"],
        "subgroup_creation_level": settings["subgroup_creation_level"],
        "emails_disabled": not settings["emails_enabled"],
        "emails_enabled": settings["emails_enabled"],
        "mentions_disabled": settings["mentions_disabled"],
        "lfs_enabled": settings["lfs_enabled"],
        "math_rendering_limits_enabled": True,
        "lock_math_rendering_limits_enabled": False,
        "default_branch": settings["default_branch"],
        "default_branch_protection": settings["default_branch_protection"],
        "default_branch_protection_defaults": settings["default_branch_protection_defaults"],
        "avatar_url": None,
        "request_access_enabled": settings["request_access_enabled"],
        "full_name": node.full_name,
        "full_path": node.full_path,
        "created_at": timestamp(GROUP_TIME, node.id),
        "parent_id": node.parent.id if node.parent else None,
        "organization_id": 1,
        "shared_runners_setting": settings["shared_runners_setting"],
        "ldap_cn": None,
        "ldap_access": None,
    }
    if flavor.ee:
        body["marked_for_deletion_on"] = None
    if flavor.premium:
        body.update(
            {
                "wiki_access_level": "enabled",
                "duo_features_enabled": True,
                "lock_duo_features_enabled": False,
                "file_template_project_id": None,
            }
        )
    if not detail:
        return body
    level = flavor.catalog.group_level(viewer, node)
    body["shared_with_groups"] = []
    if level >= ROLE_LEVELS["owner"]:
        body["runners_token"] = node.model.runners_token
        body["enabled_git_access_protocol"] = settings["enabled_git_access_protocol"]
    if node.parent is None:
        body["prevent_sharing_groups_outside_hierarchy"] = settings[
            "prevent_sharing_groups_outside_hierarchy"
        ]
    if flavor.ee:
        body["ip_restriction_ranges"] = settings["ip_restriction_ranges"]
    if flavor.premium:
        body["shared_runners_minutes_limit"] = None
        body["extra_shared_runners_minutes_limit"] = None
        body["membership_lock"] = settings["membership_lock"]
    return body


# --- projects ----------------------------------------------------------------------------


def namespace(flavor: Flavor, node: GroupNode) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.model.name,
        "path": node.model.path,
        "kind": "group",
        "full_path": node.full_path,
        "parent_id": node.parent.id if node.parent else None,
        "avatar_url": None,
        "web_url": group_web_url(flavor, node),
    }


def project_simple(flavor: Flavor, node: ProjectNode) -> dict[str, Any]:
    """BasicProjectDetails: what `simple=true` returns (doc/api/projects.md)."""
    project = node.model
    web_url = f"{flavor.base_url}/{node.full_path}"
    host = flavor.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return {
        "id": node.id,
        "description": project.description,
        "name": project.name,
        "name_with_namespace": node.name_with_namespace,
        "path": project.path,
        "path_with_namespace": node.full_path,
        "created_at": timestamp(PROJECT_TIME, node.id),
        "default_branch": project.default_branch,
        "tag_list": sorted(project.topics),
        "topics": sorted(project.topics),
        "ssh_url_to_repo": f"git@{host}:{node.full_path}.git",
        "http_url_to_repo": f"{web_url}.git",
        "web_url": web_url,
        "readme_url": f"{web_url}/-/blob/{project.default_branch}/README.md",
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": timestamp(PROJECT_TIME, node.id + 1),
        "visibility": project.visibility,
        "namespace": namespace(flavor, node.group),
    }


def project(
    flavor: Flavor, node: ProjectNode, viewer: str, *, single: bool = False
) -> dict[str, Any]:
    """A project as in `GET /projects` or, with single=True, `GET /projects/:id`.

    doc/api/projects.md; source lib/api/entities/project.rb. CI settings appear only when the
    viewer can administer the project (Maintainer, Owner, admin): missing is not false.
    """
    model = node.model
    level = flavor.catalog.project_level(viewer, node)
    settings = {**PROJECT_SETTING_DEFAULTS, **model.settings}
    body = project_simple(flavor, node)
    api_self = f"{flavor.api}/projects/{node.id}"
    body["_links"] = {
        "self": api_self,
        "issues": f"{api_self}/issues",
        "merge_requests": f"{api_self}/merge_requests",
        "repo_branches": f"{api_self}/repository/branches",
        "labels": f"{api_self}/labels",
        "events": f"{api_self}/events",
        "members": f"{api_self}/members",
        "cluster_agents": f"{api_self}/cluster_agents",
    }
    body.update(
        {
            "packages_enabled": settings["packages_enabled"],
            "empty_repo": False,
            "archived": model.archived,
            "resolve_outdated_diff_discussions": False,
            "repository_object_format": "sha1",
            "issues_enabled": settings["issues_access_level"] != "disabled",
            "merge_requests_enabled": settings["merge_requests_access_level"] != "disabled",
            "wiki_enabled": settings["wiki_access_level"] != "disabled",
            "jobs_enabled": settings["builds_access_level"] != "disabled",
            "snippets_enabled": settings["snippets_access_level"] != "disabled",
            "container_registry_enabled": settings["container_registry_access_level"] != "disabled",
            "service_desk_enabled": False,
            "can_create_merge_request_in": level >= ROLE_LEVELS["developer"],
        }
    )
    for key in (
        "issues_access_level",
        "repository_access_level",
        "merge_requests_access_level",
        "forking_access_level",
        "wiki_access_level",
        "builds_access_level",
        "snippets_access_level",
        "pages_access_level",
        "container_registry_access_level",
        "security_and_compliance_access_level",
    ):
        body[key] = settings[key]
    body.update(
        {
            "emails_disabled": not settings["emails_enabled"],
            "emails_enabled": settings["emails_enabled"],
            "shared_runners_enabled": model.shared_runners_enabled,
            "lfs_enabled": settings["lfs_enabled"],
            "creator_id": flavor.catalog.instance.users.owner.id,
        }
    )
    if node.fork_source is not None:
        body["mr_default_target_self"] = False
        if flavor.catalog.can_see_project(viewer, node.fork_source):
            body["forked_from_project"] = project_simple(flavor, node.fork_source)
    can_admin = level >= ROLE_LEVELS["maintainer"]
    if can_admin:
        body["import_url"] = None
        body["import_type"] = None
    body.update(
        {
            "import_status": "none",
            "open_issues_count": 0,
            "description_html": f"<p>{model.description}</p>" if model.description else "",
            "updated_at": timestamp(PROJECT_TIME, node.id + 2),
        }
    )
    if can_admin:
        ci = {
            "ci_job_token_scope_enabled": model.job_token_scope.outbound_enabled,
            "ci_id_token_sub_claim_components": ["project_path", "ref_type", "ref"],
            "restrict_user_defined_variables": (
                model.ci_pipeline_variables_minimum_override_role != "developer"
            ),
            "ci_pipeline_variables_minimum_override_role": (
                model.ci_pipeline_variables_minimum_override_role
            ),
            "runners_token": model.runners_token,
            "group_runners_enabled": model.group_runners_enabled,
        }
        for key in PROJECT_ADMIN_ONLY_KEYS:
            if key in ci:
                body[key] = ci[key]
            elif key in settings:
                body[key] = settings[key]
    body.update(
        {
            "ci_config_path": settings["ci_config_path"],
            "public_jobs": model.public_jobs,
            "shared_with_groups": [
                {
                    "group_id": g.id,
                    "group_name": g.model.name,
                    "group_full_path": g.full_path,
                    "group_access_level": access,
                    "expires_at": None,
                }
                for g, access in node.shared_with
                if flavor.catalog.can_see_group(viewer, g)
            ],
        }
    )
    for key in (
        "only_allow_merge_if_pipeline_succeeds",
        "allow_merge_on_skipped_pipeline",
        "request_access_enabled",
        "only_allow_merge_if_all_discussions_are_resolved",
        "remove_source_branch_after_merge",
        "printing_merge_request_link_enabled",
        "merge_method",
        "squash_option",
        "enforce_auth_checks_on_uploads",
        "warn_about_potentially_unwanted_characters",
        "autoclose_referenced_issues",
    ):
        body[key] = settings[key]
    body.update(
        {
            "suggestion_commit_message": None,
            "merge_commit_template": None,
            "squash_commit_template": None,
            "issue_branch_template": None,
        }
    )
    if flavor.ee:
        body.update(
            {
                "approvals_before_merge": 0,
                "mirror": False,
                "external_authorization_classification_label": None,
                "marked_for_deletion_at": None,
                "marked_for_deletion_on": None,
                "compliance_frameworks": [],
                "secret_push_protection_enabled": settings["secret_push_protection_enabled"],
            }
        )
    if single:
        body["permissions"] = _permissions(node, viewer)
    return body


def _permissions(node: ProjectNode, viewer: str) -> dict[str, Any]:
    """The viewer's own access, as `GET /projects/:id` reports it; admins are not members."""
    if viewer == "admin":
        return {"project_access": None, "group_access": None}
    direct = node.model.member_role
    group_level = node.group.level
    project_access = (
        {"access_level": node.level, "notification_level": 3} if direct and node.level else None
    )
    group_access = {"access_level": group_level, "notification_level": 3} if group_level else None
    return {"project_access": project_access, "group_access": group_access}
