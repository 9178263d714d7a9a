"""Visibility: who can see a project or group at all.

A project more visible than intended leaks source code, issues, job logs and artifacts. The
instance's defaults and restricted levels decide what new groups and projects start as.
"""

from __future__ import annotations

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
)
from posture.snapshot import Group, Instance, Project

Visibility = Literal["private", "internal", "public"]
DOCS = "https://docs.gitlab.com/user/public_access/"


class AllowedVisibility(Params):
    allowed: list[Visibility] = Field(
        default_factory=lambda: ["private", "internal"],
        description="visibility levels a target may have",
    )


def _visibility(target: Project | Group, params: AllowedVisibility, _ctx: Context):
    actual = target.visibility
    if actual in params.allowed:
        yield passed(f"visibility is {actual}", expected=params.allowed, actual=actual)
    else:
        yield failed(
            f"visibility is {actual}, allowed: {', '.join(params.allowed)}",
            expected=params.allowed,
            actual=actual,
        )


def check_project_visibility(
    project: Project, params: AllowedVisibility, ctx: Context
) -> Iterator[Outcome]:
    yield from _visibility(project, params, ctx)


def check_group_visibility(
    group: Group, params: AllowedVisibility, ctx: Context
) -> Iterator[Outcome]:
    yield from _visibility(group, params, ctx)


class InstanceDefaults(Params):
    default_project_visibility: list[Visibility] = Field(default_factory=lambda: ["private"])
    default_group_visibility: list[Visibility] = Field(default_factory=lambda: ["private"])


def check_instance_defaults(
    instance: Instance, params: InstanceDefaults, _ctx: Context
) -> Iterator[Outcome]:
    settings = instance.settings.data
    assert settings is not None  # guaranteed by requires=("settings",)
    for name, allowed in (
        ("default_project_visibility", params.default_project_visibility),
        ("default_group_visibility", params.default_group_visibility),
    ):
        actual = getattr(settings, name)
        verdict = passed if actual in allowed else failed
        yield verdict(f"{name} is {actual}", item=name, expected=allowed, actual=actual)


class RestrictedLevels(Params):
    must_restrict: list[Visibility] = Field(
        default_factory=lambda: ["public"],
        description="levels non-admins must not be able to choose",
    )


def check_restricted_levels(
    instance: Instance, params: RestrictedLevels, _ctx: Context
) -> Iterator[Outcome]:
    settings = instance.settings.data
    assert settings is not None
    restricted = settings.restricted_visibility_levels
    missing = [level for level in params.must_restrict if level not in restricted]
    if missing:
        yield failed(
            f"not restricted: {', '.join(missing)}",
            expected=params.must_restrict,
            actual=restricted,
        )
    else:
        yield passed(
            "required levels are restricted", expected=params.must_restrict, actual=restricted
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="project.visibility",
        title="Project visibility is within the allowed levels",
        severity=Severity.HIGH,
        targets=(Target.PROJECT,),
        rationale=(
            "A public or internal project exposes its code, issues, merge requests, job logs "
            "and artifacts to everyone on the internet or every user of the instance. Most "
            "company code should be private; open-source scopes are allowed through overrides."
        ),
        remediation=(
            "Project > Settings > General > Visibility, project features, permissions: set "
            "Project visibility. API: PUT /projects/:id with visibility=private."
        ),
        references=(Reference("GitLab: project and group visibility", DOCS),),
        soc2=("CC6.1", "CC6.6"),
        cis=("1.2.6",),
        check=check_project_visibility,
        params=AllowedVisibility,
    ),
    Rule(
        id="group.visibility",
        title="Group visibility is within the allowed levels",
        severity=Severity.MEDIUM,
        targets=(Target.GROUP,),
        rationale=(
            "A group's visibility caps what its projects and subgroups can be, and a public "
            "group lists its members and projects to anyone."
        ),
        remediation=(
            "Group > Settings > General > Naming, visibility: set Visibility level. API: "
            "PUT /groups/:id with visibility=private."
        ),
        references=(Reference("GitLab: project and group visibility", DOCS),),
        soc2=("CC6.1",),
        check=check_group_visibility,
        params=AllowedVisibility,
    ),
    Rule(
        id="instance.default_visibility",
        title="New projects and groups default to private",
        severity=Severity.MEDIUM,
        targets=(Target.INSTANCE,),
        rationale=(
            "Defaults decide what people get when they do not think about it. A private "
            "default means exposure is always a deliberate choice."
        ),
        remediation=(
            "Admin area > Settings > General > Visibility and access controls: Default "
            "project visibility and Default group visibility. API: PUT /application/settings "
            "with default_project_visibility=private and default_group_visibility=private."
        ),
        references=(
            Reference(
                "GitLab: visibility and access controls",
                "https://docs.gitlab.com/administration/settings/visibility_and_access_controls/",
            ),
        ),
        soc2=("CC6.1",),
        check=check_instance_defaults,
        params=InstanceDefaults,
        requires=("settings",),
    ),
    Rule(
        id="instance.restricted_visibility",
        title="Public visibility is restricted to administrators",
        severity=Severity.MEDIUM,
        targets=(Target.INSTANCE,),
        rationale=(
            "Restricting the public level stops any project owner from publishing code to the "
            "internet on their own; an administrator has to do it."
        ),
        remediation=(
            "Admin area > Settings > General > Visibility and access controls: Restricted "
            "visibility levels, tick Public. API: PUT /application/settings with "
            "restricted_visibility_levels[]=public."
        ),
        references=(
            Reference(
                "GitLab: restrict visibility levels",
                "https://docs.gitlab.com/administration/settings/visibility_and_access_controls/#restrict-visibility-levels",
            ),
        ),
        soc2=("CC6.1", "CC6.6"),
        check=check_restricted_levels,
        params=RestrictedLevels,
        requires=("settings",),
    ),
)
