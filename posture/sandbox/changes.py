"""One write in progress: a private copy of the instance, the audit events it will record,
and the commit that makes both visible at once.

Why a copy: GET requests keep reading the catalog and router they started with while a
write prepares its change. Only when the changed instance passed the loader's own checks
(`finalize`) is a new catalog and router swapped in, with fresh answer caches, so a client
sees the old state or the new one, never a mix and never a stale cached answer.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from posture.sandbox.audit import Author, Entity, Pending, Target
from posture.sandbox.instance import InstanceError, finalize, id_high_water
from posture.sandbox.routes import HttpError, Request, Response, Router, dumps

if TYPE_CHECKING:
    from posture.sandbox.audit import AuditLog
    from posture.sandbox.catalog import Catalog, GroupNode, ProjectNode
    from posture.sandbox.instance import (
        BranchAccess,
        Group,
        Instance,
        Project,
        ProtectedBranch,
        Runner,
    )
    from posture.sandbox.params import Params

VISIBILITY_RANK = {"private": 0, "internal": 10, "public": 20}
LEVEL_NAMES = {"private": "Private", "internal": "Internal", "public": "Public"}
ACCEPTED = {"message": "202 Accepted"}
NOT_FOUND = {"message": "404 Not found"}


class Host(Protocol):
    """What a write needs from the sandbox: the live router, a way to install a new
    instance, the audit log, and whether unaudited writes get sandbox events."""

    audit_log: AuditLog
    audit_untracked_writes: bool

    @property
    def router(self) -> Router: ...

    def install(self, instance: Instance) -> Router: ...


class IdSequence:
    """New ids above every id ever used, per kind (GitLab never reuses an id)."""

    def __init__(self) -> None:
        self._high: dict[str, int] | None = None
        self._lock = threading.Lock()

    def next(self, instance: Instance, kind: str) -> int:
        with self._lock:
            if self._high is None:
                self._high = id_high_water(instance)
            self._high[kind] = self._high.get(kind, 0) + 1
            return self._high[kind]


class Change:
    """A write being prepared against the router that was live when it started."""

    def __init__(
        self, host: Host, ids: IdSequence, request: Request, params: Params, router: Router
    ) -> None:
        self.host = host
        self.ids = ids
        self.request = request
        self.params = params
        self.router = router
        self.catalog: Catalog = router.catalog
        self.flavor = router.flavor
        self._draft: Instance | None = None
        self._groups: dict[int, tuple[Group, Group | None]] = {}
        self._projects: dict[int, tuple[Project, Group]] = {}
        self._runners: set[int] = set()
        self.events: list[Pending] = []

    # --- who is asking ------------------------------------------------------------------

    @property
    def viewer(self) -> str:
        return self.request.viewer

    @property
    def is_admin(self) -> bool:
        return self.request.viewer == "admin"

    def project_level(self, node: ProjectNode) -> int:
        return self.catalog.project_level(self.viewer, node)

    def group_level(self, node: GroupNode) -> int:
        return self.catalog.group_level(self.viewer, node)

    def need(self, level: int, minimum: int) -> None:
        if level < minimum:
            raise HttpError(403, {"message": "403 Forbidden"})

    # --- the private copy (copy on write) ------------------------------------------------

    @property
    def draft(self) -> Instance:
        """The instance this write builds: shares every object with the live one until a
        handler asks for a private copy with `project()`, `group()` or `runner()`.

        Why not one deep copy: on a 5,000-project instance it costs over a second per
        write; copying the path from the root to what changes costs microseconds. Shared
        objects are never mutated, so GETs on the live state are unaffected.
        """
        if self._draft is None:
            live = self.catalog.instance
            draft = _shallow(live)
            draft.groups = list(live.groups)
            draft.runners = list(live.runners)
            self._draft = draft
        return self._draft

    def group(self, group_id: int) -> Group:
        """A private copy of a group (and of the groups above it), safe to mutate."""
        owned = self._groups.get(group_id)
        if owned is not None:
            return owned[0]
        node = self.catalog.groups[group_id]
        chain = [*reversed(node.ancestors()), node]
        siblings = self.draft.groups
        parent: Group | None = None
        for step in chain:
            mine = self._groups.get(step.id)
            if mine is None:
                index = next(i for i, g in enumerate(siblings) if g.id == step.id)
                copy = _own_group(siblings[index])
                siblings[index] = copy
                mine = (copy, parent)
                self._groups[step.id] = mine
            parent = mine[0]
            siblings = parent.subgroups
        assert parent is not None
        return parent

    def project(self, project_id: int) -> Project:
        """A private copy of a project, safe to mutate (its group is copied too)."""
        owned = self._projects.get(project_id)
        if owned is not None:
            return owned[0]
        node = self.catalog.projects[project_id]
        group = self.group(node.group.id)
        index = next(i for i, p in enumerate(group.projects) if p.id == project_id)
        copy = deep_copy(group.projects[index])
        group.projects[index] = copy
        self._projects[project_id] = (copy, group)
        return copy

    def project_group(self, project_id: int) -> Group:
        """The (private) group holding a project, once `project()` was called for it."""
        self.project(project_id)
        return self._projects[project_id][1]

    def move_project(self, project_id: int, destination: Group) -> None:
        """Record that a project now lives in another (private) group."""
        project = self.project(project_id)
        self._projects[project_id] = (project, destination)

    def runner(self, runner_id: int) -> Runner:
        """A private copy of a runner, safe to mutate."""
        runners = self.draft.runners
        index = next(i for i, r in enumerate(runners) if r.id == runner_id)
        if runner_id not in self._runners:
            runners[index] = deep_copy(runners[index])
            self._runners.add(runner_id)
        return runners[index]

    def new_id(self, kind: str) -> int:
        return self.ids.next(self.catalog.instance, kind)

    # --- audit events -------------------------------------------------------------------

    def record(self, *events: Pending) -> None:
        """Events GitLab records for this write."""
        self.events.extend(events)

    def record_untracked(self, *events: Pending) -> None:
        """Events for writes GitLab does not audit (sandbox_* names), when enabled."""
        if self.host.audit_untracked_writes:
            self.events.extend(events)

    def project_entity(self, project_id: int, full_path: str) -> Entity:
        return Entity("Project", project_id, full_path)

    def project_target(self, project_id: int, full_path: str) -> Target:
        return Target("Project", project_id, full_path)

    # --- commit -------------------------------------------------------------------------

    def commit(self) -> Router:
        """Check the changed instance, record its events, and install it; the new router."""
        draft = self.draft
        try:
            finalize(draft, source="change")
        except InstanceError as exc:
            # The loader's checks speak of the instance file; here they are model errors.
            reason = str(exc).removeprefix("change: ")
            raise HttpError(400, {"message": {"base": [reason]}}) from None
        if self.events and self.flavor.premium:
            # Audit events are a Premium feature: GitLab saves none without the licence.
            identity = self.request.identity
            assert identity is not None
            self.host.audit_log.record(Author(identity.user, self.request.client_ip), self.events)
        return self.host.install(draft)

    # --- answers ------------------------------------------------------------------------

    def get(self, router: Router, *segments: str, status: int = 200) -> Response:
        """The resource as the matching GET serialises it, from the new state."""
        request = Request("GET", segments, {}, self.request.url, self.request.identity)
        response, _endpoint = router.handle(request)
        if response.status != 200:
            return response
        return Response(status, response.body)

    @staticmethod
    def json(obj: Any, status: int = 200) -> Response:
        return Response(status, dumps(obj))

    @staticmethod
    def no_content() -> Response:
        return Response(204, b"")


def rewrite_paths(change: Change, old: str, new: str) -> None:
    """Follow a renamed or moved group or project in every reference that names it by path.

    The instance description refers to groups and projects by full path (fork sources,
    shares, approvers, branch access); GitLab refers by id, so a rename keeps them. Only the
    objects that hold such a reference are copied.
    """
    old_low = old.lower()

    def swap(ref: str) -> str:
        low = ref.lower()
        if low == old_low:
            return new
        if low.startswith(old_low + "/"):
            return new + ref[len(old) :]
        return ref

    def stale(ref: str | None) -> bool:
        return ref is not None and swap(ref) != ref

    def entries(branches: list[ProtectedBranch]) -> list[BranchAccess]:
        return [e for b in branches for e in (*b.push, *b.merge, *b.unprotect)]

    groups, projects = [], []
    for group, _parent, _full in change.draft.walk_groups():
        if any(stale(e.group) for e in entries(group.protected_branches)):
            groups.append(group.id or 0)
        for project in group.projects:
            refs = [
                project.forked_from,
                *(link.group for link in project.shared_with_groups),
                *(g for rule in project.approval_rules for g in rule.groups),
                *(e.group for e in entries(project.protected_branches or [])),
            ]
            if any(stale(ref) for ref in refs):
                projects.append(project.id or 0)
    for group_id in groups:
        for entry in entries(change.group(group_id).protected_branches):
            entry.group = swap(entry.group) if entry.group else entry.group
    for project_id in projects:
        project = change.project(project_id)
        project.forked_from = swap(project.forked_from) if project.forked_from else None
        for link in project.shared_with_groups:
            link.group = swap(link.group)
        for rule in project.approval_rules:
            rule.groups = [swap(g) for g in rule.groups]
        for entry in entries(project.protected_branches or []):
            entry.group = swap(entry.group) if entry.group else entry.group


_new = object.__new__
_set = object.__setattr__


def _shallow(model: Any) -> Any:
    """A new pydantic model object sharing every field value with `model`."""
    copy = _new(model.__class__)
    _set(copy, "__dict__", dict(model.__dict__))
    _set(copy, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    _set(copy, "__pydantic_extra__", model.__pydantic_extra__)
    private = model.__pydantic_private__
    _set(copy, "__pydantic_private__", dict(private) if private is not None else None)
    return copy


def deep_copy(value: Any) -> Any:
    """A deep copy of models, lists and dicts (leaves are immutable); several times faster
    than `copy.deepcopy`, which a sandbox write would otherwise spend most of its time in."""
    if isinstance(value, BaseModel):
        copy = _shallow(value)
        _set(copy, "__dict__", {k: deep_copy(v) for k, v in value.__dict__.items()})
        return copy
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    return value


def _own_group(group: Group) -> Group:
    """A copy of a group whose own settings are private and whose lists of subgroups and
    projects are new lists of the same (shared) objects."""
    copy = _shallow(group)
    for name, value in group.__dict__.items():
        if name in ("subgroups", "projects"):
            copy.__dict__[name] = list(value)
        else:
            copy.__dict__[name] = deep_copy(value)
    return copy


def full_path_of(instance: Instance, group: Group) -> str:
    """A group's full path in the (changed) instance."""
    for candidate, _parent, full in instance.walk_groups():
        if candidate is group:
            return full
    raise KeyError(group.path)


__all__ = [
    "ACCEPTED",
    "LEVEL_NAMES",
    "NOT_FOUND",
    "VISIBILITY_RANK",
    "Change",
    "Host",
    "IdSequence",
    "full_path_of",
    "rewrite_paths",
]
