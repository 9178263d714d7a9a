"""The snapshot: what a crawl observed, as pydantic models, saved as deterministic JSON.

Design points (see docs/snapshot.md):

* Every collected piece of data sits in a :class:`Section` that says *how* it was collected
  (``ok``, ``forbidden``, ``unavailable``, ``error``, or ``skipped`` when a baseline-driven or
  sharded crawl chose not to ask). Rules meeting anything but ``ok`` report ``unknown``; an
  empty list is only ever an ``ok`` empty list.
* Secret values never enter these models. CI variables carry metadata and value-derived
  signals; webhook URLs are stored redacted.
* Output is byte-stable: sorted keys, lists ordered by id/name, no floats outside the
  volatile ``meta.run`` block. Everything under ``meta.run`` (times, durations, request
  counts) is volatile and excluded from comparisons of two crawls.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from posture.errors import ConfigError, OutputError, SnapshotFormatError

#: 2 added ``Status.SKIPPED`` and ``meta.shard`` / ``meta.sections`` (issue 8).
SCHEMA_VERSION = 2

#: Dotted paths of the fields that legitimately differ between two crawls of an unchanged
#: instance. Documented in docs/snapshot.md; tests compare snapshots with these removed.
VOLATILE_FIELDS: tuple[str, ...] = ("meta.run",)

T = TypeVar("T")


class Model(BaseModel):
    """Strict base: unknown keys are errors, so a typo in a hand-edited snapshot is caught."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class Status(StrEnum):
    """How a section was collected. Anything but ``ok`` means the data is not known."""

    OK = "ok"
    FORBIDDEN = "forbidden"  # 403, or fields GitLab hides from the token's role
    UNAVAILABLE = "unavailable"  # 404, or a tier/edition without the feature
    ERROR = "error"  # failed after retries (5xx, 429, timeout, connection)
    #: Not asked for, by choice: no enabled rule of the crawl's baseline needs it, or another
    #: shard collects it. Never an error and never ``ok``: a rule meeting it says ``unknown``.
    SKIPPED = "skipped"


#: The message of a section a baseline-driven crawl did not collect.
SKIPPED_MESSAGE = "not collected: no enabled rule needs it"


class Section(Model, Generic[T]):
    """One collected piece of state together with how it was collected."""

    status: Status
    data: T | None = None
    http_status: int | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


# --------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------


class AccessLevel(Model):
    """One entry of a protected branch's push/merge/unprotect list."""

    access_level: int | None = None  # 0 none, 30 Developer, 40 Maintainer, 60 Admin; None for
    access_level_description: str | None = None  # user/group/deploy-key entries (Premium)
    user_id: int | None = None
    group_id: int | None = None
    deploy_key_id: int | None = None


class ProtectedBranch(Model):
    id: int | None = None
    name: str
    push_access_levels: list[AccessLevel] = Field(default_factory=list)
    merge_access_levels: list[AccessLevel] = Field(default_factory=list)
    #: None on GitLab CE, which does not send the key (it is not "nobody may unprotect").
    unprotect_access_levels: list[AccessLevel] | None = None
    allow_force_push: bool | None = None
    #: None on CE; False on Free, where the feature does not exist.
    code_owner_approval_required: bool | None = None
    #: True when the rule comes from the group (EE only).
    inherited: bool | None = None


class DefaultBranchProtection(Model):
    """Whether the project's default branch is covered by a protected-branch rule."""

    default_branch: str | None
    covered: bool
    matched_by: list[str] = Field(default_factory=list)  # rule names, literal or wildcard


class ApprovalSettings(Model):
    """``GET /projects/:id/approvals``: project-level merge request approval settings."""

    approvals_before_merge: int | None = None  # legacy; approval rules supersede it
    reset_approvals_on_push: bool | None = None
    selective_code_owner_removals: bool | None = None
    disable_overriding_approvers_per_merge_request: bool | None = None
    merge_requests_author_approval: bool | None = None
    merge_requests_disable_committers_approval: bool | None = None
    require_reauthentication_to_approve: bool | None = None


class ApprovalRule(Model):
    id: int
    name: str
    rule_type: str | None = None
    report_type: str | None = None
    approvals_required: int
    eligible_approvers_count: int
    users_count: int = 0
    groups_count: int = 0
    contains_hidden_groups: bool = False
    applies_to_all_protected_branches: bool | None = None
    protected_branches: list[str] = Field(default_factory=list)


class LockableSetting(Model):
    """One value of ``merge_request_approval_setting``: value, lock, inheritance."""

    value: bool | None = None
    locked: bool | None = None
    inherited_from: str | None = None


class GroupApprovalSettings(Model):
    """``GET /groups/:id/merge_request_approval_setting`` (Premium), GitLab's own names."""

    allow_author_approval: LockableSetting | None = None
    allow_committer_approval: LockableSetting | None = None
    allow_overrides_to_approver_list_per_merge_request: LockableSetting | None = None
    retain_approvals_on_push: LockableSetting | None = None
    selective_code_owner_removals: LockableSetting | None = None
    require_reauthentication_to_approve: LockableSetting | None = None


class Variable(Model):
    """A CI/CD variable's metadata. The value is never stored, only signals derived from it."""

    key: str
    variable_type: str = "env_var"
    protected: bool | None = None
    masked: bool | None = None
    hidden: bool | None = None  # None where GitLab has no such field (instance variables)
    raw: bool | None = None
    environment_scope: str | None = None  # None for instance variables
    description: str | None = None
    value_available: bool  # False when GitLab withheld it (hidden variables)
    looks_like_secret: bool
    secret_kinds: list[str] = Field(default_factory=list)
    name_suggests_secret: bool
    maskable: bool | None = None


class Webhook(Model):
    id: int
    url: str  # redacted: no userinfo, secret query parameters replaced
    url_had_userinfo: bool = False
    url_redacted_parts: list[str] = Field(default_factory=list)
    url_scheme: str
    url_host: str | None = None
    name: str | None = None
    enable_ssl_verification: bool | None = None
    events: list[str] = Field(default_factory=list)  # enabled *_events, sorted
    push_events_branch_filter: str | None = None
    branch_filter_strategy: str | None = None
    url_variable_keys: list[str] = Field(default_factory=list)
    custom_header_keys: list[str] = Field(default_factory=list)
    alert_status: str | None = None


class RunnerRef(Model):
    """A runner a project can use, as the project's runner listing reports it."""

    id: int
    runner_type: str | None = None  # instance_type, group_type, project_type
    is_shared: bool | None = None


class RunnerDetails(Model):
    """``GET /runners/:id``: the settings that decide which jobs a runner takes."""

    run_untagged: bool | None = None
    locked: bool | None = None
    access_level: str | None = None  # not_protected | ref_protected
    tag_list: list[str] = Field(default_factory=list)
    maximum_timeout: int | None = None
    project_ids: list[int] = Field(default_factory=list)
    group_ids: list[int] = Field(default_factory=list)


class Runner(Model):
    id: int
    description: str | None = None
    name: str | None = None
    runner_type: str | None = None
    is_shared: bool | None = None
    paused: bool | None = None
    details: Section[RunnerDetails]


class DeployKey(Model):
    id: int
    title: str | None = None
    can_push: bool | None = None
    expires_at: str | None = None
    created_at: str | None = None


class DeployToken(Model):
    id: int
    name: str | None = None
    username: str | None = None
    scopes: list[str] = Field(default_factory=list)
    expires_at: str | None = None
    revoked: bool | None = None
    expired: bool | None = None


class AccessToken(Model):
    """A project or group access token: metadata only, never the token."""

    id: int
    name: str | None = None
    scopes: list[str] = Field(default_factory=list)
    access_level: int | None = None
    expires_at: str | None = None
    #: Day granularity on purpose: the crawl's own token would otherwise change every run.
    last_used_on: str | None = None
    created_at: str | None = None
    revoked: bool | None = None
    active: bool | None = None


class JobTokenScope(Model):
    inbound_enabled: bool | None = None
    outbound_enabled: bool | None = None


class SharedWithGroup(Model):
    group_id: int
    group_full_path: str | None = None
    group_access_level: int | None = None
    expires_at: str | None = None


class ForkParent(Model):
    id: int
    path_with_namespace: str | None = None
    web_url: str | None = None


class CiSettings(Model):
    """Project CI fields GitLab sends only to users who can administer the project."""

    ci_pipeline_variables_minimum_override_role: str | None = None
    restrict_user_defined_variables: bool | None = None  # deprecated in 17.7 by the above
    ci_job_token_scope_enabled: bool | None = None  # outbound scope (deprecated)
    ci_allow_fork_pipelines_to_run_in_parent_project: bool | None = None
    group_runners_enabled: bool | None = None
    ci_push_repository_for_job_token_allowed: bool | None = None


# --------------------------------------------------------------------------------------
# Entities
# --------------------------------------------------------------------------------------


class Project(Model):
    id: int
    path_with_namespace: str
    name: str | None = None
    web_url: str | None = None
    namespace_id: int | None = None
    namespace_full_path: str | None = None
    namespace_kind: str | None = None
    visibility: str | None = None
    archived: bool = False
    empty_repo: bool | None = None
    default_branch: str | None = None
    topics: list[str] = Field(default_factory=list)
    forked_from: ForkParent | None = None
    shared_with_groups: list[SharedWithGroup] = Field(default_factory=list)
    public_jobs: bool | None = None
    shared_runners_enabled: bool | None = None
    approvals_before_merge: int | None = None  # legacy project field (EE)
    ci_settings: Section[CiSettings]
    protected_branches: Section[list[ProtectedBranch]]
    default_branch_protection: DefaultBranchProtection | None = None
    approval_settings: Section[ApprovalSettings]
    approval_rules: Section[list[ApprovalRule]]
    variables: Section[list[Variable]]
    webhooks: Section[list[Webhook]]
    runners: Section[list[RunnerRef]]
    deploy_keys: Section[list[DeployKey]]
    deploy_tokens: Section[list[DeployToken]]
    access_tokens: Section[list[AccessToken]]
    job_token_scope: Section[JobTokenScope]


class Group(Model):
    id: int
    full_path: str
    name: str | None = None
    web_url: str | None = None
    parent_id: int | None = None
    visibility: str | None = None
    variables: Section[list[Variable]]
    webhooks: Section[list[Webhook]]
    protected_branches: Section[list[ProtectedBranch]]
    approval_settings: Section[GroupApprovalSettings]
    deploy_tokens: Section[list[DeployToken]]
    access_tokens: Section[list[AccessToken]]


class InstanceSettings(Model):
    """The subset of ``/application/settings`` posture reads (admin only)."""

    default_project_visibility: str | None = None
    default_group_visibility: str | None = None
    default_snippet_visibility: str | None = None
    restricted_visibility_levels: list[str] = Field(default_factory=list)
    default_branch_protection_defaults: dict[str, Any] | None = None


class Instance(Model):
    settings: Section[InstanceSettings]
    variables: Section[list[Variable]]


# --------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------


class TokenInfo(Model):
    """Who crawled: the token's user and scopes, never the token."""

    user_id: int | None = None
    username: str | None = None
    is_admin: bool = False
    bot: bool = False
    scopes: list[str] | None = None  # None when GitLab would not say (not a PAT-like token)
    token_name: str | None = None
    token_expires_at: str | None = None


class Scope(Model):
    """What the crawl was asked to cover."""

    groups: list[str] = Field(default_factory=list)
    all_groups: bool = False


class CollectionError(Model):
    """One section that was not collected, for the summary and the ``errors`` list."""

    target: str  # "instance", "group:acme/platform", "project:acme/web", "runner:12"
    section: str
    status: Status
    http_status: int | None = None
    message: str | None = None


class RunStats(Model):
    """Volatile: differs on every crawl. Excluded when two snapshots are compared."""

    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    requests_total: int
    requests_by_endpoint: dict[str, int] = Field(default_factory=dict)
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0


class ShardInfo(Model):
    """Which slice of the projects a sharded crawl covered: ``id % total == index - 1``."""

    index: int = Field(ge=1)
    total: int = Field(ge=1)

    @model_validator(mode="after")
    def _index_within_total(self) -> ShardInfo:
        if self.index > self.total:
            raise ValueError(f"shard index {self.index} is above the total {self.total}")
        return self


class Meta(Model):
    tool: Literal["posture"] = "posture"
    tool_version: str
    gitlab_url: str
    gitlab_version: str | None = None
    gitlab_revision: str | None = None
    gitlab_enterprise: bool | None = None
    token: TokenInfo
    scope: Scope
    complete: bool
    errors: list[CollectionError] = Field(default_factory=list)
    run: RunStats
    #: The slice this crawl covered, or None for a whole crawl. ``posture merge`` combines
    #: shards 1..total of one scope into the snapshot a single crawl would have written.
    shard: ShardInfo | None = None
    #: The sections the crawl was asked to collect ("project.variables", …), sorted; None
    #: for all. Sections outside it are ``skipped``. Merge refuses shards that differ here.
    sections: list[str] | None = None


class Snapshot(Model):
    schema_version: int = SCHEMA_VERSION
    meta: Meta
    instance: Instance
    groups: list[Group] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    runners: list[Runner] = Field(default_factory=list)

    def sections(self) -> list[tuple[str, str, Section[Any]]]:
        """Every section with its target label and name, in a stable order."""
        out: list[tuple[str, str, Section[Any]]] = [
            ("instance", "settings", self.instance.settings),
            ("instance", "variables", self.instance.variables),
        ]
        for group in self.groups:
            for name in GROUP_SECTIONS:
                out.append((f"group:{group.full_path}", name, getattr(group, name)))
        for project in self.projects:
            for name in PROJECT_SECTIONS:
                out.append((f"project:{project.path_with_namespace}", name, getattr(project, name)))
        for runner in self.runners:
            out.append((f"runner:{runner.id}", "details", runner.details))
        return out


GROUP_SECTIONS: tuple[str, ...] = (
    "variables",
    "webhooks",
    "protected_branches",
    "approval_settings",
    "deploy_tokens",
    "access_tokens",
)
PROJECT_SECTIONS: tuple[str, ...] = (
    "ci_settings",
    "protected_branches",
    "approval_settings",
    "approval_rules",
    "variables",
    "webhooks",
    "runners",
    "deploy_keys",
    "deploy_tokens",
    "access_tokens",
    "job_token_scope",
)
INSTANCE_SECTIONS: tuple[str, ...] = ("settings", "variables")
RUNNER_SECTIONS: tuple[str, ...] = ("details",)

#: Every section a crawl can collect, as ``"<target kind>.<section>"``: the vocabulary of
#: ``CrawlOptions.sections``, ``meta.sections`` and ``posture.rules.needs``.
SECTION_KEYS: frozenset[str] = frozenset(
    [f"instance.{name}" for name in INSTANCE_SECTIONS]
    + [f"group.{name}" for name in GROUP_SECTIONS]
    + [f"project.{name}" for name in PROJECT_SECTIONS]
    + [f"runner.{name}" for name in RUNNER_SECTIONS]
)

#: Sections that cannot be collected without another one. A snapshot's runners are the
#: runners its projects can use, found through the projects' runner lists, so runner
#: details need ``project.runners``.
IMPLIED_SECTIONS: dict[str, tuple[str, ...]] = {"runner.details": ("project.runners",)}


def close_sections(sections: Iterable[str]) -> frozenset[str]:
    """The given section keys plus what they cannot be collected without."""
    out = set(sections)
    for key in list(out):
        out.update(IMPLIED_SECTIONS.get(key, ()))
    return frozenset(out)


def normalise_sections(sections: Iterable[str] | None) -> frozenset[str] | None:
    """Check section keys (a typo would silently skip data) and add the implied ones."""
    if sections is None:
        return None
    given = {str(key) for key in sections}
    unknown = sorted(given - SECTION_KEYS)
    if unknown:
        known = sorted(SECTION_KEYS)
        hints = []
        for key in unknown:
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hints.append(f"{key} (did you mean {near[0]}?)" if near else key)
        raise ConfigError(f"unknown section(s): {', '.join(hints)}; known: {', '.join(known)}")
    return close_sections(given)


# --------------------------------------------------------------------------------------
# Deterministic save / validated load
# --------------------------------------------------------------------------------------


def dumps(snapshot: Snapshot) -> str:
    """Serialise with sorted keys and a trailing newline: same state, same bytes."""
    return "".join(iter_dumps(snapshot))


def _json(value: Any, depth: int) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it nested ``depth`` levels deep."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + "  " * depth) if depth else text


def iter_dumps(snapshot: Snapshot) -> Iterator[str]:
    """The bytes of :func:`dumps`, in pieces: one group, project or runner at a time.

    Why: the whole document as one dict and then one string costs about twice the
    snapshot's own memory at the end of a large crawl (468 MB instead of 246 MB at 5,000
    projects). Pieces concatenate to exactly ``json.dumps(model_dump, sort_keys=True,
    indent=2)``, so files and evidence hashes do not change.
    """
    lists = {"groups": snapshot.groups, "projects": snapshot.projects, "runners": snapshot.runners}
    scalars = {
        "instance": snapshot.instance,
        "meta": snapshot.meta,
        "schema_version": snapshot.schema_version,
    }
    keys = sorted([*lists, *scalars])
    if set(keys) != set(Snapshot.model_fields):  # a new top-level field must be added here
        raise AssertionError(f"iter_dumps does not know {set(Snapshot.model_fields) - set(keys)}")
    yield "{"
    for index, key in enumerate(keys):
        yield ("\n  " if index == 0 else ",\n  ") + json.dumps(key, ensure_ascii=False) + ": "
        if key in lists:
            items = lists[key]
            if not items:
                yield "[]"
                continue
            for position, item in enumerate(items):
                yield ("[\n    " if position == 0 else ",\n    ") + _json(
                    item.model_dump(mode="json"), 2
                )
            yield "\n  ]"
        else:
            value = scalars[key]
            dumped = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
            yield _json(dumped, 1)
    yield "\n}\n"


def stable_view(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a snapshot's JSON with the volatile fields removed, for comparisons."""
    copy = json.loads(json.dumps(data))
    for dotted in VOLATILE_FIELDS:
        *parents, leaf = dotted.split(".")
        node = copy
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return copy


def write_atomic(path: Path, text: str) -> None:
    """Write next to the target and rename, so an interrupted run never leaves half a file.

    The file is created owner-readable only: snapshots describe an organisation's weak spots.
    """
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    write_atomic_chunks(path, (data,))


def write_atomic_chunks(path: Path, chunks: Iterable[bytes | str]) -> None:
    """:func:`write_atomic` for a document produced in pieces (text pieces as UTF-8), so a
    large one never has to exist whole in memory."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def save(snapshot: Snapshot, path: Path) -> None:
    write_atomic_chunks(path, iter_dumps(snapshot))


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 only added things (``skipped``, ``meta.shard``, ``meta.sections``): a version
    1 file is a valid version 2 file of a whole, unfiltered crawl."""
    return data


#: ``{from_version: step}``: each step turns a file of that version into the next one. The
#: loader applies them in order, so version 3 adds ``2: _v2_to_v3`` and nothing else changes.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring a snapshot's JSON from ``version`` up to :data:`SCHEMA_VERSION`, step by step."""
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:  # pragma: no cover - guarded by a test over every older version
            raise SnapshotFormatError(f"no migration from snapshot schema_version {version}")
        data = step(data)
        version += 1
        data["schema_version"] = version
    return data


def loads(text: str, source: str = "<snapshot>") -> Snapshot:
    """Parse, migrate older versions, and validate; refuse newer or unknown versions."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(
            f"{source}: not a posture snapshot: invalid JSON at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(meta, dict) or meta.get("tool") != "posture":
        raise SnapshotFormatError(f"{source}: not a posture snapshot (no meta.tool = posture)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotFormatError(f"{source}: snapshot has no integer schema_version")
    if version > SCHEMA_VERSION:
        raise SnapshotFormatError(
            f"{source}: snapshot schema_version {version} is newer than this posture "
            f"understands ({SCHEMA_VERSION}); upgrade posture"
        )
    if version < 1:
        raise SnapshotFormatError(f"{source}: unknown snapshot schema_version {version}")
    data = migrate(data, version)
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SnapshotFormatError(
            f"{source}: invalid snapshot at {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None


def load(path: Path) -> Snapshot:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotFormatError(f"cannot read snapshot {path}: {exc}") from None
    return loads(text, source=str(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the snapshot file, shipped as docs/snapshot.schema.json."""
    schema = Snapshot.model_json_schema(mode="serialization")
    schema["$id"] = f"https://gitlab-posture.dev/schema/snapshot-v{SCHEMA_VERSION}.json"
    schema["title"] = f"posture snapshot (schema_version {SCHEMA_VERSION})"
    return schema


if __name__ == "__main__":  # python -m posture.snapshot > docs/snapshot.schema.json
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
