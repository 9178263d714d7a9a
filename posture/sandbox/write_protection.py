"""Write routes for branch protection and merge request approvals.

Doc pages: doc/api/protected_branches.md, doc/api/merge_request_approvals.md. Audit events
as GitLab's `AuditEvents::ProtectedBranchAuditEventService`,
`Audit::ProtectedBranchesChangesAuditor`, `Audit::ProjectChangesAuditor` (approval
settings) and `ApprovalRules::Updater` record them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from posture.sandbox.audit import Target, changed, custom
from posture.sandbox.changes import NOT_FOUND, Change
from posture.sandbox.instance import ApprovalRule, BranchAccess, ProtectedBranch
from posture.sandbox.resources import LEVEL_DESCRIPTIONS
from posture.sandbox.routes import MAINTAINER, HttpError, Response

if TYPE_CHECKING:
    from posture.sandbox.catalog import ProjectNode
    from posture.sandbox.instance import Project

LEVELS = (0, 30, 40, 60)
UNPROTECT_LEVELS = (30, 40, 60)  # "No access" is not available for unprotecting


# --- protected branches -----------------------------------------------------------------


def _humanize(change: Change, project: Project, entry: BranchAccess) -> str:
    """`ProtectedRefAccess#humanize`: the role, the user's or group's name, or the key."""
    if entry.user is not None:
        user = change.catalog.users.get(entry.user)
        return user.name if user else entry.user
    if entry.group is not None:
        group = change.catalog.group_paths.get(entry.group.lower())
        return (group.model.name or group.model.path) if group else entry.group
    if entry.deploy_key is not None:
        return "Deploy key"
    return LEVEL_DESCRIPTIONS[entry.access_level or 0]


def _branch_details(change: Change, project: Project, branch: ProtectedBranch) -> dict[str, Any]:
    return {
        "push_access_levels": [_humanize(change, project, e) for e in branch.push],
        "merge_access_levels": [_humanize(change, project, e) for e in branch.merge],
        "allow_force_push": branch.allow_force_push,
        "code_owner_approval_required": branch.code_owner_approval_required,
    }


def _entry(
    change: Change, node: ProjectNode, raw: dict[str, Any], kind: str, allowed: tuple[int, ...]
) -> BranchAccess:
    """One `{access_level|user_id|group_id|deploy_key_id: n}` hash as a model entry."""
    from posture.sandbox.params import not_valid_value, to_int

    label = f"allowed_to_{kind}"
    field = f"{kind.capitalize()} access levels"
    entry_id = change.new_id("branch_access")
    if raw.get("access_level") is not None:
        level = to_int(label, raw["access_level"])
        if level not in allowed:
            raise not_valid_value(f"{label}[access_level]")
        return BranchAccess(access_level=level, id=entry_id)
    if raw.get("user_id") is not None:
        user = change.catalog.users_by_id.get(to_int(label, raw["user_id"]))
        if user is None:
            raise HttpError(422, {"message": [f"{field} user is not a member of the project"]})
        return BranchAccess(user=user.username, id=entry_id)
    if raw.get("group_id") is not None:
        group = change.catalog.groups.get(to_int(label, raw["group_id"]))
        if group is None or not change.catalog.can_see_group(change.viewer, group):
            message = f"{field} group does not have access to the project"
            raise HttpError(422, {"message": [message]})
        return BranchAccess(group=group.full_path, id=entry_id)
    if raw.get("deploy_key_id") is not None and kind == "push":
        wanted = to_int(label, raw["deploy_key_id"])
        key = next((k for k in node.model.deploy_keys if k.id == wanted), None)
        if key is None or not key.can_push:
            raise HttpError(
                422, {"message": [f"{field} deploy key is not enabled for this project"]}
            )
        return BranchAccess(deploy_key=key.title, id=entry_id)
    raise HttpError(400, {"error": f"{label} is invalid"})


def _new_levels(
    change: Change, node: ProjectNode, kind: str, allowed: tuple[int, ...]
) -> list[BranchAccess] | None:
    """`<kind>_access_level` plus `allowed_to_<kind>` (Premium) for a new branch."""
    level = change.params.int_choice(f"{kind}_access_level", allowed)
    extra = change.params.hash_list(f"allowed_to_{kind}") if change.flavor.premium else None
    entries: list[BranchAccess] = []
    if level is not None:
        entries.append(BranchAccess(access_level=level, id=change.new_id("branch_access")))
    for raw in extra or []:
        entries.append(_entry(change, node, raw, kind, allowed))
    return entries if (level is not None or extra is not None) else None


def protect_branch(change: Change, ident: str) -> Response:
    """`POST /projects/:id/protected_branches` (Maintainer): 201 with the branch."""
    params = change.params
    params.require("name")
    name = params.text("name") or ""
    allow_force_push = params.flag("allow_force_push")
    code_owner = params.flag("code_owner_approval_required")
    node = change.router.project_node(change.request, ident, MAINTAINER)
    if not name.strip():
        raise HttpError(422, {"message": ["Name can't be blank"]})
    levels = {
        kind: _new_levels(change, node, kind, allowed)
        for kind, allowed in (("push", LEVELS), ("merge", LEVELS), ("unprotect", UNPROTECT_LEVELS))
    }
    project = change.project(node.id)
    branches = project.effective_protected_branches()
    if any(b.name == name for b in branches):
        raise HttpError(409, {"message": f"Protected branch '{name}' already exists"})

    def default() -> list[BranchAccess]:
        return [BranchAccess(access_level=40, id=change.new_id("branch_access"))]

    branch = ProtectedBranch(
        name=name,
        id=change.new_id("protected_branch"),
        push=levels["push"] or default(),
        merge=levels["merge"] or default(),
        unprotect=levels["unprotect"] or default(),
        allow_force_push=bool(allow_force_push),
        code_owner_approval_required=bool(code_owner) and change.flavor.premium,
    )
    project.protected_branches = [*branches, branch]
    details = _branch_details(change, project, branch)
    message = (
        "Added protected branch with ["
        f"allowed to push: {_ruby_list(details['push_access_levels'])}, "
        f"allowed to merge: {_ruby_list(details['merge_access_levels'])}, "
        f"allow force push: {_ruby_bool(branch.allow_force_push)}, "
        f"code owner approval required: {_ruby_bool(branch.code_owner_approval_required)}]"
    )
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ProtectedBranch", branch.id, branch.name)
    change.record(custom("protected_branch_created", entity, target, message, **details))
    return _branch_answer(change, change.commit(), node.id, branch.id, status=201)


def _ruby_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _ruby_bool(value: bool) -> str:
    return "true" if value else "false"


def _branch_answer(
    change: Change, router: Any, project_id: int, branch_id: int | None, *, status: int
) -> Response:
    from posture.sandbox.resources import protected_branch

    node = router.catalog.projects[project_id]
    branch = next(b for b in node.branches() if b.id == branch_id)
    return change.json(protected_branch(router.flavor, branch, node.deploy_keys), status)


def _own_branch(change: Change, node: ProjectNode, name: str) -> ProtectedBranch:
    project = change.project(node.id)
    branch = next((b for b in project.effective_protected_branches() if b.name == name), None)
    if branch is None:
        raise HttpError(404, NOT_FOUND)
    return branch


def _patch_levels(
    change: Change,
    node: ProjectNode,
    current: list[BranchAccess],
    kind: str,
    allowed: tuple[int, ...],
) -> list[BranchAccess]:
    """`allowed_to_<kind>` on PATCH: hashes without `id` add, `{id, _destroy: true}` removes,
    `{id, ...}` replaces that entry."""
    from posture.sandbox.params import to_bool, to_int

    items = change.params.hash_list(f"allowed_to_{kind}") if change.flavor.premium else None
    if items is None:
        return current
    out = list(current)
    for raw in items:
        if raw.get("id") is None:
            out.append(_entry(change, node, raw, kind, allowed))
            continue
        wanted = to_int(f"allowed_to_{kind}", raw["id"])
        index = next((i for i, e in enumerate(out) if e.id == wanted), None)
        if index is None:
            raise HttpError(404, NOT_FOUND)
        if raw.get("_destroy") is not None and to_bool(f"allowed_to_{kind}", raw["_destroy"]):
            del out[index]
            continue
        replacement = _entry(change, node, raw, kind, allowed)
        replacement.id = wanted
        out[index] = replacement
    return out


def update_protected_branch(change: Change, ident: str, name: str) -> Response:
    """`PATCH /projects/:id/protected_branches/:name` (Maintainer): 200 with the branch."""
    params = change.params
    allow_force_push = params.flag("allow_force_push")
    code_owner = params.flag("code_owner_approval_required")
    node = change.router.project_node(change.request, ident, MAINTAINER)
    project = change.project(node.id)
    branch = _own_branch(change, node, name)
    project.protected_branches = project.effective_protected_branches()
    before = {
        "allow force push": branch.allow_force_push,
        "code owner approval required": branch.code_owner_approval_required,
        "allowed to push": [_humanize(change, project, e) for e in branch.push],
        "allowed to merge": [_humanize(change, project, e) for e in branch.merge],
        "allowed to unprotect": [_humanize(change, project, e) for e in branch.unprotect],
    }
    branch.push = _patch_levels(change, node, branch.push, "push", LEVELS)
    branch.merge = _patch_levels(change, node, branch.merge, "merge", LEVELS)
    branch.unprotect = _patch_levels(change, node, branch.unprotect, "unprotect", UNPROTECT_LEVELS)
    if allow_force_push is not None:
        branch.allow_force_push = allow_force_push
    if code_owner is not None and change.flavor.premium:
        branch.code_owner_approval_required = code_owner
    after = {
        "allow force push": branch.allow_force_push,
        "code owner approval required": branch.code_owner_approval_required,
        "allowed to push": [_humanize(change, project, e) for e in branch.push],
        "allowed to merge": [_humanize(change, project, e) for e in branch.merge],
        "allowed to unprotect": [_humanize(change, project, e) for e in branch.unprotect],
    }
    events = {
        "allow force push": "protected_branch_allow_force_push_updated",
        "code owner approval required": "protected_branch_code_owner_approval_required_updated",
        "allowed to push": "protected_branch_updated",
        "allowed to merge": "protected_branch_updated",
    }
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ProtectedBranch", branch.id, branch.name)
    for label, old in before.items():
        new = after[label]
        if old == new:
            continue
        if label in events:
            change.record(changed(events[label], entity, target, label, old, new))
        else:
            change.record_untracked(
                changed("sandbox_protected_branch_updated", entity, target, label, old, new)
            )
    return _branch_answer(change, change.commit(), node.id, branch.id, status=200)


def unprotect_branch(change: Change, ident: str, name: str) -> Response:
    """`DELETE /projects/:id/protected_branches/:name` (Maintainer): 204."""
    node = change.router.project_node(change.request, ident, MAINTAINER)
    project = change.project(node.id)
    branch = _own_branch(change, node, name)
    project.protected_branches = [
        b for b in project.effective_protected_branches() if b is not branch
    ]
    for rule in project.approval_rules:  # rules drop the branch, as GitLab's join rows go
        rule.protected_branches = [b for b in rule.protected_branches if b != name]
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ProtectedBranch", branch.id, branch.name)
    details = _branch_details(change, project, branch)
    message = "Unprotected branch"
    change.record(custom("protected_branch_removed", entity, target, message, **details))
    change.commit()
    return change.no_content()


# --- POST /projects/:id/approvals -------------------------------------------------------

# (parameter, change text, event, inverted) from Audit::ProjectChangesAuditor.
APPROVAL_SETTINGS = (
    (
        "merge_requests_author_approval",
        "prevent merge request approval from authors",
        "project_merge_requests_author_approval_updated",
        True,
    ),
    (
        "merge_requests_disable_committers_approval",
        "prevent merge request approval from committers",
        "project_merge_requests_disable_committers_approval_updated",
        False,
    ),
    (
        "reset_approvals_on_push",
        "require new approvals when new commits are added to an MR",
        "project_reset_approvals_on_push_updated",
        False,
    ),
    (
        "disable_overriding_approvers_per_merge_request",
        "prevent users from modifying MR approval rules in merge requests",
        "project_disable_overriding_approvers_per_merge_request_updated",
        False,
    ),
    (
        "require_reauthentication_to_approve",
        "require user password for approvals",
        "project_require_password_to_approve_updated",
        False,
    ),
    (
        "selective_code_owner_removals",
        "selective_code_owner_removals",
        "selective_code_owner_removals_updated",
        False,
    ),
)


def update_approvals(change: Change, ident: str) -> Response:
    """`POST /projects/:id/approvals` (doc/api/merge_request_approvals.md "Change
    configuration"; Premium; Maintainer): 201 with the settings."""
    from posture.sandbox.resources import approvals

    params = change.params
    values = {key: params.flag(key) for key, *_rest in APPROVAL_SETTINGS}
    legacy = params.flag("require_password_to_approve")  # deprecated in 16.9
    if values["require_reauthentication_to_approve"] is None:
        values["require_reauthentication_to_approve"] = legacy
    params.integer("approvals_before_merge")  # deprecated; validated, not modelled
    node = change.router.project_node(change.request, ident)
    change.router.require_premium()
    change.need(change.project_level(node), MAINTAINER)
    settings = change.project(node.id).approvals
    entity = change.project_entity(node.id, node.full_path)
    target = change.project_target(node.id, node.full_path)
    for key, text, event, inverted in APPROVAL_SETTINGS:
        new = values[key]
        old = getattr(settings, key)
        if new is None or new == old:
            continue
        setattr(settings, key, new)
        shown_old, shown_new = (not old, not new) if inverted else (old, new)
        change.record(changed(event, entity, target, text, shown_old, shown_new))
    router = change.commit()
    return change.json(approvals(router.flavor, router.catalog.projects[node.id]), 201)


# --- approval rules ---------------------------------------------------------------------


def _rule_members(
    change: Change, project: Project
) -> tuple[list[str] | None, list[str] | None, list[str] | None]:
    """Users, groups and branch names from the parameters; unknown ones are dropped, as
    GitLab keeps only eligible members, visible groups and the project's branches."""
    params = change.params
    user_ids = params.int_list("user_ids")
    usernames = params.str_list("usernames")
    group_ids = params.int_list("group_ids")
    branch_ids = params.int_list("protected_branch_ids")
    users = None
    if user_ids is not None or usernames is not None:
        by_id = [change.catalog.users_by_id.get(i) for i in user_ids or []]
        by_name = [change.catalog.users.get(n) for n in usernames or []]
        users = list(dict.fromkeys(u.username for u in [*by_id, *by_name] if u is not None))
    groups = None
    if group_ids is not None:
        nodes = [change.catalog.groups.get(i) for i in group_ids]
        groups = [
            n.full_path
            for n in nodes
            if n is not None and change.catalog.can_see_group(change.viewer, n)
        ]
    branches = None
    if branch_ids is not None:
        wanted = set(branch_ids)
        branches = [b.name for b in project.effective_protected_branches() if b.id in wanted]
    return users, groups, branches


def _validate_rule(change: Change, project: Project, rule: ApprovalRule) -> None:
    if rule.approvals_required < 0:
        raise HttpError(
            400, {"message": {"approvals_required": ["must be greater than or equal to 0"]}}
        )
    if any(r is not rule and r.name == rule.name for r in project.approval_rules):
        raise HttpError(400, {"message": {"name": ["has already been taken"]}})
    if rule.rule_type == "any_approver" and any(
        r is not rule and r.rule_type == "any_approver" for r in project.approval_rules
    ):
        raise HttpError(
            400, {"message": {"rule_type": ["any-approver for the project already exists"]}}
        )


def _member_name(change: Change, kind: str, ref: str) -> str:
    if kind == "User":
        user = change.catalog.users.get(ref)
        return user.name if user else ref
    group = change.catalog.group_paths.get(ref.lower())
    return (group.model.name or group.model.path) if group else ref


def _membership_events(
    change: Change, event: str, node: ProjectNode, rule: ApprovalRule, old: ApprovalRule | None
) -> None:
    """ApprovalRuleLike#audit_add / #audit_remove: one event per user or group."""
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ApprovalProjectRule", rule.id, rule.name)
    for kind, new_refs, old_refs in (
        ("User", rule.users, old.users if old else []),
        ("Group", rule.groups, old.groups if old else []),
    ):
        for ref in new_refs:
            if ref not in old_refs:
                name = _member_name(change, kind, ref)
                message = f"Added {kind} {name} to approval group on {rule.name} rule"
                change.record(custom(event, entity, target, message))
        for ref in old_refs:
            if ref not in new_refs:
                name = _member_name(change, kind, ref)
                message = f"Removed {kind} {name} from approval group on {rule.name} rule"
                change.record(custom(event, entity, target, message))


def _rule_node(change: Change, ident: str) -> ProjectNode:
    node = change.router.project_node(change.request, ident)
    change.router.require_premium()
    change.need(change.project_level(node), MAINTAINER)
    return node


def _rule_answer(
    change: Change, router: Any, project_id: int, rule_id: int | None, status: int
) -> Response:
    from posture.sandbox.resources import approval_rule

    node = router.catalog.projects[project_id]
    rule = next(r for r in node.model.approval_rules if r.id == rule_id)
    return change.json(approval_rule(router.flavor, node, rule), status)


def create_approval_rule(change: Change, ident: str) -> Response:
    """`POST /projects/:id/approval_rules` (Premium; Maintainer): 201 with the rule."""
    params = change.params
    params.require("name", "approvals_required")
    name = params.text("name") or ""
    required = params.integer("approvals_required") or 0
    rule_type = params.choice("rule_type", ("regular", "any_approver")) or "regular"
    applies_to_all = params.flag("applies_to_all_protected_branches")
    node = _rule_node(change, ident)
    project = change.project(node.id)
    rule = ApprovalRule(name=name, id=change.new_id("approval_rule"), rule_type=rule_type)
    rule.approvals_required = required  # checked below, with GitLab's message
    users, groups, branches = _rule_members(change, project)
    rule.users = users or []
    rule.groups = groups or []
    rule.protected_branches = [] if applies_to_all else (branches or [])
    _validate_rule(change, project, rule)
    project.approval_rules.append(rule)
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ApprovalProjectRule", rule.id, rule.name)
    message = f"Added approval rule with number of required approvals of {required}"
    change.record(custom("approval_rule_created", entity, target, message))
    _membership_events(change, "approval_rule_created", node, rule, None)
    return _rule_answer(change, change.commit(), node.id, rule.id, 201)


def _find_rule(change: Change, project: Project, rule_id: str) -> ApprovalRule:
    rule = next(
        (r for r in project.approval_rules if rule_id.isdigit() and r.id == int(rule_id)), None
    )
    if rule is None:
        raise HttpError(404, NOT_FOUND)
    return rule


def update_approval_rule(change: Change, ident: str, rule_id: str) -> Response:
    """`PUT /projects/:id/approval_rules/:approval_rule_id` (Premium; Maintainer)."""
    params = change.params
    name = params.text("name")
    required = params.integer("approvals_required")
    applies_to_all = params.flag("applies_to_all_protected_branches")
    node = _rule_node(change, ident)
    project = change.project(node.id)
    rule = _find_rule(change, project, rule_id)
    old = rule.model_copy(deep=True)
    users, groups, branches = _rule_members(change, project)
    if name is not None:
        rule.name = name
    if required is not None:
        rule.approvals_required = required
    if users is not None:
        rule.users = users
    if groups is not None:
        rule.groups = groups
    if applies_to_all:
        rule.protected_branches = []
    elif branches is not None:
        rule.protected_branches = branches
    _validate_rule(change, project, rule)
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ApprovalProjectRule", rule.id, rule.name)
    event = "update_approval_rules"
    if old.approvals_required != rule.approvals_required:
        change.record(
            changed(
                event,
                entity,
                target,
                "number of required approvals",
                old.approvals_required,
                rule.approvals_required,
            )
        )
    if old.name != rule.name:
        change.record(changed(event, entity, target, "name", old.name, rule.name))
    _membership_events(change, event, node, rule, old)
    if old.protected_branches != rule.protected_branches:
        added = [b for b in rule.protected_branches if b not in old.protected_branches]
        if not rule.protected_branches:
            message = "Changed target branch to all protected branches"
        else:
            message = f"Changed target branch to {(added or rule.protected_branches)[0]} branch"
        change.record(custom(event, entity, target, message))
    return _rule_answer(change, change.commit(), node.id, rule.id, 200)


def delete_approval_rule(change: Change, ident: str, rule_id: str) -> Response:
    """`DELETE /projects/:id/approval_rules/:approval_rule_id` (Premium; Maintainer): 204."""
    node = _rule_node(change, ident)
    project = change.project(node.id)
    rule = _find_rule(change, project, rule_id)
    project.approval_rules = [r for r in project.approval_rules if r is not rule]
    entity = change.project_entity(node.id, node.full_path)
    target = Target("ApprovalProjectRule", rule.id, rule.name)
    change.record(custom("approval_rule_deleted", entity, target, "Deleted approval rule"))
    change.commit()
    return change.no_content()


__all__ = [
    "create_approval_rule",
    "delete_approval_rule",
    "protect_branch",
    "unprotect_branch",
    "update_approval_rule",
    "update_approvals",
    "update_protected_branch",
]
