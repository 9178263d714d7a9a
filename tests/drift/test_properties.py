"""Properties of the diff on randomly changed snapshots: diff(A, A) is empty, and diff(A, B)
mirrors diff(B, A) change for change."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture.drift.catalog import SPECS
from posture.drift.engine import diff_snapshots
from posture.drift.model import Change, ChangeKind, Classification
from posture.snapshot import (
    AccessLevel,
    DeployKey,
    ProtectedBranch,
    Section,
    Snapshot,
    Status,
    Variable,
    Webhook,
)
from tests.drift.helpers import demo

W, S = Classification.WEAKENING, Classification.STRENGTHENING


def _pick(rng: random.Random, items: list[Any]) -> Any:
    return rng.choice(items) if items else None


def _visibility(s: Snapshot, rng: random.Random) -> None:
    _pick(rng, s.projects).visibility = rng.choice(["private", "internal", "public"])


def _group_visibility(s: Snapshot, rng: random.Random) -> None:
    _pick(rng, s.groups).visibility = rng.choice(["private", "internal", "public"])


def _flags(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, s.projects)
    setattr(
        p, rng.choice(["public_jobs", "shared_runners_enabled", "archived"]), rng.random() < 0.5
    )


def _branch(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, [p for p in s.projects if p.protected_branches.ok])
    branches = p.protected_branches.data
    action = rng.randrange(4)
    if action == 0 and branches:
        branches.remove(rng.choice(branches))
    elif action == 1:
        branches.append(
            ProtectedBranch(
                name=f"rel-{rng.randrange(5)}",
                push_access_levels=[AccessLevel(access_level=rng.choice([0, 30, 40]))],
                allow_force_push=rng.random() < 0.5,
            )
        )
    elif branches:
        b = rng.choice(branches)
        b.allow_force_push = not b.allow_force_push
        b.push_access_levels = [
            AccessLevel(access_level=rng.choice([0, 30, 40, 60])),
            *([AccessLevel(user_id=rng.randrange(3))] if rng.random() < 0.5 else []),
        ]
    # names must stay unique within a project, as in GitLab
    seen: dict[str, ProtectedBranch] = {}
    for b in branches:
        seen.setdefault(b.name, b)
    p.protected_branches.data = list(seen.values())


def _approvals(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, [p for p in s.projects if p.approval_rules.ok and p.approval_rules.data])
    if p is None:
        return
    rule = rng.choice(p.approval_rules.data)
    rule.approvals_required = rng.randrange(4)
    if rng.random() < 0.3:
        p.approval_rules.data.remove(rule)


def _variables(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, [p for p in s.projects if p.variables.ok])
    data = p.variables.data
    action = rng.randrange(3)
    if action == 0 and data:
        v = rng.choice(data)
        setattr(v, rng.choice(["masked", "protected", "looks_like_secret"]), rng.random() < 0.5)
        if rng.random() < 0.3:
            scope = rng.choice(["*", "production", "staging"])
            if not any(o.key == v.key and o.environment_scope == scope for o in data):
                v.environment_scope = scope
    elif action == 1:
        key = f"NEW_{rng.randrange(3)}"
        if not any(o.key == key for o in data):
            data.append(
                Variable(
                    key=key,
                    masked=rng.random() < 0.5,
                    protected=rng.random() < 0.5,
                    environment_scope="*",
                    value_available=True,
                    looks_like_secret=rng.random() < 0.5,
                    name_suggests_secret=False,
                )
            )
    elif data:
        data.remove(rng.choice(data))


def _hooks(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, [p for p in s.projects if p.webhooks.ok])
    data = p.webhooks.data
    if data and rng.random() < 0.5:
        h = rng.choice(data)
        host = rng.choice(["a.example", "b.example", h.url_host or "c.example"])
        h.url, h.url_host = f"https://{host}/hook", host
        h.enable_ssl_verification = rng.random() < 0.5
        h.events = sorted(rng.sample(["push_events", "job_events", "tag_push_events"], 2))
    elif rng.random() < 0.5 and data:
        data.remove(rng.choice(data))
    else:
        host = rng.choice(["a.example", "b.example"])
        ident = 900 + rng.randrange(5)
        if not any(h.id == ident for h in data):
            data.append(
                Webhook(id=ident, url=f"https://{host}/x", url_scheme="https", url_host=host)
            )


def _keys(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, [p for p in s.projects if p.deploy_keys.ok])
    data = p.deploy_keys.data
    if data and rng.random() < 0.5:
        k = rng.choice(data)
        k.can_push = not k.can_push
        k.expires_at = rng.choice([None, "2027-01-01", "2030-01-01"])
    else:
        ident = 800 + rng.randrange(5)
        if not any(k.id == ident for k in data):
            data.append(DeployKey(id=ident, title="k", can_push=rng.random() < 0.5))


def _runner(s: Snapshot, rng: random.Random) -> None:
    r = _pick(rng, [r for r in s.runners if r.details.ok])
    details = r.details.data
    setattr(details, rng.choice(["run_untagged", "locked"]), rng.random() < 0.5)
    details.access_level = rng.choice(["ref_protected", "not_protected"])


def _section_status(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, s.projects)
    name = rng.choice(["webhooks", "variables", "approval_rules"])
    setattr(p, name, Section(status=rng.choice([Status.FORBIDDEN, Status.ERROR]), http_status=403))


def _move(s: Snapshot, rng: random.Random) -> None:
    p = _pick(rng, s.projects)
    if rng.random() < 0.5:
        p.path_with_namespace += "-x"
    else:
        g = rng.choice(s.groups)
        p.namespace_id = g.id
        p.path_with_namespace = f"{g.full_path}/{p.path_with_namespace.rsplit('/', 1)[1]}"


def _delete(s: Snapshot, rng: random.Random) -> None:
    s.projects.remove(_pick(rng, s.projects))


MUTATORS: list[Callable[[Snapshot, random.Random], None]] = [
    _visibility,
    _group_visibility,
    _flags,
    _branch,
    _approvals,
    _variables,
    _hooks,
    _keys,
    _runner,
    _section_status,
    _move,
    _delete,
]

mutations = st.lists(
    st.tuples(st.sampled_from(MUTATORS), st.integers(0, 2**32)), min_size=1, max_size=6
)


def _changed(plan: list[tuple[Callable[..., None], int]]) -> Snapshot:
    snapshot = demo()
    for mutate, seed in plan:
        mutate(snapshot, random.Random(seed))
    return snapshot


_MIRROR_KIND = {
    ChangeKind.ADDED: ChangeKind.REMOVED,
    ChangeKind.REMOVED: ChangeKind.ADDED,
    ChangeKind.CREATED: ChangeKind.DELETED,
    ChangeKind.DELETED: ChangeKind.CREATED,
}


def _directional(change: Change) -> bool:
    if change.field is None:
        return True  # presence: added-weakening mirrors removed-strengthening
    for spec in SPECS:
        if spec.where == change.target_kind and spec.section == change.section:
            found = spec.field_named(change.field)
            if found is not None:
                return found.judge.directional
    return True


def _mirrored(change: Change) -> tuple[Any, ...]:
    """What the change looks like from the other side."""
    classification = change.classification
    if _directional(change):
        classification = {W: S, S: W}.get(classification, classification)
    kind = _MIRROR_KIND.get(change.kind, change.kind)
    old, new = change.new, change.old
    if change.kind in (ChangeKind.CREATED, ChangeKind.DELETED):
        old = new = None
    return _key(change, kind, classification, old, new)


def _key(change: Change, kind: ChangeKind, classification: Classification, old: Any, new: Any):  # type: ignore[no-untyped-def]
    if change.kind is ChangeKind.UNKNOWN:
        old, new = None, None  # the statuses swap too, and are checked through the summary
    return (
        change.target_kind,
        change.target_id,
        change.section,
        change.field,
        kind,
        classification,
        json.dumps(old, sort_keys=True),
        json.dumps(new, sort_keys=True),
    )


def _plain(change: Change) -> tuple[Any, ...]:
    old, new = change.old, change.new
    if change.kind in (ChangeKind.CREATED, ChangeKind.DELETED):
        old = new = None
    return _key(change, change.kind, change.classification, old, new)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations)
def test_diff_mirrors(plan: list[tuple[Callable[..., None], int]]) -> None:
    a, b = demo(), _changed(plan)
    forward = diff_snapshots(a, b).changes
    backward = diff_snapshots(b, a).changes
    assert Counter(_mirrored(c) for c in forward) == Counter(_plain(c) for c in backward)
    assert len(forward) == len(backward)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations)
def test_diff_with_itself_is_empty(plan: list[tuple[Callable[..., None], int]]) -> None:
    b = _changed(plan)
    only_unknowns = [
        c for c in diff_snapshots(b, b).changes if c.classification is not Classification.UNKNOWN
    ]
    assert only_unknowns == []
    # and a section that is not ok on both sides is still reported, never silently equal
    broken = sum(1 for _t, _n, sec in b.sections() if not sec.ok)
    assert diff_snapshots(b, b).summary.by_classification["unknown"] == broken
