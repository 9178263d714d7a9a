"""The catalog: an instance resolved into lookup tables, roles and visibility.

Why: every request needs "what is group 12, who may see it, what is under it". Computing that
once at start keeps request handling to dictionary lookups, so the server is never the
bottleneck of a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from posture.sandbox.instance import ROLE_LEVELS

if TYPE_CHECKING:
    from posture.sandbox.instance import (
        DeployKey,
        Group,
        Instance,
        Project,
        ProtectedBranch,
        Runner,
        User,
    )

ADMIN_LEVEL = 60  # the admin is treated as above Owner everywhere
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_NOW = datetime.now(UTC).date().isoformat()


def timestamp(kind_offset: int, ident: int) -> str:
    """A deterministic timestamp that grows with the id: created_at order == id order."""
    moment = _EPOCH + timedelta(minutes=kind_offset + ident)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def is_expired(date: str | None) -> bool:
    """True when an ISO date (or datetime) lies before today."""
    return bool(date) and str(date)[:10] < _NOW


@dataclass(eq=False)
class GroupNode:
    """A group with its place in the tree and the member user's effective role."""

    model: Group
    parent: GroupNode | None
    full_path: str
    depth: int
    level: int  # the "owner" user's effective access level (0 = not a member)
    children: list[GroupNode] = field(default_factory=list)
    projects: list[ProjectNode] = field(default_factory=list)
    shared_projects: list[tuple[ProjectNode, int]] = field(default_factory=list)
    runners: list[RunnerNode] = field(default_factory=list)
    member_below: bool = False

    @property
    def id(self) -> int:
        return self.model.id or 0

    @property
    def full_name(self) -> str:
        names = []
        node: GroupNode | None = self
        while node is not None:
            names.append(node.model.name or node.model.path)
            node = node.parent
        return " / ".join(reversed(names))

    @property
    def top(self) -> GroupNode:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def ancestors(self) -> list[GroupNode]:
        """Parent first, top-level last."""
        out = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def descendants(self) -> list[GroupNode]:
        """All groups below, depth first in declaration order."""
        out: list[GroupNode] = []
        for child in self.children:
            out.append(child)
            out.extend(child.descendants())
        return out


@dataclass(eq=False)
class ProjectNode:
    """A project with its group, sharing, fork source and the member user's role."""

    model: Project
    group: GroupNode
    full_path: str
    level: int
    shared_with: list[tuple[GroupNode, int]] = field(default_factory=list)
    fork_source: ProjectNode | None = None
    runners: list[RunnerNode] = field(default_factory=list)
    deploy_keys: dict[str, DeployKey] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.model.id or 0

    @property
    def name_with_namespace(self) -> str:
        return f"{self.group.full_name} / {self.model.name}"

    def branches(self) -> list[ProtectedBranch]:
        return self.model.effective_protected_branches()


@dataclass(eq=False)
class RunnerNode:
    """A runner with the groups or projects it is attached to."""

    model: Runner
    groups: list[GroupNode] = field(default_factory=list)
    projects: list[ProjectNode] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.model.id or 0

    @property
    def runner_type(self) -> str:
        return self.model.runner_type or "instance_type"


class Catalog:
    """Lookup tables over one instance; read-only after construction."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.users: dict[str, User] = {u.username: u for u in instance.users.all()}
        self.users_by_id: dict[int, User] = {u.id or 0: u for u in instance.users.all()}
        self.groups: dict[int, GroupNode] = {}
        self.group_paths: dict[str, GroupNode] = {}
        self.projects: dict[int, ProjectNode] = {}
        self.project_paths: dict[str, ProjectNode] = {}
        self.runners: dict[int, RunnerNode] = {}
        self.runner_names: dict[str, RunnerNode] = {}
        for runner in instance.runners:
            node = RunnerNode(runner)
            self.runners[node.id] = node
            self.runner_names[runner.name] = node
        for top in instance.groups:
            self._add_group(top, None, "", 1)
        self._link()
        self.groups_in_order = sorted(self.groups.values(), key=lambda g: g.id)
        self.projects_in_order = sorted(self.projects.values(), key=lambda p: p.id)

    def _add_group(self, group: Group, parent: GroupNode | None, prefix: str, depth: int) -> None:
        full = f"{prefix}/{group.path}" if prefix else group.path
        if group.member_role is not None:
            level = ROLE_LEVELS[group.member_role]
        else:
            level = parent.level if parent is not None else ROLE_LEVELS["owner"]
        node = GroupNode(group, parent, full, depth, level)
        self.groups[node.id] = node
        self.group_paths[full.lower()] = node
        if parent is not None:
            parent.children.append(node)
        for project in group.projects:
            plevel = ROLE_LEVELS[project.member_role] if project.member_role else level
            pnode = ProjectNode(project, node, f"{full}/{project.path}", plevel)
            pnode.deploy_keys = {k.title: k for k in project.deploy_keys}
            node.projects.append(pnode)
            self.projects[pnode.id] = pnode
            self.project_paths[pnode.full_path.lower()] = pnode
        for sub in group.subgroups:
            self._add_group(sub, node, full, depth + 1)

    def _link(self) -> None:
        for pnode in self.projects.values():
            project = pnode.model
            if project.forked_from:
                pnode.fork_source = self.project_paths[project.forked_from.lower()]
            for link in project.shared_with_groups:
                gnode = self.group_paths[link.group.lower()]
                pnode.shared_with.append((gnode, link.access_level))
                gnode.shared_projects.append((pnode, link.access_level))
                if project.member_role is None:
                    pnode.level = max(pnode.level, min(gnode.level, link.access_level))
            for name in project.runners:
                rnode = self.runner_names[name]
                pnode.runners.append(rnode)
                rnode.projects.append(pnode)
        for gnode in self.groups.values():
            for name in gnode.model.runners:
                rnode = self.runner_names[name]
                gnode.runners.append(rnode)
                rnode.groups.append(gnode)
        # A member of something below can see the groups above it (GitLab shows ancestors).
        for pnode in self.projects.values():
            if pnode.level > 0:
                for anc in [pnode.group, *pnode.group.ancestors()]:
                    anc.member_below = True
        for gnode in self.groups.values():
            if gnode.level > 0:
                for anc in gnode.ancestors():
                    anc.member_below = True

    # --- lookups -------------------------------------------------------------------------

    def find_group(self, ident: str) -> GroupNode | None:
        """By numeric id or full path (case-insensitive), as `:id` in the API."""
        if ident.isdigit():
            return self.groups.get(int(ident))
        return self.group_paths.get(ident.lower())

    def find_project(self, ident: str) -> ProjectNode | None:
        if ident.isdigit():
            return self.projects.get(int(ident))
        return self.project_paths.get(ident.lower())

    # --- roles and visibility (the viewer is "admin" or "owner") --------------------------

    @staticmethod
    def group_level(viewer: str, group: GroupNode) -> int:
        return ADMIN_LEVEL if viewer == "admin" else group.level

    @staticmethod
    def project_level(viewer: str, project: ProjectNode) -> int:
        return ADMIN_LEVEL if viewer == "admin" else project.level

    @staticmethod
    def can_see_group(viewer: str, group: GroupNode) -> bool:
        if viewer == "admin" or group.level > 0 or group.member_below:
            return True
        return group.model.visibility != "private"

    @staticmethod
    def can_see_project(viewer: str, project: ProjectNode) -> bool:
        if viewer == "admin" or project.level > 0:
            return True
        return project.model.visibility != "private"

    def project_runners(self, project: ProjectNode) -> list[RunnerNode]:
        """Runners available to a project: its own, its groups' and allowed instance runners."""
        seen: dict[int, RunnerNode] = {r.id: r for r in project.runners}
        if project.model.group_runners_enabled:
            for anc in [project.group, *project.group.ancestors()]:
                for runner in anc.runners:
                    seen.setdefault(runner.id, runner)
        if project.model.shared_runners_enabled:
            for runner in self.runners.values():
                if runner.runner_type == "instance_type":
                    seen.setdefault(runner.id, runner)
        return sorted(seen.values(), key=lambda r: r.id)

    def group_runners(self, group: GroupNode) -> list[RunnerNode]:
        """Runners available in a group: its and its ancestors' group runners, plus instance."""
        seen: dict[int, RunnerNode] = {}
        for anc in [group, *group.ancestors()]:
            for runner in anc.runners:
                seen.setdefault(runner.id, runner)
        shared = group.model.settings.get("shared_runners_setting", "enabled")
        if shared == "enabled":
            for runner in self.runners.values():
                if runner.runner_type == "instance_type":
                    seen.setdefault(runner.id, runner)
        return sorted(seen.values(), key=lambda r: r.id)

    def can_read_runner(self, viewer: str, runner: RunnerNode) -> bool:
        """doc/api/runners.md "Get runner's details": instance runners for everyone,
        group runners for Maintainers of the group, project runners for project Maintainers."""
        if viewer == "admin" or runner.runner_type == "instance_type":
            return True
        if runner.runner_type == "group_type":
            return any(g.level >= ROLE_LEVELS["maintainer"] for g in runner.groups)
        return any(p.level >= ROLE_LEVELS["maintainer"] for p in runner.projects)

    def owned_runners(self, viewer: str) -> list[RunnerNode]:
        """`GET /runners`: group runners where Owner, project runners where Maintainer."""
        out = []
        for runner in sorted(self.runners.values(), key=lambda r: r.id):
            if runner.runner_type == "instance_type":
                continue
            if viewer == "admin":
                out.append(runner)
            elif runner.runner_type == "group_type":
                if any(g.level >= ROLE_LEVELS["owner"] for g in runner.groups):
                    out.append(runner)
            elif any(p.level >= ROLE_LEVELS["maintainer"] for p in runner.projects):
                out.append(runner)
        return out
