"""The walk: scope → group tree → projects → per-resource sections, on a bounded thread pool.

Only this module decides *what* to request; ``client`` decides *how*. Each request is made
once per crawl: group and project records come from listings (which already carry the
fields we need), and each runner is fetched once however many projects use it.

Failures are recorded, not raised: a section that GitLab refused or that failed after
retries becomes a non-``ok`` :class:`~posture.snapshot.Section`, so the rest of the crawl
goes on and rules later report ``unknown``. Only problems that make the whole crawl
meaningless (bad token, unreachable host, unknown group) raise.

Three options make a large crawl cheaper (docs/performance.md):

* ``sections``: collect only what a baseline's enabled rules read; the rest is recorded as
  ``skipped``, never ``ok``.
* ``shard``: crawl the projects with ``id % total == index - 1``. Shard 1 also collects the
  groups and the instance; the others record the instance as ``skipped`` and carry no groups,
  so ``posture merge`` can put the shards back together.
* For an administrator on GitLab 17.0 or later, each project's runner list is derived from
  one listing of every runner plus each runner's details (fetched once anyway) instead of
  one ``/projects/:id/runners`` per project, when that is fewer requests.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from posture import __version__
from posture.errors import AuthenticationError, ConfigError, GitLabConnectionError, NotFoundError
from posture.gitlab import collect
from posture.gitlab.client import ApiError, GitLabClient, encode_id
from posture.progress import Progress
from posture.snapshot import (
    SKIPPED_MESSAGE,
    CollectionError,
    Group,
    Instance,
    Meta,
    Project,
    Runner,
    RunnerDetails,
    RunnerRef,
    RunStats,
    Scope,
    Section,
    ShardInfo,
    Snapshot,
    Status,
    TokenInfo,
    normalise_sections,
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


#: GitLab release whose project runner listing is known to follow the project's
#: ``shared_runners_enabled`` and ``group_runners_enabled`` (``owned_or_instance_wide`` in
#: app/models/ci/runner.rb, checked against the current source). Older releases listed
#: instance and ancestor-group runners whatever the settings said, and the release that
#: changed it was not pinned down: before this version posture keeps asking each project.
RUNNERS_DERIVED_SINCE = (17, 0)

_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)")


def _typed(value: Any, kind: type) -> Any:
    """The value if GitLab sent the expected JSON type, else None (unknown)."""
    if kind is int and isinstance(value, bool):
        return None
    return value if isinstance(value, kind) else None


def _minor_version(version: Any) -> tuple[int, int] | None:
    match = _VERSION.match(version) if isinstance(version, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _skipped(message: str = SKIPPED_MESSAGE) -> Section[Any]:
    return Section(status=Status.SKIPPED, message=message)


def _is_offset_limit(exc: ApiError) -> bool:
    """GitLab's refusal of offset pages past its limit (50,000 rows): 405, "Offset
    pagination has a maximum allowed offset of 50000 … use keyset pagination"."""
    return exc.status == 405 and "offset" in exc.message.lower()


def check_shard(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    """Validate a (index, total) shard, 1-based; ConfigError names what is wrong."""
    if shard is None:
        return None
    try:
        index, total = shard
    except (TypeError, ValueError):
        raise ConfigError("a shard is INDEX/TOTAL, for example 2/7") from None
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (index, total)):
        raise ConfigError("a shard is two whole numbers INDEX/TOTAL, for example 2/7")
    if total < 1 or not 1 <= index <= total:
        raise ConfigError(f"shard {index}/{total}: INDEX must be between 1 and TOTAL (≥ 1)")
    return index, total


@dataclass(frozen=True)
class CrawlOptions:
    groups: tuple[str, ...] = ()
    all_groups: bool = False
    workers: int = 8
    #: Collect only these sections ("project.variables", "group.webhooks", …); None: all.
    #: A baseline-driven crawl passes what its enabled rules need
    #: (``posture.rules.needs.sections_for``); the others are recorded as ``skipped``.
    sections: frozenset[str] | None = None
    #: (index, total), 1-based: crawl the projects with ``id % total == index - 1`` only.
    #: Shard 1 also collects the groups and the instance; the other shards carry no groups
    #: and a ``skipped`` instance. Runners: those the shard's projects can use. None: all.
    shard: tuple[int, int] | None = None


@dataclass
class _Tree:
    """Groups in scope, keyed by id, and the roots whose subtrees hold them."""

    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    roots: list[dict[str, Any]] = field(default_factory=list)
    #: False when the scope listing already returned every subgroup (an admin's /groups).
    expand_roots: bool = True

    def chain(self, gid: int) -> list[int]:
        """``gid`` and its ancestors, as far up as the scope goes."""
        out: list[int] = []
        node: int | None = gid
        while node is not None and node in self.groups and node not in out:
            out.append(node)
            node = _typed(self.groups[node].get("parent_id"), int)
        return out

    def subtree(self, root_id: int) -> list[int]:
        """Ids of ``root_id`` and every group in scope below it, ascending."""
        out = []
        for gid in sorted(self.groups):
            node: int | None = gid
            while node is not None and node in self.groups and node != root_id:
                node = self.groups[node].get("parent_id")
            if node == root_id:
                out.append(gid)
        return out


@dataclass(frozen=True)
class _RunnerInputs:
    """What deriving a project's runner list needs from its listing record."""

    namespace_id: int | None
    namespace_kind: str | None
    shared_runners_enabled: bool | None
    group_runners_enabled: bool | None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> _RunnerInputs:
        namespace = raw.get("namespace") or {}
        return cls(
            namespace_id=_typed(namespace.get("id"), int),
            namespace_kind=_typed(namespace.get("kind"), str),
            shared_runners_enabled=_typed(raw.get("shared_runners_enabled"), bool),
            group_runners_enabled=_typed(raw.get("group_runners_enabled"), bool),
        )


class CrawlAbandoned(Exception):
    """Raised inside worker tasks once the crawl was abandoned; never reaches the user."""


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
        self.sections = normalise_sections(options.sections)
        self.shard = check_shard(options.shard)
        #: How project runner lists were obtained: "listed", "derived", "skipped" or
        #: "mixed" (derived, with some projects asked). Set by run(); for benchmarks.
        self.runner_mode = "listed"
        self._runner_lock = threading.Lock()
        self._runner_listing: dict[int, dict[str, Any]] = {}
        self._detail_futures: dict[int, Future[Section[RunnerDetails]]] = {}
        self._group_parents: dict[int, int | None] = {}
        self._pool: ThreadPoolExecutor | None = None
        #: Set when the crawl is abandoned (interrupt, fatal error): workers stop before
        #: their next request instead of finishing every section of their project.
        self._stopping = threading.Event()

    # -- plumbing -------------------------------------------------------------------

    def wants(self, key: str) -> bool:
        """Whether section ``key`` ("project.variables") is to be collected."""
        return self.sections is None or key in self.sections

    @property
    def first_shard(self) -> bool:
        """Shard 1 (or no sharding) collects the groups and the instance."""
        return self.shard is None or self.shard[0] == 1

    def in_shard(self, project_id: int) -> bool:
        return self.shard is None or project_id % self.shard[1] == self.shard[0] - 1

    def _section(self, key: str, fetch: Callable[[], T]) -> Section[T]:
        if not self.wants(key):
            return _skipped()
        if self._stopping.is_set():
            raise CrawlAbandoned(key)
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

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        assert self._pool is not None
        return self._pool.submit(fn, *args)

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
            raise self._scope_error(exc, "cannot list the crawl scope") from None

    @staticmethod
    def _scope_error(exc: ApiError, what: str) -> Exception:
        if exc.status is None:
            return GitLabConnectionError(exc.message)
        if exc.status == 403 and getattr(exc, "insufficient_scope", False):
            return AuthenticationError("the token lacks the read_api scope")
        return GitLabConnectionError(f"{what}: {exc}")

    # -- project listings ----------------------------------------------------------------

    def _iter_projects(self, tree: _Tree, is_admin: bool) -> Iterator[dict[str, Any]]:
        """Every project in scope, once, from as few listing requests as GitLab allows."""
        seen: set[int] = set()
        if self.options.all_groups and is_admin:
            source = self._iter_instance_projects(tree)
        else:
            source = (p for root in tree.roots for p in self._iter_root_projects(root, tree))
        for project in source:
            if project["id"] not in seen:
                seen.add(project["id"])
                yield project

    def _iter_instance_projects(self, tree: _Tree) -> Iterator[dict[str, Any]]:
        """An administrator's whole instance: one keyset walk of ``GET /projects``.

        Keyset is the only pagination GitLab offers past its 50,000-row offset limit, and
        one instance-wide listing avoids a partial last page per top-level group. Personal
        projects stay out, as with per-group listings: only projects of the listed groups.
        """
        params = {"pagination": "keyset", "order_by": "id", "sort": "asc"}
        try:
            for project in self.client.iter_list("/projects", params):
                namespace = project.get("namespace") or {}
                if namespace.get("kind") == "group" and namespace.get("id") in tree.groups:
                    yield project
        except ApiError as exc:
            raise self._scope_error(exc, "cannot list the instance's projects") from None

    def _iter_root_projects(self, root: dict[str, Any], tree: _Tree) -> Iterator[dict[str, Any]]:
        """One group's subtree: a single include_subgroups listing, or, when GitLab refuses
        offset pages past 50,000 rows there (it offers no keyset on this endpoint), one
        listing per group of the subtree."""
        params = {
            "include_subgroups": "true",
            "with_shared": "false",
            "order_by": "id",
            "sort": "asc",
        }
        try:
            yield from self.client.iter_list(f"/groups/{root['id']}/projects", params)
            return
        except ApiError as exc:
            if not _is_offset_limit(exc):
                raise self._scope_error(
                    exc, f"cannot list projects of {root.get('full_path')}"
                ) from None
            log.info(
                "%s: GitLab refused offset pages past its limit; listing each of its %d "
                "groups instead",
                root.get("full_path"),
                len(tree.subtree(root["id"])),
            )
        single = {**params, "include_subgroups": "false"}
        for gid in tree.subtree(root["id"]):
            path = tree.groups[gid].get("full_path")
            try:
                yield from self.client.iter_list(f"/groups/{gid}/projects", single)
            except ApiError as exc:
                if _is_offset_limit(exc):
                    raise GitLabConnectionError(
                        f"{path} holds more than 50,000 projects of its own, past GitLab's "
                        "offset pagination limit; crawl it with an administrator token and "
                        "--all (keyset pagination)"
                    ) from None
                raise self._scope_error(exc, f"cannot list projects of {path}") from None

    # -- instance, groups, projects ----------------------------------------------------

    def _instance(self, is_admin: bool) -> Instance:
        def one(key: str, fetch: Callable[[], Any]) -> Section[Any]:
            if not self.first_shard:
                assert self.shard is not None
                return _skipped(f"not collected: shard 1 of {self.shard[1]} collects it")
            if not self.wants(key):
                return _skipped()
            if not is_admin:
                return Section(status=Status.FORBIDDEN, message="requires an administrator token")
            return self._section(key, fetch)

        return Instance(
            settings=one(
                "instance.settings",
                lambda: collect.instance_settings(self.client.get("/application/settings")),
            ),
            variables=one(
                "instance.variables",
                lambda: collect.variables(self.client.list("/admin/ci/variables"), scoped=False),
            ),
        )

    def _read(self, path: str, parse: Callable[[Any], Any], listing: bool) -> Any:
        return parse(self.client.list(path) if listing else self.client.get(path))

    def _sections(
        self, kind: str, base: str, table: tuple[SectionSource, ...]
    ) -> dict[str, Section[Any]]:
        """Fetch each wanted section of one group or project, in table order."""
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
        if not self.wants("group.protected_branches"):
            sections["protected_branches"] = _skipped()
        elif raw.get("parent_id") is not None:
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
        """A project without its runner list, which run() fills in once it knows how."""
        pid = raw["id"]
        base = f"/projects/{pid}"
        if not self.wants("project.ci_settings"):
            ci: Section[Any] = _skipped()
        elif collect.has_ci_settings(raw):
            ci = Section(status=Status.OK, data=collect.ci_settings(raw))
        else:
            ci = Section(
                status=Status.FORBIDDEN,
                message="GitLab shows CI settings only to users who can administer the project",
            )
        sections = self._sections("project", base, PROJECT_SOURCES)
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
            runners=_skipped(),  # replaced by run()
            **sections,
        )
        self._advance("projects")
        return project

    # -- runners ----------------------------------------------------------------------

    def _list_project_runners(self, pid: int) -> Section[list[RunnerRef]]:
        return self._section(
            "project.runners",
            lambda: collect.runner_refs(
                self._remember_runners(self.client.list(f"/projects/{pid}/runners"))
            ),
        )

    def _remember_runners(
        self, items: Iterable[dict[str, Any]], *, details: bool | None = None
    ) -> list[dict[str, Any]]:
        """Keep each runner's short record; schedule its details the first time it is seen.

        ``details`` forces (True) or suppresses (False) the detail fetch; by default it is
        fetched when ``runner.details`` is wanted. Either way a runner is fetched once.
        """
        items = list(items)
        fetch = self.wants("runner.details") if details is None else details
        with self._runner_lock:
            for item in items:
                rid = item.get("id")
                if not isinstance(rid, int):
                    continue
                self._runner_listing.setdefault(rid, item)
                if fetch and rid not in self._detail_futures:
                    self._detail_futures[rid] = self._submit(self._runner_details, rid)
        return items

    def _runner_details(self, rid: int) -> Section[RunnerDetails]:
        try:
            data = collect.runner_details(self.client.get(f"/runners/{rid}"))
            return Section(status=Status.OK, data=data)
        except ApiError as exc:
            log.debug("runner.details: %s", exc)
            return _section_from_error("runner.details", exc)

    def _may_derive_runners(self, token: TokenInfo, metadata: dict[str, Any]) -> bool:
        version = _minor_version(metadata.get("version"))
        return (
            token.is_admin
            and self.wants("project.runners")
            and version is not None
            and version >= RUNNERS_DERIVED_SINCE
        )

    def _runner_catalog(self) -> list[dict[str, Any]] | None:
        """Every runner on the instance (admin), or None when GitLab will not say."""
        try:
            runners = self.client.list("/runners/all")
        except ApiError as exc:
            log.info("cannot list every runner (%s): asking each project instead", exc)
            return None
        if not all(
            isinstance(r.get("id"), int) and r.get("runner_type") in collect.RUNNER_TYPES
            for r in runners
        ):
            log.info("a runner without id or known type: asking each project instead")
            return None
        return runners

    def _group_chain(self, gid: int, tree: _Tree) -> list[int] | None:
        """``gid`` and all its ancestors, ids; parents above the crawl scope are read once
        each (``GET /groups/:id``). None when one cannot be read."""
        chain: list[int] = []
        node: int | None = gid
        while node is not None:
            chain.append(node)
            if node in tree.groups:
                node = _typed(tree.groups[node].get("parent_id"), int)
                continue
            if node not in self._group_parents:
                try:
                    group = self.client.get(f"/groups/{node}", {"with_projects": "false"})
                except ApiError as exc:
                    log.info("cannot read group %s above the scope: %s", node, exc)
                    return None
                self._group_parents[node] = _typed(group.get("parent_id"), int)
            node = self._group_parents[node]
        return chain

    def _derive_runners(
        self,
        catalog: list[dict[str, Any]],
        inputs: dict[int, _RunnerInputs],
        tree: _Tree,
    ) -> dict[int, Section[list[RunnerRef]]] | None:
        """Each project's runner list from the instance's runners and their details.

        Returns the sections it could derive (projects missing a needed field are left to
        their own listing), or None when a runner's details could not be read and nothing
        can be derived.
        """
        assigned = [r for r in catalog if r["runner_type"] != "instance_type"]
        shared = [r for r in catalog if r["runner_type"] == "instance_type"]
        self._remember_runners(assigned, details=True)
        uses_shared = any(i.shared_runners_enabled for i in inputs.values())
        self._remember_runners(shared, details=uses_shared and self.wants("runner.details"))
        details: dict[int, RunnerDetails] = {}
        for runner in assigned:
            section = self._detail_futures[runner["id"]].result()
            if not section.ok or section.data is None:
                log.info("runner %s details not readable: asking each project", runner["id"])
                return None
            details[runner["id"]] = section.data
        above_scope = any(
            gid not in tree.groups
            for runner in assigned
            if runner["runner_type"] == "group_type"
            for gid in details[runner["id"]].group_ids
        )
        available = collect.RunnerAvailability(catalog, details)
        chains: dict[int, list[int] | None] = {}
        derived: dict[int, Section[list[RunnerRef]]] = {}
        for pid, inp in inputs.items():
            if (
                inp.namespace_kind != "group"
                or inp.namespace_id is None
                or inp.shared_runners_enabled is None
                or inp.group_runners_enabled is None
            ):
                continue  # this project keeps its own listing
            ns = inp.namespace_id
            if ns not in chains:
                # Ancestors above the scope matter only if a group runner belongs to one.
                walk_up = above_scope or ns not in tree.groups
                chains[ns] = self._group_chain(ns, tree) if walk_up else tree.chain(ns)
            chain = chains[ns]
            if chain is None:
                continue
            refs = available.refs_for(
                pid,
                chain,
                shared_runners_enabled=inp.shared_runners_enabled,
                group_runners_enabled=inp.group_runners_enabled,
            )
            derived[pid] = Section(status=Status.OK, data=refs)
        return derived

    def _runner_sections(
        self,
        inputs: dict[int, _RunnerInputs],
        runners: list[dict[str, Any]] | None,
        tree: _Tree,
    ) -> dict[int, Future[Section[list[RunnerRef]]] | Section[list[RunnerRef]]]:
        """Each project's runner list: derived when that is exact and cheaper, else asked.

        ``runners`` is every runner on the instance, or None when deriving is not possible
        (not an administrator, GitLab too old, or the listing was refused).
        """
        if not self.wants("project.runners"):
            self.runner_mode = "skipped"
            return {pid: _skipped() for pid in inputs}
        out: dict[int, Future[Section[list[RunnerRef]]] | Section[list[RunnerRef]]] = {}
        if runners is not None:
            # Deriving fetches every group and project runner's details once; asking costs
            # one request per project (plus the details of the runners found).
            assigned = sum(1 for r in runners if r["runner_type"] != "instance_type")
            if assigned < len(inputs):
                derived = self._derive_runners(runners, inputs, tree)
                if derived is not None:
                    out.update(derived)
                    self.runner_mode = "derived" if len(derived) == len(inputs) else "mixed"
        for pid in inputs:
            if pid not in out:
                out[pid] = self._submit(self._list_project_runners, pid)
        return out

    def _runners(self, projects: list[Project]) -> list[Runner]:
        """The runners the crawled projects can use, each with its details (or why not)."""
        used = sorted({ref.id for p in projects if p.runners.ok for ref in p.runners.data or []})
        with self._runner_lock:
            listing = dict(self._runner_listing)
            futures = dict(self._detail_futures)
        out = []
        for rid in used:
            item = listing[rid]
            if not self.wants("runner.details"):
                details: Section[RunnerDetails] = _skipped()
            else:
                details = futures[rid].result()
            out.append(
                Runner(
                    id=rid,
                    description=item.get("description"),
                    name=item.get("name"),
                    runner_type=item.get("runner_type"),
                    is_shared=_typed(item.get("is_shared"), bool),
                    paused=collect.runner_paused(item),
                    details=details,
                )
            )
        return out

    # -- the whole crawl ------------------------------------------------------------------

    def run(self) -> Snapshot:
        started = self.clock()
        metadata, token = self._preflight()
        tree = self._scope_tree(token.is_admin)
        own_groups = [tree.groups[k] for k in sorted(tree.groups)] if self.first_shard else []
        if self.progress is not None:
            self.progress.set_total("groups", len(own_groups))

        pool = ThreadPoolExecutor(
            max_workers=max(1, self.options.workers), thread_name_prefix="posture-crawl"
        )
        self._pool = pool
        try:
            group_futures = [pool.submit(self._group, raw) for raw in own_groups]
            instance_future = pool.submit(self._instance, token.is_admin)
            project_futures: list[Future[Project]] = []
            inputs: dict[int, _RunnerInputs] = {}
            for raw in self._iter_projects(tree, token.is_admin):
                if self.in_shard(raw["id"]):
                    inputs[raw["id"]] = _RunnerInputs.of(raw)
                    project_futures.append(pool.submit(self._project, raw))
            if self.progress is not None:
                self.progress.set_total("projects", len(project_futures))
            # Asked here, once the projects are known, so that a scope too small to gain
            # from deriving runner lists does not pay for the instance's runner listing.
            catalog = (
                self._runner_catalog()
                if self._may_derive_runners(token, metadata) and len(inputs) > 1
                else None
            )
            runner_sections = self._runner_sections(inputs, catalog, tree)
            groups = [f.result() for f in group_futures]
            projects = [f.result() for f in project_futures]
            for project in projects:
                section = runner_sections[project.id]
                project.runners = section.result() if isinstance(section, Future) else section
            instance = instance_future.result()
            # Every runner list is in, so every detail fetch has been scheduled.
            runners = self._runners(projects)
        except BaseException:
            # A revoked token or an interrupt: send no further request. Running tasks stop
            # before their next one; the one in flight is not waited for (an interrupted
            # command exits within a second or two, not after every open request).
            self._stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
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
                shard=ShardInfo(index=self.shard[0], total=self.shard[1]) if self.shard else None,
                sections=sorted(self.sections) if self.sections is not None else None,
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
