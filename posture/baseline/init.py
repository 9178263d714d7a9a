"""A commented starter baseline (``posture baseline init``).

Without a snapshot it is the skeleton of a baseline that extends gitlab-hardening. With one,
it is tuned to what exists: an override per namespace that already holds public projects,
marked for review, so the first audit reports decisions to make rather than hundreds of
expected failures. The output always loads (a test checks it).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta

from posture.baseline.schema import SCHEMA_ID
from posture.baseline.shipped import DEFAULT_BASELINE
from posture.snapshot import Snapshot

_MAX_LISTED = 5


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _name(snapshot: Snapshot | None) -> str:
    """``<top-level group>-hardening`` when the snapshot names one, else ``my-hardening``."""
    if snapshot is not None:
        tops = sorted({group.full_path.split("/")[0] for group in snapshot.groups})
        if not tops:
            tops = sorted({p.path_with_namespace.split("/")[0] for p in snapshot.projects})
        if tops:
            slug = re.sub(r"[^a-z0-9._-]+", "-", tops[0].lower()).strip("-._")
            if slug:
                return f"{slug}-hardening"
    return "my-hardening"


def _public_namespaces(snapshot: Snapshot) -> dict[str, list[str]]:
    """Namespace path → public projects directly in it (case-insensitive, as GitLab is)."""
    by_lower: dict[str, str] = {}
    public: dict[str, list[str]] = defaultdict(list)
    for project in sorted(snapshot.projects, key=lambda p: p.path_with_namespace.lower()):
        if project.visibility != "public":
            continue
        namespace = project.namespace_full_path or project.path_with_namespace.rpartition("/")[0]
        if not namespace:
            continue
        namespace = by_lower.setdefault(namespace.lower(), namespace)
        public[namespace].append(project.path_with_namespace)
    return dict(public)


def _public_groups(snapshot: Snapshot) -> dict[str, str]:
    """Lowercased path → path of every public group."""
    return {g.full_path.lower(): g.full_path for g in snapshot.groups if g.visibility == "public"}


def starter_baseline(snapshot: Snapshot | None = None) -> str:
    """Commented YAML extending gitlab-hardening; tuned to ``snapshot`` when one is given."""
    lines = [
        f"# yaml-language-server: $schema={SCHEMA_ID}",
        "#",
        "# A starter baseline written by `posture baseline init`. Review it in a merge request,",
        "# then check it with `posture baseline validate FILE`. Reference: docs/baseline.md.",
        f"# Everything in {DEFAULT_BASELINE} applies unless you change it below.",
        f"name: {_name(snapshot)}",
        "description: Our GitLab hardening baseline",
        f"extends: {DEFAULT_BASELINE}",
        "",
        "# Change a rule's parameters or severity, or switch it off, for the whole instance:",
        "#   approvals.min_required: {min: 2, severity: critical}",
        "#   runners.instance_runners_enabled: false",
        '#   webhooks.allowed_hosts: {hosts: ["*.example.com"]}',
        "settings: {}",
        "",
        *_overrides(snapshot),
        "",
        *_waivers(snapshot),
    ]
    return "\n".join(lines) + "\n"


def _overrides(snapshot: Snapshot | None) -> list[str]:
    namespaces = _public_namespaces(snapshot) if snapshot is not None else {}
    groups = _public_groups(snapshot) if snapshot is not None else {}
    scopes = {namespace.lower(): namespace for namespace in namespaces}
    for lower, path in groups.items():
        scopes.setdefault(lower, path)
    if not scopes:
        return [
            "# Narrower scopes win: match groups and projects by path glob (`*` one segment,",
            "# `**` any depth), topics, visibility or archived.",
            "overrides: []",
            '#  - match: {path: "my-open-source-group/**"}',
            "#    settings:",
            "#      project.visibility: {allowed: [public]}",
        ]
    lines = [
        "# Narrower scopes win. These overrides allow what the instance already has, so the",
        "# first audit shows decisions to make rather than expected failures: confirm each one",
        "# or delete it.",
        "overrides:",
    ]
    for lower, scope in sorted(scopes.items()):
        projects = namespaces.get(scope, [])
        found = []
        if lower in groups:
            found.append("the group is public")
        if projects:
            listed = ", ".join(projects[:_MAX_LISTED])
            more = f" and {len(projects) - _MAX_LISTED} more" if len(projects) > _MAX_LISTED else ""
            found.append(f"{len(projects)} public project(s): {listed}{more}")
        lines.append(f"  # review: is this intended? {scope}: {'; '.join(found)}")
        lines.append(f"  - match: {{path: {_quote(scope + '/**')}}}")
        lines.append("    settings:")
        if projects:
            lines.append("      project.visibility: {allowed: [private, internal, public]}")
        if lower in groups:
            lines.append("      group.visibility: {allowed: [private, internal, public]}")
    return lines


def _waivers(snapshot: Snapshot | None) -> list[str]:
    if snapshot is not None:
        expires = (snapshot.meta.run.started_at.date() + timedelta(days=90)).isoformat()
    else:
        expires = "2030-12-31"
    return [
        "# Accepted risks: each one owned and expiring. After its expiry date a waiver stops",
        "# waiving and the report says so. For example:",
        "waivers: []",
        "#  - rule: pipelines.public_jobs",
        '#    target: "my-open-source-group/*"       # path glob',
        '#    item: "hook *"                         # optional: glob on the finding\'s item',
        "#    reason: Public build logs are part of the community workflow",
        "#    owner: security-team@example.com",
        f"#    expires: {expires}",
    ]
