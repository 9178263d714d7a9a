from __future__ import annotations

import pytest
from pydantic import ValidationError

from posture.rules import REGISTRY
from posture.rules.base import Context, Verdict
from posture.rules.pipelines import OverrideRoles
from posture.snapshot import CiSettings, JobTokenScope, Project
from tests.rules.factories import (
    error,
    forbidden,
    ok,
    project,
    run,
    snapshot,
    unavailable,
    verdicts,
)

PUBLIC_JOBS = REGISTRY["pipelines.public_jobs"]
OVERRIDE = REGISTRY["pipelines.variable_override_role"]
JOB_TOKEN = REGISTRY["pipelines.job_token_scope"]
UNCOLLECTED = [
    forbidden("GitLab shows CI settings only to users who can administer the project"),
    unavailable(),
    error(),
]


# -- pipelines.public_jobs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visibility", "public_jobs", "verdict"),
    [
        ("private", True, Verdict.PASS),  # job pages stay members-only
        ("private", None, Verdict.PASS),
        ("internal", True, Verdict.FAIL),
        ("public", True, Verdict.FAIL),
        ("internal", False, Verdict.PASS),
        ("public", False, Verdict.PASS),
        ("public", None, Verdict.UNKNOWN),
        (None, True, Verdict.UNKNOWN),
    ],
)
def test_public_jobs(visibility: str | None, public_jobs: bool | None, verdict: Verdict) -> None:
    subject = project(visibility=visibility, public_jobs=public_jobs)
    assert verdicts(run(PUBLIC_JOBS, subject)) == [verdict]


def test_public_jobs_failure_says_who_can_see_the_logs() -> None:
    [outcome] = run(PUBLIC_JOBS, project(visibility="public", public_jobs=True))
    assert "anyone on the internet" in outcome.message
    [outcome] = run(PUBLIC_JOBS, project(visibility="internal", public_jobs=True))
    assert "every signed-in user" in outcome.message


# -- pipelines.variable_override_role ----------------------------------------------------------


def ci(role: str | None = None, restrict: bool | None = None) -> Project:
    settings = CiSettings(
        ci_pipeline_variables_minimum_override_role=role, restrict_user_defined_variables=restrict
    )
    return project(ci_settings=ok(settings))


@pytest.mark.parametrize(
    ("role", "restrict", "verdict", "source"),
    [
        ("no_one_allowed", None, Verdict.PASS, "ci_pipeline_variables_minimum_override_role"),
        ("maintainer", None, Verdict.PASS, "ci_pipeline_variables_minimum_override_role"),
        ("owner", True, Verdict.PASS, "ci_pipeline_variables_minimum_override_role"),
        ("developer", None, Verdict.FAIL, "ci_pipeline_variables_minimum_override_role"),
        # before GitLab 17.1 only the deprecated boolean exists
        (None, True, Verdict.PASS, "restrict_user_defined_variables=true"),
        (None, False, Verdict.FAIL, "restrict_user_defined_variables=false"),
    ],
)
def test_variable_override_role(
    role: str | None, restrict: bool | None, verdict: Verdict, source: str
) -> None:
    [outcome] = run(OVERRIDE, ci(role, restrict))
    assert outcome.verdict is verdict
    assert source in outcome.message


def test_fallback_boolean_reports_the_role_it_implies() -> None:
    [outcome] = run(OVERRIDE, ci(None, True))
    assert outcome.actual == "maintainer"
    [outcome] = run(OVERRIDE, ci(None, False))
    assert outcome.actual == "developer"
    assert "allowed: no_one_allowed, maintainer, owner" in outcome.message


def test_neither_field_reported_is_unknown() -> None:
    assert verdicts(run(OVERRIDE, ci(None, None))) == [Verdict.UNKNOWN]
    assert verdicts(run(OVERRIDE, project(ci_settings=ok(None)))) == [Verdict.UNKNOWN]


def test_allowed_roles_are_a_parameter() -> None:
    lenient = OverrideRoles(allowed=["developer", "maintainer"])
    assert verdicts(run(OVERRIDE, ci("developer"), lenient)) == [Verdict.PASS]
    assert verdicts(run(OVERRIDE, ci("no_one_allowed"), lenient)) == [Verdict.FAIL]
    with pytest.raises(ValidationError):
        OverrideRoles(allowed=["guest"])


def _on_gitlab(version: str | None, subject: Project) -> list[Verdict]:
    snap = snapshot(projects=[subject])
    snap.meta.gitlab_version = version
    return verdicts(list(OVERRIDE.evaluate(subject, OVERRIDE.params(), Context(snap))))


@pytest.mark.parametrize(
    ("version", "verdict"),
    [
        ("17.5.2-ee", Verdict.FAIL),  # 17.1-17.7 ignore the role while the boolean is off
        ("17.1.0", Verdict.FAIL),
        ("17.8.0-ee", Verdict.PASS),
        ("18.2.1", Verdict.PASS),
        (None, Verdict.PASS),
    ],
)
def test_role_needs_the_boolean_on_gitlab_17_1_to_17_7(version: str | None, verdict) -> None:
    assert _on_gitlab(version, ci("maintainer", False)) == [verdict]
    assert _on_gitlab(version, ci("maintainer", True)) == [Verdict.PASS]


@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_ci_settings_are_unknown(section) -> None:
    [outcome] = run(OVERRIDE, project(ci_settings=section))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "ci_settings" in outcome.message


# -- pipelines.job_token_scope -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("inbound", "verdict"),
    [(True, Verdict.PASS), (False, Verdict.FAIL), (None, Verdict.UNKNOWN)],
)
def test_job_token_scope(inbound: bool | None, verdict: Verdict) -> None:
    subject = project(job_token_scope=ok(JobTokenScope(inbound_enabled=inbound)))
    [outcome] = run(JOB_TOKEN, subject)
    assert outcome.verdict is verdict
    if verdict is Verdict.FAIL:
        assert "any project" in outcome.message


def test_job_token_scope_with_null_body_is_unknown() -> None:
    assert verdicts(run(JOB_TOKEN, project(job_token_scope=ok(None)))) == [Verdict.UNKNOWN]


@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_job_token_scope_is_unknown(section) -> None:
    [outcome] = run(JOB_TOKEN, project(job_token_scope=section))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "job_token_scope" in outcome.message
