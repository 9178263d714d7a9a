"""Write routes for CI/CD settings: variables, webhooks, deploy keys, runners, job tokens.

Doc pages: doc/api/project_level_variables.md, doc/api/group_level_variables.md,
doc/api/project_webhooks.md, doc/api/deploy_keys.md, doc/api/runners.md,
doc/api/project_job_token_scopes.md. Audit events as GitLab's
`Ci::AuditVariableChangeService` and webhook, deploy key and job token services record them.

Secret hygiene: variable values, webhook URLs, tokens, URL variables and header values are
stored (the instance holds fake canaries) but never reach an audit event or an error
message; where GitLab audits such a change it writes "Changed value(hidden)" and so do we.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from posture.sandbox.audit import INSTANCE, Entity, Target, changed, custom
from posture.sandbox.changes import NOT_FOUND, Change
from posture.sandbox.defaults import PROJECT_HOOK_EVENTS
from posture.sandbox.instance import DeployKey, Variable, Webhook
from posture.sandbox.routes import MAINTAINER, OWNER, HttpError, Response

if TYPE_CHECKING:
    from posture.sandbox.catalog import RunnerNode
    from posture.sandbox.instance import Group, Project

_KEY_RE = re.compile(r"^[A-Za-z0-9_]+$")
_SSH_KEY_RE = re.compile(
    r"^(ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp(?:256|384|521)|"
    r"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) ([A-Za-z0-9+/]+={0,3})(?: .*)?$"
)


def _model_error(field: str, *messages: str, status: int = 400) -> HttpError:
    return HttpError(status, {"message": {field: list(messages)}})


# --- CI/CD variables --------------------------------------------------------------------


class _Scope:
    """Project or group variables: where they live and how GitLab names them in events."""

    def __init__(self, change: Change, ident: str, *, group: bool) -> None:
        self.group = group
        if group:
            node = change.router.group_node(change.request, ident, OWNER)
            self.owner: Project | Group = change.group(node.id)
            self.entity = Entity("Group", node.id, node.full_path)
            self.node_id = node.id
        else:
            pnode = change.router.project_node(change.request, ident, MAINTAINER)
            self.owner = change.project(pnode.id)
            self.entity = change.project_entity(pnode.id, pnode.full_path)
            self.node_id = pnode.id
        # Group environment scopes are Premium; below it every group variable is "*".
        self.scoped = not group or change.flavor.premium
        self.name = "ci_group_variable" if group else "ci_variable"
        self.target_type = "Ci::GroupVariable" if group else "Ci::Variable"

    def target(self, var: Variable) -> Target:
        return Target(self.target_type, None, var.key)

    def body(self, change: Change, var: Variable) -> dict[str, Any]:
        from posture.sandbox.resources import group_variable, project_variable

        if self.group:
            return group_variable(change.flavor, var)
        return project_variable(var)


def _check_variable(var: Variable, others: list[Variable]) -> None:
    if len(var.key) > 255:
        raise _model_error("key", "is too long (maximum is 255 characters)")
    if not _KEY_RE.match(var.key):
        raise _model_error("key", "can contain only letters, digits and '_'.")
    if var.masked and (len(var.value) < 8 or re.search(r"\s", var.value)):
        # Never the value itself: only that it cannot be masked.
        raise _model_error("value", "is invalid")
    if var.hidden and not var.masked:
        raise _model_error("masked", "must be true for a hidden variable")
    if any(
        o is not var and (o.key, o.environment_scope) == (var.key, var.environment_scope)
        for o in others
    ):
        raise _model_error("key", f"({var.key}) has already been taken")


def _variable_params(change: Change) -> dict[str, Any]:
    params = change.params
    return {
        "value": params.text("value"),
        "variable_type": params.choice("variable_type", ("env_var", "file")),
        "protected": params.flag("protected"),
        "masked": params.flag("masked"),
        "raw": params.flag("raw"),
        "environment_scope": params.text("environment_scope"),
        "description": params.text("description"),
    }


def _create_variable(change: Change, ident: str, *, group: bool) -> Response:
    params = change.params
    params.require("key", "value")
    key = params.text("key") or ""
    values = _variable_params(change)
    hidden = bool(params.flag("masked_and_hidden"))
    scope = _Scope(change, ident, group=group)
    var = Variable.model_construct(
        key=key,
        value=values["value"] or "",
        variable_type=values["variable_type"] or "env_var",
        protected=bool(values["protected"]),
        masked=bool(values["masked"]) or hidden,
        hidden=hidden,
        raw=bool(values["raw"]),
        environment_scope=(values["environment_scope"] or "*") if scope.scoped else "*",
        description=values["description"],
    )
    _check_variable(var, scope.owner.variables)
    scope.owner.variables.append(Variable.model_validate(var.model_dump()))
    message = f"Added {scope.name.replace('_', ' ')}"
    change.record(
        custom(f"{scope.name}_created", scope.entity, scope.target(var), message, add=scope.name)
    )
    change.commit()
    return change.json(scope.body(change, var), 201)


def _find_variable(change: Change, owner: Project | Group, key: str) -> Variable:
    """By key, narrowed by `filter[environment_scope]`; several matches are a 409."""
    wanted = change.params.mapping("filter").get("environment_scope")
    matches = [
        v
        for v in owner.variables
        if v.key == key and (wanted is None or v.environment_scope == str(wanted))
    ]
    if not matches:
        raise HttpError(404, {"message": "404 Variable Not Found"})
    if len(matches) > 1:
        raise HttpError(
            409,
            {
                "message": "There are multiple variables with provided parameters. "
                "Please use 'filter[environment_scope]'"
            },
        )
    return matches[0]


# (attribute, GitLab's change text) in Ci::AuditVariableChangeService order; value is hidden.
_VARIABLE_AUDITED = (
    ("protected", "variable protection"),
    ("masked", "variable masking"),
    ("environment_scope", "environment scope"),
)


def _update_variable(change: Change, ident: str, key: str, *, group: bool) -> Response:
    values = _variable_params(change)
    scope = _Scope(change, ident, group=group)
    var = _find_variable(change, scope.owner, key)
    before = var.model_dump()
    for name, value in values.items():
        if value is None or (name == "environment_scope" and not scope.scoped):
            continue
        setattr(var, name, value)
    _check_variable(var, scope.owner.variables)
    after = var.model_dump()
    event = f"{scope.name}_updated"
    target = scope.target(var)
    for name, text in _VARIABLE_AUDITED:
        if before[name] != after[name]:
            change.record(changed(event, scope.entity, target, text, before[name], after[name]))
    if before["value"] != after["value"]:
        change.record(changed(event, scope.entity, target, "value(hidden)", None, None, hide=True))
    for name in ("variable_type", "raw", "description"):
        if before[name] != after[name]:
            change.record_untracked(
                changed(f"sandbox_{event}", scope.entity, target, name, before[name], after[name])
            )
    change.commit()
    return change.json(scope.body(change, var), 200)


def _delete_variable(change: Change, ident: str, key: str, *, group: bool) -> Response:
    scope = _Scope(change, ident, group=group)
    var = _find_variable(change, scope.owner, key)
    scope.owner.variables = [v for v in scope.owner.variables if v is not var]
    message = f"Removed {scope.name.replace('_', ' ')}"
    change.record(
        custom(f"{scope.name}_deleted", scope.entity, scope.target(var), message, remove=scope.name)
    )
    change.commit()
    return change.no_content()


def create_project_variable(change: Change, ident: str) -> Response:
    """`POST /projects/:id/variables` (Maintainer): 201 with the variable."""
    return _create_variable(change, ident, group=False)


def update_project_variable(change: Change, ident: str, key: str) -> Response:
    """`PUT /projects/:id/variables/:key` (Maintainer; `filter[environment_scope]`)."""
    return _update_variable(change, ident, key, group=False)


def delete_project_variable(change: Change, ident: str, key: str) -> Response:
    """`DELETE /projects/:id/variables/:key` (Maintainer): 204."""
    return _delete_variable(change, ident, key, group=False)


def create_group_variable(change: Change, ident: str) -> Response:
    """`POST /groups/:id/variables` (group Owner, as the sandbox's GET): 201."""
    return _create_variable(change, ident, group=True)


def update_group_variable(change: Change, ident: str, key: str) -> Response:
    """`PUT /groups/:id/variables/:key` (group Owner)."""
    return _update_variable(change, ident, key, group=True)


def delete_group_variable(change: Change, ident: str, key: str) -> Response:
    """`DELETE /groups/:id/variables/:key` (group Owner): 204."""
    return _delete_variable(change, ident, key, group=True)


# --- project webhooks -------------------------------------------------------------------

_HOOK_SECRET_FIELDS = ("url", "token", "url_variables", "custom_headers")


def _hook_params(change: Change) -> dict[str, Any]:
    params = change.params
    values: dict[str, Any] = {
        "url": params.text("url"),
        "name": params.text("name"),
        "description": params.text("description"),
        "token": params.text("token"),
        "enable_ssl_verification": params.flag("enable_ssl_verification"),
        "push_events_branch_filter": params.text("push_events_branch_filter"),
        "branch_filter_strategy": params.choice(
            "branch_filter_strategy", ("wildcard", "regex", "all_branches")
        ),
        "events": {name: params.flag(name) for name in PROJECT_HOOK_EVENTS},
    }
    for name in ("url_variables", "custom_headers"):
        items = params.hash_list(name)
        if items is None:
            values[name] = None
            continue
        pairs: dict[str, str] = {}
        for item in items:
            if not isinstance(item.get("key"), str) or "value" not in item:
                raise HttpError(400, {"error": f"{name} is invalid"})
            pairs[item["key"]] = str(item["value"])
        values[name] = pairs
    if values["url"] is not None:
        _check_hook_url(values["url"])
    return values


def _check_hook_url(url: str) -> None:
    """422 as GitLab's UrlValidator answers; the URL itself is never repeated."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise _model_error("url", "is blocked: URI is invalid", status=422) from None
    if not url.strip().startswith(("http://", "https://")):
        raise _model_error("url", "is blocked: Only allowed schemes are http, https", status=422)
    if not parts.hostname:
        raise _model_error("url", "is blocked: URI is invalid", status=422)


def _hook_target(hook: Webhook) -> Target:
    return Target("ProjectHook", hook.id, f"Hook {hook.id}")


def create_hook(change: Change, ident: str) -> Response:
    """`POST /projects/:id/hooks` (Maintainer): 201 with the hook (never its token)."""
    from posture.sandbox.resources import hook as hook_body

    change.params.require("url")
    values = _hook_params(change)
    node = change.router.project_node(change.request, ident, MAINTAINER)
    events = values["events"]
    if events["push_events"] is None:
        events["push_events"] = True  # GitLab's default
    hook = Webhook.model_construct(
        id=change.new_id("hook"),
        url=values["url"].strip(),
        name=values["name"] or "",
        description=values["description"] or "",
        token=values["token"],
        enable_ssl_verification=(
            True if values["enable_ssl_verification"] is None else values["enable_ssl_verification"]
        ),
        events=[name for name, on in events.items() if on],
        push_events_branch_filter=values["push_events_branch_filter"] or "",
        branch_filter_strategy=values["branch_filter_strategy"] or "wildcard",
        url_variables=values["url_variables"] or {},
        custom_headers=values["custom_headers"] or {},
    )
    change.project(node.id).hooks.append(Webhook.model_validate(hook.model_dump()))
    entity = change.project_entity(node.id, node.full_path)
    change.record(custom("webhook_created", entity, _hook_target(hook), "Created project hook"))
    change.commit()
    return change.json(hook_body(hook, project_id=node.id), 201)


def _find_hook(change: Change, project: Project, hook_id: str) -> Webhook:
    hook = next((h for h in project.hooks if hook_id.isdigit() and h.id == int(hook_id)), None)
    if hook is None:
        raise HttpError(404, NOT_FOUND)
    return hook


def update_hook(change: Change, ident: str, hook_id: str) -> Response:
    """`PUT /projects/:id/hooks/:hook_id` (Maintainer): 200 with the hook."""
    from posture.sandbox.resources import hook as hook_body

    values = _hook_params(change)
    node = change.router.project_node(change.request, ident, MAINTAINER)
    project = change.project(node.id)
    hook = _find_hook(change, project, hook_id)
    before = hook.model_dump()
    for name in (
        "url",
        "name",
        "description",
        "token",
        "enable_ssl_verification",
        "push_events_branch_filter",
        "branch_filter_strategy",
        "url_variables",
        "custom_headers",
    ):
        if values[name] is not None:
            setattr(hook, name, values[name].strip() if name == "url" else values[name])
    events = set(hook.events)
    for name, on in values["events"].items():
        if on is True:
            events.add(name)
        elif on is False:
            events.discard(name)
    hook.events = [name for name in PROJECT_HOOK_EVENTS if name in events]
    after = hook.model_dump()
    entity = change.project_entity(node.id, node.full_path)
    target = _hook_target(hook)
    for name, old in before.items():
        new = after[name]
        if old == new:
            continue
        hidden = name in _HOOK_SECRET_FIELDS
        # GitLab does not audit hook edits; a URL, token or header value is never shown.
        change.record_untracked(
            changed("sandbox_webhook_updated", entity, target, name, old, new, hide=hidden)
        )
    change.commit()
    return change.json(hook_body(hook, project_id=node.id), 200)


def delete_hook(change: Change, ident: str, hook_id: str) -> Response:
    """`DELETE /projects/:id/hooks/:hook_id` (Maintainer): 204."""
    node = change.router.project_node(change.request, ident, MAINTAINER)
    project = change.project(node.id)
    hook = _find_hook(change, project, hook_id)
    project.hooks = [h for h in project.hooks if h is not hook]
    entity = change.project_entity(node.id, node.full_path)
    change.record(custom("webhook_destroyed", entity, _hook_target(hook), "Deleted project hook"))
    change.commit()
    return change.no_content()


# --- deploy keys ------------------------------------------------------------------------


def _check_public_key(key: str) -> None:
    match = _SSH_KEY_RE.match(key.strip())
    valid = match is not None
    if match is not None:
        try:
            blob = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            valid = False
        else:
            valid = match.group(1).encode() in blob[:64]
    if not valid:
        raise HttpError(
            400,
            {"message": {"key": ["is invalid"], "fingerprint_sha256": ["cannot be generated"]}},
        )


def _check_expiry(change: Change) -> str | None:
    raw = change.params.text("expires_at")
    if raw is None or raw == "":
        return None
    try:
        if "T" in raw:
            datetime.fromisoformat(raw.replace("Z", "+00:00"))
        else:
            date.fromisoformat(raw)
    except ValueError:
        raise HttpError(400, {"error": "expires_at is invalid"}) from None
    return raw


def _key_target(key: DeployKey) -> Target:
    return Target("DeployKey", key.id, key.title)


def create_deploy_key(change: Change, ident: str) -> Response:
    """`POST /projects/:id/deploy_keys` (Maintainer): 201 with the key."""
    from posture.sandbox.resources import deploy_key

    params = change.params
    params.require("key", "title")
    title = params.text("title") or ""
    public = (params.text("key") or "").strip()
    can_push = bool(params.flag("can_push"))
    expires_at = _check_expiry(change)
    node = change.router.project_node(change.request, ident, MAINTAINER)
    _check_public_key(public)
    project = change.project(node.id)
    if not title.strip():
        raise _model_error("title", "can't be blank")
    if any(k.title == title for k in project.deploy_keys):
        # The instance model names keys by title (branch access refers to them so).
        raise _model_error("title", "has already been taken")
    key = DeployKey(
        title=title,
        id=change.new_id("deploy_key"),
        key=public,
        can_push=can_push,
        expires_at=expires_at,
    )
    project.deploy_keys.append(key)
    entity = change.project_entity(node.id, node.full_path)
    change.record(
        custom("deploy_key_added", entity, _key_target(key), "Added deploy key", add="deploy_key")
    )
    change.commit()
    return change.json(deploy_key(key), 201)


def _find_key(project: Project, key_id: str) -> DeployKey:
    key = next((k for k in project.deploy_keys if key_id.isdigit() and k.id == int(key_id)), None)
    if key is None:
        raise HttpError(404, NOT_FOUND)
    return key


def _key_refs(project: Project, old: str, new: str | None) -> None:
    """Branch push access names keys by title: follow a rename, drop a deleted key."""
    for branch in project.protected_branches or []:
        kept = []
        for entry in branch.push:
            if entry.deploy_key == old:
                if new is None:
                    continue
                entry.deploy_key = new
            kept.append(entry)
        branch.push = kept


def update_deploy_key(change: Change, ident: str, key_id: str) -> Response:
    """`PUT /projects/:id/deploy_keys/:key_id` (Maintainer): `title`, `can_push`."""
    from posture.sandbox.resources import deploy_key

    title = change.params.text("title")
    can_push = change.params.flag("can_push")
    node = change.router.project_node(change.request, ident, MAINTAINER)
    project = change.project(node.id)
    key = _find_key(project, key_id)
    entity = change.project_entity(node.id, node.full_path)
    if title is not None and title != key.title:
        if not title.strip():
            raise _model_error("title", "can't be blank")
        if any(k is not key and k.title == title for k in project.deploy_keys):
            raise _model_error("title", "has already been taken")
        old = key.title
        key.title = title
        _key_refs(project, old, title)
        change.record_untracked(
            changed("sandbox_deploy_key_updated", entity, _key_target(key), "title", old, title)
        )
    if can_push is not None and can_push != key.can_push:
        change.record_untracked(
            changed(
                "sandbox_deploy_key_updated",
                entity,
                _key_target(key),
                "can_push",
                key.can_push,
                can_push,
            )
        )
        key.can_push = can_push
    change.commit()
    return change.json(deploy_key(key), 200)


def delete_deploy_key(change: Change, ident: str, key_id: str) -> Response:
    """`DELETE /projects/:id/deploy_keys/:key_id` (Maintainer): 204."""
    node = change.router.project_node(change.request, ident, MAINTAINER)
    project = change.project(node.id)
    key = _find_key(project, key_id)
    project.deploy_keys = [k for k in project.deploy_keys if k is not key]
    _key_refs(project, key.title, None)
    entity = change.project_entity(node.id, node.full_path)
    change.record(
        custom(
            "deploy_key_removed",
            entity,
            _key_target(key),
            "Removed deploy key",
            remove="deploy_key",
        )
    )
    change.commit()
    return change.no_content()


# --- runners ----------------------------------------------------------------------------


def _runner_entity(runner: RunnerNode) -> Entity:
    """A runner's events go where GitLab files runner events: its owner project or group,
    or the instance for instance runners."""
    if runner.runner_type == "project_type" and runner.projects:
        owner = runner.projects[0]
        return Entity("Project", owner.id, owner.full_path)
    if runner.runner_type == "group_type" and runner.groups:
        group = runner.groups[0]
        return Entity("Group", group.id, group.full_path)
    return INSTANCE


def _may_update_runner(change: Change, runner: RunnerNode) -> bool:
    """doc/api/runners.md "Update runner's details": administrators; group runners: group
    Owners; project runners: Maintainers of an assigned project."""
    if change.is_admin:
        return True
    if runner.runner_type == "group_type":
        return any(change.group_level(g) >= OWNER for g in runner.groups)
    if runner.runner_type == "project_type":
        return any(change.project_level(p) >= MAINTAINER for p in runner.projects)
    return False


_RUNNER_FIELDS = (
    "description",
    "paused",
    "tag_list",
    "run_untagged",
    "locked",
    "access_level",
    "maximum_timeout",
    "maintenance_note",
)


def update_runner(change: Change, runner_id: str) -> Response:
    """`PUT /runners/:id` (doc/api/runners.md): 200 with the runner's details."""
    params = change.params
    values: dict[str, Any] = {
        "description": params.text("description"),
        "paused": params.flag("paused"),
        "tag_list": params.str_list("tag_list"),
        "run_untagged": params.flag("run_untagged"),
        "locked": params.flag("locked"),
        "access_level": params.choice("access_level", ("not_protected", "ref_protected")),
        "maximum_timeout": params.integer("maximum_timeout"),
        "maintenance_note": params.text("maintenance_note"),
    }
    active = params.flag("active")  # deprecated: the inverse of paused
    if values["paused"] is None and active is not None:
        values["paused"] = not active
    node = change.catalog.runners.get(int(runner_id)) if runner_id.isdigit() else None
    if node is None:
        raise HttpError(404, {"message": "404 Runner Not Found"})
    if not _may_update_runner(change, node):
        raise HttpError(403, {"message": "403 Forbidden"})
    runner = change.runner(node.id)
    before = {name: getattr(runner, name) for name in _RUNNER_FIELDS}
    for name, value in values.items():
        if value is not None:
            setattr(runner, name, value)
    if runner.maximum_timeout is not None and runner.maximum_timeout < 600:
        raise _model_error("maximum_timeout", "needs to be at least 10 minutes")
    if not runner.run_untagged and not runner.tag_list:
        raise _model_error(
            "tags_list", "can not be empty when runner is not allowed to pick untagged jobs"
        )
    entity = _runner_entity(node)
    target = Target("Ci::Runner", node.id, runner.description or runner.name)
    for name, old in before.items():
        new = getattr(runner, name)
        if old != new:
            # GitLab has no audit event for runner edits.
            change.record_untracked(
                changed("sandbox_ci_runner_updated", entity, target, name, old, new)
            )
    return change.get(change.commit(), "runners", str(node.id))


# --- job token scope --------------------------------------------------------------------


def update_job_token_scope(change: Change, ident: str) -> Response:
    """`PATCH /projects/:id/job_token_scope` (Maintainer): `enabled` sets the inbound
    allowlist; 204 without a body."""
    change.params.require("enabled")
    enabled = bool(change.params.flag("enabled"))
    node = change.router.project_node(change.request, ident, MAINTAINER)
    scope = change.project(node.id).job_token_scope
    if scope.inbound_enabled != enabled:
        scope.inbound_enabled = enabled
        state = "enabled" if enabled else "disabled"
        entity = change.project_entity(node.id, node.full_path)
        target = change.project_target(node.id, node.full_path)
        change.record(
            custom(
                f"secure_ci_job_token_inbound_{state}",
                entity,
                target,
                f"Secure ci_job_token was {state} for inbound",
            )
        )
    change.commit()
    return change.no_content()


__all__ = [
    "create_deploy_key",
    "create_group_variable",
    "create_hook",
    "create_project_variable",
    "delete_deploy_key",
    "delete_group_variable",
    "delete_hook",
    "delete_project_variable",
    "update_deploy_key",
    "update_group_variable",
    "update_hook",
    "update_job_token_scope",
    "update_project_variable",
    "update_runner",
]
