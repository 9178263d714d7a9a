"""Pipelines: who can see what CI jobs print, and who can steer or reach them.

Job logs and artifacts often carry internal hostnames, stack traces and, by accident,
credentials. Pipeline variables let whoever sets them change what a job runs. A job token
reaches other projects' APIs as the user who started the job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from posture.rules.base import (
    Context,
    Outcome,
    Params,
    Reference,
    Rule,
    Severity,
    Target,
    failed,
    passed,
    unknown,
)
from posture.snapshot import Project

OverrideRole = Literal["no_one_allowed", "developer", "maintainer", "owner"]

#: GitLab 17.1 to 17.7 apply the minimum role only while restrict_user_defined_variables is on.
_ROLE_NEEDS_RESTRICT = ((17, 1), (17, 8))
_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)")


# -- pipelines.public_jobs -------------------------------------------------------------------


def check_public_jobs(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    visibility = project.visibility
    if visibility is None:
        yield unknown("GitLab did not report the project's visibility", expected=False)
        return
    if visibility == "private":
        yield passed(
            "private project: job logs and artifacts are visible to project members only",
            expected=False,
            actual=project.public_jobs,
        )
        return
    if project.public_jobs is None:
        yield unknown("GitLab did not report public_jobs", expected=False)
        return
    audience = "anyone on the internet" if visibility == "public" else "every signed-in user"
    article = "an" if visibility == "internal" else "a"
    if project.public_jobs:
        yield failed(
            f"public pipelines are on in {article} {visibility} project: job logs and "
            f"artifacts are visible to {audience}",
            expected=False,
            actual=True,
        )
    else:
        yield passed(
            f"public pipelines are off: job logs and artifacts of this {visibility} project "
            "are visible to members only",
            expected=False,
            actual=False,
        )


# -- pipelines.variable_override_role --------------------------------------------------------


class OverrideRoles(Params):
    allowed: list[OverrideRole] = Field(
        default_factory=lambda: ["no_one_allowed", "maintainer", "owner"],
        description="minimum roles for pipeline variables that are acceptable",
    )


def _minor_version(version: str | None) -> tuple[int, int] | None:
    match = _VERSION.match(version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _effective_role(project: Project, ctx: Context) -> tuple[str, str] | None:
    """The role that may set pipeline variables, and the field(s) it was read from."""
    ci = project.ci_settings.data
    if ci is None:
        return None
    role = ci.ci_pipeline_variables_minimum_override_role
    restrict = ci.restrict_user_defined_variables
    if role is not None:
        version = _minor_version(ctx.snapshot.meta.gitlab_version)
        low, high = _ROLE_NEEDS_RESTRICT
        if restrict is False and version is not None and low <= version < high:
            return "developer", (
                f"ci_pipeline_variables_minimum_override_role is {role}, but GitLab "
                f"{version[0]}.{version[1]} ignores it while restrict_user_defined_variables "
                "is false"
            )
        return role, "from ci_pipeline_variables_minimum_override_role"
    if restrict is not None:
        role = "maintainer" if restrict else "developer"
        return role, f"from restrict_user_defined_variables={str(restrict).lower()} (deprecated)"
    return None


def check_variable_override_role(
    project: Project, params: OverrideRoles, ctx: Context
) -> Iterator[Outcome]:
    found = _effective_role(project, ctx)
    if found is None:
        yield unknown(
            "GitLab reported neither ci_pipeline_variables_minimum_override_role nor "
            "restrict_user_defined_variables",
            expected=params.allowed,
        )
        return
    role, source = found
    who = "no one" if role == "no_one_allowed" else f"{role} and above"
    message = f"pipeline variables can be set by {who} ({source})"
    if role in params.allowed:
        yield passed(message, expected=params.allowed, actual=role)
    else:
        yield failed(
            f"{message}; allowed: {', '.join(params.allowed)}",
            expected=params.allowed,
            actual=role,
        )


# -- pipelines.job_token_scope ---------------------------------------------------------------


def check_job_token_scope(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    scope = project.job_token_scope.data
    enabled = scope.inbound_enabled if scope is not None else None
    if enabled is None:
        yield unknown("GitLab did not report the job token allowlist setting", expected=True)
    elif enabled:
        yield passed(
            "only this project and its allowlist can use CI job tokens against it",
            expected=True,
            actual=True,
        )
    else:
        yield failed(
            "job token allowlist is off: a CI job token from any project can reach this "
            "project with the permissions of the user who ran the job",
            expected=True,
            actual=False,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="pipelines.public_jobs",
        title="Job logs and artifacts are not public",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "With public pipelines on, job logs, artifacts and the pipeline security "
            "dashboard of a public or internal project are open to non-members. Logs leak "
            "internal hosts, dependency versions and sometimes credentials echoed by scripts."
        ),
        remediation=(
            "Project > Settings > CI/CD > General pipelines: clear Public pipelines. API: "
            "PUT /projects/:id with public_jobs=false."
        ),
        references=(
            Reference(
                "GitLab: change which users can view your pipelines",
                "https://docs.gitlab.com/ci/pipelines/settings/#change-which-users-can-view-your-pipelines",
            ),
            Reference("GitLab API: edit a project", "https://docs.gitlab.com/api/projects/"),
        ),
        soc2=("CC6.1",),
        cis=("4.2.5",),
        check=check_public_jobs,
    ),
    Rule(
        id="pipelines.variable_override_role",
        title="Only trusted roles can run pipelines with pipeline variables",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "Pipeline variables override the project's own variables and even predefined ones, "
            "so whoever may set them can change what a job runs or where it deploys. Limiting "
            "them to Maintainers, or nobody, keeps the pipeline definition in reviewed code."
        ),
        remediation=(
            "Project > Settings > CI/CD > Variables: set Minimum role to use pipeline "
            "variables to no_one_allowed or maintainer. API: PUT /projects/:id with "
            "ci_pipeline_variables_minimum_override_role=no_one_allowed (on GitLab 17.1 to "
            "17.7 also restrict_user_defined_variables=true)."
        ),
        references=(
            Reference(
                "GitLab: restrict pipeline variables",
                "https://docs.gitlab.com/ci/variables/#restrict-pipeline-variables",
            ),
            Reference("GitLab API: edit a project", "https://docs.gitlab.com/api/projects/"),
        ),
        soc2=("CC6.3", "CC8.1"),
        check=check_variable_override_role,
        params=OverrideRoles,
        requires=("ci_settings",),
    ),
    Rule(
        id="pipelines.job_token_scope",
        title="CI job tokens from other projects are limited to an allowlist",
        severity=Severity.MEDIUM,
        targets=(Target.PROJECT,),
        rationale=(
            "With the allowlist off, a job in any project, including a compromised or "
            "throwaway one, can use its CI_JOB_TOKEN against this project's API, registry and "
            "packages whenever the person who ran it has access here."
        ),
        remediation=(
            "Project > Settings > CI/CD > Job token permissions: turn on Authorized groups "
            "and projects (only this project and the allowlist) and add the projects that "
            "need access. API: PATCH /projects/:id/job_token_scope with enabled=true."
        ),
        references=(
            Reference(
                "GitLab: control job token access to your project",
                "https://docs.gitlab.com/ci/jobs/ci_job_token/#control-job-token-access-to-your-project",
            ),
            Reference(
                "GitLab API: CI/CD job token scopes",
                "https://docs.gitlab.com/api/project_job_token_scopes/",
            ),
        ),
        soc2=("CC6.1", "CC6.3"),
        check=check_job_token_scope,
        requires=("job_token_scope",),
    ),
)
