"""The end-of-crawl summary a person reads: what was covered and what could not be seen."""

from __future__ import annotations

from collections import Counter

from tabulate import tabulate

from posture.snapshot import Snapshot, Status

_STATUSES = (Status.OK, Status.FORBIDDEN, Status.UNAVAILABLE, Status.ERROR, Status.SKIPPED)


def section_counts(snapshot: Snapshot) -> dict[str, Counter[Status]]:
    """``{"project.variables": Counter({ok: 20, forbidden: 3}), ...}`` in a stable order."""
    counts: dict[str, Counter[Status]] = {}
    for target, name, section in snapshot.sections():
        kind = target.split(":", 1)[0]
        counts.setdefault(f"{kind}.{name}", Counter())[section.status] += 1
    return counts


def render(snapshot: Snapshot, output: str | None = None) -> str:
    meta = snapshot.meta
    run = meta.run
    who = meta.token.username or "unknown user"
    role = "admin" if meta.token.is_admin else "not admin"
    version = meta.gitlab_version or "unknown version"
    scope = "all groups" if meta.scope.all_groups else ", ".join(meta.scope.groups)
    archived = sum(1 for p in snapshot.projects if p.archived)

    lines = [
        f"Snapshot of {meta.gitlab_url} (GitLab {version}) as {who} ({role})",
        f"Scope: {scope}",
        "",
        tabulate(
            [
                ["groups", len(snapshot.groups)],
                ["projects", f"{len(snapshot.projects)} ({archived} archived)"],
                ["runners", len(snapshot.runners)],
            ],
            tablefmt="plain",
        ),
        "",
    ]
    rows = []
    totals: Counter[Status] = Counter()
    for key, counter in section_counts(snapshot).items():
        rows.append([key, *(counter.get(s, 0) or "" for s in _STATUSES)])
        totals.update(counter)
    rows.append(["total", *(totals.get(s, 0) for s in _STATUSES)])
    lines.append(
        tabulate(
            rows,
            headers=["section", *(s.value for s in _STATUSES)],
            tablefmt="simple",
            colalign=("left", *("right" for _ in _STATUSES)),
        )
    )
    lines.append("")
    waited = f", waited {run.rate_limit_wait_seconds:.1f} s on rate limits"
    lines.append(
        f"Requests: {run.requests_total:,} ({run.retries} retried, "
        f"{run.rate_limited} rate-limited{waited})"
    )
    lines.append(f"Duration: {run.duration_seconds:.1f} s")
    if meta.complete:
        lines.append("Complete: yes")
    else:
        lines.append(
            f"Complete: no, {len(meta.errors)} section(s) failed after retries "
            "(listed under meta.errors in the snapshot)"
        )
        for err in meta.errors[:10]:
            lines.append(f"  {err.target} {err.section}: {err.message}")
        if len(meta.errors) > 10:
            lines.append(f"  … and {len(meta.errors) - 10} more")
    not_ok = totals.get(Status.FORBIDDEN, 0) + totals.get(Status.UNAVAILABLE, 0)
    if not_ok:
        lines.append(
            f"Not readable with this token or tier: {not_ok} section(s); rules on them "
            "report 'unknown', never 'pass'"
        )
    skipped = totals.get(Status.SKIPPED, 0)
    if skipped:
        lines.append(
            f"Not collected by choice: {skipped} section(s) skipped (baseline-driven or "
            "sharded crawl); not an error, and no enabled rule reads them"
        )
    if meta.shard is not None:
        lines.append(
            f"Shard {meta.shard.index} of {meta.shard.total}: combine all shards with "
            "posture merge before auditing"
        )
    if output:
        lines.append(f"Written: {output}")
    return "\n".join(lines) + "\n"
