"""Who made a change: GitLab audit events between the two snapshots, attached to changes.

GitLab keeps group and project audit events on Premium and Ultimate
(``GET /groups/:id/audit_events``, ``GET /projects/:id/audit_events``, doc/api/audit_events.md).
posture reads them only for the groups and projects that changed, only for the time between
the two crawls, and keeps author, time, event name and a one-line description: never the IP
address or e-mail address, and never a value that looks like a secret.

When events cannot be read (Free tier, a role below what GitLab requires, a token without
read_api, an unreachable instance) the report says so; the diff itself stays valid.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from posture.drift.model import (
    AuditEventRef,
    AuthorLookup,
    Change,
    ChangeKind,
    Classification,
    DriftReport,
)
from posture.errors import PostureError
from posture.gitlab.client import ApiError
from posture.gitlab.endpoints import encode_id
from posture.gitlab.redact import redact_url
from posture.gitlab.secrets import value_signals

if TYPE_CHECKING:
    from posture.gitlab.client import GitLabClient

log = logging.getLogger(__name__)

#: Audit events offer keyset pagination (doc/api/rest/_index.md): newest first, no offset cap.
KEYSET = {"pagination": "keyset", "order_by": "id", "sort": "desc"}
#: Events attached to one change at most (the latest first); the rest stay in GitLab.
MAX_EVENTS_PER_CHANGE = 3
#: Events read per entity at most, so a busy project cannot stall a nightly job.
MAX_EVENTS_PER_ENTITY = 1000
_MAX_DESCRIPTION = 200

#: Words that tie an audit event to the part of a snapshot a change is in. Matched against
#: the event name and its details, case-insensitively.
SECTION_WORDS: dict[str, tuple[str, ...]] = {
    "protected_branches": ("protected_branch", "protected branch", "push access", "merge access"),
    "approval_rules": ("approval_rule", "approval rule", "approver"),
    "approval_settings": ("approval", "approve", "reset_approvals", "merge_requests_"),
    "variables": ("ci_variable", "variable"),
    "webhooks": ("hook",),
    "deploy_keys": ("deploy_key", "deploy key"),
    "deploy_tokens": ("deploy_token", "deploy token"),
    "access_tokens": ("access_token", "access token", "bot"),
    "ci_settings": ("ci_", "pipeline", "runner", "fork"),
    "job_token_scope": ("job_token", "job token", "inbound", "outbound"),
    "runners": ("runner",),
    "shared_with_groups": ("share", "group_link", "group link", "invite"),
    "details": ("runner",),
}
#: Entity attributes (section None) by field.
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "visibility": ("visibility",),
    "public_jobs": ("public_builds", "public_jobs", "public pipelines", "public_pipelines"),
    "shared_runners_enabled": ("shared_runners", "instance runners", "shared runners"),
    "approvals_before_merge": ("approvals_before_merge", "approval"),
    "default_branch": ("default_branch", "default branch"),
    "default_branch_protected": ("protected_branch", "protected branch", "default branch"),
    "archived": ("archive",),
    "topics": ("topic",),
    "name": ("name", "rename"),
}
_MOVE_WORDS = ("transfer", "path", "rename", "namespace", "name")
_LIFECYCLE_WORDS = ("creat", "destroy", "delet", "remov", "added", "add ")


def window(report: DriftReport) -> tuple[str, str]:
    """From the start of the old crawl to the end of the new one, as GitLab's query wants.

    GitLab takes whole seconds: the start is rounded down and the end up, so an event in the
    last fraction of a second before the second crawl ended is not lost.
    """
    return _iso(report.old.started_at), _iso(report.new.finished_at, round_up=True)


def _iso(moment: datetime, *, round_up: bool = False) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if round_up and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def attach_authors(
    report: DriftReport,
    client: GitLabClient,
    *,
    workers: int = 4,
) -> DriftReport:
    """A copy of ``report`` with audit events attached to its changes and a lookup status."""
    entities = _entities(report.changes)
    if not entities:
        return report.model_copy(
            update={"authors": AuthorLookup(status="ok", message="no group or project changed")}
        )
    after, before = window(report)
    params = {"created_after": after, "created_before": before}

    def read(path: str, query: dict[str, str]) -> list[dict]:
        events = []
        for event in client.iter_list(path, query):
            events.append(event)
            if len(events) >= MAX_EVENTS_PER_ENTITY:
                break
        return events

    def fetch(entity: tuple[str, int]) -> tuple[tuple[str, int], list[dict] | PostureError]:
        kind, ident = entity
        path = f"/{kind}s/{encode_id(ident)}/audit_events"
        try:
            try:
                return entity, read(path, {**params, **KEYSET})
            except ApiError as exc:
                if exc.status != 405:  # a GitLab without keyset here: offset pages then
                    raise
                return entity, read(path, params)
        except PostureError as exc:
            return entity, exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = dict(pool.map(fetch, sorted(entities)))
    return _apply(report, results, entities)


def _entity_of(change: Change) -> tuple[str, int] | None:
    """Whose audit events tell about ``change``: the group or project itself, or — for a
    deleted one, which has no endpoint any more — the parent group GitLab files it under."""
    if change.classification is Classification.UNKNOWN or change.target_id is None:
        return None
    if change.target_kind not in ("group", "project"):
        return None
    if change.kind is ChangeKind.DELETED:
        parent = change.old.get("parent_group_id") if isinstance(change.old, dict) else None
        return ("group", parent) if isinstance(parent, int) else None
    return (change.target_kind, change.target_id)


def _entities(changes: Iterable[Change]) -> set[tuple[str, int]]:
    return {entity for entity in map(_entity_of, changes) if entity is not None}


def _apply(
    report: DriftReport,
    results: dict[tuple[str, int], list[dict] | PostureError],
    entities: set[tuple[str, int]],
) -> DriftReport:
    events_by_entity: dict[tuple[str, int], list[AuditEventRef]] = {}
    failures: list[PostureError] = []
    for entity, result in results.items():
        if isinstance(result, PostureError):
            failures.append(result)
            continue
        refs = [ref for ref in (to_ref(e) for e in result) if ref is not None]
        refs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        events_by_entity[entity] = refs

    changes = []
    for change in report.changes:
        key = _entity_of(change)
        candidates = events_by_entity.get(key) if key is not None else None
        if candidates and change.classification is not Classification.UNKNOWN:
            changes.append(change.model_copy(update={"events": match(change, candidates)}))
        else:
            changes.append(change)

    read = sum(len(v) for v in events_by_entity.values())
    lookup = _status(failures, len(entities), read)
    return report.model_copy(update={"changes": changes, "authors": lookup})


def _status(failures: Sequence[PostureError], queried: int, read: int) -> AuthorLookup:
    if not failures:
        return AuthorLookup(status="ok", events_read=read, entities_queried=queried)
    statuses = {getattr(f, "status", None) for f in failures}
    first = str(failures[0])
    if len(failures) < queried:
        status = "partial"
        message = f"audit events unreadable for {len(failures)} of {queried} entities: {first}"
    elif statuses == {403}:
        status = "forbidden"
        message = (
            "audit events are not readable with this token (403): they need GitLab Premium or "
            "Ultimate and the Owner role on the group (Maintainer or Owner on the project)"
        )
    elif statuses == {404}:
        status = "unavailable"
        message = "this GitLab has no audit events API (404): GitLab Free or Community Edition"
    else:
        status = "error"
        message = f"audit events could not be read: {first}"
    return AuthorLookup(
        status=status,  # type: ignore[arg-type]
        message=message,
        events_read=read,
        entities_queried=queried,
    )


# --- events ------------------------------------------------------------------------------


def to_ref(event: dict[str, Any]) -> AuditEventRef | None:
    """GitLab's audit event as posture keeps it: no IP, no e-mail, no secret-looking value."""
    try:
        ident = int(event["id"])
        created = str(event["created_at"])
    except (KeyError, TypeError, ValueError):
        return None
    details = event.get("details") if isinstance(event.get("details"), dict) else {}
    return AuditEventRef(
        id=ident,
        created_at=created,
        author_id=event.get("author_id") if isinstance(event.get("author_id"), int) else None,
        author_name=_text(details.get("author_name")) or None,
        event_name=_text(event.get("event_name") or details.get("event_name")) or None,
        entity_type=_text(event.get("entity_type")) or None,
        entity_id=event.get("entity_id") if isinstance(event.get("entity_id"), int) else None,
        description=describe(details),
    )


def describe(details: dict[str, Any]) -> str:
    """One line from GitLab's details: "change visibility from private to public"."""
    target = _safe(details["target_details"]) if details.get("target_details") else ""
    if details.get("change") is not None:
        text = f"change {_safe(details['change'])}"
        if "from" in details or "to" in details:
            text += f" from {_safe(details.get('from'))} to {_safe(details.get('to'))}"
    elif details.get("add") is not None:
        text = f"add {_safe(details['add'])}"
    elif details.get("remove") is not None:
        text = f"remove {_safe(details['remove'])}"
    elif details.get("custom_message") is not None:
        text = _safe(details["custom_message"])
    else:
        text = "event"
    if target and target not in text:
        text += f" ({target})"
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _safe(value: Any) -> str:
    """A details value as text, with URL credentials and secret-looking values removed."""
    text = _text(value)
    if not text:
        return '""'
    text = _URL.sub(lambda m: redact_url(m.group(0)).url, text)
    if value_signals(text).looks_like_secret:
        return "[redacted]"
    return text


def match(change: Change, events: Sequence[AuditEventRef]) -> list[AuditEventRef]:
    """The events (latest first) that most plausibly made ``change``.

    Narrowed step by step: by section or field words, then by the item's name, then by the
    field; a step that would leave nothing is skipped, so an event about the right section
    but worded differently is still offered.
    """
    words = _words(change)
    chosen = [e for e in events if _mentions(e, words)] if words else list(events)
    if not chosen:
        return []
    for narrower in _narrowers(change):
        narrowed = [e for e in chosen if narrower(e)]
        if narrowed:
            chosen = narrowed
    return chosen[:MAX_EVENTS_PER_CHANGE]


def _words(change: Change) -> tuple[str, ...]:
    if change.kind in (ChangeKind.RENAMED, ChangeKind.TRANSFERRED):
        return _MOVE_WORDS
    if change.kind is ChangeKind.CREATED:
        return _LIFECYCLE_WORDS
    if change.kind is ChangeKind.DELETED:
        return ("destroy", "delet", "remov")
    if change.section is not None:
        return SECTION_WORDS.get(change.section, (change.section,))
    if change.field is not None:
        return FIELD_WORDS.get(change.field, (change.field,))
    return ()


def _haystack(event: AuditEventRef) -> str:
    return f"{event.event_name or ''} {event.description}".lower()


def _mentions(event: AuditEventRef, words: Sequence[str]) -> bool:
    hay = _haystack(event)
    return any(word in hay for word in words)


def _narrowers(change: Change) -> list[Callable[[AuditEventRef], bool]]:
    out: list[Callable[[AuditEventRef], bool]] = []
    if change.kind in (ChangeKind.DELETED, ChangeKind.CREATED):
        path = change.target_path.lower()
        out.append(lambda e: path in _haystack(e))
    if change.item:
        names = _item_names(change.item)
        out.append(lambda e: any(name in _haystack(e) for name in names))
    if change.kind in (ChangeKind.ADDED, ChangeKind.REMOVED):
        verbs = (
            ("add", "creat") if change.kind is ChangeKind.ADDED else ("remov", "delet", "destroy")
        )
        out.append(lambda e: any(v in _haystack(e) for v in verbs))
    if change.field and change.section is not None:
        words = tuple(change.field.replace(".", "_").split("_"))
        key = change.field.split(".")[-1].replace("_", " ")
        out.append(
            lambda e: key in _haystack(e).replace("_", " ") or all(w in _haystack(e) for w in words)
        )
    return out


def _item_names(item: str) -> list[str]:
    """How an audit event may name an item: "3 (hotfix-laptop)" → hotfix-laptop, then 3."""
    descriptive = re.findall(r"\(([^)]+)\)|→ (\S+)", item)
    names = [a or b for a, b in descriptive]
    head = item.split(" (", maxsplit=1)[0].split(" → ", maxsplit=1)[0]
    if not head.isdigit() or not names:
        names.append(head)
    return [n.lower() for n in names if n]


def group_by_author(report: DriftReport) -> dict[str, list[Change]]:
    """Changes by author name ("author unknown" when no event matched), for summaries."""
    out: dict[str, list[Change]] = defaultdict(list)
    for change in report.changes:
        name = change.events[0].author_name if change.events else None
        out[name or "author unknown"].append(change)
    return dict(out)
