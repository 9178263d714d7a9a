"""Write routes for projects and groups: settings, transfer, archive, delete.

Each handler follows its doc page (doc/api/projects.md, doc/api/groups.md) and GitLab's
source where the page is silent (`lib/api/helpers/projects_helpers.rb` for the PUT
parameters, `Audit::ProjectChangesAuditor` and `Audit::GroupChangesAuditor` for the audit
events). Parameters are validated first (400 `{"error"}`), then the resource (404), then
the role (403), then the model (400 `{"message": {...}}`), as Grape and Rails do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from posture.sandbox.audit import Entity, Target, changed, custom
from posture.sandbox.changes import (
    ACCEPTED,
    LEVEL_NAMES,
    VISIBILITY_RANK,
    Change,
    full_path_of,
    rewrite_paths,
)
from posture.sandbox.defaults import GROUP_SETTING_DEFAULTS, PROJECT_SETTING_DEFAULTS
from posture.sandbox.routes import MAINTAINER, OWNER, HttpError, Response

if TYPE_CHECKING:
    from posture.sandbox.catalog import GroupNode
    from posture.sandbox.instance import Group, Instance, Project

VISIBILITIES = ("private", "internal", "public")
ACCESS_LEVEL_VALUES = ("disabled", "private", "enabled")
_PATH_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_NAME_RE = re.compile(r"^[\w\u00a9-\U0010ffff][\w\u00a9-\U0010ffff.+\- ]*$")
PATH_MESSAGE = (
    "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', "
    "end in '.git' or end in '.atom'"
)
NAME_MESSAGE = (
    "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. "
    "It must start with a letter, digit, emoji, or '_'."
)
TAKEN = ["has already been taken"]


@dataclass(frozen=True)
class Setting:
    """A PUT parameter kept in the model's `settings` dict: its type and its audit event."""

    kind: Any  # bool, int, str, or a tuple of allowed strings
    event: str | None  # GitLab's event name, or None: GitLab records nothing


def _settings(table: dict[str, Setting], defaults: dict[str, Any]) -> dict[str, Setting]:
    assert set(table) <= set(defaults), sorted(set(table) - set(defaults))
    return table


# PUT /projects/:id parameters stored in `settings` (lib/api/helpers/projects_helpers.rb),
# with the event Audit::ProjectChangesAuditor and its helpers record for each.
PROJECT_SETTINGS = _settings(
    {
        "only_allow_merge_if_pipeline_succeeds": Setting(
            bool, "project_only_allow_merge_if_pipeline_succeeds_updated"
        ),
        "allow_merge_on_skipped_pipeline": Setting(bool, "allow_merge_on_skipped_pipeline_updated"),
        "only_allow_merge_if_all_discussions_are_resolved": Setting(
            bool, "project_only_allow_merge_if_all_discussions_are_resolved_updated"
        ),
        "remove_source_branch_after_merge": Setting(
            bool, "project_remove_source_branch_after_merge_updated"
        ),
        "printing_merge_request_link_enabled": Setting(
            bool, "project_printing_merge_request_link_enabled_updated"
        ),
        "packages_enabled": Setting(bool, "project_packages_enabled_updated"),
        "merge_method": Setting(("merge", "rebase_merge", "ff"), "project_merge_method_updated"),
        "squash_option": Setting(
            ("never", "always", "default_on", "default_off"), "squash_option_updated"
        ),
        "request_access_enabled": Setting(bool, None),
        "enforce_auth_checks_on_uploads": Setting(bool, None),
        "ci_config_path": Setting(str, None),
        "ci_default_git_depth": Setting(int, None),
        "ci_delete_pipelines_in_seconds": Setting(int, None),
        "ci_forward_deployment_enabled": Setting(bool, None),
        "ci_forward_deployment_rollback_allowed": Setting(bool, None),
        "ci_separated_caches": Setting(bool, None),
        "ci_allow_fork_pipelines_to_run_in_parent_project": Setting(bool, None),
        "ci_push_repository_for_job_token_allowed": Setting(bool, None),
        "build_git_strategy": Setting(("fetch", "clone"), None),
        "keep_latest_artifact": Setting(bool, None),
        "auto_cancel_pending_pipelines": Setting(("disabled", "enabled"), None),
        "build_timeout": Setting(int, None),
        "auto_devops_enabled": Setting(bool, None),
        "auto_devops_deploy_strategy": Setting(("continuous", "manual", "timed_incremental"), None),
        "lfs_enabled": Setting(bool, None),
        "emails_enabled": Setting(bool, None),
        "warn_about_potentially_unwanted_characters": Setting(bool, None),
        "autoclose_referenced_issues": Setting(bool, None),
        **{
            f"{feature}_access_level": Setting(
                ACCESS_LEVEL_VALUES, f"project_feature_{feature}_access_level_updated"
            )
            for feature in (
                "issues",
                "repository",
                "merge_requests",
                "forking",
                "wiki",
                "builds",
                "snippets",
                "container_registry",
                "security_and_compliance",
            )
        },
        "pages_access_level": Setting(
            (*ACCESS_LEVEL_VALUES, "public"), "project_feature_pages_access_level_updated"
        ),
    },
    PROJECT_SETTING_DEFAULTS,
)

# Modelled project attributes, in the order GitLab's auditor visits them.
PROJECT_FIELDS = (
    "visibility",
    "path",
    "name",
    "description",
    "default_branch",
    "public_jobs",
    "shared_runners_enabled",
    "group_runners_enabled",
    "restrict_user_defined_variables",
    "ci_pipeline_variables_minimum_override_role",
)
PROJECT_PARAMS = (*PROJECT_FIELDS, "public_builds", *PROJECT_SETTINGS)
OVERRIDE_ROLES = ("no_one_allowed", "developer", "maintainer", "owner")
MERGE_METHODS = {
    "merge": "Merge commit",
    "rebase_merge": "Merge commit with semi-linear history",
    "ff": "Fast-forward merge",
}

GROUP_SETTINGS = _settings(
    {
        "request_access_enabled": Setting(bool, "group_request_access_enabled_updated"),
        "lfs_enabled": Setting(bool, "group_lfs_enabled_updated"),
        "membership_lock": Setting(bool, "group_membership_lock_updated"),
        "require_two_factor_authentication": Setting(
            bool, "group_require_two_factor_authentication_updated"
        ),
        "two_factor_grace_period": Setting(int, "group_two_factor_grace_period_updated"),
        "project_creation_level": Setting(
            ("noone", "owner", "maintainer", "developer", "administrator"),
            "group_project_creation_level_updated",
        ),
        "share_with_group_lock": Setting(bool, "group_shared_with_group_lock_updated"),
        "emails_enabled": Setting(bool, "emails_enabled_updated"),
        "mentions_disabled": Setting(bool, "group_mentions_disabled_updated"),
        "prevent_sharing_groups_outside_hierarchy": Setting(
            bool, "prevent_sharing_groups_outside_hierarchy_updated"
        ),
        "enabled_git_access_protocol": Setting(
            ("ssh", "http", "all"), "enabled_git_access_protocol_updated"
        ),
        "default_branch": Setting(str, "default_branch_name_updated"),
        "subgroup_creation_level": Setting(("owner", "maintainer"), None),
        "shared_runners_setting": Setting(
            (
                "enabled",
                "disabled_and_overridable",
                "disabled_and_unoverridable",
                "disabled_with_override",
            ),
            None,
        ),
        "auto_devops_enabled": Setting(bool, None),
        "default_branch_protection": Setting(int, None),
    },
    GROUP_SETTING_DEFAULTS,
)
GROUP_FIELDS = ("name", "path", "visibility", "description")
GROUP_EVENTS = {
    "name": "group_name_updated",
    "path": "group_path_updated",
    "visibility": "group_visibility_level_updated",
    "description": "group_description_updated",
}


def model_error(field: str, *messages: str, status: int = 400) -> HttpError:
    return HttpError(status, {"message": {field: list(messages)}})


def _coerce(change: Change, name: str, kind: Any) -> Any:
    params = change.params
    if kind is bool:
        return params.flag(name)
    if kind is int:
        return params.integer(name)
    if kind is str:
        return params.text(name)
    return params.choice(name, kind)


def _valid_path(path: str) -> None:
    if not _PATH_RE.match(path) or path.endswith((".git", ".atom")):
        raise model_error("path", PATH_MESSAGE)


def _valid_name(name: str) -> None:
    if not name.strip() or not _NAME_RE.match(name):
        raise model_error("name", NAME_MESSAGE)


def _restricted(change: Change, visibility: str) -> bool:
    """`restricted_visibility_levels` binds everyone but administrators."""
    if change.is_admin:
        return False
    levels = change.catalog.instance.settings.get("restricted_visibility_levels") or []
    numbers = {"private": 0, "internal": 10, "public": 20}
    return any(level in (visibility, numbers[visibility]) for level in levels)


# --- PUT /projects/:id ------------------------------------------------------------------


def _project_view(project: Project) -> dict[str, Any]:
    """Every PUT-able attribute as GET /projects/:id reports it."""
    settings = {**PROJECT_SETTING_DEFAULTS, **project.settings}
    view = {
        "visibility": project.visibility,
        "path": project.path,
        "name": project.name,
        "description": project.description,
        "default_branch": project.default_branch,
        "public_jobs": project.public_jobs,
        "shared_runners_enabled": project.shared_runners_enabled,
        "group_runners_enabled": project.group_runners_enabled,
        "restrict_user_defined_variables": (
            project.ci_pipeline_variables_minimum_override_role != "developer"
        ),
        "ci_pipeline_variables_minimum_override_role": (
            project.ci_pipeline_variables_minimum_override_role
        ),
    }
    view.update({key: settings[key] for key in PROJECT_SETTINGS})
    return view


def update_project(change: Change, ident: str) -> Response:
    """`PUT /projects/:id` (doc/api/projects.md "Edit a project"; Maintainer, and Owner for
    `name` and `visibility` as `rename_project` and `change_visibility_level` require)."""
    params = change.params
    params.at_least_one_of(PROJECT_PARAMS)
    values: dict[str, Any] = {
        "name": params.text("name"),
        "path": params.text("path"),
        "visibility": params.choice("visibility", VISIBILITIES),
        "description": params.text("description"),
        "default_branch": params.text("default_branch"),
        "public_jobs": params.flag("public_jobs"),
        "shared_runners_enabled": params.flag("shared_runners_enabled"),
        "group_runners_enabled": params.flag("group_runners_enabled"),
        "restrict_user_defined_variables": params.flag("restrict_user_defined_variables"),
        "ci_pipeline_variables_minimum_override_role": params.choice(
            "ci_pipeline_variables_minimum_override_role", OVERRIDE_ROLES
        ),
    }
    public_builds = params.flag("public_builds")  # deprecated alias of public_jobs
    if values["public_jobs"] is None:
        values["public_jobs"] = public_builds
    settings = {key: _coerce(change, key, spec.kind) for key, spec in PROJECT_SETTINGS.items()}

    node = change.router.project_node(change.request, ident, MAINTAINER)
    if values["name"] is not None or values["visibility"] is not None:
        change.need(change.project_level(node), OWNER)

    project = change.project(node.id)
    group = change.project_group(node.id)
    group_path = node.group.full_path
    before = _project_view(project)
    old_full = node.full_path
    old_full_name = f"{node.group.full_name} / {project.name}"

    if values["name"] is not None:
        _valid_name(values["name"])
        if any(p is not project and p.name == values["name"] for p in group.projects):
            raise model_error("name", *TAKEN)
        project.name = values["name"]
    if values["path"] is not None:
        _valid_path(values["path"])
        _path_free(group, values["path"], keep=project)
        project.path = values["path"]
    if values["visibility"] is not None:
        _check_project_visibility(change, node.group, project, values["visibility"])
        project.visibility = values["visibility"]
    if values["description"] is not None:
        project.description = values["description"]
    if values["default_branch"] is not None:
        if not values["default_branch"].strip():
            raise HttpError(400, {"message": "Could not set the default branch"})
        project.default_branch = values["default_branch"]
    if values["public_jobs"] is not None:
        project.public_jobs = values["public_jobs"]
    if values["shared_runners_enabled"] is not None:
        if values["shared_runners_enabled"] and _shared_runners_locked(node.group):
            raise model_error(
                "shared_runners_enabled", "cannot be enabled because parent group does not allow it"
            )
        project.shared_runners_enabled = values["shared_runners_enabled"]
    if values["group_runners_enabled"] is not None:
        project.group_runners_enabled = values["group_runners_enabled"]
    if values["restrict_user_defined_variables"] is not None:
        restricted = values["restrict_user_defined_variables"]
        role = project.ci_pipeline_variables_minimum_override_role
        if not restricted:
            project.ci_pipeline_variables_minimum_override_role = "developer"
        elif role == "developer":
            project.ci_pipeline_variables_minimum_override_role = "maintainer"
    if values["ci_pipeline_variables_minimum_override_role"] is not None:
        role = values["ci_pipeline_variables_minimum_override_role"]
        project.ci_pipeline_variables_minimum_override_role = role
    for key, value in settings.items():
        if value is not None:
            project.settings[key] = value

    new_full = f"{group_path}/{project.path}"
    if new_full != old_full:
        rewrite_paths(change, old_full, new_full)
    after = _project_view(project)
    entity = change.project_entity(node.id, new_full)
    target = change.project_target(node.id, new_full)
    for key, old in before.items():
        new = after[key]
        if old == new:
            continue
        names = _Renamed(old_full, new_full, old_full_name)
        _project_event(change, key, (old, new), (entity, target), names)
    return change.get(change.commit(), "projects", str(node.id))


@dataclass(frozen=True)
class _Renamed:
    """A project's paths and full name before and after the change."""

    old_full: str
    new_full: str
    old_full_name: str


def _project_event(
    change: Change, key: str, values: tuple[Any, Any], where: tuple[Entity, Target], names: _Renamed
) -> None:
    old, new = values
    entity, target = where
    old_full, new_full, old_full_name = names.old_full, names.new_full, names.old_full_name
    if key == "visibility":
        change.record(
            changed(
                "project_visibility_level_updated",
                entity,
                target,
                "visibility_level",
                LEVEL_NAMES[old],
                LEVEL_NAMES[new],
            )
        )
    elif key == "path":
        change.record(changed("project_path_updated", entity, target, "path", old_full, new_full))
    elif key == "name":
        new_full_name = old_full_name.rsplit(" / ", 1)[0] + f" / {new}"
        change.record(
            changed("project_name_updated", entity, target, "name", old_full_name, new_full_name)
        )
    elif key == "default_branch":
        message = f"Default branch changed from {old} to {new}"
        extra = {"from": old, "to": new}
        change.record(custom("project_default_branch_updated", entity, target, message, **extra))
    elif key == "merge_method":
        message = f"Changed merge method to {MERGE_METHODS[new]}"
        change.record(custom("project_merge_method_updated", entity, target, message))
    elif key in PROJECT_SETTINGS and PROJECT_SETTINGS[key].event is not None:
        event = PROJECT_SETTINGS[key].event
        assert event is not None
        change.record(changed(event, entity, target, key, old, new))
    else:
        change.record_untracked(
            changed("sandbox_project_setting_updated", entity, target, key, old, new)
        )


def _path_free(group: Group, path: str, *, keep: Any) -> None:
    """No sibling project or subgroup may hold the same path (case-insensitive)."""
    low = path.lower()
    siblings = [*group.projects, *group.subgroups]
    if any(s is not keep and s.path.lower() == low for s in siblings):
        raise model_error("path", *TAKEN)


def _check_project_visibility(
    change: Change, group: GroupNode, project: Project, visibility: str
) -> None:
    if _restricted(change, visibility):
        raise model_error(
            "visibility_level", f"{visibility} has been restricted by your GitLab administrator"
        )
    if VISIBILITY_RANK[visibility] > VISIBILITY_RANK[group.model.visibility]:
        raise model_error(
            "visibility_level", f"{visibility} is not allowed in a {group.model.visibility} group."
        )
    source = change.catalog.find_project(project.forked_from) if project.forked_from else None
    if (
        source is not None
        and VISIBILITY_RANK[visibility] > VISIBILITY_RANK[source.model.visibility]
    ):
        raise model_error(
            "visibility_level",
            f"{visibility} is not allowed since the fork source project has lower visibility.",
        )


def _shared_runners_locked(group: GroupNode) -> bool:
    for node in [group, *group.ancestors()]:
        if node.model.settings.get("shared_runners_setting") == "disabled_and_unoverridable":
            return True
    return False


# --- PUT /projects/:id/transfer, DELETE, archive -----------------------------------------


def _transfer_error(reason: str) -> HttpError:
    # GitLab renders the model errors hash with Ruby's Hash#inspect.
    message = f'Failed to transfer project {{:new_namespace=>["{reason}"]}}'
    return HttpError(400, {"message": message})


def transfer_project(change: Change, ident: str) -> Response:
    """`PUT /projects/:id/transfer` (doc/api/projects.md "Transfer a project to a new
    namespace"): Owner of the project, at least Maintainer in the target group."""
    change.params.require("namespace")
    target_ident = change.params.text("namespace") or ""
    node = change.router.project_node(change.request, ident, OWNER)
    target = change.catalog.find_group(target_ident.strip())
    if target is None or not change.catalog.can_see_group(change.viewer, target):
        raise HttpError(404, {"message": "404 Namespace Not Found"})
    if target is node.group:
        raise _transfer_error("Project is already in this namespace.")
    if change.group_level(target) < MAINTAINER:
        raise _transfer_error("You don't have permission to transfer projects into that namespace.")
    project = change.project(node.id)
    destination = change.group(target.id)
    low_path, name = project.path.lower(), project.name
    clash = any(p.path.lower() == low_path or p.name == name for p in destination.projects)
    if clash or any(g.path.lower() == low_path for g in destination.subgroups):
        raise _transfer_error("Project with same name or path in target namespace already exists")

    source = change.project_group(node.id)
    source.projects = [p for p in source.projects if p is not project]
    destination.projects.append(project)
    change.move_project(node.id, destination)
    old_full, new_full = node.full_path, f"{target.full_path}/{project.path}"
    rewrite_paths(change, old_full, new_full)
    entity = change.project_entity(node.id, new_full)
    where = change.project_target(node.id, new_full)
    change.record(
        changed("project_namespace_updated", entity, where, "namespace", old_full, new_full)
    )
    # GitLab lowers the visibility of a project moved into a less visible group.
    if VISIBILITY_RANK[project.visibility] > VISIBILITY_RANK[target.model.visibility]:
        old_visibility = project.visibility
        project.visibility = target.model.visibility
        change.record(
            changed(
                "project_visibility_level_updated",
                entity,
                where,
                "visibility_level",
                LEVEL_NAMES[old_visibility],
                LEVEL_NAMES[project.visibility],
            )
        )
    return change.get(change.commit(), "projects", str(node.id))


def delete_project(change: Change, ident: str) -> Response:
    """`DELETE /projects/:id` (doc/api/projects.md "Delete a project"; Owner): 202 Accepted.

    The project goes at once (no delayed deletion); its event is filed on the group, where
    GitLab files `project_destroyed`, since the project's own audit route goes with it.
    """
    node = change.router.project_node(change.request, ident, OWNER)
    project = change.project(node.id)
    group = change.project_group(node.id)
    group.projects = [p for p in group.projects if p is not project]
    forks = [
        other.id or 0
        for other, _group, _full in change.draft.walk_projects()
        if other.forked_from and other.forked_from.lower() == node.full_path.lower()
    ]
    for fork in forks:
        change.project(fork).forked_from = None  # GitLab removes the fork relationship
    _drop_orphan_runners(change.draft)
    entity = Entity("Group", node.group.id, node.group.full_path)
    target = Target("Project", node.id, node.full_path)
    change.record(custom("project_destroyed", entity, target, "Project destroyed"))
    change.commit()
    return change.json(ACCEPTED, 202)


def _drop_orphan_runners(instance: Instance) -> None:
    """Project runners nobody uses any more are deleted with their last project."""
    used = {name for p, _g, _f in instance.walk_projects() for name in p.runners}
    instance.runners = [
        r for r in instance.runners if r.runner_type != "project_type" or r.name in used
    ]


def _archive(change: Change, ident: str, *, archived: bool) -> Response:
    node = change.router.project_node(change.request, ident, OWNER)
    project = change.project(node.id)
    if project.archived != archived:
        project.archived = archived
        name, message = (
            ("project_archived", "Project archived")
            if archived
            else ("project_unarchived", "Project unarchived")
        )
        entity = change.project_entity(node.id, node.full_path)
        target = change.project_target(node.id, node.full_path)
        change.record(custom(name, entity, target, message))
    return change.get(change.commit(), "projects", str(node.id), status=201)


def archive_project(change: Change, ident: str) -> Response:
    """`POST /projects/:id/archive` (doc/api/projects.md; Owner): 201 with the project."""
    return _archive(change, ident, archived=True)


def unarchive_project(change: Change, ident: str) -> Response:
    """`POST /projects/:id/unarchive` (doc/api/projects.md; Owner): 201 with the project."""
    return _archive(change, ident, archived=False)


# --- PUT /groups/:id --------------------------------------------------------------------


def _group_view(group: Group) -> dict[str, Any]:
    settings = {**GROUP_SETTING_DEFAULTS, **group.settings}
    view = {
        "name": group.name,
        "path": group.path,
        "visibility": group.visibility,
        "description": group.description,
    }
    view.update({key: settings[key] for key in GROUP_SETTINGS})
    return view


def update_group(change: Change, ident: str) -> Response:
    """`PUT /groups/:id` (doc/api/groups.md "Update group attributes"; Owner)."""
    params = change.params
    values: dict[str, Any] = {
        "name": params.text("name"),
        "path": params.text("path"),
        "visibility": params.choice("visibility", VISIBILITIES),
        "description": params.text("description"),
    }
    settings = {key: _coerce(change, key, spec.kind) for key, spec in GROUP_SETTINGS.items()}
    node = change.router.group_node(change.request, ident, OWNER)
    group = change.group(node.id)
    parent = node.parent
    before = _group_view(group)
    old_full = node.full_path

    if values["name"] is not None:
        _valid_name(values["name"])
        siblings = change.group(parent.id).subgroups if parent else change.draft.groups
        if any(g is not group and g.name == values["name"] for g in siblings):
            raise model_error("name", *TAKEN)
        group.name = values["name"]
    if values["path"] is not None:
        _valid_path(values["path"])
        if parent is not None:
            _path_free(change.group(parent.id), values["path"], keep=group)
        elif any(
            g is not group and g.path.lower() == values["path"].lower() for g in change.draft.groups
        ):
            raise model_error("path", *TAKEN)
        group.path = values["path"]
    if values["visibility"] is not None:
        _check_group_visibility(change, node, values["visibility"])
        group.visibility = values["visibility"]
    if values["description"] is not None:
        group.description = values["description"]
    for key, value in settings.items():
        if value is not None:
            group.settings[key] = value

    new_full = full_path_of(change.draft, group)
    if new_full != old_full:
        rewrite_paths(change, old_full, new_full)
    after = _group_view(group)
    entity = Entity("Group", node.id, new_full)
    target = Target("Group", node.id, new_full)
    for key, old in before.items():
        new = after[key]
        if old == new:
            continue
        if key == "visibility":
            levels = (LEVEL_NAMES[old], LEVEL_NAMES[new])
            change.record(changed(GROUP_EVENTS[key], entity, target, "visibility", *levels))
        elif key in GROUP_EVENTS:
            change.record(changed(GROUP_EVENTS[key], entity, target, key, old, new))
        elif GROUP_SETTINGS[key].event:
            event = GROUP_SETTINGS[key].event
            assert event is not None
            change.record(changed(event, entity, target, key, old, new))
        else:
            change.record_untracked(
                changed("sandbox_group_setting_updated", entity, target, key, old, new)
            )
    return change.get(change.commit(), "groups", str(node.id))


def _check_group_visibility(change: Change, node: GroupNode, visibility: str) -> None:
    rank = VISIBILITY_RANK[visibility]
    if _restricted(change, visibility):
        raise model_error(
            "visibility_level", f"{visibility} has been restricted by your GitLab administrator"
        )
    parent = node.parent
    if parent is not None and rank > VISIBILITY_RANK[parent.model.visibility]:
        raise model_error(
            "visibility_level",
            f"{visibility} is not allowed since the parent group has a "
            f"{parent.model.visibility} visibility.",
        )
    if any(VISIBILITY_RANK[p.model.visibility] > rank for p in node.projects):
        raise model_error(
            "visibility_level",
            f"{visibility} is not allowed since this group contains projects with higher "
            "visibility.",
        )
    if any(VISIBILITY_RANK[g.model.visibility] > rank for g in node.children):
        raise model_error(
            "visibility_level",
            f"{visibility} is not allowed since there are sub-groups with higher visibility.",
        )


__all__ = [
    "archive_project",
    "delete_project",
    "transfer_project",
    "unarchive_project",
    "update_group",
    "update_project",
]
