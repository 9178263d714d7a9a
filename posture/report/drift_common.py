"""What every format needs to show drift, derived once: order, grouping, rule ids, author text,
counts and the ``--fail-on`` verdict.

Formats call these instead of re-deriving anything, so all of them list the same changes in the
same order and say the same thing about who made them. Nothing here classifies: the
classification of each change is the diff engine's, and the counts are the drift summary's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from posture.drift.model import (
    CLASSIFICATION_ORDER,
    AuditEventRef,
    AuthorLookup,
    Change,
    ChangeKind,
    Classification,
    DriftReport,
    SnapshotSide,
)
from posture.errors import ConfigError

#: ``posture diff --fail-on`` values (``DriftReport.failing`` decides what each one fails on).
FAIL_ON_CHOICES = ("weakening", "any", "none")
#: Up to this many unknown changes are listed one by one; beyond it they are counted by reason.
LISTED_UNKNOWN_MAX = 20
#: Audit events shown per change; the rest are counted.
EVENTS_SHOWN = 3
#: A shortened snapshot digest is this many hex digits.
DIGEST_CHARS = 12

TITLES = {
    Classification.WEAKENING: "Weakening",
    Classification.UNKNOWN: "Unknown: not compared",
    Classification.STRENGTHENING: "Strengthening",
    Classification.NEUTRAL: "Neutral",
}
_CLASS_RANK = {c: i for i, c in enumerate(CLASSIFICATION_ORDER)}
_TARGET_RANK = {"instance": 0, "group": 1, "project": 2, "runner": 3}
# C0/C1 controls (ANSI escapes included) and bidi overrides: a GitLab name must not be able to
# recolour a terminal or make text read differently than it is.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str | None) -> str:
    """Untrusted text on one line: controls become spaces, runs of whitespace one space."""
    if not text:
        return ""
    return " ".join(_INVISIBLE.sub(" ", text).split())


def when(moment: datetime) -> str:
    """A snapshot time as every format prints it."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def short_digest(digest: str) -> str:
    return digest.removeprefix("sha256:")[:DIGEST_CHARS]


def side_text(side: SnapshotSide) -> str:
    """``2026-11-01 03:00 UTC by root (admin), snapshot 0123456789ab, complete``."""
    who = side.username or "unknown user"
    state = "complete" if side.complete else "INCOMPLETE: some sections failed to collect"
    return (
        f"{when(side.started_at)} by {who}{' (admin)' if side.is_admin else ''}, "
        f"snapshot {short_digest(side.digest)}, {state}"
    )


# --- order and grouping -----------------------------------------------------------------


def place_key(change: Change) -> tuple[Any, ...]:
    """Where a change is: target, then section, item, field and kind; the id breaks ties."""
    return (
        _TARGET_RANK.get(change.target_kind, len(_TARGET_RANK)),
        change.target_path,
        change.target_id if change.target_id is not None else -1,
        change.section or "",
        change.item or "",
        change.field or "",
        change.kind.value,
        change.id,
    )


def ordered(changes: Iterable[Change]) -> list[Change]:
    """Changes by place, whatever order they came in (output is a pure function of the set)."""
    return sorted(changes, key=place_key)


def worst_first(changes: Iterable[Change]) -> list[Change]:
    """Weakening, unknown, strengthening, neutral (the model's order), each by place."""
    return sorted(changes, key=lambda c: (_CLASS_RANK[c.classification], *place_key(c)))


def of(drift: DriftReport, classification: Classification) -> list[Change]:
    return ordered(drift.of(classification))


@dataclass(frozen=True)
class Target:
    """A changed group, project, runner or the instance, as a heading over its changes."""

    kind: str
    id: int | None
    path: str
    url: str | None
    moved: str | None  # "renamed from acme/old", "transferred from acme/old"

    @property
    def label(self) -> str:
        """``acme/api (project), renamed from acme/old-api``; the instance is just ``instance``."""
        label = self.path if self.kind == "instance" else f"{self.path} ({self.kind})"
        return label + (f", {self.moved}" if self.moved else "")


def _target_key(change: Change) -> tuple[str, int | None, str]:
    return (change.target_kind, change.target_id, change.target_path)


def _moves(drift: DriftReport) -> dict[tuple[str, int | None, str], str]:
    """Per target, how it moved, from its renamed/transferred change (whatever its class)."""
    moves: dict[tuple[str, int | None, str], str] = {}
    for change in ordered(drift.changes):
        key = _target_key(change)
        if change.kind in (ChangeKind.RENAMED, ChangeKind.TRANSFERRED):
            before = change.old_path or (change.old if isinstance(change.old, str) else None)
            if before:
                moves[key] = f"{change.kind.value} from {before}"
        elif change.old_path and key not in moves:
            moves[key] = f"previously {change.old_path}"
    return moves


def by_target(changes: Iterable[Change], drift: DriftReport) -> list[tuple[Target, list[Change]]]:
    """Changes grouped under their target, targets and changes in place order."""
    moves = _moves(drift)
    groups: dict[tuple[str, int | None, str], list[Change]] = {}
    for change in ordered(changes):
        groups.setdefault(_target_key(change), []).append(change)
    out = []
    for key, members in groups.items():
        first = members[0]
        target = Target(
            first.target_kind, first.target_id, first.target_path, first.target_url, moves.get(key)
        )
        out.append((target, members))
    return out


# --- identity ---------------------------------------------------------------------------


def rule_id(change: Change) -> str:
    """A stable, readable id for the kind of change, for formats that need a rule.

    Always three segments, ``drift/<family>/<what>``: ``<field>`` for a changed setting
    (``drift/branches/allow_force_push``); ``<section>.<kind>`` for an item added or removed or
    a section not compared (``drift/variables/variables.added``,
    ``drift/branches/protected_branches.unknown``); ``<target kind>.<kind>`` for a group,
    project or runner created, deleted, renamed or transferred
    (``drift/visibility/project.renamed``).
    """
    if change.field and change.kind is ChangeKind.CHANGED:
        return f"drift/{change.family}/{change.field}"
    where = change.section or change.target_kind
    return f"drift/{change.family}/{where}.{change.kind.value}"


def case_name(change: Change) -> str:
    """``drift/branches/allow_force_push [main]``: the rule id, plus the item when there is one."""
    rid = rule_id(change)
    return f"{rid} [{change.item}]" if change.item else rid


def value_text(value: Any) -> str:
    """An old or new value as people read it: strings bare, nothing as ``unset``, else JSON."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- authors ----------------------------------------------------------------------------


def event_time(event: AuditEventRef) -> str:
    """GitLab's ``created_at`` as ``2026-11-01 14:02 UTC``; left as sent if it does not parse."""
    try:
        moment = datetime.fromisoformat(event.created_at)
    except ValueError:
        return one_line(event.created_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return when(moment)


def event_author(event: AuditEventRef) -> str:
    if event.author_name:
        return one_line(event.author_name)
    if event.author_id is not None:
        return f"user #{event.author_id}"
    return "an unknown user"


def event_text(event: AuditEventRef) -> str:
    """``alice at 2026-11-01 14:02 UTC: change visibility from private to public``."""
    return f"{event_author(event)} at {event_time(event)}: {one_line(event.description)}"


_NO_EVENT = {
    "not_requested": "audit events were not requested",
    "ok": "no matching audit event",
    "partial": "no matching audit event, and audit events were only partly read",
    "unavailable": "audit events are unavailable",
    "forbidden": "the token may not read audit events",
    "error": "audit events could not be read",
}


def unknown_author_reason(authors: AuthorLookup) -> str:
    """Why a change has no author; the lookup's message is in the header (``authors_text``)."""
    return _NO_EVENT.get(authors.status, authors.status)


def author_text(change: Change, authors: AuthorLookup) -> str:
    """Who made a change and when, from its audit events, or why that is not known."""
    if not change.events:
        if authors.status == "not_requested":
            return "author not looked up"
        return f"author unknown: {unknown_author_reason(authors)}"
    events = sorted(change.events, key=lambda e: (e.created_at, e.id))
    shown = [event_text(e) for e in events[:EVENTS_SHOWN]]
    more = len(events) - EVENTS_SHOWN
    text = "by " + "; ".join(shown)
    if more > 0:
        text += f"; and {more} more audit event{'s' if more != 1 else ''}"
    return text


def authors_text(authors: AuthorLookup) -> str:
    """For the header (after ``Authors:``): whether changes could be attributed at all."""
    message = f": {one_line(authors.message)}" if authors.message else ""
    if authors.status == "not_requested":
        return f"not looked up{message or ' (audit events were not requested)'}"
    if authors.status == "ok":
        return (
            f"from {authors.events_read} GitLab audit event(s) "
            f"({authors.entities_queried} group(s)/project(s) queried)"
        )
    if authors.status == "partial":
        return (
            f"partly known, audit events were only partly read{message} "
            f"({authors.events_read} event(s) read)"
        )
    return f"unknown: {_NO_EVENT.get(authors.status, authors.status)}{message}"


# --- counts and the verdict -------------------------------------------------------------


def counts(drift: DriftReport) -> list[tuple[Classification, int]]:
    """The summary's counts, worst first."""
    by = drift.summary.by_classification
    return [(c, by.get(c.value, 0)) for c in CLASSIFICATION_ORDER]


def counts_text(drift: DriftReport) -> str:
    """``7 changes: 3 weakening, 1 unknown, 2 strengthening, 1 neutral``."""
    parts = ", ".join(f"{n} {c.value}" for c, n in counts(drift))
    total = drift.summary.total
    return f"{total} change{'s' if total != 1 else ''}: {parts}"


def unknown_reasons(drift: DriftReport) -> list[tuple[str, int]]:
    """Why sections were not compared, most frequent first."""
    reasons = drift.summary.unknown_by_reason
    return sorted(
        ((r or "no reason given", n) for r, n in reasons.items()), key=lambda x: (-x[1], x[0])
    )


def check_fail_on(fail_on: str) -> None:
    if fail_on not in FAIL_ON_CHOICES:
        raise ConfigError(
            f"--fail-on {fail_on!r} is not a drift threshold; use one of: "
            + ", ".join(FAIL_ON_CHOICES)
        )


def fail_on_text(drift: DriftReport, fail_on: str, strict: bool = False) -> str:
    """What ``--fail-on`` (and ``--strict``: unknowns fail too) decided, as a report's last line.

    The count is ``DriftReport.failing``'s, the same list the exit code comes from.
    """
    check_fail_on(fail_on)
    if fail_on == "none":
        return "--fail-on none: changes do not change the exit code"
    failing = len(drift.failing(fail_on, strict))
    noun = "weakening change" if fail_on == "weakening" else "change"
    if strict and fail_on == "weakening":
        noun = "weakening or unknown change"
    flag = f"--fail-on {fail_on}" + (" --strict" if strict else "")
    unknown = drift.summary.by_classification.get(Classification.UNKNOWN.value, 0)
    note = f"; {unknown} not compared (unknown)" if unknown and not strict else ""
    if failing:
        plural = "s" if failing != 1 else ""
        return f"{failing} {noun}{plural}: failing ({flag}){note}"
    return f"No {noun}s: passing ({flag}){note}"


def empty_text(drift: DriftReport) -> str:
    return f"No changes between {when(drift.old.started_at)} and {when(drift.new.started_at)}."
