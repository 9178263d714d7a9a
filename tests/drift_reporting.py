"""Hand-built DriftReports for report tests: only what varies is named.

``change(...)`` builds one Change with the model's own id recipe; ``sample_changes()`` is one of
each classification and kind (renamed, transferred, created, deleted included), one change with
an audit-event author and others without; ``make_drift(...)`` wraps changes in a DriftReport
whose summary is the model's own ``summarise``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from posture.drift.model import (
    AuditEventRef,
    AuthorLookup,
    AuthorStatusValue,
    Change,
    ChangeKind,
    Classification,
    DriftReport,
    SnapshotSide,
    summarise,
)

OLD_AT = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
NEW_AT = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
GITLAB = "https://gitlab.example"

W, S, N, U = (
    Classification.WEAKENING,
    Classification.STRENGTHENING,
    Classification.NEUTRAL,
    Classification.UNKNOWN,
)


def change(
    summary: str,
    classification: Classification = W,
    kind: ChangeKind = ChangeKind.CHANGED,
    *,
    family: str = "branches",
    target_kind: str = "project",
    target_id: int | None = 1,
    path: str = "acme/app",
    url: str | None = None,  # "" for no URL
    old_path: str | None = None,
    section: str | None = "protected_branches",
    item: str | None = "main",
    field: str | None = "allow_force_push",
    old: Any = False,
    new: Any = True,
    why: str | None = "force push allowed",
    rules: Iterable[str] = ("branches.force_push",),
    events: Iterable[AuditEventRef] = (),
) -> Change:
    return Change(
        id=Change.make_id(
            target_kind=target_kind,
            target_id=target_id,
            target_path=path,
            section=section,
            item=item,
            field=field,
            kind=kind.value,
        ),
        kind=kind,
        classification=classification,
        family=family,
        target_kind=target_kind,  # type: ignore[arg-type]
        target_id=target_id,
        target_path=path,
        target_url=(url or None) if url is not None else f"{GITLAB}/{path}",
        old_path=old_path,
        section=section,
        item=item,
        field=field,
        old=old,
        new=new,
        summary=summary,
        why=why,
        rules=list(rules),
        events=list(events),
    )


def event(
    author: str | None = "alice",
    *,
    event_id: int = 501,
    at: str = "2026-11-01T14:02:03.000Z",
    description: str = "change allow_force_push from false to true",
) -> AuditEventRef:
    return AuditEventRef(
        id=event_id,
        created_at=at,
        author_id=7,
        author_name=author,
        event_name="protected_branch_updated",
        entity_type="Project",
        entity_id=1,
        description=description,
    )


def side(
    at: datetime,
    *,
    digest: str,
    username: str | None = "root",
    complete: bool = True,
    gitlab_url: str = GITLAB,
) -> SnapshotSide:
    return SnapshotSide(
        gitlab_url=gitlab_url,
        gitlab_version="17.11.1-ee",
        username=username,
        is_admin=True,
        scope=["acme"],
        complete=complete,
        started_at=at,
        finished_at=at,
        digest=digest,
    )


def authors(
    status: AuthorStatusValue = "not_requested", message: str | None = None, events_read: int = 0
) -> AuthorLookup:
    return AuthorLookup(
        status=status,
        message=message,
        events_read=events_read,
        entities_queried=3 if status != "not_requested" else 0,
    )


def sample_changes() -> list[Change]:
    """One of each classification and kind; only the force-push change has an author."""
    return [
        change("protected branch main: force push false → true", events=[event()]),
        change(
            "visibility private → public",
            family="visibility",
            path="acme/web",
            target_id=2,
            section=None,
            item=None,
            field="visibility",
            old="private",
            new="public",
            why="more visible (private → internal → public)",
            rules=("project.visibility",),
        ),
        change(
            "CI/CD variable DEPLOY_TOKEN (production) added (unmasked; unprotected)",
            kind=ChangeKind.ADDED,
            family="variables",
            section="variables",
            item="DEPLOY_TOKEN (production)",
            field=None,
            old=None,
            new={"key": "DEPLOY_TOKEN", "masked": False, "protected": False},
            why="an unmasked variable was added",
            rules=("variables.unmasked",),
        ),
        change(
            "webhook removed: 12 → hooks.example (TLS verification off)",
            S,
            ChangeKind.REMOVED,
            family="webhooks",
            section="webhooks",
            item="12 → hooks.example",
            field=None,
            old={"id": 12, "url_host": "hooks.example"},
            new=None,
            why="a webhook without TLS verification was removed",
            rules=("webhooks.ssl_verification",),
        ),
        change(
            "project renamed: acme/old-api → acme/api",
            N,
            ChangeKind.RENAMED,
            family="visibility",
            path="acme/api",
            target_id=3,
            old_path="acme/old-api",
            section=None,
            item=None,
            field=None,
            old="acme/old-api",
            new="acme/api",
            why=None,
            rules=(),
        ),
        change(
            "approval settings: approvals required 2 → 1",
            path="acme/api",
            target_id=3,
            old_path="acme/old-api",
            family="approvals",
            section="approval_settings",
            item=None,
            field="approvals_required",
            old=2,
            new=1,
            why="fewer approvals required",
            rules=("approvals.min_required",),
        ),
        change(
            "project transferred: sandbox/tool → acme/tool",
            N,
            ChangeKind.TRANSFERRED,
            family="visibility",
            path="acme/tool",
            target_id=4,
            old_path="sandbox/tool",
            section=None,
            item=None,
            field=None,
            old="sandbox/tool",
            new="acme/tool",
            why=None,
            rules=(),
        ),
        change(
            "project acme/new is new in scope (private)",
            N,
            ChangeKind.CREATED,
            family="visibility",
            path="acme/new",
            target_id=5,
            section=None,
            item=None,
            field=None,
            old=None,
            new={"visibility": "private"},
            why=None,
            rules=(),
        ),
        change(
            "group acme/legacy is gone from scope (deleted, or moved out of the crawled groups)",
            N,
            ChangeKind.DELETED,
            family="visibility",
            target_kind="group",
            path="acme/legacy",
            target_id=9,
            section=None,
            item=None,
            field=None,
            old=None,
            new=None,
            why=None,
            rules=(),
        ),
        change(
            "protected branch not compared: forbidden (403) in the new snapshot",
            U,
            ChangeKind.UNKNOWN,
            path="acme/secret",
            target_id=6,
            item=None,
            field=None,
            old="ok",
            new="forbidden",
            why="protected_branches: forbidden (403) in the new snapshot",
            rules=(),
        ),
        change(
            "instance settings: signup enabled true → false",
            S,
            target_kind="instance",
            target_id=None,
            path="instance",
            url="",
            family="visibility",
            section="settings",
            item=None,
            field="signup_enabled",
            old=True,
            new=False,
            why="sign-up disabled",
            rules=("instance.signup",),
        ),
    ]


def make_drift(
    changes: Iterable[Change] | None = None,
    *,
    lookup: AuthorLookup | None = None,
    old_complete: bool = True,
    new_complete: bool = True,
    tool_version: str = "0.0.0",
) -> DriftReport:
    """A DriftReport of ``changes`` (``sample_changes()`` when None), summary included."""
    items = sample_changes() if changes is None else list(changes)
    return DriftReport(
        tool_version=tool_version,
        old=side(OLD_AT, digest="a" * 64, complete=old_complete),
        new=side(NEW_AT, digest="b" * 64, username="auditor", complete=new_complete),
        summary=summarise(items),
        changes=items,
        authors=lookup if lookup is not None else authors(),
    )
