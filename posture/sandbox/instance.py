"""The instance description: what the sandbox serves, as validated pydantic models.

Why models and not raw YAML: the server precomputes its answers from this, so a typo must fail
at load time naming the file and the field, never as a confusing answer during a crawl.
Ids are assigned in declaration order when omitted, so the same file always yields the same ids.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from posture.errors import ConfigError
from posture.sandbox.defaults import (
    GROUP_HOOK_EVENTS,
    GROUP_SETTING_DEFAULTS,
    PROJECT_SETTING_DEFAULTS,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

Visibility = Literal["private", "internal", "public"]
Role = Literal["none", "guest", "reporter", "developer", "maintainer", "owner"]
RunnerType = Literal["instance_type", "group_type", "project_type"]
OverrideRole = Literal["no_one_allowed", "developer", "maintainer", "owner"]

ROLE_LEVELS: dict[str, int] = {
    "none": 0,
    "guest": 10,
    "reporter": 20,
    "developer": 30,
    "maintainer": 40,
    "owner": 50,
}
# Protected-branch access levels (doc/api/protected_branches.md, "Valid access levels").
BRANCH_LEVELS: dict[str, int] = {
    "no_one": 0,
    "none": 0,
    "developer": 30,
    "developers": 30,
    "maintainer": 40,
    "maintainers": 40,
    "admin": 60,
}
_PATH_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,255}$")


class InstanceError(ConfigError, ValueError):
    """An instance description is unreadable or invalid; the message names file and field."""


class _Model(BaseModel):
    """Strict base: unknown keys are errors, so a misspelt setting never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)


def _level_from(value: object, table: dict[str, int], what: str) -> int:
    """Accept a role name or a number; why: humans write `developer`, GitLab speaks `30`."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a role name or a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lower() in table:
        return table[value.lower()]
    raise ValueError(f"unknown {what} {value!r}; use one of {', '.join(sorted(table))}")


class User(_Model):
    """A GitLab user; `admin` and `owner` are the two users the sandbox issues tokens for."""

    username: str
    name: str
    id: int | None = None


class Users(_Model):
    """The admin user, the non-admin member user (the "owner" token), and any others."""

    admin: User = User(username="root", name="Administrator")
    owner: User = User(username="alex.owner", name="Alex Owner")
    others: list[User] = Field(default_factory=list)

    def all(self) -> list[User]:
        """Every user in id order of declaration: admin, owner, then others."""
        return [self.admin, self.owner, *self.others]


class Variable(_Model):
    """A CI/CD variable (doc/api/project_level_variables.md); `value` is secret-bearing."""

    key: str
    value: str = ""
    variable_type: Literal["env_var", "file"] = "env_var"
    protected: bool = False
    masked: bool = False
    hidden: bool = False
    raw: bool = False
    environment_scope: str = "*"
    description: str | None = None

    @field_validator("key")
    @classmethod
    def _key_shape(cls, key: str) -> str:
        if not _KEY_RE.match(key):
            raise ValueError("variable key may only contain A-Z, a-z, 0-9 and _")
        return key

    @model_validator(mode="after")
    def _hidden_is_masked(self) -> Variable:
        if self.hidden and not self.masked:
            raise ValueError("a hidden variable must also be masked")
        return self


class Webhook(_Model):
    """A project or group webhook; `token`, URL credentials and header values are secrets."""

    id: int | None = None
    url: str
    name: str = ""
    description: str = ""
    token: str | None = None
    enable_ssl_verification: bool = True
    events: list[str] = Field(default_factory=lambda: ["push_events"])
    push_events_branch_filter: str = ""
    branch_filter_strategy: Literal["wildcard", "regex", "all_branches"] = "wildcard"
    url_variables: dict[str, str] = Field(default_factory=dict)
    custom_headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        return url

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        normalised = [e if e.endswith("_events") else f"{e}_events" for e in events]
        unknown = sorted(set(normalised) - set(GROUP_HOOK_EVENTS))
        if unknown:
            raise ValueError(f"unknown webhook events: {', '.join(unknown)}")
        return normalised


class BranchAccess(_Model):
    """One push/merge/unprotect entry: a role level, or a user, group or deploy key (Premium)."""

    access_level: int | None = None
    user: str | None = None
    group: str | None = None
    deploy_key: str | None = None
    id: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str | int) and not isinstance(data, bool):
            return {"access_level": _level_from(data, BRANCH_LEVELS, "access level")}
        if isinstance(data, dict) and isinstance(data.get("access_level"), str):
            level = _level_from(data["access_level"], BRANCH_LEVELS, "access level")
            data = {**data, "access_level": level}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> BranchAccess:
        given = [v for v in (self.access_level, self.user, self.group, self.deploy_key) if v]
        if self.access_level == 0:
            given.append(0)
        if len(given) != 1:
            raise ValueError("give exactly one of access_level, user, group or deploy_key")
        if self.access_level is not None and self.access_level not in (0, 30, 40, 60):
            raise ValueError("access_level must be 0, 30, 40 or 60")
        return self


def _default_branch_access() -> list[BranchAccess]:
    # model_construct: the default is known valid, and this runs once per branch entry.
    return [BranchAccess.model_construct(access_level=40, user=None, group=None, deploy_key=None)]


class ProtectedBranch(_Model):
    """A protected branch or wildcard (doc/api/protected_branches.md)."""

    name: str
    id: int | None = None
    push: list[BranchAccess] = Field(default_factory=_default_branch_access)
    merge: list[BranchAccess] = Field(default_factory=_default_branch_access)
    unprotect: list[BranchAccess] = Field(default_factory=_default_branch_access)
    allow_force_push: bool = False
    code_owner_approval_required: bool = False


class ProjectApprovals(_Model):
    """Project approval settings in `/projects/:id/approvals` vocabulary (plain booleans)."""

    reset_approvals_on_push: bool = True
    selective_code_owner_removals: bool = False
    disable_overriding_approvers_per_merge_request: bool = False
    merge_requests_author_approval: bool = False
    merge_requests_disable_committers_approval: bool = False
    require_reauthentication_to_approve: bool = False


class GroupApprovalSettings(_Model):
    """Group MR approval settings (doc/api/merge_request_approval_settings.md vocabulary).

    Why: a restrictive group value locks the setting for every project below it, which is how
    GitLab reports `locked: true, inherited_from: "group"` on the project endpoint.
    """

    allow_author_approval: bool = True
    allow_committer_approval: bool = True
    allow_overrides_to_approver_list_per_merge_request: bool = True
    retain_approvals_on_push: bool = True  # GitLab default: "remove approvals on push" unchecked
    selective_code_owner_removals: bool = False
    require_reauthentication_to_approve: bool = False


class ApprovalRule(_Model):
    """A project approval rule; empty `protected_branches` means it applies to all of them."""

    name: str
    id: int | None = None
    rule_type: Literal["regular", "any_approver", "code_owner", "report_approver"] = "regular"
    approvals_required: int = Field(default=1, ge=0)
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    protected_branches: list[str] = Field(default_factory=list)


class DeployKey(_Model):
    """A project deploy key; the public key is not a secret."""

    title: str
    id: int | None = None
    key: str | None = None
    can_push: bool = False
    expires_at: str | None = None


class DeployToken(_Model):
    """A deploy token; `token` is secret-bearing and never served."""

    name: str
    id: int | None = None
    username: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["read_repository"])
    expires_at: str | None = None
    revoked: bool = False
    token: str | None = None


class AccessToken(_Model):
    """A project or group access token; `token` is secret-bearing and never served."""

    name: str
    id: int | None = None
    scopes: list[str] = Field(default_factory=lambda: ["read_api"])
    access_level: int = 40
    expires_at: str | None = None
    revoked: bool = False
    description: str = ""
    last_used_at: str | None = None
    token: str | None = None

    @field_validator("access_level", mode="before")
    @classmethod
    def _role_name(cls, value: object) -> int:
        return _level_from(value, ROLE_LEVELS, "access level")


class JobTokenScope(_Model):
    """CI/CD job token access settings (doc/api/project_job_token_scopes.md)."""

    inbound_enabled: bool = True
    outbound_enabled: bool = False


class ShareLink(_Model):
    """A project shared with a group, at a maximum role."""

    group: str
    access_level: int = 30
    expires_at: str | None = None

    @field_validator("access_level", mode="before")
    @classmethod
    def _role_name(cls, value: object) -> int:
        return _level_from(value, ROLE_LEVELS, "access level")


class Runner(_Model):
    """A runner in the instance-wide list; groups and projects refer to it by `name`.

    Why a shared list: one project runner can serve many projects, as in real fleets.
    `runner_type` is inferred from who refers to it when left out.
    """

    name: str
    id: int | None = None
    runner_type: RunnerType | None = None
    description: str = ""
    paused: bool = False
    locked: bool = False
    run_untagged: bool = True
    tag_list: list[str] = Field(default_factory=list)
    access_level: Literal["not_protected", "ref_protected"] = "not_protected"
    maximum_timeout: int | None = None
    online: bool | None = True
    version: str | None = "17.11.0"
    maintenance_note: str | None = None
    token: str | None = None


class Project(_Model):
    """A project inside a group, with every security-relevant setting posture reads."""

    path: str
    id: int | None = None
    name: str | None = None
    description: str = ""
    visibility: Visibility = "private"
    default_branch: str = "main"
    archived: bool = False
    forked_from: str | None = None
    shared_with_groups: list[ShareLink] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    public_jobs: bool = True
    ci_pipeline_variables_minimum_override_role: OverrideRole = "developer"
    job_token_scope: JobTokenScope = Field(default_factory=JobTokenScope)
    shared_runners_enabled: bool = True
    group_runners_enabled: bool = True
    member_role: Role | None = None
    protected_branches: list[ProtectedBranch] | None = None
    approvals: ProjectApprovals = Field(default_factory=ProjectApprovals)
    approval_rules: list[ApprovalRule] = Field(default_factory=list)
    variables: list[Variable] = Field(default_factory=list)
    hooks: list[Webhook] = Field(default_factory=list)
    runners: list[str] = Field(default_factory=list)
    deploy_keys: list[DeployKey] = Field(default_factory=list)
    deploy_tokens: list[DeployToken] = Field(default_factory=list)
    access_tokens: list[AccessToken] = Field(default_factory=list)
    runners_token: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    _full_path: str = PrivateAttr(default="")

    @field_validator("path")
    @classmethod
    def _path_shape(cls, path: str) -> str:
        return _valid_path(path)

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return _known_keys(settings, PROJECT_SETTING_DEFAULTS, "project")

    @property
    def full_path(self) -> str:
        """`group/sub/project`, known once the instance is finalized (loaded or served)."""
        return self._full_path or self.path

    def effective_protected_branches(self) -> list[ProtectedBranch]:
        """Protected branches; when unset, the default branch is protected as GitLab does."""
        if self.protected_branches is None:
            return [ProtectedBranch(name=self.default_branch)]
        return self.protected_branches


class Group(_Model):
    """A group; `subgroups` nest and `projects` sit inside."""

    path: str
    id: int | None = None
    name: str | None = None
    description: str = ""
    visibility: Visibility = "private"
    member_role: Role | None = None
    variables: list[Variable] = Field(default_factory=list)
    hooks: list[Webhook] = Field(default_factory=list)
    protected_branches: list[ProtectedBranch] = Field(default_factory=list)
    approval_settings: GroupApprovalSettings | None = None
    deploy_tokens: list[DeployToken] = Field(default_factory=list)
    access_tokens: list[AccessToken] = Field(default_factory=list)
    runners: list[str] = Field(default_factory=list)
    runners_token: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    subgroups: list[Group] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    _full_path: str = PrivateAttr(default="")

    @field_validator("path")
    @classmethod
    def _path_shape(cls, path: str) -> str:
        return _valid_path(path)

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return _known_keys(settings, GROUP_SETTING_DEFAULTS, "group")

    @property
    def full_path(self) -> str:
        """`group/sub`, known once the instance is finalized (loaded or served)."""
        return self._full_path or self.path


class Instance(_Model):
    """A whole GitLab instance: version, settings, users, runners, and the group tree."""

    version: str = "17.11.1"
    revision: str = "5a7ce2b1c4d"
    users: Users = Field(default_factory=Users)
    settings: dict[str, Any] = Field(default_factory=dict)
    variables: list[Variable] = Field(default_factory=list)
    runners: list[Runner] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)

    @model_validator(mode="after")
    def _instance_variables(self) -> Instance:
        for var in self.variables:
            if var.environment_scope != "*" or var.hidden:
                raise ValueError(
                    f"instance variable {var.key}: instance variables have no "
                    "environment_scope and cannot be hidden"
                )
        return self

    def top_level_groups(self) -> list[Group]:
        """The groups at the top of the tree, in declaration order."""
        return list(self.groups)

    def walk_groups(self) -> Iterator[tuple[Group, Group | None, str]]:
        """Every group with its parent and full path, in declaration order (parents first)."""

        def visit(group: Group, parent: Group | None, prefix: str) -> Iterator[Any]:
            full = f"{prefix}/{group.path}" if prefix else group.path
            yield group, parent, full
            for sub in group.subgroups:
                yield from visit(sub, group, full)

        for top in self.groups:
            yield from visit(top, None, "")

    def walk_projects(self) -> Iterator[tuple[Project, Group, str]]:
        """Every project with its group and full path, in declaration order."""
        for group, _parent, full in self.walk_groups():
            for project in group.projects:
                yield project, group, f"{full}/{project.path}"

    def with_canaries(self) -> tuple[Instance, list[str]]:
        """A copy whose every secret-bearing value holds a unique canary substring."""
        from posture.sandbox.canaries import plant_canaries

        return plant_canaries(self)


Group.model_rebuild()


def _valid_path(path: str) -> str:
    if not _PATH_RE.match(path) or path.endswith((".git", ".atom")):
        raise ValueError("path may contain letters, digits, '_', '-' and '.' only")
    return path


def _known_keys(settings: dict[str, Any], known: dict[str, Any], what: str) -> dict[str, Any]:
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} settings: {', '.join(unknown)}")
    return settings


# --- loading ------------------------------------------------------------------------------


def load_instance(path: str | Path) -> Instance:
    """Read and validate an instance description; errors are `InstanceError` (a ConfigError).

    Only `yaml.safe_load` is used. Messages name the file and the field, never a value, so a
    secret in the file cannot leak through an error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstanceError(f"{path}: cannot read instance file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InstanceError(f"{path}: not valid YAML ({_yaml_reason(exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InstanceError(f"{path}: the top level must be a mapping")
    return parse_instance(data, source=str(path))


def parse_instance(data: dict[str, Any], source: str = "<instance>") -> Instance:
    """Validate a mapping as an instance, check references, and assign ids."""
    # Tens of thousands of small objects: the cyclic GC would rescan them over and over.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        instance = Instance.model_validate(data)
        return finalize(instance, source)
    except ValidationError as exc:
        raise InstanceError(f"{source}: {_first_errors(exc)}") from None
    finally:
        if was_enabled:
            gc.enable()


def finalize(instance: Instance, source: str = "<instance>") -> Instance:
    """Check cross-references and fill in omitted ids, names and runner types (in place)."""
    try:
        _check_references(instance)
        _assign_ids(instance)
    except ValueError as exc:
        raise InstanceError(f"{source}: {exc}") from None
    return instance


def _yaml_reason(exc: yaml.YAMLError) -> str:
    # Only the problem and its position: the snippet could quote a secret from the file.
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc or 'top level'}: {msg}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _check_references(instance: Instance) -> None:
    """Unique paths and names, and every reference resolvable; messages carry no values."""
    group_paths: dict[str, str] = {}
    for _group, _parent, full in instance.walk_groups():
        if full.lower() in group_paths:
            raise ValueError(f"duplicate group path {full!r}")
        group_paths[full.lower()] = full
    project_paths: dict[str, str] = {}
    for _project, _group, full in instance.walk_projects():
        if full.lower() in project_paths or full.lower() in group_paths:
            raise ValueError(f"duplicate path {full!r}")
        project_paths[full.lower()] = full

    usernames = {u.username for u in instance.users.all()}
    if len(usernames) != len(instance.users.all()):
        raise ValueError("duplicate username in users")
    runners = {r.name: r for r in instance.runners}
    if len(runners) != len(instance.runners):
        raise ValueError("duplicate runner name in runners")

    used_by: dict[str, set[str]] = {name: set() for name in runners}
    for group, parent, full in instance.walk_groups():
        for ref in group.runners:
            if ref not in runners:
                raise ValueError(f"group {full!r} refers to unknown runner {ref!r}")
            used_by[ref].add(f"g:{full}")
        _check_branches(group.protected_branches, full, usernames, group_paths, set())
        if group.protected_branches and parent is not None:
            raise ValueError(f"group {full!r}: protected branches are for top-level groups only")
        for branch in group.protected_branches:
            for entry in (*branch.push, *branch.merge, *branch.unprotect):
                if entry.access_level is None:
                    raise ValueError(f"group {full!r}: group protected branches take roles only")
        _unique_variables(group.variables, full)
    for project, _group, full in instance.walk_projects():
        for ref in project.runners:
            if ref not in runners:
                raise ValueError(f"project {full!r} refers to unknown runner {ref!r}")
            used_by[ref].add(f"p:{full}")
        if project.forked_from and project.forked_from.lower() not in project_paths:
            raise ValueError(f"project {full!r} is forked from unknown project")
        for link in project.shared_with_groups:
            if link.group.lower() not in group_paths:
                raise ValueError(f"project {full!r} is shared with unknown group {link.group!r}")
        keys = {k.title for k in project.deploy_keys}
        branches = project.effective_protected_branches()
        _check_branches(branches, full, usernames, group_paths, keys)
        names = {b.name for b in branches}
        for rule in project.approval_rules:
            for ref in rule.users:
                if ref not in usernames:
                    raise ValueError(f"approval rule in {full!r} names unknown user {ref!r}")
            for ref in rule.groups:
                if ref.lower() not in group_paths:
                    raise ValueError(f"approval rule in {full!r} names unknown group {ref!r}")
            for ref in rule.protected_branches:
                if ref not in names:
                    raise ValueError(f"approval rule in {full!r} names unprotected branch {ref!r}")
        _unique_variables(project.variables, full)

    for runner in instance.runners:
        kinds = {u[0] for u in used_by[runner.name]}
        if len(kinds) > 1:
            raise ValueError(f"runner {runner.name!r} is attached to both groups and projects")
        inferred: str = "instance_type"
        if kinds == {"g"}:
            inferred = "group_type"
        elif kinds == {"p"}:
            inferred = "project_type"
        if runner.runner_type is None:
            runner.runner_type = inferred  # type: ignore[assignment]
        elif used_by[runner.name] and runner.runner_type != inferred:
            raise ValueError(
                f"runner {runner.name!r} is {runner.runner_type} but used as {inferred}"
            )
        if runner.runner_type == "group_type" and len(used_by[runner.name]) > 1:
            raise ValueError(f"group runner {runner.name!r} belongs to more than one group")
        if runner.runner_type != "instance_type" and not used_by[runner.name]:
            raise ValueError(f"runner {runner.name!r} is {runner.runner_type} but unattached")


def _check_branches(
    branches: list[ProtectedBranch],
    where: str,
    usernames: set[str],
    group_paths: dict[str, str],
    deploy_keys: set[str],
) -> None:
    seen: set[str] = set()
    for branch in branches:
        if branch.name in seen:
            raise ValueError(f"duplicate protected branch {branch.name!r} in {where!r}")
        seen.add(branch.name)
        for entry in (*branch.push, *branch.merge, *branch.unprotect):
            if entry.user is not None and entry.user not in usernames:
                raise ValueError(f"protected branch in {where!r} names unknown user {entry.user!r}")
            if entry.group is not None and entry.group.lower() not in group_paths:
                raise ValueError(
                    f"protected branch in {where!r} names unknown group {entry.group!r}"
                )
            if entry.deploy_key is not None and entry.deploy_key not in deploy_keys:
                raise ValueError(
                    f"protected branch in {where!r} names unknown deploy key {entry.deploy_key!r}"
                )


def _unique_variables(variables: list[Variable], where: str) -> None:
    seen: set[tuple[str, str]] = set()
    for var in variables:
        ident = (var.key, var.environment_scope)
        if ident in seen:
            raise ValueError(f"duplicate variable {var.key!r} in {where!r}")
        seen.add(ident)


class _Ids:
    """Per-kind id sequences that skip ids the file fixed explicitly."""

    def __init__(self) -> None:
        self._taken: dict[str, set[int]] = {}
        self._next: dict[str, int] = {}

    def reserve(self, kind: str, value: int | None) -> None:
        if value is None:
            return
        taken = self._taken.setdefault(kind, set())
        if value in taken:
            raise ValueError(f"duplicate {kind} id {value}")
        taken.add(value)

    def take(self, kind: str, value: int | None) -> int:
        if value is not None:
            return value
        taken = self._taken.setdefault(kind, set())
        candidate = self._next.get(kind, 1)
        while candidate in taken:
            candidate += 1
        taken.add(candidate)
        self._next[kind] = candidate + 1
        return candidate


def _id_holders(instance: Instance) -> Iterator[tuple[str, Any]]:
    """Every object with an `id`, with its id kind, in declaration order."""
    for user in instance.users.all():
        yield "user", user
    for runner in instance.runners:
        yield "runner", runner
    for group, _parent, _full in instance.walk_groups():
        yield "group", group
        yield from _owned_holders(group)
        for project in group.projects:
            yield "project", project
            yield from _owned_holders(project)


def _owned_holders(owner: Group | Project) -> Iterator[tuple[str, Any]]:
    for hook in owner.hooks:
        yield "hook", hook
    branches = (
        owner.effective_protected_branches()
        if isinstance(owner, Project)
        else owner.protected_branches
    )
    if isinstance(owner, Project) and owner.protected_branches is None:
        owner.protected_branches = branches  # materialise the default so its ids stick
    for branch in branches:
        yield "protected_branch", branch
        for entry in (*branch.push, *branch.merge, *branch.unprotect):
            yield "branch_access", entry
    for token in owner.deploy_tokens:
        yield "deploy_token", token
    for token in owner.access_tokens:
        yield "access_token", token
    if isinstance(owner, Project):
        for key in owner.deploy_keys:
            yield "deploy_key", key
        for rule in owner.approval_rules:
            yield "approval_rule", rule


def _assign_ids(instance: Instance) -> None:
    holders = list(_id_holders(instance))
    ids = _Ids()
    for kind, obj in holders:
        ids.reserve(kind, obj.id)
    for kind, obj in holders:
        obj.id = ids.take(kind, obj.id)
    # GitLab always has a (registration) runners token; a fake one stands in when omitted.
    for group, _parent, full in instance.walk_groups():
        group._full_path = full
        if group.name is None:
            group.name = _title(group.path)
        if group.runners_token is None:
            group.runners_token = f"fake-runners-token-group-{group.id}-EXAMPLE"
    for project, _group, full in instance.walk_projects():
        project._full_path = full
        if project.name is None:
            project.name = _title(project.path)
        if project.runners_token is None:
            project.runners_token = f"fake-runners-token-project-{project.id}-EXAMPLE"


def _title(path: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[-_.]+", path) if part) or path


def id_high_water(instance: Instance) -> dict[str, int]:
    """The largest id in use per kind (groups, projects, hooks, ...) of a finalized instance.

    Why: objects created through the API take ids above these, so an id is never handed out
    twice, even after its object was deleted, as in GitLab.
    """
    high: dict[str, int] = {}
    for kind, obj in _id_holders(instance):
        if obj.id is not None:
            high[kind] = max(high.get(kind, 0), obj.id)
    return high
