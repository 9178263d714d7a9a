"""Every kind of change and its classification, table-driven over the demo snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from posture.drift.engine import DriftInputError, diff_snapshots
from posture.drift.model import ChangeKind, Classification
from posture.snapshot import (
    AccessLevel,
    DeployKey,
    DeployToken,
    ProtectedBranch,
    Section,
    SharedWithGroup,
    Snapshot,
    Status,
    Variable,
    Webhook,
)
from tests.drift.helpers import LEDGER, demo

W, S, N, U = (
    Classification.WEAKENING,
    Classification.STRENGTHENING,
    Classification.NEUTRAL,
    Classification.UNKNOWN,
)

Mutation = Callable[[Snapshot], Any]


def ledger(s: Snapshot):  # type: ignore[no-untyped-def]
    """The hardened ledger project, by id (it survives renames in these tests)."""
    return next(p for p in s.projects if p.id == 1)


def branch(s: Snapshot, name: str = "main") -> ProtectedBranch:
    return next(b for b in ledger(s).protected_branches.data if b.name == name)


def variable(s: Snapshot) -> Variable:
    return ledger(s).variables.data[0]


def hook(s: Snapshot) -> Webhook:
    return ledger(s).webhooks.data[0]


def _set(getter: Callable[[Snapshot], Any], attr: str, value: Any) -> Mutation:
    def mutate(s: Snapshot) -> None:
        setattr(getter(s), attr, value)

    return mutate


def _new_hook(host: str) -> Mutation:
    def mutate(s: Snapshot) -> None:
        ledger(s).webhooks.data.append(
            Webhook(
                id=999,
                url=f"https://{host}/in",
                url_scheme="https",
                url_host=host,
                enable_ssl_verification=True,
                events=["push_events"],
            )
        )

    return mutate


def _remove_branch(s: Snapshot) -> None:
    ledger(s).protected_branches.data = [
        b for b in ledger(s).protected_branches.data if b.name != "main"
    ]


def _add_deploy_key(can_push: bool) -> Mutation:
    def mutate(s: Snapshot) -> None:
        ledger(s).deploy_keys.data.append(DeployKey(id=77, title="laptop", can_push=can_push))

    return mutate


def _push_developers(s: Snapshot) -> None:
    branch(s).push_access_levels = [AccessLevel(access_level=30)]


def _push_user(s: Snapshot) -> None:
    branch(s).push_access_levels = [*branch(s).push_access_levels, AccessLevel(user_id=42)]


def _rule(s: Snapshot):  # type: ignore[no-untyped-def]
    return ledger(s).approval_rules.data[0]


def _forbid_hooks(s: Snapshot) -> None:
    ledger(s).webhooks = Section(status=Status.FORBIDDEN, http_status=403, message="403 Forbidden")


def _rename(s: Snapshot) -> None:
    ledger(s).path_with_namespace = LEDGER + "-v2"


def _transfer(s: Snapshot) -> None:
    p = ledger(s)
    p.path_with_namespace = "acme/platform/ledger"
    p.namespace_id = 2


def _delete(s: Snapshot) -> None:
    s.projects = [p for p in s.projects if p.path_with_namespace != LEDGER]


def _create(s: Snapshot) -> None:
    p = ledger(s).model_copy(deep=True)
    p.id, p.path_with_namespace, p.visibility = 5000, "acme/new-thing", "public"
    s.projects.append(p)


def _scope_star(s: Snapshot) -> None:
    variable(s).environment_scope = "*"


def _exposed_variable(s: Snapshot) -> None:
    ledger(s).variables.data.append(
        Variable(
            key="NEW_TOKEN",
            masked=False,
            protected=True,
            environment_scope="*",
            value_available=True,
            looks_like_secret=True,
            secret_kinds=["gitlab_pat"],
            name_suggests_secret=True,
        )
    )


def _plain_variable(s: Snapshot) -> None:
    ledger(s).variables.data.append(
        Variable(
            key="LOG_LEVEL",
            masked=False,
            protected=False,
            environment_scope="*",
            value_available=True,
            looks_like_secret=False,
            name_suggests_secret=False,
        )
    )


def _write_token(s: Snapshot) -> None:
    ledger(s).deploy_tokens.data.append(DeployToken(id=55, name="ci", scopes=["write_registry"]))


def _share(s: Snapshot) -> None:
    ledger(s).shared_with_groups.append(
        SharedWithGroup(group_id=9, group_full_path="contractors", group_access_level=30)
    )


def _runner_untagged(s: Snapshot) -> None:
    s.runners[0].details.data.run_untagged = not s.runners[0].details.data.run_untagged


def _restrict_public(s: Snapshot) -> None:
    s.instance.settings.data.restricted_visibility_levels = ["public"]


#: (case, mutation, expected classification, kind, field or section, words in the summary)
CASES: list[tuple[str, Mutation, Classification, ChangeKind, str, str]] = [
    (
        "visibility up",
        _set(ledger, "visibility", "public"),
        W,
        ChangeKind.CHANGED,
        "visibility",
        "private → public",
    ),
    (
        "visibility internal",
        _set(ledger, "visibility", "internal"),
        W,
        ChangeKind.CHANGED,
        "visibility",
        "internal",
    ),
    (
        "public jobs on",
        _set(ledger, "public_jobs", True),
        W,
        ChangeKind.CHANGED,
        "public_jobs",
        "false → true",
    ),
    (
        "instance runners on",
        _set(ledger, "shared_runners_enabled", True),
        W,
        ChangeKind.CHANGED,
        "shared_runners_enabled",
        "instance runners",
    ),
    (
        "force push on",
        _set(branch, "allow_force_push", True),
        W,
        ChangeKind.CHANGED,
        "allow_force_push",
        "protected branch main: force push",
    ),
    (
        "code owners off",
        _set(branch, "code_owner_approval_required", False),
        W,
        ChangeKind.CHANGED,
        "code_owner_approval_required",
        "code owner",
    ),
    (
        "push to developers",
        _push_developers,
        W,
        ChangeKind.CHANGED,
        "push.role",
        "No one → Developers",
    ),
    ("push for a user", _push_user, W, ChangeKind.CHANGED, "push.principals", "added user:42"),
    (
        "branch unprotected",
        _remove_branch,
        W,
        ChangeKind.REMOVED,
        "protected_branches",
        "protected branch removed: main",
    ),
    (
        "approvals 2 → 1",
        _set(_rule, "approvals_required", 1),
        W,
        ChangeKind.CHANGED,
        "approvals_required",
        "2 → 1",
    ),
    (
        "approvals 2 → 3",
        _set(_rule, "approvals_required", 3),
        S,
        ChangeKind.CHANGED,
        "approvals_required",
        "2 → 3",
    ),
    (
        "author may approve",
        _set(lambda s: ledger(s).approval_settings.data, "merge_requests_author_approval", True),
        W,
        ChangeKind.CHANGED,
        "merge_requests_author_approval",
        "authors may approve",
    ),
    (
        "reset on push off",
        _set(lambda s: ledger(s).approval_settings.data, "reset_approvals_on_push", False),
        W,
        ChangeKind.CHANGED,
        "reset_approvals_on_push",
        "remove approvals on push",
    ),
    (
        "unmasked",
        _set(variable, "masked", False),
        W,
        ChangeKind.CHANGED,
        "masked",
        "LEDGER_DB_PASSWORD",
    ),
    (
        "unprotected",
        _set(variable, "protected", False),
        W,
        ChangeKind.CHANGED,
        "protected",
        "protected true → false",
    ),
    ("scope widened", _scope_star, W, ChangeKind.CHANGED, "environment_scope", "production → *"),
    ("exposed secret added", _exposed_variable, W, ChangeKind.ADDED, "variables", "NEW_TOKEN"),
    ("plain variable added", _plain_variable, N, ChangeKind.ADDED, "variables", "LOG_LEVEL"),
    (
        "hook to new host",
        _new_hook("evil.example"),
        W,
        ChangeKind.ADDED,
        "webhooks",
        "evil.example",
    ),
    (
        "hook to known host",
        _new_hook("deploy.acme.example"),
        N,
        ChangeKind.ADDED,
        "webhooks",
        "deploy.acme.example",
    ),
    (
        "hook host changed",
        _set(hook, "url", "https://other.example/x"),
        W,
        ChangeKind.CHANGED,
        "url",
        "other.example",
    ),
    (
        "hook TLS off",
        _set(hook, "enable_ssl_verification", False),
        W,
        ChangeKind.CHANGED,
        "enable_ssl_verification",
        "TLS verification",
    ),
    (
        "hook event added",
        _set(hook, "events", ["deployment_events", "job_events", "pipeline_events", "push_events"]),
        W,
        ChangeKind.CHANGED,
        "events",
        "added job_events",
    ),
    (
        "hook event removed",
        _set(hook, "events", ["deployment_events", "push_events"]),
        S,
        ChangeKind.CHANGED,
        "events",
        "removed",
    ),
    ("deploy key can push", _add_deploy_key(True), W, ChangeKind.ADDED, "deploy_keys", "can push"),
    (
        "read-only deploy key",
        _add_deploy_key(False),
        N,
        ChangeKind.ADDED,
        "deploy_keys",
        "read-only",
    ),
    (
        "key gains write",
        _set(lambda s: ledger(s).deploy_keys.data[0], "can_push", True),
        W,
        ChangeKind.CHANGED,
        "can_push",
        "write access",
    ),
    (
        "key never expires",
        _set(lambda s: ledger(s).deploy_keys.data[0], "expires_at", None),
        W,
        ChangeKind.CHANGED,
        "expires_at",
        "unset",
    ),
    ("write deploy token", _write_token, W, ChangeKind.ADDED, "deploy_tokens", "write_registry"),
    ("shared with a group", _share, W, ChangeKind.ADDED, "shared_with_groups", "contractors"),
    (
        "job token allowlist off",
        _set(lambda s: ledger(s).job_token_scope.data, "inbound_enabled", False),
        W,
        ChangeKind.CHANGED,
        "inbound_enabled",
        "inbound",
    ),
    (
        "pipeline variables to developers",
        _set(
            lambda s: ledger(s).ci_settings.data,
            "ci_pipeline_variables_minimum_override_role",
            "developer",
        ),
        W,
        ChangeKind.CHANGED,
        "ci_pipeline_variables_minimum_override_role",
        "no_one_allowed → developer",
    ),
    (
        "runner untagged toggled",
        _runner_untagged,
        None,
        ChangeKind.CHANGED,
        "run_untagged",
        "runs untagged jobs",
    ),  # type: ignore[list-item]
    (
        "public restricted to admins",
        _restrict_public,
        S,
        ChangeKind.CHANGED,
        "restricted_visibility_levels",
        "added public",
    ),
    ("renamed", _rename, N, ChangeKind.RENAMED, "", "ledger → acme/platform/payments/ledger-v2"),
    ("transferred", _transfer, N, ChangeKind.TRANSFERRED, "", "transferred"),
    ("deleted", _delete, N, ChangeKind.DELETED, "", "gone from scope"),
    ("created", _create, N, ChangeKind.CREATED, "", "acme/new-thing is new in scope (public)"),
    (
        "hooks forbidden",
        _forbid_hooks,
        U,
        ChangeKind.UNKNOWN,
        "webhooks",
        "forbidden (403) in the new snapshot",
    ),
]


@pytest.mark.parametrize(
    ("case", "mutate", "classification", "kind", "where", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_each_change_is_found_and_classified(
    case: str,
    mutate: Mutation,
    classification: Classification | None,
    kind: ChangeKind,
    where: str,
    words: str,
) -> None:
    old, new = demo(), demo()
    mutate(new)
    report = diff_snapshots(old, new)
    matching = [
        c for c in report.changes if c.kind is kind and (not where or where in (c.field, c.section))
    ]
    assert len(matching) == 1, [c.summary for c in report.changes]
    change = matching[0]
    if classification is not None:
        assert change.classification is classification, change
    else:  # direction depends on the demo's value: either way it is classified
        assert change.classification in (W, S)
    assert words in change.summary
    if classification in (W, S):
        assert change.why, "a weakening or strengthening change says why"


def test_only_the_intended_change_is_reported() -> None:
    old, new = demo(), demo()
    ledger(new).visibility = "public"
    branch(new).allow_force_push = True
    report = diff_snapshots(old, new)
    assert [c.field for c in report.changes] == ["visibility", "allow_force_push"] or sorted(
        c.field or "" for c in report.changes
    ) == ["allow_force_push", "visibility"]
    assert report.summary.by_classification["weakening"] == 2


def test_diff_of_identical_snapshots_is_empty() -> None:
    report = diff_snapshots(demo(), demo())
    assert report.changes == []
    assert report.old.digest == report.new.digest


def test_rename_keeps_sections_compared_under_the_new_path() -> None:
    old, new = demo(), demo()
    _rename(new)
    ledger(new).visibility = "public"
    report = diff_snapshots(old, new)
    visibility = next(c for c in report.changes if c.field == "visibility")
    assert visibility.target_path == LEDGER + "-v2"
    assert visibility.old_path == LEDGER


def test_unknown_when_not_ok_in_both() -> None:
    old, new = demo(), demo()
    _forbid_hooks(old)
    _forbid_hooks(new)
    report = diff_snapshots(old, new)
    assert [(c.kind, c.classification) for c in report.changes] == [(ChangeKind.UNKNOWN, U)]
    assert "in both snapshots" in report.changes[0].summary
    assert report.summary.unknown_by_reason == {"webhooks: forbidden (403) in both snapshots": 1}


def test_a_security_field_sent_on_one_side_only_is_unknown() -> None:
    old, new = demo(), demo()
    ledger(new).public_jobs = None  # e.g. the new crawl ran with a lower role
    [change] = diff_snapshots(old, new).changes
    assert change.classification is U


def test_scope_change_is_one_change_not_a_removal_and_an_addition() -> None:
    old, new = demo(), demo()
    _scope_star(new)
    report = diff_snapshots(old, new)
    assert [c.kind for c in report.changes] == [ChangeKind.CHANGED]


def test_different_instances_are_refused() -> None:
    old, new = demo(), demo()
    new.meta.gitlab_url = "https://gitlab.other.example"
    with pytest.raises(DriftInputError, match="different GitLab instances"):
        diff_snapshots(old, new)


def test_deleted_entity_in_an_incomplete_crawl_says_it_may_only_be_missing() -> None:
    old, new = demo(), demo()
    _delete(new)
    new.meta.complete = False
    [change] = diff_snapshots(old, new).changes
    assert "may only be missing" in change.summary


def test_output_is_deterministic_and_ids_are_unique() -> None:
    from posture.drift.model import dumps

    old, new = demo(), demo()
    for case in CASES:
        if case[0] != "deleted":
            case[1](new)
    first = dumps(diff_snapshots(old, new))
    second = dumps(diff_snapshots(old, new))
    assert first == second
    report = diff_snapshots(old, new)
    ids = [c.id for c in report.changes]
    assert len(ids) == len(set(ids))


def test_no_value_ever_reaches_a_change() -> None:
    """Snapshots hold no values; a drift report of a canaried crawl is checked end to end in
    tests/integration/test_drift_cli.py. Here: the model has no field a value could sit in."""
    from posture.drift.model import Change

    assert "value" not in Change.model_fields
