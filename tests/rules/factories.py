"""Small builders for snapshot data, so rule tests state only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from posture.rules.base import Context, Outcome, Params, Rule, Verdict
from posture.snapshot import (
    CiSettings,
    Group,
    Instance,
    InstanceSettings,
    JobTokenScope,
    Meta,
    Project,
    Runner,
    RunnerDetails,
    RunStats,
    Scope,
    Section,
    Snapshot,
    Status,
    TokenInfo,
)


def ok(data: Any) -> Section[Any]:
    return Section(status=Status.OK, data=data)


def forbidden(message: str = "403 Forbidden") -> Section[Any]:
    return Section(status=Status.FORBIDDEN, http_status=403, message=message)


def unavailable(message: str = "404 Not Found") -> Section[Any]:
    return Section(status=Status.UNAVAILABLE, http_status=404, message=message)


def error(message: str = "500 Internal Server Error") -> Section[Any]:
    return Section(status=Status.ERROR, http_status=500, message=message)


def project(**fields: Any) -> Project:
    """A private project with every section collected and empty, unless told otherwise."""
    base: dict[str, Any] = {
        "id": 1,
        "path_with_namespace": "acme/app",
        "web_url": "https://gitlab.example.com/acme/app",
        "namespace_full_path": "acme",
        "visibility": "private",
        "default_branch": "main",
        "public_jobs": False,
        "shared_runners_enabled": False,
        "ci_settings": ok(CiSettings(ci_pipeline_variables_minimum_override_role="maintainer")),
        "protected_branches": ok([]),
        "approval_settings": ok(None),
        "approval_rules": ok([]),
        "variables": ok([]),
        "webhooks": ok([]),
        "runners": ok([]),
        "deploy_keys": ok([]),
        "deploy_tokens": ok([]),
        "access_tokens": ok([]),
        "job_token_scope": ok(JobTokenScope(inbound_enabled=True, outbound_enabled=False)),
    }
    base.update(fields)
    return Project(**base)


def group(**fields: Any) -> Group:
    base: dict[str, Any] = {
        "id": 1,
        "full_path": "acme",
        "web_url": "https://gitlab.example.com/groups/acme",
        "visibility": "private",
        "variables": ok([]),
        "webhooks": ok([]),
        "protected_branches": ok([]),
        "approval_settings": ok(None),
        "deploy_tokens": ok([]),
        "access_tokens": ok([]),
    }
    base.update(fields)
    return Group(**base)


def instance(**fields: Any) -> Instance:
    base: dict[str, Any] = {
        "settings": ok(
            InstanceSettings(
                default_project_visibility="private",
                default_group_visibility="private",
                restricted_visibility_levels=["public"],
            )
        ),
        "variables": ok([]),
    }
    base.update(fields)
    return Instance(**base)


def runner(**fields: Any) -> Runner:
    base: dict[str, Any] = {
        "id": 1,
        "description": "runner",
        "runner_type": "project_type",
        "is_shared": False,
        "paused": False,
        "details": ok(RunnerDetails(run_untagged=False, locked=True, access_level="ref_protected")),
    }
    base.update(fields)
    return Runner(**base)


def snapshot(
    *,
    projects: list[Project] | None = None,
    groups: list[Group] | None = None,
    runners: list[Runner] | None = None,
    inst: Instance | None = None,
) -> Snapshot:
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    return Snapshot(
        meta=Meta(
            tool_version="0.0.0",
            gitlab_url="https://gitlab.example.com",
            token=TokenInfo(username="auditor", is_admin=True),
            scope=Scope(groups=["acme"]),
            complete=True,
            run=RunStats(
                started_at=moment, finished_at=moment, duration_seconds=0, requests_total=0
            ),
        ),
        instance=inst or instance(),
        groups=groups or [],
        projects=projects or [],
        runners=runners or [],
    )


#: rule id → verdicts seen in tests; tests/rules/test_zz_coverage.py requires pass and fail.
OBSERVED: dict[str, set[Verdict]] = {}


def run(rule: Rule, subject: Any, params: Params | None = None, **snapshot_parts: Any):
    """Evaluate one rule on one subject; returns the outcomes as a list."""
    ctx = Context(snapshot(**snapshot_parts))
    outcomes = list(rule.evaluate(subject, params or rule.params(), ctx))
    OBSERVED.setdefault(rule.id, set()).update(o.verdict for o in outcomes)
    return outcomes


def verdicts(outcomes: list[Outcome]) -> list[Verdict]:
    return [o.verdict for o in outcomes]
