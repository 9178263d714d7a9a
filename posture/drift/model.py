"""The drift document: what changed between two snapshots, and whether it weakened security.

One :class:`Change` per changed fact (a field of an item, an item added or removed, an entity
created, deleted, renamed or transferred, or a section that could not be compared). Reports
render these; they never re-classify. The JSON form is documented by
``docs/drift.schema.json`` (generated from these models).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from posture.documents import load_document

DRIFT_SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Classification(StrEnum):
    """What a change does to security. ``unknown``: the data was not readable on one side."""

    WEAKENING = "weakening"
    STRENGTHENING = "strengthening"
    NEUTRAL = "neutral"
    UNKNOWN = "unknown"


#: Worst first: the order changes and counts are listed in.
CLASSIFICATION_ORDER = (
    Classification.WEAKENING,
    Classification.UNKNOWN,
    Classification.STRENGTHENING,
    Classification.NEUTRAL,
)


class ChangeKind(StrEnum):
    CREATED = "created"  # a group, project or runner that is new in scope
    DELETED = "deleted"  # gone from scope: deleted, or transferred out of the crawled groups
    RENAMED = "renamed"  # same id, new path, same parent
    TRANSFERRED = "transferred"  # same id, new parent namespace
    ADDED = "added"  # an item of a section (a protected branch, a variable, a webhook…)
    REMOVED = "removed"
    CHANGED = "changed"  # a field of an entity, a section or an item
    UNKNOWN = "unknown"  # a section that was not collected in one of the snapshots


class AuditEventRef(_Model):
    """A GitLab audit event attached to a change: who did it, when, and what GitLab logged.

    IP addresses and e-mail addresses from the event are deliberately not kept.
    """

    id: int
    created_at: str
    author_id: int | None = None
    author_name: str | None = None
    event_name: str | None = None
    entity_type: str | None = None
    entity_id: int | None = None
    description: str  # "change visibility from private to public", built from details


class Change(_Model):
    id: str  # stable: target id + section + item + field + kind (survives renames)
    kind: ChangeKind
    classification: Classification
    family: str  # the rule family the setting belongs to (visibility, branches, …)
    target_kind: Literal["instance", "group", "project", "runner"]
    target_id: int | None = None
    target_path: str  # the path in the new snapshot (the old one when deleted)
    target_url: str | None = None
    old_path: str | None = None  # renames and transfers
    section: str | None = None  # snapshot section, None for entity attributes
    item: str | None = None  # e.g. "main", "AWS_SECRET_KEY (production)", "hook 12"
    field: str | None = None
    old: Any = None
    new: Any = None
    summary: str  # one line a person can read without the rest of the record
    why: str | None = None  # why it is classified so
    rules: list[str] = Field(default_factory=list)  # rules that check this setting
    events: list[AuditEventRef] = Field(default_factory=list)

    @staticmethod
    def make_id(
        *,
        target_kind: str,
        target_id: int | None,
        target_path: str,
        section: str | None,
        item: str | None,
        field: str | None,
        kind: str,
    ) -> str:
        ident = str(target_id) if target_id is not None else target_path
        raw = "\x1f".join((target_kind, ident, section or "", item or "", field or "", kind))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class SnapshotSide(_Model):
    """One of the two compared snapshots, by what it covered and when it was taken."""

    gitlab_url: str
    gitlab_version: str | None = None
    username: str | None = None
    is_admin: bool = False
    scope: list[str]
    all_groups: bool = False
    complete: bool
    started_at: datetime
    finished_at: datetime
    digest: str  # sha256 of the snapshot's stable view (volatile run data removed)


AuthorStatusValue = Literal["not_requested", "ok", "partial", "unavailable", "forbidden", "error"]


class AuthorLookup(_Model):
    """Whether audit events could be read to say who made the changes."""

    status: AuthorStatusValue = "not_requested"
    message: str | None = None
    events_read: int = 0
    entities_queried: int = 0


class DriftSummary(_Model):
    total: int
    by_classification: dict[str, int]
    by_kind: dict[str, int]
    unknown_by_reason: dict[str, int] = Field(default_factory=dict)


class DriftReport(_Model):
    tool: Literal["posture"] = "posture"
    kind: Literal["drift"] = "drift"
    schema_version: int = DRIFT_SCHEMA_VERSION
    tool_version: str
    old: SnapshotSide
    new: SnapshotSide
    summary: DriftSummary
    changes: list[Change]
    authors: AuthorLookup = Field(default_factory=AuthorLookup)

    def of(self, classification: Classification) -> list[Change]:
        return [c for c in self.changes if c.classification is classification]

    def failing(self, fail_on: str, strict: bool = False) -> list[Change]:
        """Changes that make ``posture diff`` exit 1: ``weakening``, ``any`` or ``none``."""
        if fail_on == "none":
            return []
        wanted = {Classification.WEAKENING}
        if fail_on == "any":
            wanted = {Classification.WEAKENING, Classification.STRENGTHENING}
            wanted |= {Classification.NEUTRAL}
        if strict:
            wanted.add(Classification.UNKNOWN)
        return [c for c in self.changes if c.classification in wanted]


def summarise(changes: list[Change]) -> DriftSummary:
    by_class = Counter(c.classification.value for c in changes)
    by_kind = Counter(c.kind.value for c in changes)
    unknown = Counter(c.why or "" for c in changes if c.classification is Classification.UNKNOWN)
    return DriftSummary(
        total=len(changes),
        by_classification={c.value: by_class.get(c.value, 0) for c in CLASSIFICATION_ORDER},
        by_kind={k.value: by_kind.get(k.value, 0) for k in ChangeKind},
        unknown_by_reason=dict(sorted(unknown.items())),
    )


def dumps(report: DriftReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def loads(text: str, source: str = "<drift>") -> DriftReport:
    return load_document(
        text, source, kind="drift", max_version=DRIFT_SCHEMA_VERSION, model=DriftReport
    )


def json_schema() -> dict[str, Any]:
    schema = DriftReport.model_json_schema(mode="serialization")
    schema["title"] = f"posture drift (schema_version {DRIFT_SCHEMA_VERSION})"
    return schema


if __name__ == "__main__":  # python -m posture.drift.model > docs/drift.schema.json
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
