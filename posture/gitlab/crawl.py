"""The walk: scope → group tree → projects → per-resource sections, on a bounded thread pool.

Only this module decides *what* to request; ``client`` decides *how*. Each request is made
once per crawl: group and project records come from listings (which already carry the
fields we need), and each runner is fetched once however many projects use it.

Failures are recorded, not raised: a section that GitLab refused or that failed after
retries becomes a non-``ok`` :class:`~posture.snapshot.Section`, so the rest of the crawl
goes on and rules later report ``unknown``. Only problems that make the whole crawl
meaningless (bad token, unreachable host, unknown group) raise.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from posture import __version__
from posture.errors import AuthenticationError, GitLabConnectionError, NotFoundError
from posture.gitlab import collect
from posture.gitlab.client import ApiError, GitLabClient, encode_id
from posture.progress import Progress
from posture.snapshot import (
    CollectionError,
    Group,
    Instance,
    Meta,
    Project,
    Runner,
    RunStats,
    Scope,
    Section,
    Snapshot,
    Status,
    TokenInfo,
)

log = logging.getLogger("posture.crawl")

T = TypeVar("T")

#: Endpoints that exist only on Premium/Ultimate (EE). GitLab answers them 403 on an
#: unlicensed EE and 404 on CE; either way the feature is unavailable, not "empty".
PREMIUM_SECTIONS = frozenset(
    {
        "group.webhooks",
        "group.protected_branches",
        "group.approval_settings",
        "project.approval_settings",
        "project.approval_rules",
    }
)


@dataclass(frozen=True)
class SectionSource:
    """Where one section comes from: ``GET {entity}/{endpoint}``, parsed by ``parse``."""

    name: str  # the attribute on Group/Project
    endpoint: str
    parse: Callable[[Any], Any]
    listing: bool = True  # paginated list, or a single object


GROUP_SOURCES: tuple[SectionSource, ...] = (
    SectionSource("variables", "variables", collect.variables),
    SectionSource("webhooks", "hooks", collect.webhooks),
    SectionSource(
        "approval_settings",
        "merge_request_approval_setting",
        collect.group_approval_settings,
        listing=False,
    ),
    SectionSource("deploy_tokens", "deploy_tokens", collect.deploy_tokens),
    SectionSource("access_tokens", "access_tokens", collect.access_tokens),
)
TOP_GROUP_BRANCHES = SectionSource(
    "protected_branches", "protected_branches", collect.protected_branches
)
#: Project sections read from their own endpoint (``ci_settings`` comes from the listing,
#: ``runners`` also schedules runner detail fetches).
PROJECT_SOURCES: tuple[SectionSource, ...] = (
    SectionSource("protected_branches", "protected_branches", collect.protected_branches),
    SectionSource("approval_settings", "approvals", collect.approval_settings, listing=False),
    SectionSource("approval_rules", "approval_rules", collect.approval_rules),
    SectionSource("variables", "variables", collect.variables),
    SectionSource("webhooks", "hooks", collect.webhooks),
    SectionSource("deploy_keys", "deploy_keys", collect.deploy_keys),
    SectionSource("deploy_tokens", "deploy_tokens", collect.deploy_tokens),
    SectionSource("access_tokens", "access_tokens", collect.access_tokens),
    SectionSource("job_token_scope", "job_token_scope", collect.job_token_scope, listing=False),
)


def _typed(value: Any, kind: type) -> Any:
    """The value if GitLab sent the expected JSON type, else None (unknown)."""
    if kind is int and isinstance(value, bool):
        return None
    return value if isinstance(value, kind) else None


@dataclass(frozen=True)
class CrawlOptions:
    groups: tuple[str, ...] = ()
    all_groups: bool = False
    workers: int = 8
    #: Collect only these sections ("project.variables", "group.webhooks", …); None: all.
    #: A baseline-driven crawl passes what its enabled rules need (issue 8).
    sections: frozenset[str] | None = None
    #: (index, total), 1-based: crawl the projects with ``id % total == index - 1`` only.
    #: Groups, the instance and the runners those projects use follow the rules in
    #: docs/performance.md ("Sharding"). None: everything.
    shard: tuple[int, int] | None = None


@dataclass
class _Tree:
    """Groups in scope, keyed by id, and the roots whose subtrees hold them."""

    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    roots: list[dict[str, Any]] = field(default_factory=list)
    #: False when the scope listing already returned every subgroup (an admin's /groups).
    expand_roots: bool = True


def _section_from_error(key: str, exc: ApiError) -> Section[Any]:
    """Translate a failed request into how the section was (not) collected."""
    message = exc.message
    if exc.status == 404:
        status = Status.UNAVAILABLE
    elif exc.status == 403:
        if key in PREMIUM_SECTIONS:
            status = Status.UNAVAILABLE
            message = f"{message} (a Premium feature on this instance's tier, or role too low)"
        else:
            status = Status.FORBIDDEN
        if getattr(exc, "insufficient_scope", False):
            status = Status.FORBIDDEN
            message = "the token lacks the scope for this endpoint (needs read_api)"
    else:
        status = Status.ERROR
    return Section(status=status, data=None, http_status=exc.status, message=message)


class Crawler:
    """Crawl one GitLab instance into a :class:`Snapshot`."""

    def __init__(
        self,
        client: GitLabClient,
        options: CrawlOptions,
        progress: Progress | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.options = options
        self.progress = progress
        self.clock = clock
        self._runner_lock = threading.Lock()
        self._runner_futures: dict[int, Future[Runner]] = {}
        self._runner_listing: dict[int, dict[str, Any]] = {}
        self._pool: ThreadPoolExecutor | None = None

    # -- plumbing -------------------------------------------------------------------

    def _section(self, key: str, fetch: Callable[[], T]) -> Section[T]:
        try:
            return Section(status=Status.OK, data=fetch())
        except ApiError as exc:
            log.debug("%s: %s", key, exc)
            return _section_from_error(key, exc)

    def _advance(self, kind: str) -> None:
        if self.progress is not None:
            self.progress.advance(kind)
            stats = self.client.stats
            self.progress.set_stats(stats.total, stats.rate_limit_wait_seconds)

    # -- preflight ------------------------------------------------------------------

    def _preflight(self) -> tuple[dict[str, Any], TokenInfo]:
        """Identify the server and the token; fail fast with a one-line reason."""
        try:
            metadata = self.client.get("/metadata")
        except ApiError as exc:
            if exc.status is None:
                raise GitLabConnectionError(exc.message) from None
            if exc.status in (403, 404):  # older GitLab, or a scope without metadata
                try:
                    metadata = self.client.get("/version")
                except ApiError:
                    metadata = {}
            else:
                raise GitLabConnectionError(
                    f"{self.client.base_url} did not answer like GitLab's API: {exc}"
                ) from None
        if not isinstance(metadata, dict):
            raise GitLabConnectionError(
                f"{self.client.base_url} did not answer like GitLab's API (is the URL right?)"
            )

        try:
            user = self.client.get("/user")
        except ApiError as exc:
            if getattr(exc, "insufficient_scope", False):
                raise AuthenticationError(
                    "the token lacks the read_api scope: create one with read_api (api also works)"
                ) from None
            raise GitLabConnectionError(f"cannot read the token's user: {exc}") from None
        scopes: list[str] | None = None
        token_name = expires = None
        try:
            me = self.client.get("/personal_access_tokens/self")
            if isinstance(me, dict):
                scopes = sorted(s for s in me.get("scopes") or [] if isinstance(s, str))
                token_name = me.get("name")
                expires = me.get("expires_at")
        except ApiError as exc:
            log.debug("token scopes not readable: %s", exc)
        if scopes is not None and not {"api", "read_api"} & set(scopes):
            raise AuthenticationError(
                f"the token lacks the read_api scope (it has: {', '.join(scopes) or 'none'}); "
                "create one with read_api"
            )
        token = TokenInfo(
            user_id=user.get("id"),
            username=user.get("username"),
            is_admin=user.get("is_admin") is True,
            bot=user.get("bot") is True,
            scopes=scopes,
            token_name=token_name if isinstance(token_name, str) else None,
            token_expires_at=expires if isinstance(expires, str) else None,
        )
        return metadata, token

    # -- scope ----------------------------------------------------------------------

    def _suggest(self, path: str) -> str:
        """Did-you-mean from the groups the token can see next to the one asked for.

        GitLab's ``search`` does not forgive typos, so compare against the siblings (the
        parent's subgroups) or, for a top-level path, the visible top-level groups.
        """
        parent = path.rstrip("/").rpartition("/")[0]
        if parent:
            where, params = f"/groups/{encode_id(parent)}/subgroups", {"per_page": 100}
        else:
            where, params = "/groups", {"top_level_only": "true", "per_page": 100}
        try:
            candidates = self.client.get(where, params)
        except ApiError:
            return ""
        paths = [g.get("full_path", "") for g in candidates or [] if isinstance(g, dict)]
        close = difflib.get_close_matches(path, paths, n=3, cutoff=0.6)
        return f"; did you mean: {', '.join(close)}?" if close else ""

    def _resolve_group(self, path: str) -> dict[str, Any]:
        try:
            group = self.client.get(f"/groups/{encode_id(path)}", {"with_projects": "false"})
        except ApiError as exc:
            if exc.status == 404:
                raise NotFoundError(
                    f"group '{path}' not found or not visible to this token{self._suggest(path)}"
                ) from None
            if exc.status is None:
                raise GitLabConnectionError(exc.message) from None
            raise NotFoundError(f"cannot read group '{path}': {exc}") from None
        return group

    def _scope_tree(self, is_admin: bool) -> _Tree:
        tree = _Tree()
        if self.options.all_groups:
            # Admins see every group in one listing; others see their memberships, whose
            # subgroups we then list from each membership root.
            for group in self._list_or_fail("/groups", {"order_by": "id", "sort": "asc"}):
                tree.groups[group["id"]] = group
            roots = [g for g in tree.groups.values() if g.get("parent_id") not in tree.groups]
            tree.roots = sorted(roots, key=lambda g: g["id"])
            tree.expand_roots = not is_admin
        else:
            requested = [self._resolve_group(p) for p in self.options.groups]
            paths = sorted({g["full_path"] for g in requested})
            # acme and acme/platform both asked: acme's subtree already covers acme/platform.
            keep = [
                g for g in requested if not any(g["full_path"].startswith(p + "/") for p in paths)
            ]
            unique = {g["id"]: g for g in keep}
            tree.roots = [unique[k] for k in sorted(unique)]
            for group in tree.roots:
                tree.groups[group["id"]] = group
        for root in tree.roots if tree.expand_roots else []:
            for group in self._list_or_fail(
                f"/groups/{root['id']}/descendant_groups", {"order_by": "id", "sort": "asc"}
            ):
                tree.groups.setdefault(group["id"], group)
        return tree

    def _list_or_fail(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Listings that define the scope must succeed: a partial tree would pass silently."""
        try:
            return self.client.list(path, params)
        except ApiError as exc:
            if exc.status is None:
                raise GitLabConnectionError(exc.message) from None
            if exc.status == 403 and getattr(exc, "insufficient_scope", False):
                raise AuthenticationError("the token lacks the read_api scope") from None
            raise GitLabConnectionError(f"cannot list the crawl scope: {exc}") from None

    def _iter_projects(self, roots: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        seen: set[int] = set()
        for root in roots:
            params = {
                "include_subgroups": "true",
                "with_shared": "false",
                "order_by": "id",
                "sort": "asc",
            }
            try:
                for project in self.client.iter_list(f"/groups/{root['id']}/projects", params):
                    if project["id"] not in seen:
                        seen.add(project["id"])
                        yield project
            except ApiError as exc:
                if exc.status is None:
                    raise GitLabConnectionError(exc.message) from None
                raise GitLabConnectionError(
                    f"cannot list projects of {root.get('full_path')}: {exc}"
                ) from None

    # -- instance, groups, projects, runners -----------------------------------------------

    def _instance(self, is_admin: bool) -> Instance:
        if not is_admin:
            why = "requires an administrator token"
            return Instance(
                settings=Section(status=Status.FORBIDDEN, message=why),
                variables=Section(status=Status.FORBIDDEN, message=why),
            )
        return Instance(
            settings=self._section(
                "instance.settings",
                lambda: collect.instance_settings(self.client.get("/application/settings")),
            ),
            variables=self._section(
                "instance.variables",
                lambda: collect.variables(self.client.list("/admin/ci/variables"), scoped=False),
            ),
        )

    def _read(self, path: str, parse: Callable[[Any], Any], listing: bool) -> Any:
        return parse(self.client.list(path) if listing else self.client.get(path))

    def _sections(
        self, kind: str, base: str, table: tuple[SectionSource, ...]
    ) -> dict[str, Section[Any]]:
        """Fetch each section of one group or project, in table order."""
        return {
            src.name: self._section(
                f"{kind}.{src.name}",
                lambda src=src: self._read(f"{base}/{src.endpoint}", src.parse, src.listing),
            )
            for src in table
        }

    def _group(self, raw: dict[str, Any]) -> Group:
        gid = raw["id"]
        sections = self._sections("group", f"/groups/{gid}", GROUP_SOURCES)
        if raw.get("parent_id") is not None:
            # GitLab restricts group-level protected branches to top-level groups
            # (doc/api/group_protected_branches.md): a subgroup has none, by definition.
            sections["protected_branches"] = Section(status=Status.OK, data=[])
        else:
            sections.update(self._sections("group", f"/groups/{gid}", (TOP_GROUP_BRANCHES,)))
        group = Group(
            id=gid,
            full_path=raw["full_path"],
            name=raw.get("name"),
            web_url=raw.get("web_url"),
            parent_id=raw.get("parent_id"),
            visibility=raw.get("visibility"),
            **sections,
        )
        self._advance("groups")
        return group

    def _project(self, raw: dict[str, Any]) -> Project:
        pid = raw["id"]
        base = f"/projects/{pid}"
        if collect.has_ci_settings(raw):
            ci = Section(status=Status.OK, data=collect.ci_settings(raw))
        else:
            ci = Section(
                status=Status.FORBIDDEN,
                message="GitLab shows CI settings only to users who can administer the project",
            )
        sections = self._sections("project", base, PROJECT_SOURCES)
        sections["runners"] = self._section(
            "project.runners",
            lambda: collect.runner_refs(
                self._remember_runners(self.client.list(f"{base}/runners"))
            ),
        )
        branches = sections["protected_branches"]
        namespace = raw.get("namespace") or {}
        project = Project(
            id=pid,
            path_with_namespace=raw["path_with_namespace"],
            name=raw.get("name"),
            web_url=raw.get("web_url"),
            namespace_id=namespace.get("id"),
            namespace_full_path=namespace.get("full_path"),
            namespace_kind=namespace.get("kind"),
            visibility=raw.get("visibility"),
            archived=raw.get("archived") is True,
            empty_repo=_typed(raw.get("empty_repo"), bool),
            default_branch=raw.get("default_branch"),
            topics=sorted({t for t in raw.get("topics") or [] if isinstance(t, str)}),
            forked_from=collect.fork_parent(raw),
            shared_with_groups=collect.shared_with_groups(raw),
            public_jobs=_typed(raw.get("public_jobs"), bool),
            shared_runners_enabled=_typed(raw.get("shared_runners_enabled"), bool),
            approvals_before_merge=_typed(raw.get("approvals_before_merge"), int),
            ci_settings=ci,
            default_branch_protection=collect.default_branch_protection(
                raw.get("default_branch"), branches.data
            )
            if branches.ok and branches.data is not None
            else None,
            **sections,
        )
        self._advance("projects")
        return project

    def _remember_runners(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Schedule each runner's detail fetch the first time any project lists it."""
        items = list(items)
        assert self._pool is not None
        with self._runner_lock:
            for item in items:
                rid = item.get("id")
                if isinstance(rid, int) and rid not in self._runner_futures:
                    self._runner_listing[rid] = item
                    self._runner_futures[rid] = self._pool.submit(self._runner, rid, item)
        return items

    def _runner(self, rid: int, listing: dict[str, Any]) -> Runner:
        return Runner(
            id=rid,
            description=listing.get("description"),
            name=listing.get("name"),
            runner_type=listing.get("runner_type"),
            is_shared=listing.get("is_shared")
            if isinstance(listing.get("is_shared"), bool)
            else None,
            paused=collect.runner_paused(listing),
            details=self._section(
                "runner.details",
                lambda: collect.runner_details(self.client.get(f"/runners/{rid}")),
            ),
        )

    # -- the whole crawl ------------------------------------------------------------------

    def run(self) -> Snapshot:
        started = self.clock()
        metadata, token = self._preflight()
        tree = self._scope_tree(token.is_admin)
        if self.progress is not None:
            self.progress.set_total("groups", len(tree.groups))

        pool = ThreadPoolExecutor(
            max_workers=max(1, self.options.workers), thread_name_prefix="posture-crawl"
        )
        self._pool = pool
        try:
            group_futures = [pool.submit(self._group, tree.groups[k]) for k in sorted(tree.groups)]
            instance_future = pool.submit(self._instance, token.is_admin)
            project_futures = [
                pool.submit(self._project, raw) for raw in self._iter_projects(tree.roots)
            ]
            if self.progress is not None:
                self.progress.set_total("projects", len(project_futures))
            groups = [f.result() for f in group_futures]
            projects = [f.result() for f in project_futures]
            instance = instance_future.result()
            # Runner fetches are scheduled by project tasks, all of which are done now.
            with self._runner_lock:
                runner_futures = dict(self._runner_futures)
            runners = [runner_futures[k].result() for k in sorted(runner_futures)]
        except BaseException:
            # A revoked token or an interrupt: do not send the queued requests anyway.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            self._pool = None
        pool.shutdown(wait=True)

        finished = self.clock()
        snapshot = Snapshot(
            meta=Meta(
                tool_version=__version__,
                gitlab_url=self.client.base_url,
                gitlab_version=metadata.get("version"),
                gitlab_revision=metadata.get("revision"),
                gitlab_enterprise=metadata.get("enterprise")
                if isinstance(metadata.get("enterprise"), bool)
                else None,
                token=token,
                scope=Scope(groups=sorted(self.options.groups), all_groups=self.options.all_groups),
                complete=True,
                errors=[],
                run=self._run_stats(started, finished),
            ),
            instance=instance,
            groups=sorted(groups, key=lambda g: g.id),
            projects=sorted(projects, key=lambda p: p.id),
            runners=runners,
        )
        errors = [
            CollectionError(
                target=target,
                section=name,
                status=section.status,
                http_status=section.http_status,
                message=section.message,
            )
            for target, name, section in snapshot.sections()
            if section.status is Status.ERROR
        ]
        snapshot.meta.errors = errors
        snapshot.meta.complete = not errors
        return snapshot

    def _run_stats(self, started: datetime, finished: datetime) -> RunStats:
        stats = self.client.stats.snapshot()
        return RunStats(
            started_at=started,
            finished_at=finished,
            duration_seconds=round((finished - started).total_seconds(), 3),
            requests_total=stats.get("total", 0),
            requests_by_endpoint=stats.get("by_endpoint", {}),
            attempts=stats.get("attempts", 0),
            retries=stats.get("retries", 0),
            rate_limited=stats.get("rate_limited", 0),
            rate_limit_wait_seconds=round(stats.get("rate_limit_wait_seconds", 0.0), 3),
        )
