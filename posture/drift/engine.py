"""Compare two snapshots: match entities by id, compare each section with the catalog's
judges, and produce a deterministic, classified list of changes.

Pure: no network, no clock. The same two snapshots always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from posture import __version__
from posture.drift.catalog import Flat, SectionSpec, specs_for
from posture.drift.model import (
    Change,
    ChangeKind,
    Classification,
    DriftReport,
    SnapshotSide,
    summarise,
)
from posture.errors import SnapshotFormatError
from posture.snapshot import Section, Snapshot, dumps, stable_view

W, S, N, U = (
    Classification.WEAKENING,
    Classification.STRENGTHENING,
    Classification.NEUTRAL,
    Classification.UNKNOWN,
)

_KIND_ORDER = {"instance": 0, "group": 1, "project": 2, "runner": 3}


class DriftInputError(SnapshotFormatError):
    """The two snapshots cannot be meaningfully compared (another instance, say)."""


def side(snapshot: Snapshot) -> SnapshotSide:
    meta = snapshot.meta
    digest = hashlib.sha256(
        json.dumps(stable_view(json.loads(dumps(snapshot))), sort_keys=True).encode()
    ).hexdigest()
    return SnapshotSide(
        gitlab_url=meta.gitlab_url,
        gitlab_version=meta.gitlab_version,
        username=meta.token.username,
        is_admin=meta.token.is_admin,
        scope=meta.scope.groups,
        all_groups=meta.scope.all_groups,
        complete=meta.complete,
        started_at=meta.run.started_at,
        finished_at=meta.run.finished_at,
        digest=digest,
    )


def _same_instance(old: Snapshot, new: Snapshot) -> None:
    a, b = old.meta.gitlab_url.rstrip("/"), new.meta.gitlab_url.rstrip("/")
    if a != b:
        raise DriftInputError(
            f"the snapshots are of different GitLab instances ({a} and {b}); "
            "drift compares two crawls of the same instance"
        )
    if old.schema_version != new.schema_version:  # pragma: no cover - one version exists
        raise DriftInputError(
            f"snapshot schema versions differ ({old.schema_version} and {new.schema_version})"
        )


def diff_snapshots(old: Snapshot, new: Snapshot, *, tool_version: str = __version__) -> DriftReport:
    """Every change from ``old`` to ``new``, classified. Audit-event authors come later
    (posture.drift.authors), so this stays offline and deterministic."""
    _same_instance(old, new)
    changes = list(_all_changes(old, new))
    changes.sort(key=_order)
    return DriftReport(
        tool_version=tool_version,
        old=side(old),
        new=side(new),
        summary=summarise(changes),
        changes=changes,
    )


def _order(change: Change) -> tuple[Any, ...]:
    return (
        _KIND_ORDER[change.target_kind],
        change.target_path,
        change.section or "",
        change.item or "",
        change.field or "",
        change.kind.value,
        json.dumps(change.new, sort_keys=True, default=str),
        json.dumps(change.old, sort_keys=True, default=str),
    )


# --- entities ---------------------------------------------------------------------------


class _Target:
    """Where a change happened: kind, id, paths, URL."""

    def __init__(
        self,
        kind: str,
        ident: int | None,
        path: str,
        url: str | None = None,
        old_path: str | None = None,
    ) -> None:
        self.kind, self.id, self.path, self.url, self.old_path = kind, ident, path, url, old_path

    def change(self, **fields: Any) -> Change:
        section, item, field = fields.get("section"), fields.get("item"), fields.get("field")
        kind: ChangeKind = fields["kind"]
        ident = Change.make_id(
            target_kind=self.kind,
            target_id=self.id,
            target_path=self.path,
            section=section,
            item=item,
            field=field,
            kind=kind.value,
        )
        # Per-element set changes share section/item/field: the element keeps ids apart.
        if fields.get("element") is not None:
            ident = hashlib.sha256(f"{ident}\x1f{fields['element']}".encode()).hexdigest()[:32]
        fields.pop("element", None)
        return Change(
            id=ident,
            target_kind=self.kind,  # type: ignore[arg-type]
            target_id=self.id,
            target_path=self.path,
            target_url=self.url,
            old_path=self.old_path if self.old_path != self.path else None,
            **fields,
        )


def _all_changes(old: Snapshot, new: Snapshot) -> Iterator[Change]:
    instance = _Target("instance", None, "instance")
    yield from _compare_entity(instance, "instance", old.instance, new.instance)

    old_groups = {g.id: g for g in old.groups}
    new_groups = {g.id: g for g in new.groups}
    incomplete = not new.meta.complete
    for gid in sorted(old_groups.keys() | new_groups.keys()):
        before, after = old_groups.get(gid), new_groups.get(gid)
        if after is None:
            assert before is not None
            yield _gone(
                _Target("group", gid, before.full_path, before.web_url),
                incomplete,
                before.parent_id,
            )
            continue
        target = _Target("group", gid, after.full_path, after.web_url)
        if before is None:
            yield target.change(
                kind=ChangeKind.CREATED,
                classification=N,
                family="visibility",
                summary=f"group {after.full_path} is new in scope ({after.visibility})",
                new={"visibility": after.visibility},
            )
            continue
        target.old_path = before.full_path
        yield from _moves(
            target, before.full_path, after.full_path, before.parent_id != after.parent_id
        )
        yield from _compare_entity(target, "group", before, after)

    old_projects = {p.id: p for p in old.projects}
    new_projects = {p.id: p for p in new.projects}
    for pid in sorted(old_projects.keys() | new_projects.keys()):
        before_p, after_p = old_projects.get(pid), new_projects.get(pid)
        if after_p is None:
            assert before_p is not None
            yield _gone(
                _Target("project", pid, before_p.path_with_namespace, before_p.web_url),
                incomplete,
                before_p.namespace_id if before_p.namespace_kind != "user" else None,
            )
            continue
        target = _Target("project", pid, after_p.path_with_namespace, after_p.web_url)
        if before_p is None:
            yield target.change(
                kind=ChangeKind.CREATED,
                classification=N,
                family="visibility",
                summary=(
                    f"project {after_p.path_with_namespace} is new in scope ({after_p.visibility})"
                ),
                new={"visibility": after_p.visibility},
            )
            continue
        target.old_path = before_p.path_with_namespace
        yield from _moves(
            target,
            before_p.path_with_namespace,
            after_p.path_with_namespace,
            before_p.namespace_id != after_p.namespace_id,
        )
        yield from _compare_entity(target, "project", before_p, after_p)

    old_runners = {r.id: r for r in old.runners}
    new_runners = {r.id: r for r in new.runners}
    for rid in sorted(old_runners.keys() | new_runners.keys()):
        target = _Target("runner", rid, f"runners/{rid}")
        before_r, after_r = old_runners.get(rid), new_runners.get(rid)
        if after_r is None:
            yield _gone(target, incomplete)
        elif before_r is None:
            yield target.change(
                kind=ChangeKind.CREATED,
                classification=N,
                family="runners",
                summary=f"runner {rid} is new ({after_r.runner_type}, {after_r.description!r})",
                new={"runner_type": after_r.runner_type, "is_shared": after_r.is_shared},
            )
        else:
            yield from _compare_entity(target, "runner", before_r, after_r)


def _gone(target: _Target, incomplete: bool, parent_id: int | None = None) -> Change:
    noun = target.kind
    summary = (
        f"{noun} {target.path} is gone from scope (deleted, or moved out of the crawled groups)"
    )
    if noun == "runner":
        summary = f"runner {target.id} is gone (deleted, or no longer visible to the token)"
    if incomplete:
        summary += "; the new crawl was incomplete, so it may only be missing"
    return target.change(
        kind=ChangeKind.DELETED,
        classification=N,
        family="runners" if noun == "runner" else "visibility",
        summary=summary,
        # Where GitLab files the deletion's audit event: the parent group.
        old={"parent_group_id": parent_id} if parent_id is not None else None,
    )


def _moves(target: _Target, old_path: str, new_path: str, transferred: bool) -> Iterator[Change]:
    if old_path == new_path and not transferred:
        return
    kind = ChangeKind.TRANSFERRED if transferred else ChangeKind.RENAMED
    verb = "transferred" if transferred else "renamed"
    yield target.change(
        kind=kind,
        classification=N,
        family="visibility",
        old=old_path,
        new=new_path,
        summary=f"{target.kind} {verb}: {old_path} → {new_path}",
    )


# --- sections ---------------------------------------------------------------------------


def _section_of(entity: Any, spec: SectionSpec) -> Section[Any] | None:
    if spec.section is None:
        return None
    value = getattr(entity, spec.section)
    if spec.plain:
        return Section(status="ok", data=value)
    return value


def _compare_entity(target: _Target, where: str, before: Any, after: Any) -> Iterator[Change]:
    for spec in specs_for(where):  # type: ignore[arg-type]
        if spec.section is None:
            yield from _compare_fields(target, spec, None, _flat(spec, before), _flat(spec, after))
            continue
        old_section, new_section = _section_of(before, spec), _section_of(after, spec)
        assert old_section is not None
        assert new_section is not None
        if not (old_section.ok and new_section.ok):
            yield _unknown(target, spec, old_section, new_section)
            continue
        if spec.is_list:
            yield from _compare_items(target, spec, old_section.data or [], new_section.data or [])
        else:
            old_flat = _flat(spec, old_section.data) if old_section.data is not None else {}
            new_flat = _flat(spec, new_section.data) if new_section.data is not None else {}
            yield from _compare_fields(target, spec, None, old_flat, new_flat)


def _flat(spec: SectionSpec, value: Any) -> Flat:
    if spec.flatten is not None:
        return spec.flatten(value)
    return value.model_dump(mode="json")


def _unknown(target: _Target, spec: SectionSpec, old: Section[Any], new: Section[Any]) -> Change:
    def describe(section: Section[Any]) -> str:
        status = section.status.value
        return f"{status} ({section.http_status})" if section.http_status else status

    if not old.ok and not new.ok:
        where = (
            f"{describe(old)} in both snapshots"
            if describe(old) == describe(new)
            else (f"{describe(old)} in the old snapshot, {describe(new)} in the new one")
        )
    elif not old.ok:
        where = f"{describe(old)} in the old snapshot"
    else:
        where = f"{describe(new)} in the new snapshot"
    assert spec.section is not None
    return target.change(
        kind=ChangeKind.UNKNOWN,
        classification=U,
        family=spec.family,
        section=spec.section,
        summary=f"{spec.title} not compared: {where}",
        why=f"{spec.section}: {where}",
        old=old.status.value,
        new=new.status.value,
    )


def _display(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _compare_fields(
    target: _Target, spec: SectionSpec, item: str | None, old: Flat, new: Flat
) -> Iterator[Change]:
    prefix = (
        f"{spec.title} {item}: "
        if item is not None
        else (f"{spec.title}: " if spec.section is not None else "")
    )
    for field_spec in spec.fields:
        before, after = old.get(field_spec.name), new.get(field_spec.name)
        if before == after:
            continue
        family = field_spec.family or spec.family
        rules = list(field_spec.rules)
        judge = field_spec.judge
        if judge.per_element and not (
            (before is None or after is None) and not judge.none_is_value
        ):
            old_set, new_set = set(before or []), set(after or [])
            changed = [(e, True) for e in new_set - old_set] + [
                (e, False) for e in old_set - new_set
            ]
            for element, added in sorted(changed, key=lambda pair: (str(pair[0]), pair[1])):
                verdict = judge.element(added)
                yield target.change(
                    kind=ChangeKind.CHANGED,
                    classification=verdict,
                    family=family,
                    section=spec.section,
                    item=item,
                    field=field_spec.name,
                    element=str(element),
                    old=None if added else element,
                    new=element if added else None,
                    summary=f"{prefix}{field_spec.label}: {_verb(added)} {element}",
                    why=_why(judge, verdict),
                    rules=rules,
                )
            continue
        verdict = judge(before, after)
        yield target.change(
            kind=ChangeKind.CHANGED,
            classification=verdict,
            family=family,
            section=spec.section,
            item=item,
            field=field_spec.name,
            old=before,
            new=after,
            summary=f"{prefix}{field_spec.label} {_display(before)} → {_display(after)}",
            why=_why(judge, verdict),
            rules=rules,
        )


def _verb(added: bool) -> str:
    return "added" if added else "removed"


def _why(judge: Any, verdict: Classification) -> str | None:
    if verdict is U:
        return "GitLab sent the value in only one of the snapshots"
    if verdict is W:
        return judge.weakening
    if verdict is S and judge.strengthening != "—":
        return judge.strengthening
    return None


def _flat_items(spec: SectionSpec, items: Iterable[Any]) -> list[Flat]:
    return [_flat(spec, item) for item in items]


def _pair(
    spec: SectionSpec, old: Sequence[Flat], new: Sequence[Flat]
) -> tuple[list[tuple[Flat, Flat]], list[Flat], list[Flat]]:
    """Match items by key, then pair leftovers that share a unique fallback key."""
    assert spec.key is not None
    old_by = {spec.key(item): item for item in old}
    new_by = {spec.key(item): item for item in new}
    pairs = [(old_by[k], new_by[k]) for k in sorted(old_by.keys() & new_by.keys())]
    removed = [old_by[k] for k in sorted(old_by.keys() - new_by.keys())]
    added = [new_by[k] for k in sorted(new_by.keys() - old_by.keys())]
    if spec.fallback_key is not None and removed and added:
        fallback = spec.fallback_key
        old_left: dict[str, list[Flat]] = {}
        new_left: dict[str, list[Flat]] = {}
        for item in removed:
            old_left.setdefault(fallback(item), []).append(item)
        for item in added:
            new_left.setdefault(fallback(item), []).append(item)
        for key in sorted(old_left.keys() & new_left.keys()):
            if len(old_left[key]) == 1 and len(new_left[key]) == 1:
                a, b = old_left[key][0], new_left[key][0]
                pairs.append((a, b))
                removed.remove(a)
                added.remove(b)
    return pairs, removed, added


def _compare_items(
    target: _Target, spec: SectionSpec, old_items: Sequence[Any], new_items: Sequence[Any]
) -> Iterator[Change]:
    assert spec.label is not None
    assert spec.presence is not None
    old, new = _flat_items(spec, old_items), _flat_items(spec, new_items)
    pairs, removed, added = _pair(spec, old, new)
    for before, after in pairs:
        yield from _compare_fields(target, spec, spec.label(after), before, after)
    for item in added:
        verdict = spec.presence.added(item, old)
        yield target.change(
            kind=ChangeKind.ADDED,
            classification=verdict,
            family=spec.family,
            section=spec.section,
            item=spec.label(item),
            new=_public(item),
            summary=f"{spec.title} added: {spec.label(item)}{_detail(item)}",
            why=_presence_why(spec.presence.added_doc) if verdict is not N else None,
            rules=_rules(spec),
        )
    for item in removed:
        verdict = spec.presence.removed(item, new)
        yield target.change(
            kind=ChangeKind.REMOVED,
            classification=verdict,
            family=spec.family,
            section=spec.section,
            item=spec.label(item),
            old=_public(item),
            summary=f"{spec.title} removed: {spec.label(item)}{_detail(item)}",
            why=_presence_why(spec.presence.removed_doc) if verdict is not N else None,
            rules=_rules(spec),
        )


def _presence_why(doc: str) -> str:
    """The catalog's sentence for the case that applied: "protection removed", not the rule."""
    text = doc.split("; otherwise", maxsplit=1)[0]
    for prefix in ("weakening: ", "strengthening: ", "weakening when ", "strengthening when "):
        text = text.removeprefix(prefix)
    return text


def _rules(spec: SectionSpec) -> list[str]:
    seen: dict[str, None] = {}
    for field_spec in spec.fields:
        for rule in field_spec.rules:
            seen.setdefault(rule)
    return sorted(seen)


def _public(item: Flat) -> Flat:
    """The item as recorded (snapshots hold no secrets), without empty noise."""
    return {k: v for k, v in sorted(item.items()) if v not in (None, [], "")}


#: (field, text when True, text when False): a few words on an added or removed item that
#: explain its classification. ``None`` says nothing for that value.
_DETAIL_FIELDS: tuple[tuple[str, str | None, str | None], ...] = (
    ("masked", "masked", "unmasked"),
    ("protected", "protected", "unprotected"),
    ("looks_like_secret", "value looks like a secret", None),
    ("can_push", "can push", "read-only"),
    ("allow_force_push", "force push allowed", None),
    ("enable_ssl_verification", None, "TLS verification off"),
    ("revoked", "revoked", None),
)


def _detail(item: Flat) -> str:
    """A few words about an added/removed item that explain its classification."""
    bits = []
    for name, when_true, when_false in _DETAIL_FIELDS:
        value = item.get(name)
        text = when_true if value is True else when_false if value is False else None
        if text:
            bits.append(text)
    if isinstance(item.get("approvals_required"), int):
        bits.append(f"{item['approvals_required']} approvals required")
    if item.get("scopes"):
        bits.append("scopes " + ", ".join(item["scopes"]))
    if item.get("expires_at"):
        bits.append(f"expires {item['expires_at']}")
    return f" ({'; '.join(bits)})" if bits else ""
