"""The factories' snapshot was taken on 2026-11-01 (UTC): expiry is counted from that day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from posture.rules import REGISTRY
from posture.rules.access import ForbiddenScopes, MaxDays, audit_day
from posture.rules.base import Context, Verdict
from posture.snapshot import AccessToken, DeployKey, DeployToken
from tests.rules.factories import (
    error,
    forbidden,
    group,
    ok,
    project,
    run,
    snapshot,
    unavailable,
    verdicts,
)

DEPLOY_KEY = REGISTRY["access.deploy_key_write"]
EXPIRY = REGISTRY["access.token_expiry"]
SCOPES = REGISTRY["access.token_scopes"]
UNCOLLECTED = [forbidden(), unavailable(), error()]


def deploy_token(token_id: int = 1, **fields: Any) -> DeployToken:
    """A read-only deploy token expiring in two months, as GitLab formats its date."""
    base: dict[str, Any] = {
        "id": token_id,
        "name": "registry-pull",
        "scopes": ["read_registry"],
        "expires_at": "2027-01-01T00:00:00.000Z",
        "revoked": False,
        "expired": False,
    }
    base.update(fields)
    return DeployToken(**base)


def access_token(token_id: int = 1, **fields: Any) -> AccessToken:
    """An active read-only reporter access token expiring in two months."""
    base: dict[str, Any] = {
        "id": token_id,
        "name": "ci-reader",
        "scopes": ["read_repository"],
        "access_level": 20,
        "expires_at": "2027-01-01",
        "revoked": False,
        "active": True,
    }
    base.update(fields)
    return AccessToken(**base)


def tokens(deploy: list[DeployToken] | None = None, access: list[AccessToken] | None = None):
    return project(deploy_tokens=ok(deploy or []), access_tokens=ok(access or []))


# -- access.deploy_key_write ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("can_push", "verdict"),
    [(True, Verdict.FAIL), (False, Verdict.PASS), (None, Verdict.UNKNOWN)],
)
def test_deploy_key_write(can_push: bool | None, verdict: Verdict) -> None:
    key = DeployKey(id=3, title="release bot", can_push=can_push)
    [outcome] = run(DEPLOY_KEY, project(deploy_keys=ok([key])))
    assert outcome.verdict is verdict
    assert outcome.item == "deploy key 3 (release bot)"


def test_deploy_keys_judged_one_by_one() -> None:
    keys = [DeployKey(id=1, can_push=False), DeployKey(id=2, title="mirror", can_push=True)]
    outcomes = run(DEPLOY_KEY, project(deploy_keys=ok(keys)))
    assert [(o.item, o.verdict) for o in outcomes] == [
        ("deploy key 1", Verdict.PASS),
        ("deploy key 2 (mirror)", Verdict.FAIL),
    ]


def test_no_deploy_keys_is_not_applicable() -> None:
    assert verdicts(run(DEPLOY_KEY, project())) == [Verdict.NOT_APPLICABLE]


@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_deploy_keys_are_unknown(section) -> None:
    [outcome] = run(DEPLOY_KEY, project(deploy_keys=section))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "deploy_keys" in outcome.message


# -- tokens: uncollected and empty ------------------------------------------------------------


@pytest.mark.parametrize("rule", [EXPIRY, SCOPES], ids=lambda r: r.id)
@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
@pytest.mark.parametrize("which", ["deploy_tokens", "access_tokens"])
def test_uncollected_tokens_are_unknown_never_pass(rule, section, which: str) -> None:
    for make in (project, group):
        [outcome] = run(rule, make(**{which: section}))
        assert outcome.verdict is Verdict.UNKNOWN
        assert which in outcome.message


@pytest.mark.parametrize("rule", [EXPIRY, SCOPES], ids=lambda r: r.id)
def test_only_dead_tokens_is_not_applicable(rule) -> None:
    dead = tokens(
        deploy=[deploy_token(1, revoked=True), deploy_token(2, expired=True)],
        access=[access_token(3, revoked=True), access_token(4, active=False)],
    )
    for subject in (project(), dead):
        [outcome] = run(rule, subject)
        assert outcome.verdict is Verdict.NOT_APPLICABLE


# -- access.token_expiry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "verdict"),
    [
        (deploy_token(expires_at=None), Verdict.FAIL),
        (access_token(expires_at=None), Verdict.FAIL),
        (deploy_token(expires_at="2027-01-01T00:00:00.000Z"), Verdict.PASS),
        (access_token(expires_at="2027-11-01"), Verdict.PASS),  # exactly 365 days
        (access_token(expires_at="2027-11-02"), Verdict.FAIL),  # 366 days
        (deploy_token(expires_at="2030-06-30T00:00:00.000Z"), Verdict.FAIL),
        (access_token(expires_at="next year"), Verdict.UNKNOWN),
    ],
)
def test_token_expiry(token: DeployToken | AccessToken, verdict: Verdict) -> None:
    subject = tokens(
        deploy=[token] if isinstance(token, DeployToken) else None,
        access=[token] if isinstance(token, AccessToken) else None,
    )
    assert verdicts(run(EXPIRY, subject)) == [verdict]


def test_never_expiring_deploy_token_says_why() -> None:
    [outcome] = run(EXPIRY, tokens(deploy=[deploy_token(9, name="pull", expires_at=None)]))
    assert outcome.item == "deploy token 9 (pull)"
    assert "never expires" in outcome.message
    assert "deploy tokens never expire" in outcome.message


def test_expiry_message_names_date_and_distance() -> None:
    [outcome] = run(EXPIRY, tokens(access=[access_token(5, expires_at="2028-11-01")]))
    assert outcome.item == "access token 5 (ci-reader)"
    assert "2028-11-01" in outcome.message
    assert "731 days" in outcome.message
    assert outcome.actual == 731
    assert outcome.expected == 365


def test_token_due_on_the_audit_day_is_already_dead() -> None:
    # GitLab ends a token at 00:00 UTC on its expiry date
    subject = tokens(access=[access_token(expires_at="2026-11-01", active=None)])
    assert verdicts(run(EXPIRY, subject)) == [Verdict.NOT_APPLICABLE]


def test_deploy_token_expiry_is_exact_to_the_second() -> None:
    # the snapshot was taken at 2026-11-01 00:00 UTC; GitLab's flags were not sent
    later_today = deploy_token(expires_at="2026-11-01T18:00:00.000Z", expired=None)
    [outcome] = run(EXPIRY, tokens(deploy=[later_today]))
    assert outcome.verdict is Verdict.PASS
    assert outcome.actual == 0
    gone = deploy_token(expires_at="2026-10-31T23:00:00.000Z", expired=None)
    assert verdicts(run(EXPIRY, tokens(deploy=[gone]))) == [Verdict.NOT_APPLICABLE]


def test_missing_status_flags_count_as_active() -> None:
    subject = tokens(
        deploy=[deploy_token(revoked=None, expired=None, expires_at=None)],
        access=[access_token(2, revoked=None, active=None, expires_at=None)],
    )
    assert verdicts(run(EXPIRY, subject)) == [Verdict.FAIL, Verdict.FAIL]


def test_max_days_parameter() -> None:
    subject = tokens(access=[access_token(expires_at="2027-03-01")])  # 120 days
    assert verdicts(run(EXPIRY, subject, MaxDays(max_days=90))) == [Verdict.FAIL]
    assert verdicts(run(EXPIRY, subject, MaxDays(max_days=120))) == [Verdict.PASS]


def test_group_tokens_are_judged() -> None:
    subject = group(deploy_tokens=ok([deploy_token(expires_at=None)]), access_tokens=ok([]))
    assert verdicts(run(EXPIRY, subject)) == [Verdict.FAIL]


def test_expiry_is_counted_from_the_snapshot_never_the_wall_clock() -> None:
    subject = tokens(access=[access_token(expires_at="2027-06-01")])
    old = snapshot()
    old.meta.run.started_at = datetime(2020, 1, 1, tzinfo=UTC)
    # seen from 2020 the same token lives more than seven years
    [outcome] = EXPIRY.evaluate(subject, MaxDays(), Context(old))
    assert outcome.verdict is Verdict.FAIL
    later = snapshot()
    later.meta.run.started_at = datetime(2027, 5, 1, tzinfo=UTC)
    [outcome] = EXPIRY.evaluate(subject, MaxDays(), Context(later))
    assert outcome.verdict is Verdict.PASS
    assert outcome.actual == 31


def test_audit_day_is_the_utc_date() -> None:
    snap = snapshot()
    snap.meta.run.started_at = datetime(2026, 11, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert audit_day(Context(snap)).isoformat() == "2026-11-02"


# -- access.token_scopes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "verdict"),
    [
        (["read_repository"], Verdict.PASS),
        (["read_registry", "read_package_registry"], Verdict.PASS),
        (["api"], Verdict.FAIL),
        (["read_repository", "write_repository"], Verdict.FAIL),
        (["create_runner"], Verdict.FAIL),
        ([], Verdict.UNKNOWN),
    ],
)
def test_access_token_scopes(scopes: list[str], verdict: Verdict) -> None:
    assert verdicts(run(SCOPES, tokens(access=[access_token(scopes=scopes)]))) == [verdict]


def test_deploy_token_write_scope_fails() -> None:
    subject = tokens(deploy=[deploy_token(4, scopes=["read_registry", "write_registry"])])
    [outcome] = run(SCOPES, subject)
    assert outcome.verdict is Verdict.FAIL
    assert outcome.item == "deploy token 4 (registry-pull)"
    assert "write_registry" in outcome.message
    assert outcome.actual == ["read_registry", "write_registry"]


def test_scope_failure_names_the_forbidden_scopes_and_role() -> None:
    maintainer = access_token(scopes=["read_api", "api", "write_repository"], access_level=40)
    [outcome] = run(SCOPES, tokens(access=[maintainer]))
    assert "api, write_repository" in outcome.message
    assert "read_api" not in outcome.message
    assert "maintainer role" in outcome.message


def test_forbidden_scopes_are_configurable() -> None:
    subject = tokens(access=[access_token(scopes=["api"])])
    assert verdicts(run(SCOPES, subject, ForbiddenScopes(forbidden=["sudo"]))) == [Verdict.PASS]
    reader = tokens(access=[access_token(scopes=["read_repository"])])
    params = ForbiddenScopes(forbidden=["read_repository"])
    assert verdicts(run(SCOPES, reader, params)) == [Verdict.FAIL]


def test_revoked_tokens_with_broad_scopes_are_ignored() -> None:
    subject = tokens(
        deploy=[deploy_token(1, scopes=["write_registry"], revoked=True)],
        access=[access_token(2, scopes=["api"], active=False), access_token(3)],
    )
    outcomes = run(SCOPES, subject)
    assert [(o.item, o.verdict) for o in outcomes] == [("access token 3 (ci-reader)", Verdict.PASS)]
