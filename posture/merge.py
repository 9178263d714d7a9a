"""Put the shards of a sharded crawl back together: ``posture merge``.

A crawl of tens of thousands of projects can be split over the jobs of one GitLab CI
``parallel: N`` job: ``posture snapshot --shard I/N`` crawls the projects with
``id % N == I - 1`` (shard 1 also collects the groups and the instance). This module checks
that a set of shards belongs together and combines them into the snapshot a single crawl of
the same scope would have written: equal outside the volatile ``meta.run``.

Why it refuses rather than guesses: a merged snapshot is evidence. Shards of another
instance, scope, baseline (``meta.sections``), posture version or shard count, a missing or
repeated shard, or two shards that saw the same runner differently would give a snapshot that
no single crawl could have produced, so each of these is a one-line :class:`MergeError`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from posture import snapshot as snapshot_io
from posture.errors import ConfigError, SnapshotFormatError
from posture.snapshot import (
    CollectionError,
    Instance,
    Project,
    Runner,
    RunStats,
    Section,
    ShardInfo,
    Snapshot,
    Status,
)

log = logging.getLogger("posture.merge")

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
#: A key, never text inside a string (those quotes are escaped). The last match is the
#: top-level one: posture writes sorted keys, so ``schema_version`` closes the document.
_SCHEMA_VERSION = re.compile(r'(?<!\\)"schema_version"\s*:\s*(\d+)')


class MergeError(ConfigError):
    """The given snapshots are not the complete set of shards of one crawl."""


# --------------------------------------------------------------------------------------
# Shard arithmetic
# --------------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/7"`` → ``(2, 7)``: shard INDEX of TOTAL, 1-based as GitLab's CI_NODE_INDEX."""
    match = _SHARD.match(text)
    if match is None:
        hint = ""
        if not text.strip() or "$" in text or text.strip().startswith("/"):
            hint = (
                "; in GitLab CI, CI_NODE_INDEX and CI_NODE_TOTAL are set only in a job "
                "with `parallel:`"
            )
        raise ConfigError(
            f"--shard {text!r}: expected INDEX/TOTAL, two whole numbers such as 2/7{hint}"
        )
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1:
        raise ConfigError(f"--shard {index}/{total}: TOTAL must be at least 1")
    if not 1 <= index <= total:
        raise ConfigError(f"--shard {index}/{total}: INDEX must be between 1 and {total}")
    return index, total


def shard_of(project_id: int, total: int) -> int:
    """The shard (1-based) that crawls ``project_id``: stable whatever else changes."""
    return project_id % total + 1


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def load_shards(paths: Iterable[Path | str]) -> list[tuple[str, Snapshot]]:
    """Read shard files, keeping each file's name for messages.

    Older schema versions are migrated on load like every snapshot; shards written with
    different schema versions are refused here, before their contents are compared.
    """
    out: list[tuple[str, Snapshot]] = []
    versions: list[tuple[str, int | None]] = []
    for raw in paths:
        path = Path(raw)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SnapshotFormatError(f"cannot read snapshot {path}: {exc}") from None
        snapshot = snapshot_io.loads(text, source=str(path))
        found = _SCHEMA_VERSION.findall(text)
        versions.append((str(path), int(found[-1]) if found else None))
        out.append((str(path), snapshot))
    first_name, first_version = versions[0] if versions else ("", None)
    for name, version in versions[1:]:
        if version != first_version:
            raise MergeError(
                f"{first_name} has snapshot schema_version {first_version} but {name} has "
                f"{version}; crawl every shard with the same posture version"
            )
    return out


# --------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------


def merge(snapshots: Sequence[Snapshot], names: Sequence[str] | None = None) -> Snapshot:
    """Combine shards 1..N of one crawl into the snapshot a single crawl would write.

    ``names`` label the shards in messages (file names); by default "shard #k" by position.
    Raises :class:`MergeError` when the shards do not belong together (see module doc).
    """
    if not snapshots:
        raise MergeError("nothing to merge: give the snapshot file of every shard")
    labels = (
        list(names) if names is not None else [f"shard #{k + 1}" for k in range(len(snapshots))]
    )
    if len(labels) != len(snapshots):
        raise ValueError("one name per snapshot")
    pairs = list(zip(labels, snapshots, strict=True))
    for label, snap in pairs:
        if snap.meta.shard is None:
            raise MergeError(
                f"{label} is not a shard (written without --shard); posture merge combines "
                "the snapshots of `posture snapshot --shard I/N`"
            )
    _check_same_crawl(pairs)
    by_index = _check_complete_set(pairs)
    _check_project_placement(pairs)

    first_label, first = by_index[1]
    total = len(by_index)
    ordered = [by_index[i] for i in range(1, total + 1)]
    for label, snap in ordered[1:]:
        _check_secondary_copy(first_label, first, label, snap)

    projects: list[Project] = sorted(
        (project for _label, snap in ordered for project in snap.projects), key=lambda p: p.id
    )
    runners = _union_runners(ordered)
    _note_differences(ordered)

    meta = first.meta.model_copy(
        update={"shard": None, "run": _combined_run([snap.meta.run for _l, snap in ordered])}
    )
    merged = Snapshot(
        schema_version=first.schema_version,
        meta=meta,
        instance=first.instance,
        groups=list(first.groups),
        projects=projects,
        runners=runners,
    )
    merged.meta.errors = collection_errors(merged)
    merged.meta.complete = not merged.meta.errors
    return merged


def collection_errors(snapshot: Snapshot) -> list[CollectionError]:
    """The ``meta.errors`` of a snapshot: its ``error`` sections in the snapshot's order,
    as the crawler lists them."""
    return [
        CollectionError(
            target=target,
            section=name,
            status=section.status,
            http_status=section.http_status,
            message=section.message,
        )
        for target, name, section in snapshot.sections()
        if section.status is Status.ERROR
    ]


def _describe_scope(snap: Snapshot) -> str:
    scope = snap.meta.scope
    if scope.all_groups:
        return "--all"
    return " ".join(f"--group {g}" for g in scope.groups) or "no group"


def _describe_sections(sections: list[str] | None) -> str:
    if sections is None:
        return "every section"
    return f"{len(sections)} section" + ("" if len(sections) == 1 else "s")


def _check_same_crawl(pairs: list[tuple[str, Snapshot]]) -> None:
    """Everything that must be equal for the shards to be slices of one crawl."""
    first_label, first = pairs[0]
    fm = first.meta
    assert fm.shard is not None
    for label, snap in pairs[1:]:
        m = snap.meta
        assert m.shard is not None
        if snap.schema_version != first.schema_version:
            raise MergeError(
                f"{first_label} has snapshot schema_version {first.schema_version} but {label} "
                f"has {snap.schema_version}; crawl every shard with the same posture version"
            )
        if m.tool_version != fm.tool_version:
            raise MergeError(
                f"{first_label} was written by posture {fm.tool_version} but {label} by "
                f"posture {m.tool_version}; crawl every shard with the same posture version"
            )
        if m.gitlab_url.rstrip("/") != fm.gitlab_url.rstrip("/"):
            raise MergeError(
                f"{first_label} is a snapshot of {fm.gitlab_url} but {label} of {m.gitlab_url}; "
                "shards must come from one GitLab instance"
            )
        if m.gitlab_enterprise != fm.gitlab_enterprise:
            raise MergeError(
                f"{first_label} and {label} saw different GitLab editions (enterprise "
                f"{fm.gitlab_enterprise} and {m.gitlab_enterprise}); crawl the shards again"
            )
        if m.scope != fm.scope:
            raise MergeError(
                f"{first_label} crawled {_describe_scope(first)} but {label} crawled "
                f"{_describe_scope(snap)}; shards must crawl the same scope"
            )
        if m.sections != fm.sections:
            both = fm.sections is not None and m.sections is not None
            only_first = sorted(set(fm.sections or ()) - set(m.sections or ())) if both else []
            only_other = sorted(set(m.sections or ()) - set(fm.sections or ())) if both else []
            detail = "; ".join(
                part
                for part in (
                    f"only {first_label}: {', '.join(only_first)}" if only_first else "",
                    f"only {label}: {', '.join(only_other)}" if only_other else "",
                )
                if part
            )
            raise MergeError(
                f"{first_label} collected {_describe_sections(fm.sections)} but {label} "
                f"{_describe_sections(m.sections)} (different baselines?)"
                + (f": {detail}" if detail else "")
            )
        if m.shard.total != fm.shard.total:
            raise MergeError(
                f"{first_label} is shard {fm.shard.index}/{fm.shard.total} but {label} is shard "
                f"{m.shard.index}/{m.shard.total}; every shard must use the same total"
            )
        if m.token.is_admin != fm.token.is_admin:
            admin, other = (first_label, label) if fm.token.is_admin else (label, first_label)
            raise MergeError(
                f"{admin} was crawled with an administrator's token but {other} was not; "
                "shards must see the same projects"
            )


def _check_complete_set(pairs: list[tuple[str, Snapshot]]) -> dict[int, tuple[str, Snapshot]]:
    """One shard per index 1..N, none repeated, none missing."""
    by_index: dict[int, tuple[str, Snapshot]] = {}
    total = 0
    for label, snap in pairs:
        shard = snap.meta.shard
        assert shard is not None
        total = shard.total
        if shard.index in by_index:
            raise MergeError(
                f"{by_index[shard.index][0]} and {label} are both shard {shard.index}/{total}"
            )
        by_index[shard.index] = (label, snap)
    missing = [i for i in range(1, total + 1) if i not in by_index]
    if missing:
        names = ", ".join(f"{i}/{total}" for i in missing)
        noun = "shard" if len(missing) == 1 else "shards"
        raise MergeError(f"{noun} {names} missing: merge needs all {total} shards")
    return by_index


def _check_project_placement(pairs: list[tuple[str, Snapshot]]) -> None:
    """Each project sits in the shard its id selects: catches a renamed or mixed-up file."""
    for label, snap in pairs:
        shard = snap.meta.shard
        assert shard is not None
        for project in snap.projects:
            home = shard_of(project.id, shard.total)
            if home != shard.index:
                raise MergeError(
                    f"{label} (shard {shard.index}/{shard.total}) holds project {project.id} "
                    f"({project.path_with_namespace}), which belongs to shard "
                    f"{home}/{shard.total}"
                )


def _all_skipped(instance: Instance) -> bool:
    return all(
        section.status is Status.SKIPPED for section in (instance.settings, instance.variables)
    )


def _check_secondary_copy(first_label: str, first: Snapshot, label: str, snap: Snapshot) -> None:
    """Shards 2..N leave groups and the instance to shard 1; a copy they hold must agree."""
    if snap.groups and snap.groups != first.groups:
        raise MergeError(
            f"{label} holds groups that differ from those of {first_label} (shard 1); "
            "the shards saw different states of GitLab: crawl them again"
        )
    if not _all_skipped(snap.instance) and snap.instance != first.instance:
        raise MergeError(
            f"{label} holds instance settings that differ from those of {first_label} "
            "(shard 1); the shards saw different states of GitLab: crawl them again"
        )


def _union_runners(ordered: list[tuple[str, Snapshot]]) -> list[Runner]:
    """Runners by id; a runner two shards fetched must be the same runner.

    A detail fetch that failed after retries (``error``) in one shard and succeeded in
    another is a failed observation, not a different state: the successful one is kept.
    """
    seen: dict[int, tuple[str, Runner]] = {}
    for label, snap in ordered:
        for runner in snap.runners:
            if runner.id not in seen:
                seen[runner.id] = (label, runner)
                continue
            other_label, other = seen[runner.id]
            if runner == other:
                continue
            if _same_but_failed(other, runner):
                if other.details.status is Status.ERROR:
                    seen[runner.id] = (label, runner)
                continue
            fields = _differing_fields(other, runner)
            raise MergeError(
                f"runner {runner.id} differs between {other_label} and {label} "
                f"({', '.join(fields)}); the shards saw different states of GitLab: "
                "crawl them again"
            )
    return [seen[rid][1] for rid in sorted(seen)]


def _same_but_failed(a: Runner, b: Runner) -> bool:
    """Equal but for one side's details having failed after retries."""
    if Status.ERROR not in (a.details.status, b.details.status):
        return False
    return a.model_copy(update={"details": b.details}) == b


def _differing_fields(a: Runner, b: Runner) -> list[str]:
    left, right = a.model_dump(mode="json"), b.model_dump(mode="json")
    return sorted(key for key in left.keys() | right.keys() if left.get(key) != right.get(key))


def _note_differences(ordered: list[tuple[str, Snapshot]]) -> None:
    """Say what the merged snapshot cannot record: shard 1's token and GitLab version stand
    for all. Different users are fine (one token per shard spreads rate limits) as long as
    they see the same projects; the merge cannot prove that, so it says so."""
    first_label, first = ordered[0]
    users = {
        label: snap.meta.token.username or f"user {snap.meta.token.user_id}"
        for label, snap in ordered
        if snap.meta.token.user_id != first.meta.token.user_id
    }
    if users:
        others = ", ".join(f"{name} in {label}" for label, name in users.items())
        log.warning(
            "the shards were crawled by different users (%s in %s, %s); meta.token records "
            "shard 1's. Give every shard's user the same access, or the merged snapshot "
            "mixes what different users could see",
            first.meta.token.username or f"user {first.meta.token.user_id}",
            first_label,
            others,
        )
    versions = {(snap.meta.gitlab_version, snap.meta.gitlab_revision) for _label, snap in ordered}
    if len(versions) > 1:
        log.warning(
            "GitLab's version changed while the shards ran (%s); meta records shard 1's",
            ", ".join(sorted(f"{v or '?'} {r or '?'}" for v, r in versions)),
        )


def _combined_run(runs: Sequence[RunStats]) -> RunStats:
    """Wall clock from the first start to the last finish; every count summed."""
    started = min(r.started_at for r in runs)
    finished = max(r.finished_at for r in runs)
    by_endpoint: dict[str, int] = {}
    for run in runs:
        for endpoint, count in run.requests_by_endpoint.items():
            by_endpoint[endpoint] = by_endpoint.get(endpoint, 0) + count
    return RunStats(
        started_at=started,
        finished_at=finished,
        duration_seconds=round((finished - started).total_seconds(), 3),
        requests_total=sum(r.requests_total for r in runs),
        requests_by_endpoint=dict(sorted(by_endpoint.items())),
        attempts=sum(r.attempts for r in runs),
        retries=sum(r.retries for r in runs),
        rate_limited=sum(r.rate_limited for r in runs),
        rate_limit_wait_seconds=round(sum(r.rate_limit_wait_seconds for r in runs), 3),
    )


# --------------------------------------------------------------------------------------
# Splitting (the inverse, for tests and for checking a merge)
# --------------------------------------------------------------------------------------


def split(snapshot: Snapshot, total: int) -> list[Snapshot]:
    """The N shards that ``--shard I/N`` crawls of the same, unchanged instance write.

    Outside ``meta.run`` (copied unchanged into every shard), ``merge(split(s, n))`` equals
    ``s``. Used to test merging without crawling, and to document the shard layout.
    """
    if snapshot.meta.shard is not None:
        raise MergeError("cannot split a shard; split the merged or single-crawl snapshot")
    if total < 1:
        raise ValueError("total must be at least 1")
    skipped_message = f"not collected: shard 1 of {total} collects it"
    runners = {runner.id: runner for runner in snapshot.runners}
    shards = []
    for index in range(1, total + 1):
        projects = [p for p in snapshot.projects if shard_of(p.id, total) == index]
        used = sorted(
            {
                ref.id
                for p in projects
                if p.runners.ok and p.runners.data
                for ref in p.runners.data
                if ref.id in runners
            }
        )
        if index == 1:
            instance = snapshot.instance
        else:
            instance = Instance(
                settings=Section(status=Status.SKIPPED, message=skipped_message),
                variables=Section(status=Status.SKIPPED, message=skipped_message),
            )
        shard = Snapshot(
            schema_version=snapshot.schema_version,
            meta=snapshot.meta.model_copy(
                update={"shard": ShardInfo(index=index, total=total), "errors": []}
            ),
            instance=instance,
            groups=list(snapshot.groups) if index == 1 else [],
            projects=projects,
            runners=[runners[rid] for rid in used],
        )
        shard.meta.errors = collection_errors(shard)
        shard.meta.complete = not shard.meta.errors
        shards.append(shard)
    return shards


def stable_json(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot's JSON without its volatile fields: what "identical" means for a merge."""
    return snapshot_io.stable_view(json.loads(snapshot_io.dumps(snapshot)))
