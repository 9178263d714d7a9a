"""The demo instance, crawled: every planted misconfiguration shows up in the snapshot data,
and the hardened project shows none. This pins the demo and the crawler to each other."""

from __future__ import annotations

import pytest

from posture.snapshot import Project, Snapshot
from tests.integration.conftest import crawl

pytestmark = pytest.mark.integration

HARDENED = "acme/platform/payments/ledger"


@pytest.fixture(scope="module")
def snapshot(demo) -> Snapshot:
    from posture.sandbox import Sandbox

    with Sandbox(demo, tier="premium") as sandbox:
        return crawl(sandbox).snapshot


def projects(s: Snapshot) -> list[Project]:
    return s.projects


def variables(s: Snapshot):
    for p in s.projects:
        yield p.path_with_namespace, p.variables.data or []
    for g in s.groups:
        yield g.full_path, g.variables.data or []
    yield "instance", s.instance.variables.data or []


def runner_details(s: Snapshot):
    return [(r, r.details.data) for r in s.runners if r.details.data is not None]


PLANTS = {
    "public project": lambda s: any(p.visibility == "public" for p in s.projects),
    "default branch unprotected": lambda s: any(
        p.default_branch_protection and not p.default_branch_protection.covered for p in s.projects
    ),
    "force push allowed": lambda s: any(
        b.allow_force_push for p in s.projects for b in p.protected_branches.data or []
    ),
    "developers may push": lambda s: any(
        lv.access_level == 30
        for p in s.projects
        for b in p.protected_branches.data or []
        for lv in b.push_access_levels
    ),
    "no code owner approval": lambda s: any(
        b.code_owner_approval_required is False
        for p in s.projects
        for b in p.protected_branches.data or []
    ),
    "zero or one approval": lambda s: any(
        r.approvals_required <= 1 for p in s.projects for r in p.approval_rules.data or []
    ),
    "author can approve": lambda s: any(
        p.approval_settings.data and p.approval_settings.data.merge_requests_author_approval
        for p in s.projects
    ),
    "committers can approve": lambda s: any(
        p.approval_settings.data
        and p.approval_settings.data.merge_requests_disable_committers_approval is False
        for p in s.projects
    ),
    "approvals kept on push": lambda s: any(
        p.approval_settings.data and p.approval_settings.data.reset_approvals_on_push is False
        for p in s.projects
    ),
    "overriding approvers allowed": lambda s: any(
        p.approval_settings.data
        and p.approval_settings.data.disable_overriding_approvers_per_merge_request is False
        for p in s.projects
    ),
    "unmasked secret-like variable": lambda s: any(
        v.looks_like_secret and not v.masked for _w, vs in variables(s) for v in vs
    ),
    "unprotected variable": lambda s: any(
        v.protected is False for _w, vs in variables(s) for v in vs
    ),
    "public jobs": lambda s: any(p.public_jobs for p in s.projects),
    "developers override pipeline variables": lambda s: any(
        p.ci_settings.data
        and p.ci_settings.data.ci_pipeline_variables_minimum_override_role == "developer"
        for p in s.projects
    ),
    "job token scope off": lambda s: any(
        p.job_token_scope.data and p.job_token_scope.data.inbound_enabled is False
        for p in s.projects
    ),
    "webhook without ssl verification": lambda s: any(
        h.enable_ssl_verification is False for p in s.projects for h in p.webhooks.data or []
    ),
    "webhook over http": lambda s: any(
        h.url_scheme == "http" for p in s.projects for h in p.webhooks.data or []
    ),
    "credentials in webhook url": lambda s: any(
        h.url_had_userinfo and h.url_redacted_parts
        for p in s.projects
        for h in p.webhooks.data or []
    ),
    "instance runners on a project": lambda s: any(p.shared_runners_enabled for p in s.projects),
    "runner runs untagged jobs": lambda s: any(d.run_untagged for _r, d in runner_details(s)),
    "unlocked project runner": lambda s: any(
        r.runner_type == "project_type" and d.locked is False for r, d in runner_details(s)
    ),
    "runner not limited to protected refs": lambda s: any(
        d.access_level == "not_protected" for _r, d in runner_details(s)
    ),
    "deploy key with write access": lambda s: any(
        k.can_push for p in s.projects for k in p.deploy_keys.data or []
    ),
    "deploy token without expiry": lambda s: any(
        t.expires_at is None for p in s.projects for t in p.deploy_tokens.data or []
    ),
    "access token with api scope and no expiry": lambda s: any(
        "api" in t.scopes and t.expires_at is None
        for p in s.projects
        for t in p.access_tokens.data or []
    ),
    "group access token with api scope": lambda s: any(
        "api" in t.scopes for g in s.groups for t in g.access_tokens.data or []
    ),
    "shared project": lambda s: any(p.shared_with_groups for p in s.projects),
    "archived project": lambda s: any(p.archived for p in s.projects),
    "fork": lambda s: any(p.forked_from for p in s.projects),
    "instance restricts no visibility level": lambda s: (
        s.instance.settings.data is not None
        and s.instance.settings.data.restricted_visibility_levels == []
    ),
}


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_planted_misconfiguration_is_in_the_snapshot(snapshot, name) -> None:
    assert PLANTS[name](snapshot), f"planted misconfiguration not found: {name}"


def test_the_hardened_project_is_clean(snapshot) -> None:
    ledger = next(p for p in snapshot.projects if p.path_with_namespace == HARDENED)
    assert ledger.visibility == "private"
    assert ledger.public_jobs is False
    assert ledger.shared_runners_enabled is False
    assert ledger.default_branch_protection
    assert ledger.default_branch_protection.covered
    for branch in ledger.protected_branches.data or []:
        assert branch.allow_force_push is False
        assert all(lv.access_level != 30 for lv in branch.push_access_levels)
    assert all(r.approvals_required >= 2 for r in ledger.approval_rules.data or [])
    settings = ledger.approval_settings.data
    assert settings is not None
    assert settings.merge_requests_author_approval is False
    assert settings.merge_requests_disable_committers_approval is True
    assert settings.reset_approvals_on_push is True
    for var in ledger.variables.data or []:
        assert var.masked or var.hidden
        assert var.protected
    for hook in ledger.webhooks.data or []:
        assert hook.enable_ssl_verification is True
        assert hook.url_scheme == "https"
        assert not hook.url_had_userinfo
    assert all(not k.can_push for k in ledger.deploy_keys.data or [])
    assert ledger.job_token_scope.data
    assert ledger.job_token_scope.data.inbound_enabled is True
    assert ledger.ci_settings.data is not None
    assert ledger.ci_settings.data.ci_pipeline_variables_minimum_override_role in (
        "no_one_allowed",
        "maintainer",
        "owner",
    )
