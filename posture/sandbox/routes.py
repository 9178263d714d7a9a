"""Routing, authentication, permissions and listing for the sandbox's REST v4 subset.

Why apart from the HTTP server: this is GitLab's behaviour (which route exists on which
edition, who may read what, how lists are filtered, ordered and paged) and it is tested
through the server, but reads without any socket code in the way. Each route names the doc
page that defines it.
"""

from __future__ import annotations

import itertools
import json
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from posture.sandbox import resources as res
from posture.sandbox import serialize as ser
from posture.sandbox.access import EXPIRED, INSUFFICIENT_SCOPE, UNAUTHORIZED, Identity
from posture.sandbox.catalog import Catalog, GroupNode, ProjectNode, RunnerNode
from posture.sandbox.pagination import (
    KEYSET_UNAVAILABLE,
    OFFSET_LIMIT,
    RequestURL,
    cursor_page,
    decode_cursor,
    keyset_page,
    offset_limit_error,
    offset_page,
    per_page,
)

if TYPE_CHECKING:
    from posture.sandbox.audit import AuditLog, Recorded

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

GUEST, DEVELOPER, MAINTAINER, OWNER = 10, 30, 40, 50
NOT_FOUND_ROUTE = {"error": "404 Not Found"}
FORBIDDEN = {"message": "403 Forbidden"}
PROJECT_NOT_FOUND = {"message": "404 Project Not Found"}
GROUP_NOT_FOUND = {"message": "404 Group Not Found"}
RUNNER_NOT_FOUND = {"message": "404 Runner Not Found"}
#: Filtered, ordered project listings kept per router, so the 500 offset pages of a
#: 50,000-row listing filter the catalog once, not 500 times.
LISTINGS_KEPT = 32


def dumps(obj: Any) -> bytes:
    """Compact JSON, as GitLab sends it."""
    return _encode(obj).encode("utf-8")


@dataclass
class Response:
    """What the server writes back; `body` is already encoded."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class HttpError(Exception):
    """An error answer with GitLab's status and body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Request:
    """One parsed request: decoded path segments below /api/v4, query, URL, identity, and
    for writes the parsed body and the client address (audit events record it)."""

    method: str
    segments: tuple[str, ...]
    params: dict[str, str]
    url: RequestURL
    identity: Identity | None
    body: dict[str, Any] = field(default_factory=dict)
    client_ip: str = "127.0.0.1"

    @property
    def viewer(self) -> str:
        assert self.identity is not None
        return self.identity.viewer

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        """A boolean query parameter as Grape reads it; None when absent."""
        raw = self.params.get(name)
        if raw is None:
            return default
        return raw.strip().lower() in ("true", "1", "yes", "t", "on")


@dataclass(frozen=True)
class Route:
    """A GET route: template, handler name, doc page, and where it exists."""

    template: str
    handler: str
    doc: str
    ee_only: bool = False  # absent on CE (404 {"error"}), 403 on EE without Premium
    user_scope: bool = False  # readable with a `read_user` token

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


ROUTES: tuple[Route, ...] = (
    Route("/metadata", "metadata", "doc/api/metadata.md"),
    Route("/version", "version", "doc/api/version.md"),
    Route("/user", "user", "doc/api/users.md", user_scope=True),
    Route(
        "/personal_access_tokens/self",
        "token_self",
        "doc/api/personal_access_tokens.md",
        user_scope=True,
    ),
    Route("/application/settings", "application_settings", "doc/api/settings.md"),
    Route("/admin/ci/variables", "admin_variables", "doc/api/instance_level_ci_variables.md"),
    Route("/groups", "groups", "doc/api/groups.md"),
    Route("/groups/:id", "group", "doc/api/groups.md"),
    Route("/groups/:id/subgroups", "subgroups", "doc/api/groups.md"),
    Route("/groups/:id/descendant_groups", "descendant_groups", "doc/api/groups.md"),
    Route("/groups/:id/projects", "group_projects", "doc/api/groups.md"),
    Route("/groups/:id/variables", "group_variables", "doc/api/group_level_variables.md"),
    Route("/groups/:id/hooks", "group_hooks", "doc/api/group_webhooks.md", ee_only=True),
    Route(
        "/groups/:id/protected_branches",
        "group_protected_branches",
        "doc/api/group_protected_branches.md",
        ee_only=True,
    ),
    Route(
        "/groups/:id/merge_request_approval_setting",
        "group_approval_setting",
        "doc/api/merge_request_approval_settings.md",
        ee_only=True,
    ),
    Route("/groups/:id/deploy_tokens", "group_deploy_tokens", "doc/api/deploy_tokens.md"),
    Route("/groups/:id/access_tokens", "group_access_tokens", "doc/api/group_access_tokens.md"),
    Route("/groups/:id/runners", "group_runners", "doc/api/runners.md"),
    Route("/projects", "projects", "doc/api/projects.md"),
    Route("/projects/:id", "project", "doc/api/projects.md"),
    Route(
        "/projects/:id/protected_branches",
        "project_protected_branches",
        "doc/api/protected_branches.md",
    ),
    Route(
        "/projects/:id/approvals",
        "project_approvals",
        "doc/api/merge_request_approvals.md",
        ee_only=True,
    ),
    Route(
        "/projects/:id/approval_rules",
        "project_approval_rules",
        "doc/api/merge_request_approvals.md",
        ee_only=True,
    ),
    Route(
        "/projects/:id/merge_request_approval_setting",
        "project_approval_setting",
        "doc/api/merge_request_approval_settings.md",
        ee_only=True,
    ),
    Route("/projects/:id/variables", "project_variables", "doc/api/project_level_variables.md"),
    Route("/projects/:id/hooks", "project_hooks", "doc/api/project_webhooks.md"),
    Route("/projects/:id/runners", "project_runners", "doc/api/runners.md"),
    Route("/projects/:id/deploy_keys", "project_deploy_keys", "doc/api/deploy_keys.md"),
    Route("/projects/:id/deploy_tokens", "project_deploy_tokens", "doc/api/deploy_tokens.md"),
    Route(
        "/projects/:id/access_tokens",
        "project_access_tokens",
        "doc/api/project_access_tokens.md",
    ),
    Route(
        "/projects/:id/job_token_scope",
        "project_job_token_scope",
        "doc/api/project_job_token_scopes.md",
    ),
    Route("/runners", "runners", "doc/api/runners.md"),
    Route("/runners/all", "runners_all", "doc/api/runners.md"),
    Route("/runners/:id", "runner", "doc/api/runners.md"),
    Route("/audit_events", "audit_events", "doc/api/audit_events.md", ee_only=True),
    Route(
        "/groups/:id/audit_events", "group_audit_events", "doc/api/audit_events.md", ee_only=True
    ),
    Route(
        "/projects/:id/audit_events",
        "project_audit_events",
        "doc/api/audit_events.md",
        ee_only=True,
    ),
)


class Router:
    """Answers parsed GET requests from one catalog; thread-safe (caches only grow).

    A write builds a new catalog and a new router; a request holds on to the router it
    started with, so it sees the old state or the new one, never a mix.
    """

    def __init__(
        self, flavor: ser.Flavor, audit: AuditLog | None = None, *, offset_limit: int = OFFSET_LIMIT
    ) -> None:
        self.flavor = flavor
        self.catalog: Catalog = flavor.catalog
        self.audit = audit
        # Offset pages of project listings ending past this many rows answer 405, as GitLab's
        # `offset_pagination_limit` (default 50,000; 0: no limit).
        self.offset_limit = offset_limit
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._cache_lock = threading.Lock()
        self._listings: OrderedDict[tuple[Any, ...], list[ProjectNode]] = OrderedDict()
        self._table: dict[tuple[int, str], list[tuple[tuple[str, ...], Route]]] = {}
        for route in ROUTES:
            if route.ee_only and not flavor.ee:
                continue  # CE has no such route at all
            parts = route.parts
            self._table.setdefault((len(parts), parts[0]), []).append((parts, route))

    # --- dispatch ------------------------------------------------------------------------

    def match(self, segments: Sequence[str]) -> tuple[Route, list[str]] | None:
        """The route for decoded path segments below /api/v4, and its `:params`."""
        if not segments:
            return None
        for parts, route in self._table.get((len(segments), segments[0]), ()):
            args = []
            for want, got in zip(parts, segments, strict=True):
                if want.startswith(":"):
                    args.append(got)
                elif want != got:
                    break
            else:
                return route, args
        return None

    def handle(self, request: Request) -> tuple[Response, str]:
        """The response and the endpoint template it was answered by."""
        matched = self.match(request.segments)
        if matched is None:
            return self.error(404, NOT_FOUND_ROUTE), "<unknown route>"
        route, args = matched
        try:
            if request.method != "GET":
                raise HttpError(405, {"error": "405 Not Allowed"})
            identity = request.identity
            if identity is None:
                raise HttpError(401, UNAUTHORIZED)
            if identity.expired:
                raise HttpError(401, EXPIRED)
            if not identity.api_scope and not route.user_scope:
                raise HttpError(403, INSUFFICIENT_SCOPE)
            handler: Callable[..., Response] = getattr(self, f"h_{route.handler}")
            return handler(request, *args), route.template
        except HttpError as err:
            return self.error(err.status, err.body), route.template

    @staticmethod
    def error(status: int, body: dict[str, Any]) -> Response:
        """An error answer; token errors also carry `WWW-Authenticate`, as GitLab sends."""
        headers = {}
        if body.get("error") in ("invalid_token", "insufficient_scope"):
            headers["WWW-Authenticate"] = (
                f'Bearer realm="", error="{body["error"]}", '
                f'error_description="{body["error_description"]}"'
            )
        return Response(status, dumps(body), headers)

    # --- helpers -------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        value = self._cache.get(key)
        if value is None:
            value = build()
            with self._cache_lock:
                self._cache.setdefault(key, value)
        return value

    def _json(self, obj: Any, headers: dict[str, str] | None = None) -> Response:
        return Response(200, dumps(obj), headers or {})

    def _page(self, request: Request, items: Sequence[bytes]) -> Response:
        chunk, headers = offset_page(items, request.params, request.url)
        return Response(200, b"[" + b",".join(chunk) + b"]", headers)

    def _premium(self) -> None:
        """EE without a Premium licence answers Premium endpoints 403 (GITLAB-API.md 7)."""
        if not self.flavor.premium:
            raise HttpError(403, FORBIDDEN)

    def _project(self, request: Request, ident: str, minimum: int = 0) -> ProjectNode:
        node = self.catalog.find_project(ident)
        if node is None or not self.catalog.can_see_project(request.viewer, node):
            raise HttpError(404, PROJECT_NOT_FOUND)
        if self.catalog.project_level(request.viewer, node) < minimum:
            raise HttpError(403, FORBIDDEN)
        return node

    def _group(self, request: Request, ident: str, minimum: int = 0) -> GroupNode:
        node = self.catalog.find_group(ident)
        if node is None or not self.catalog.can_see_group(request.viewer, node):
            raise HttpError(404, GROUP_NOT_FOUND)
        if self.catalog.group_level(request.viewer, node) < minimum:
            raise HttpError(403, FORBIDDEN)
        return node

    def _admin(self, request: Request) -> None:
        if request.viewer != "admin":
            raise HttpError(403, FORBIDDEN)

    # The same checks for the write routes (writes.py), in the same order: 404, then 403.
    project_node = _project
    group_node = _group
    require_premium = _premium
    require_admin = _admin

    def _items(self, key: tuple[Any, ...], build: Callable[[], list[Any]]) -> list[bytes]:
        return self._cached(key, lambda: [dumps(item) for item in build()])

    def _project_bytes(self, node: ProjectNode, viewer: str, simple: bool) -> bytes:
        if simple:
            return self._cached(
                ("ps", node.id), lambda: dumps(ser.project_simple(self.flavor, node))
            )
        return self._cached(
            ("p", node.id, viewer), lambda: dumps(ser.project(self.flavor, node, viewer))
        )

    def _group_bytes(self, node: GroupNode) -> bytes:
        return self._cached(
            ("g", node.id), lambda: dumps(ser.group(self.flavor, node, "owner", detail=False))
        )

    # --- instance ------------------------------------------------------------------------

    def h_metadata(self, request: Request) -> Response:  # doc/api/metadata.md
        return self._json(ser.metadata(self.flavor))

    def h_version(self, request: Request) -> Response:  # doc/api/version.md
        return self._json(ser.version(self.flavor))

    def h_user(self, request: Request) -> Response:  # doc/api/users.md "Get the current user"
        assert request.identity is not None
        admin = request.identity.viewer == "admin"
        return self._json(ser.current_user(self.flavor, request.identity.user, admin=admin))

    def h_token_self(self, request: Request) -> Response:  # doc/api/personal_access_tokens.md
        identity = request.identity
        assert identity is not None
        return self._json(ser.token_self(identity.user, list(identity.scopes), identity.token_id))

    def h_application_settings(self, request: Request) -> Response:  # doc/api/settings.md
        self._admin(request)
        return self._json(ser.application_settings(self.flavor))

    def h_admin_variables(self, request: Request) -> Response:
        # doc/api/instance_level_ci_variables.md
        self._admin(request)
        items = self._items(
            ("iv",), lambda: [res.instance_variable(v) for v in self.catalog.instance.variables]
        )
        return self._page(request, items)

    # --- groups --------------------------------------------------------------------------

    def _filter_groups(
        self, request: Request, groups: Sequence[GroupNode], *, default_all: bool
    ) -> list[GroupNode]:
        """Shared filtering for /groups, /subgroups, /descendant_groups (doc/api/groups.md)."""
        viewer = request.viewer
        admin = viewer == "admin"
        all_available = request.flag("all_available", admin or default_all)
        min_level = _int(request.params.get("min_access_level"))
        owned = request.flag("owned", False)
        search = (request.params.get("search") or "").lower()
        top_only = request.flag("top_level_only", False)
        visibility = request.params.get("visibility")
        skip = {int(v) for k, v in request.url.params() if k == "skip_groups[]" and v.isdigit()}
        out = []
        for node in groups:
            if not self.catalog.can_see_group(viewer, node):
                continue
            member_level = 0 if admin else node.level
            if min_level is not None or owned:
                if owned and member_level < OWNER:
                    continue
                if min_level is not None and member_level < min_level:
                    continue
            elif not all_available and member_level < GUEST:
                continue
            if top_only and node.parent is not None:
                continue
            if visibility and node.model.visibility != visibility:
                continue
            if (
                search
                and search not in node.model.path.lower()
                and search not in (node.model.name or "").lower()
            ):
                continue
            if node.id in skip:
                continue
            out.append(node)
        order_by = request.params.get("order_by", "name")
        keys: dict[str, Callable[[GroupNode], Any]] = {
            "id": lambda g: g.id,
            "path": lambda g: (g.model.path.lower(), g.id),
            "name": lambda g: ((g.model.name or "").lower(), g.id),
        }
        out.sort(key=keys.get(order_by, keys["name"]), reverse=request.params.get("sort") == "desc")
        return out

    def h_groups(self, request: Request) -> Response:  # doc/api/groups.md "List groups"
        groups = self._filter_groups(request, self.catalog.groups_in_order, default_all=False)
        return self._page(request, [self._group_bytes(g) for g in groups])

    def h_group(self, request: Request, ident: str) -> Response:
        # doc/api/groups.md "Details of a group": embeds up to 100 projects unless
        # with_projects=false.
        node = self._group(request, ident)
        viewer = request.viewer
        body = self._cached(
            ("G", node.id, viewer),
            lambda: dumps(ser.group(self.flavor, node, viewer, detail=True)),
        )
        if request.flag("with_projects", True):
            own = [p for p in node.projects if self.catalog.can_see_project(viewer, p)][:100]
            shared = [
                p for p, _lvl in node.shared_projects if self.catalog.can_see_project(viewer, p)
            ][:100]
            body = (
                body[:-1]
                + b',"projects":['
                + b",".join(self._project_bytes(p, viewer, False) for p in own)
                + b'],"shared_projects":['
                + b",".join(self._project_bytes(p, viewer, False) for p in shared)
                + b"]}"
            )
        return Response(200, body)

    def h_subgroups(self, request: Request, ident: str) -> Response:
        # doc/api/groups.md "List a group's subgroups"
        node = self._group(request, ident)
        groups = self._filter_groups(request, node.children, default_all=False)
        return self._page(request, [self._group_bytes(g) for g in groups])

    def h_descendant_groups(self, request: Request, ident: str) -> Response:
        # doc/api/groups.md "List a group's descendant groups"
        node = self._group(request, ident)
        groups = self._filter_groups(request, node.descendants(), default_all=False)
        return self._page(request, [self._group_bytes(g) for g in groups])

    def h_group_projects(self, request: Request, ident: str) -> Response:
        # doc/api/groups.md "List a group's projects": include_subgroups defaults to false,
        # with_shared to true.
        node = self._group(request, ident)
        groups = [node, *node.descendants()] if request.flag("include_subgroups") else [node]
        rows: dict[int, ProjectNode] = {p.id: p for g in groups for p in g.projects}
        with_shared = bool(request.flag("with_shared", True))
        if with_shared:
            for p, _level in node.shared_projects:
                rows.setdefault(p.id, p)
        # Offset pages only: this endpoint pages with `paginate` (no keyset), so GitLab
        # ignores `pagination=keyset` here (doc/api/rest/_index.md, "Supported resources").
        source = ("group_projects", node.id, len(groups) > 1, with_shared)
        return self._list_projects(request, list(rows.values()), source, keyset_allowed=False)

    def h_group_variables(self, request: Request, ident: str) -> Response:
        # doc/api/group_level_variables.md (group Owner)
        node = self._group(request, ident, OWNER)
        items = self._items(
            ("gv", node.id),
            lambda: [res.group_variable(self.flavor, v) for v in node.model.variables],
        )
        return self._page(request, items)

    def h_group_hooks(self, request: Request, ident: str) -> Response:
        # doc/api/group_webhooks.md (Premium; group Owner)
        node = self._group(request, ident)
        self._premium()
        self._need(request, self.catalog.group_level(request.viewer, node), OWNER)
        items = self._items(
            ("gh", node.id), lambda: [res.hook(h, group_id=node.id) for h in node.model.hooks]
        )
        return self._page(request, items)

    def h_group_protected_branches(self, request: Request, ident: str) -> Response:
        # doc/api/group_protected_branches.md (Premium, self-managed, top-level groups only)
        node = self._group(request, ident)
        self._premium()
        self._need(request, self.catalog.group_level(request.viewer, node), OWNER)
        if node.parent is not None:
            raise HttpError(404, {"message": "404 Not Found"})
        items = self._items(
            ("gpb", node.id),
            lambda: [res.protected_branch(self.flavor, b) for b in node.model.protected_branches],
        )
        return self._page(request, items)

    def h_group_approval_setting(self, request: Request, ident: str) -> Response:
        # doc/api/merge_request_approval_settings.md (Premium; group Owner)
        node = self._group(request, ident)
        self._premium()
        self._need(request, self.catalog.group_level(request.viewer, node), OWNER)
        return self._json(res.group_approval_setting(node))

    def h_group_deploy_tokens(self, request: Request, ident: str) -> Response:
        # doc/api/deploy_tokens.md "List group deploy tokens" (Maintainer)
        node = self._group(request, ident, MAINTAINER)
        items = self._items(
            ("gdt", node.id), lambda: [res.deploy_token(t) for t in node.model.deploy_tokens]
        )
        return self._page(request, self._active_filter(request, node.model.deploy_tokens, items))

    def h_group_access_tokens(self, request: Request, ident: str) -> Response:
        # doc/api/group_access_tokens.md (group Owner)
        node = self._group(request, ident, OWNER)
        items = self._items(
            ("gat", node.id), lambda: [res.access_token(t) for t in node.model.access_tokens]
        )
        return self._page(request, self._state_filter(request, items))

    def h_group_runners(self, request: Request, ident: str) -> Response:
        # doc/api/runners.md "List group's runners" (Owner)
        node = self._group(request, ident, OWNER)
        runners = self._filter_runners(request, self.catalog.group_runners(node))
        return self._page(request, [self._runner_bytes(r) for r in runners])

    # --- projects ------------------------------------------------------------------------

    def _project_filter(self, request: Request) -> Callable[[ProjectNode], bool]:
        """The listing filters of /projects and /groups/:id/projects (doc/api/projects.md)."""
        viewer = request.viewer
        admin = viewer == "admin"
        params = request.params
        archived = request.flag("archived")
        visibility = params.get("visibility")
        membership = request.flag("membership", False)
        owned = request.flag("owned", False)
        min_level = _int(params.get("min_access_level"))
        terms = (params.get("search") or "").lower().split()
        topics = [t for t in (params.get("topic") or "").split(",") if t]
        id_after = _int(params.get("id_after"))
        id_before = _int(params.get("id_before"))
        can_see = self.catalog.can_see_project

        def keep(node: ProjectNode) -> bool:
            if not can_see(viewer, node):
                return False
            model = node.model
            member_level = 0 if admin else node.level
            if archived is not None and model.archived != archived:
                return False
            if visibility and model.visibility != visibility:
                return False
            if (membership and member_level < GUEST) or (owned and member_level < OWNER):
                return False
            if min_level is not None and member_level < min_level:
                return False
            if terms:
                haystack = f"{model.path} {model.name} {model.description}".lower()
                if not all(t in haystack for t in terms):
                    return False
            if topics and not set(topics) <= set(model.topics):
                return False
            if id_after is not None and node.id <= id_after:
                return False
            return id_before is None or node.id < id_before

        return keep

    def _list_projects(
        self,
        request: Request,
        candidates: Sequence[ProjectNode],
        source: tuple[Any, ...],
        *,
        keyset_allowed: bool,
    ) -> Response:
        """Filtering, ordering and paging shared by /projects and /groups/:id/projects.

        Checks run in GitLab's order: keyset availability, then the offset limit, both
        before any row is read (`API::Helpers::PaginationStrategies#paginator`).
        """
        params = request.params
        keyset = keyset_allowed and params.get("pagination") == "keyset"
        order_by = params.get("order_by", "created_at")
        if keyset and order_by != "id":
            raise HttpError(405, KEYSET_UNAVAILABLE)
        if not keyset:
            refusal = offset_limit_error(params, self.offset_limit, "Project")
            if refusal is not None:
                raise HttpError(405, refusal)
        keep = self._project_filter(request)
        viewer = request.viewer
        simple = bool(request.flag("simple", False))
        if keyset:
            chunk, headers = self._keyset_projects(request, keep)
        else:
            keys: dict[str, Callable[[ProjectNode], Any]] = {
                "id": lambda p: p.id,
                "created_at": lambda p: p.id,
                "updated_at": lambda p: p.id,
                "last_activity_at": lambda p: p.id,
                "star_count": lambda p: p.id,
                "name": lambda p: ((p.model.name or "").lower(), p.id),
                "path": lambda p: (p.model.path.lower(), p.id),
            }
            descending = params.get("sort", "desc") == "desc"
            order = keys.get(order_by, keys["created_at"])
            query = tuple(sorted(p for p in params.items() if p[0] not in ("page", "per_page")))
            rows = self._listing(
                (source, viewer, query),
                lambda: sorted(filter(keep, candidates), key=order, reverse=descending),
            )
            chunk, headers = offset_page(rows, params, request.url)
        body = b"[" + b",".join(self._project_bytes(p, viewer, simple) for p in chunk) + b"]"
        return Response(200, body, headers)

    def _keyset_projects(
        self, request: Request, keep: Callable[[ProjectNode], bool]
    ) -> tuple[Sequence[ProjectNode], dict[str, str]]:
        """One keyset page of /projects by id: start at the cursor, read one page and a row.

        The cost is the page, not the listing, as in GitLab; a 50,000-row walk stays fast.
        """
        params = request.params
        ordered = self.catalog.projects_in_order  # by id
        ids: list[int] = self._cached(("project_ids",), lambda: [p.id for p in ordered])
        id_after = _int(params.get("id_after"))
        id_before = _int(params.get("id_before"))
        if params.get("sort", "desc") == "desc":
            end = bisect_left(ids, id_before) if id_before is not None else len(ids)
            walk = (ordered[i] for i in range(end - 1, -1, -1))
        else:
            start = bisect_right(ids, id_after) if id_after is not None else 0
            walk = (ordered[i] for i in range(start, len(ordered)))
        rows = list(itertools.islice(filter(keep, walk), per_page(params) + 1))
        return keyset_page(rows, [r.id for r in rows], params, request.url)

    def _listing(
        self, key: tuple[Any, ...], build: Callable[[], list[ProjectNode]]
    ) -> list[ProjectNode]:
        """A filtered, ordered listing, kept for the next pages (least recently used out)."""
        with self._cache_lock:
            rows = self._listings.get(key)
            if rows is not None:
                self._listings.move_to_end(key)
                return rows
        rows = build()
        with self._cache_lock:
            self._listings[key] = rows
            while len(self._listings) > LISTINGS_KEPT:
                self._listings.popitem(last=False)
        return rows

    def h_projects(self, request: Request) -> Response:
        # doc/api/projects.md "List all projects"; keyset: doc/api/rest/_index.md
        return self._list_projects(
            request, self.catalog.projects_in_order, ("projects",), keyset_allowed=True
        )

    def h_project(self, request: Request, ident: str) -> Response:
        # doc/api/projects.md "Get a single project"
        node = self._project(request, ident)
        viewer = request.viewer
        body = self._cached(
            ("P", node.id, viewer),
            lambda: dumps(ser.project(self.flavor, node, viewer, single=True)),
        )
        return Response(200, body)

    def h_project_protected_branches(self, request: Request, ident: str) -> Response:
        # doc/api/protected_branches.md (read_protected_branch: Maintainer)
        node = self._project(request, ident, MAINTAINER)
        items = self._items(
            ("pb", node.id), lambda: res.project_protected_branches(self.flavor, node)
        )
        return self._page(request, items)

    def h_project_approvals(self, request: Request, ident: str) -> Response:
        # doc/api/merge_request_approvals.md "Get configuration" (Premium; read_approvers:
        # Maintainer)
        node = self._project(request, ident)
        self._premium()
        self._need(request, self.catalog.project_level(request.viewer, node), MAINTAINER)
        return self._json(res.approvals(self.flavor, node))

    def h_project_approval_rules(self, request: Request, ident: str) -> Response:
        # doc/api/merge_request_approvals.md "Get project-level rules" (Premium; Maintainer)
        node = self._project(request, ident)
        self._premium()
        self._need(request, self.catalog.project_level(request.viewer, node), MAINTAINER)
        items = self._items(
            ("ar", node.id),
            lambda: [res.approval_rule(self.flavor, node, r) for r in node.model.approval_rules],
        )
        return self._page(request, items)

    def h_project_approval_setting(self, request: Request, ident: str) -> Response:
        # doc/api/merge_request_approval_settings.md (Premium; Maintainer)
        node = self._project(request, ident)
        self._premium()
        self._need(request, self.catalog.project_level(request.viewer, node), MAINTAINER)
        return self._json(res.approval_setting(self.flavor, node))

    def h_project_variables(self, request: Request, ident: str) -> Response:
        # doc/api/project_level_variables.md (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        items = self._items(
            ("pv", node.id), lambda: [res.project_variable(v) for v in node.model.variables]
        )
        return self._page(request, items)

    def h_project_hooks(self, request: Request, ident: str) -> Response:
        # doc/api/project_webhooks.md (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        items = self._items(
            ("ph", node.id), lambda: [res.hook(h, project_id=node.id) for h in node.model.hooks]
        )
        return self._page(request, items)

    def h_project_runners(self, request: Request, ident: str) -> Response:
        # doc/api/runners.md "List project's runners": own, ancestor-group and allowed
        # instance runners (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        runners = self._filter_runners(request, self.catalog.project_runners(node))
        return self._page(request, [self._runner_bytes(r) for r in runners])

    def h_project_deploy_keys(self, request: Request, ident: str) -> Response:
        # doc/api/deploy_keys.md "List deploy keys for project" (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        items = self._items(
            ("dk", node.id), lambda: [res.deploy_key(k) for k in node.model.deploy_keys]
        )
        return self._page(request, items)

    def h_project_deploy_tokens(self, request: Request, ident: str) -> Response:
        # doc/api/deploy_tokens.md "List project deploy tokens" (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        items = self._items(
            ("pdt", node.id), lambda: [res.deploy_token(t) for t in node.model.deploy_tokens]
        )
        return self._page(request, self._active_filter(request, node.model.deploy_tokens, items))

    def h_project_access_tokens(self, request: Request, ident: str) -> Response:
        # doc/api/project_access_tokens.md (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        items = self._items(
            ("pat", node.id), lambda: [res.access_token(t) for t in node.model.access_tokens]
        )
        return self._page(request, self._state_filter(request, items))

    def h_project_job_token_scope(self, request: Request, ident: str) -> Response:
        # doc/api/project_job_token_scopes.md (Maintainer)
        node = self._project(request, ident, MAINTAINER)
        return self._json(res.job_token_scope(node))

    # --- runners -------------------------------------------------------------------------

    def _runner_bytes(self, runner: RunnerNode) -> bytes:
        return self._cached(("r", runner.id), lambda: dumps(res.runner_short(runner)))

    @staticmethod
    def _filter_runners(request: Request, runners: Sequence[RunnerNode]) -> list[RunnerNode]:
        """`type`, `paused`, `status` and `tag_list` filters (doc/api/runners.md)."""
        kind = request.params.get("type")
        paused = request.flag("paused")
        status = request.params.get("status")
        tags = {t for t in (request.params.get("tag_list") or "").split(",") if t}
        out = []
        for runner in runners:
            short = res.runner_short(runner)
            if kind and runner.runner_type != kind:
                continue
            if paused is not None and runner.model.paused != paused:
                continue
            if status in ("online", "offline", "never_contacted") and short["status"] != status:
                continue
            if status in ("active", "paused") and (status == "paused") != runner.model.paused:
                continue
            if tags and not tags <= set(runner.model.tag_list):
                continue
            out.append(runner)
        return out

    def h_runners(self, request: Request) -> Response:
        # doc/api/runners.md "List available runners"
        runners = self._filter_runners(request, self.catalog.owned_runners(request.viewer))
        return self._page(request, [self._runner_bytes(r) for r in runners])

    def h_runners_all(self, request: Request) -> Response:
        # doc/api/runners.md "List all runners" (administrators)
        self._admin(request)
        every = sorted(self.catalog.runners.values(), key=lambda r: r.id)
        runners = self._filter_runners(request, every)
        return self._page(request, [self._runner_bytes(r) for r in runners])

    def h_runner(self, request: Request, ident: str) -> Response:
        # doc/api/runners.md "Get runner's details"
        runner = self.catalog.runners.get(int(ident)) if ident.isdigit() else None
        if runner is None:
            raise HttpError(404, RUNNER_NOT_FOUND)
        if not self.catalog.can_read_runner(request.viewer, runner):
            raise HttpError(403, FORBIDDEN)
        body = self._cached(("R", runner.id), lambda: dumps(res.runner_detail(self.flavor, runner)))
        return Response(200, body)

    # --- audit events (doc/api/audit_events.md; Premium) ----------------------------------

    def _audit_page(
        self, request: Request, events: Sequence[Recorded], *, own_only: bool = False
    ) -> Response:
        """created_after/created_before (inclusive), newest first; offset or keyset pages."""
        from posture.sandbox.audit import newest_first

        after = _time_param(request, "created_after")
        before = _time_param(request, "created_before")
        assert request.identity is not None
        me = request.identity.user.id
        rows = [
            e
            for e in events
            if (after is None or e.created >= after)
            and (before is None or e.created <= before)
            and (not own_only or e.author_id == me)
        ]
        if request.params.get("pagination") == "keyset":
            return self._audit_keyset(request, rows)
        return self._page(request, [dumps(e.body) for e in newest_first(rows)])

    @staticmethod
    def _audit_keyset(request: Request, rows: Sequence[Recorded]) -> Response:
        """Cursor-based keyset, `order_by=id` and `sort=desc` only (the defaults), as
        doc/api/rest/_index.md "Supported resources" lists for the three audit event lists.

        An unreadable cursor answers 400 (the sandbox's choice; GitLab's answer is not
        documented)."""
        params = request.params
        if (params.get("order_by", "id"), params.get("sort", "desc")) != ("id", "desc"):
            raise HttpError(405, KEYSET_UNAVAILABLE)
        before: int | None = None
        if params.get("cursor"):
            before = decode_cursor(params["cursor"])
            if before is None:
                raise HttpError(400, {"error": "cursor is invalid"})
        ordered = sorted(
            (e for e in rows if before is None or e.id < before), key=lambda e: e.id, reverse=True
        )[: per_page(params) + 1]
        chunk, headers = cursor_page(ordered, [e.id for e in ordered], params, request.url)
        return Response(200, b"[" + b",".join(dumps(e.body) for e in chunk) + b"]", headers)

    def _events(self) -> list[Recorded]:
        return self.audit.all() if self.audit is not None else []

    def h_audit_events(self, request: Request) -> Response:
        # doc/api/audit_events.md "Retrieve all instance audit events" (administrators)
        from posture.sandbox.audit import ENTITY_TYPES

        self._admin(request)
        self._premium()
        entity_type = request.params.get("entity_type")
        entity_id = request.params.get("entity_id")
        if entity_type is not None and entity_type not in ENTITY_TYPES:
            raise HttpError(400, {"error": "entity_type does not have a valid value"})
        if entity_id is not None:
            if not entity_id.strip().isdigit():
                raise HttpError(400, {"error": "entity_id is invalid"})
            if entity_type is None:
                raise HttpError(400, {"error": "entity_type is missing"})
        events = [
            e
            for e in self._events()
            if (entity_type is None or e.entity.type == entity_type)
            and (entity_id is None or e.entity.id == int(entity_id))
        ]
        return self._audit_page(request, events)

    def h_group_audit_events(self, request: Request, ident: str) -> Response:
        # doc/api/audit_events.md "Group audit events": Owners see every event, Developers
        # and Maintainers their own.
        node = self._group(request, ident)
        self._premium()
        level = self.catalog.group_level(request.viewer, node)
        self._need(request, level, DEVELOPER)
        events = [e for e in self._events() if e.entity.type == "Group" and e.entity.id == node.id]
        return self._audit_page(request, events, own_only=level < OWNER)

    def h_project_audit_events(self, request: Request, ident: str) -> Response:
        # doc/api/audit_events.md "Project audit events": Maintainers and up see every
        # event, Developers their own.
        node = self._project(request, ident)
        self._premium()
        level = self.catalog.project_level(request.viewer, node)
        self._need(request, level, DEVELOPER)
        events = [
            e for e in self._events() if e.entity.type == "Project" and e.entity.id == node.id
        ]
        return self._audit_page(request, events, own_only=level < MAINTAINER)

    # --- small filters -------------------------------------------------------------------

    @staticmethod
    def _need(request: Request, level: int, minimum: int) -> None:
        if level < minimum:
            raise HttpError(403, FORBIDDEN)

    @staticmethod
    def _active_filter(request: Request, tokens: Sequence[Any], items: list[bytes]) -> list[bytes]:
        """`active=true` keeps deploy tokens neither revoked nor expired."""
        active = request.flag("active")
        if active is None:
            return items
        from posture.sandbox.catalog import is_expired

        return [
            item
            for token, item in zip(tokens, items, strict=True)
            if (not token.revoked and not is_expired(token.expires_at)) == active
        ]

    @staticmethod
    def _state_filter(request: Request, items: list[bytes]) -> list[bytes]:
        """`state=active|inactive` on access tokens."""
        state = request.params.get("state")
        if state not in ("active", "inactive"):
            return items
        want = state == "active"
        return [i for i in items if json.loads(i)["active"] == want]


def _time_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 time or date as Grape's DateTime reads it; naive times are UTC."""
    raw = request.params.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise HttpError(400, {"error": f"{name} is invalid"}) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().lstrip("-").isdigit():
        return None
    return int(value)


__all__ = ["ROUTES", "HttpError", "Request", "Response", "Route", "Router"]
