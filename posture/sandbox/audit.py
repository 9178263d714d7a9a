"""Audit events: what the sandbox records for every write, in GitLab's shape.

Why: `posture diff` attaches to each change the audit event GitLab recorded for it (who, when,
what). The sandbox must record them as GitLab does (doc/api/audit_events.md; event names from
doc/user/compliance/audit_event_types.md; details as built by GitLab's `Audit::Changes` and
`AuditEvents::BuildService`) so that the drift code is proven against the real shape.

Secret hygiene: an event never carries a CI variable value, a webhook URL or token, a header
value or any other request parameter value; only names, flags and role descriptions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posture.sandbox.instance import User

# Event names GitLab does not have: the sandbox records them for writes GitLab leaves
# unaudited, unless `Sandbox(audit_untracked_writes=False)`. The prefix says they are ours.
SANDBOX_PREFIX = "sandbox_"

INSTANCE_SCOPE = "Gitlab::Audit::InstanceScope"
ENTITY_TYPES = ("User", "Group", "Project", INSTANCE_SCOPE)


@dataclass(frozen=True)
class Entity:
    """Where an event is filed: a project, a group, or the instance."""

    type: str  # "Project" | "Group" | INSTANCE_SCOPE
    id: int
    path: str  # details.entity_path: the full path at the time of the event


INSTANCE = Entity(INSTANCE_SCOPE, 1, "gitlab_instance")


@dataclass(frozen=True)
class Target:
    """What changed: GitLab's target_id, target_type and target_details."""

    type: str
    id: int | str | None
    details: str


@dataclass(frozen=True)
class Author:
    """Who acted (the token's user) and from where."""

    user: User
    ip_address: str

    @property
    def email(self) -> str:
        return f"{self.user.username}@example.invalid"


def ruby_str(value: Any) -> str:
    """GitLab's `formatted_details` turns from/to into strings with Ruby's `to_s`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else ruby_str(v) for v in value) + "]"
    return str(value)


def change_message(change: str, old: Any, new: Any) -> str:
    """`Audit::Changes#build_message`: "Changed <what> from <old> to <new>", blanks left out."""
    parts = [f"Changed {change}"]
    if ruby_str(old):
        parts.append(f"from {ruby_str(old)}")
    if ruby_str(new):
        parts.append(f"to {ruby_str(new)}")
    return " ".join(parts)


@dataclass(frozen=True)
class Pending:
    """An event decided by a write, not yet numbered or timed."""

    name: str
    entity: Entity
    target: Target
    message: str
    extra: dict[str, Any]


def changed(  # noqa: PLR0917 - GitLab's own argument order: what, where, from, to
    name: str,
    entity: Entity,
    target: Target,
    change: str,
    old: Any,
    new: Any,
    *,
    hide: bool = False,
) -> Pending:
    """One attribute changed. `hide` leaves from/to out, as GitLab does for "value(hidden)"."""
    if hide:
        return Pending(name, entity, target, f"Changed {change}", {"change": change})
    extra = {"change": change, "from": old, "to": new}
    return Pending(name, entity, target, change_message(change, old, new), extra)


def custom(name: str, entity: Entity, target: Target, message: str, **extra: Any) -> Pending:
    return Pending(name, entity, target, message, dict(extra))


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Recorded:
    """A stored event: its JSON body plus what the routes filter on."""

    id: int
    created: datetime
    author_id: int
    entity: Entity
    body: dict[str, Any]


class AuditLog:
    """Every recorded event, oldest first; thread-safe, shared by every router generation."""

    def __init__(self) -> None:
        self._events: list[Recorded] = []
        self._lock = threading.Lock()

    def record(self, author: Author, pending: list[Pending]) -> list[Recorded]:
        """Number, time-stamp (real UTC now) and store events, in the order given."""
        out = []
        with self._lock:
            for item in pending:
                now = datetime.now(UTC)
                # Kept at the precision the API shows, so a client filtering on a
                # created_at it read back gets that very event.
                created = now.replace(microsecond=now.microsecond // 1000 * 1000)
                event_id = len(self._events) + 1
                details: dict[str, Any] = {}
                for key, value in item.extra.items():
                    details[key] = ruby_str(value) if key in ("from", "to") else value
                details.update(
                    {
                        "event_name": item.name,
                        "author_name": author.user.name,
                        "author_class": "User",
                        "author_email": author.email,
                        "target_id": item.target.id,
                        "target_type": item.target.type,
                        "target_details": item.target.details,
                        "custom_message": item.message,
                        "ip_address": author.ip_address,
                        "entity_path": item.entity.path,
                    }
                )
                body = {
                    "id": event_id,
                    "author_id": author.user.id,
                    "entity_id": item.entity.id,
                    "entity_type": item.entity.type,
                    "event_name": item.name,
                    "details": details,
                    "created_at": _timestamp(created),
                }
                recorded = Recorded(event_id, created, author.user.id or 0, item.entity, body)
                self._events.append(recorded)
                out.append(recorded)
        return out

    def all(self) -> list[Recorded]:
        with self._lock:
            return list(self._events)


def newest_first(events: list[Recorded]) -> list[Recorded]:
    """GitLab's order for every audit event list: created_at, then id, descending."""
    return sorted(events, key=lambda e: (e.created, e.id), reverse=True)


__all__ = [
    "ENTITY_TYPES",
    "INSTANCE",
    "INSTANCE_SCOPE",
    "SANDBOX_PREFIX",
    "AuditLog",
    "Author",
    "Entity",
    "Pending",
    "Recorded",
    "Target",
    "changed",
    "custom",
    "newest_first",
    "ruby_str",
]
