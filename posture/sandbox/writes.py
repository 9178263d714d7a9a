"""The write routes: which GitLab endpoints change the sandbox, and who may call them.

Why a table apart from the GET routes: a write is answered against the live router but
ends by installing a new instance (see `changes.py`), so it needs the sandbox's state, a
lock that serialises writes, and the audit log. The handlers live in `write_projects.py`,
`write_protection.py` and `write_ci.py`, one module per family, each naming its doc page.

Checks run in GitLab's order: route (404 `{"error"}`, absent on CE for EE routes), token
(401), scope (`api` needed: 403 `insufficient_scope`), parameters (400 `{"error"}`),
resource (404), licence (403), role (403), model validation (400/409/422 `{"message"}`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from posture.sandbox import write_ci as ci
from posture.sandbox import write_projects as projects
from posture.sandbox import write_protection as protection
from posture.sandbox.access import EXPIRED, UNAUTHORIZED
from posture.sandbox.changes import Change, IdSequence
from posture.sandbox.params import Params
from posture.sandbox.routes import HttpError, Request, Response, Router

if TYPE_CHECKING:
    from posture.sandbox.changes import Host

# A token without the `api` scope may not write (doc/api/rest/authentication.md).
INSUFFICIENT_WRITE_SCOPE = {
    "error": "insufficient_scope",
    "error_description": (
        "The request requires higher privileges than provided by the access token."
    ),
    "scope": "api",
}
NOT_ALLOWED = {"error": "405 Not Allowed"}
SERVER_ERROR = {"message": "500 Internal Server Error"}


@dataclass(frozen=True)
class WriteRoute:
    """A write route: method, template, handler, doc page, and whether CE has it."""

    method: str
    template: str
    handler: Callable[..., Response]
    doc: str
    ee_only: bool = False

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


_P, _G = "doc/api/projects.md", "doc/api/groups.md"
_PB, _MRA = "doc/api/protected_branches.md", "doc/api/merge_request_approvals.md"
_PV, _GV = "doc/api/project_level_variables.md", "doc/api/group_level_variables.md"
_HOOKS, _KEYS = "doc/api/project_webhooks.md", "doc/api/deploy_keys.md"

WRITE_ROUTES: tuple[WriteRoute, ...] = (
    WriteRoute("PUT", "/projects/:id", projects.update_project, _P),
    WriteRoute("PUT", "/projects/:id/transfer", projects.transfer_project, _P),
    WriteRoute("DELETE", "/projects/:id", projects.delete_project, _P),
    WriteRoute("POST", "/projects/:id/archive", projects.archive_project, _P),
    WriteRoute("POST", "/projects/:id/unarchive", projects.unarchive_project, _P),
    WriteRoute("PUT", "/groups/:id", projects.update_group, _G),
    WriteRoute("POST", "/projects/:id/protected_branches", protection.protect_branch, _PB),
    WriteRoute(
        "PATCH", "/projects/:id/protected_branches/:name", protection.update_protected_branch, _PB
    ),
    WriteRoute(
        "DELETE", "/projects/:id/protected_branches/:name", protection.unprotect_branch, _PB
    ),
    WriteRoute("POST", "/projects/:id/approvals", protection.update_approvals, _MRA, True),
    WriteRoute("POST", "/projects/:id/approval_rules", protection.create_approval_rule, _MRA, True),
    WriteRoute(
        "PUT",
        "/projects/:id/approval_rules/:approval_rule_id",
        protection.update_approval_rule,
        _MRA,
        True,
    ),
    WriteRoute(
        "DELETE",
        "/projects/:id/approval_rules/:approval_rule_id",
        protection.delete_approval_rule,
        _MRA,
        True,
    ),
    WriteRoute("POST", "/projects/:id/variables", ci.create_project_variable, _PV),
    WriteRoute("PUT", "/projects/:id/variables/:key", ci.update_project_variable, _PV),
    WriteRoute("DELETE", "/projects/:id/variables/:key", ci.delete_project_variable, _PV),
    WriteRoute("POST", "/groups/:id/variables", ci.create_group_variable, _GV),
    WriteRoute("PUT", "/groups/:id/variables/:key", ci.update_group_variable, _GV),
    WriteRoute("DELETE", "/groups/:id/variables/:key", ci.delete_group_variable, _GV),
    WriteRoute("POST", "/projects/:id/hooks", ci.create_hook, _HOOKS),
    WriteRoute("PUT", "/projects/:id/hooks/:hook_id", ci.update_hook, _HOOKS),
    WriteRoute("DELETE", "/projects/:id/hooks/:hook_id", ci.delete_hook, _HOOKS),
    WriteRoute("POST", "/projects/:id/deploy_keys", ci.create_deploy_key, _KEYS),
    WriteRoute("PUT", "/projects/:id/deploy_keys/:key_id", ci.update_deploy_key, _KEYS),
    WriteRoute("DELETE", "/projects/:id/deploy_keys/:key_id", ci.delete_deploy_key, _KEYS),
    WriteRoute("PUT", "/runners/:id", ci.update_runner, "doc/api/runners.md"),
    WriteRoute(
        "PATCH",
        "/projects/:id/job_token_scope",
        ci.update_job_token_scope,
        "doc/api/project_job_token_scopes.md",
    ),
)


def _matches(parts: tuple[str, ...], segments: Sequence[str]) -> list[str] | None:
    if len(parts) != len(segments):
        return None
    args = []
    for want, got in zip(parts, segments, strict=True):
        if want.startswith(":"):
            args.append(got)
        elif want != got:
            return None
    return args


class Writer:
    """Answers write requests, one at a time, against the sandbox's live state."""

    def __init__(self, host: Host, *, ee: bool) -> None:
        self.host = host
        self.routes = [r for r in WRITE_ROUTES if ee or not r.ee_only]
        self.ids = IdSequence()
        self._lock = threading.Lock()

    def match(self, method: str, segments: Sequence[str]) -> tuple[WriteRoute, list[str]] | None:
        for route in self.routes:
            if route.method == method:
                args = _matches(route.parts, segments)
                if args is not None:
                    return route, args
        return None

    def other_method(self, segments: Sequence[str]) -> bool:
        """True when some write route has this path under another method (405)."""
        return any(_matches(r.parts, segments) is not None for r in self.routes)

    def handle(self, request: Request, route: WriteRoute, args: list[str]) -> Response:
        try:
            identity = request.identity
            if identity is None:
                raise HttpError(401, UNAUTHORIZED)
            if identity.expired:
                raise HttpError(401, EXPIRED)
            if "api" not in identity.scopes:
                raise HttpError(403, INSUFFICIENT_WRITE_SCOPE)
            params = Params(request.url.params(), request.body)
            with self._lock:  # one write at a time: each reads the state the last one left
                router = self.host.router
                change = Change(self.host, self.ids, request, params, router)
                return route.handler(change, *args)
        except HttpError as err:
            return Router.error(err.status, err.body)
        except Exception:
            # Never a traceback or a parameter value in the answer: it may hold a secret.
            return Router.error(500, SERVER_ERROR)


__all__ = ["INSUFFICIENT_WRITE_SCOPE", "NOT_ALLOWED", "WRITE_ROUTES", "WriteRoute", "Writer"]
