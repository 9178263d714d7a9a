"""CI/CD variables: where pipeline secrets live, and who and what can read them.

A variable's value reaches every job that runs with it. Masking keeps it out of job logs,
protection keeps it away from pipelines on unreviewed branches, and the level it is defined
at (instance, group, project) decides how many projects can read it. The snapshot never holds
a value: rules read the signals the crawler computed from it (``looks_like_secret``,
``secret_kinds``, ``maskable``) and the key (``name_suggests_secret``).
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
    not_applicable,
    passed,
    unknown,
)
from posture.snapshot import Group, Instance, Project, Variable

VARIABLES_DOCS = "https://docs.gitlab.com/ci/variables/"
MASK = Reference(
    "GitLab: mask a CI/CD variable", "https://docs.gitlab.com/ci/variables/#mask-a-cicd-variable"
)
HIDE = Reference(
    "GitLab: hide a CI/CD variable", "https://docs.gitlab.com/ci/variables/#hide-a-cicd-variable"
)
PROTECT = Reference(
    "GitLab: protect a CI/CD variable",
    "https://docs.gitlab.com/ci/variables/#protect-a-cicd-variable",
)
PROJECT_API = Reference(
    "GitLab API: project-level CI/CD variables",
    "https://docs.gitlab.com/api/project_level_variables/",
)
GROUP_API = Reference(
    "GitLab API: group-level CI/CD variables", "https://docs.gitlab.com/api/group_level_variables/"
)
INSTANCE_API = Reference(
    "GitLab API: instance-level CI/CD variables",
    "https://docs.gitlab.com/api/instance_level_ci_variables/",
)

Holder = Instance | Group | Project
Scope = Literal["secret_like", "all"]


# -- shared helpers --------------------------------------------------------------------------


def variable_item(variable: Variable) -> str:
    """``KEY``, or ``KEY@scope`` when the variable is limited to some environments.

    GitLab allows one key per environment scope, so the scope is what tells two apart.
    """
    scope = variable.environment_scope
    if scope is None or scope == "*":
        return variable.key
    return f"{variable.key}@{scope}"


def _variables(holder: Holder) -> list[Variable]:
    return holder.variables.data or []


def _none() -> Outcome:
    return not_applicable("no CI/CD variables")


def detected(variable: Variable, *, name_hints: bool = True) -> list[str]:
    """Why posture thinks a variable holds a secret, from its value's shape or its key.

    Never any part of the value: only the kinds of credential the crawler recognised.
    """
    reasons: list[str] = []
    if variable.looks_like_secret:
        kinds = f" ({', '.join(variable.secret_kinds)})" if variable.secret_kinds else ""
        reasons.append(f"value looks like a credential{kinds}")
    if name_hints and variable.name_suggests_secret:
        reasons.append("name suggests a secret")
    return reasons


def secret_reasons(variable: Variable) -> list[str]:
    """Detected, or declared secret by its owner: a masked or hidden variable is one someone
    decided must not be seen, whatever posture can tell from its value."""
    reasons = detected(variable)
    if variable.hidden is True:
        reasons.append("hidden")
    elif variable.masked is True:
        reasons.append("masked")
    return reasons


def undecided(variable: Variable) -> Outcome | None:
    """``unknown`` for a variable posture cannot classify: no value came back to inspect and
    nothing else marks it as a secret. Rules that judge secrets only must not skip it."""
    if variable.value_available or secret_reasons(variable):
        return None
    return unknown(
        "GitLab did not return the value, so posture could not tell whether it is a secret",
        item=variable_item(variable),
    )


# -- variables.secret_like_unmasked ----------------------------------------------------------


class NameHints(Params):
    name_hints: bool = Field(
        default=True,
        description="also treat variables whose key names a secret (DEPLOY_TOKEN) as secrets",
    )


def check_secret_like_unmasked(
    holder: Holder, params: NameHints, _ctx: Context
) -> Iterator[Outcome]:
    variables = _variables(holder)
    if not variables:
        yield _none()
        return
    for variable in variables:
        yield _judge_masking(variable, params)


def _judge_masking(variable: Variable, params: NameHints) -> Outcome:
    item = variable_item(variable)
    if variable.hidden is True:
        return passed(
            "hidden: the value is masked in job logs and cannot be revealed in the UI or API",
            item=item,
            expected="masked",
            actual="hidden",
        )
    reasons = detected(variable, name_hints=params.name_hints)
    why = "; ".join(reasons)
    if variable.masked is True:
        detail = f" ({why})" if why else ""
        return passed(f"masked{detail}", item=item, expected="masked", actual="masked")
    if not reasons:
        if not variable.value_available:
            return unknown(
                "GitLab did not return the value, so posture could not tell whether it is a secret",
                item=item,
                expected="masked",
            )
        return passed("does not look like a secret", item=item, expected="masked", actual=None)
    if variable.masked is None:
        return unknown(
            f"GitLab did not report whether it is masked ({why})", item=item, expected="masked"
        )
    message = f"not masked ({why}): any job that prints it shows it in the job log"
    if variable.maskable is False:
        message += (
            "; GitLab cannot mask the current value (it breaks the masking rules), so rotate "
            "it to a maskable value or move it to a secrets manager"
        )
    return failed(message, item=item, expected="masked", actual="visible")


# -- variables.unprotected -------------------------------------------------------------------


class VariableScope(Params):
    scope: Scope = Field(
        default="secret_like",
        description=(
            "secret_like: only variables that look like, are named like, or are marked as "
            "secrets (masked or hidden); all: every variable"
        ),
    )


def check_unprotected(holder: Holder, params: VariableScope, _ctx: Context) -> Iterator[Outcome]:
    variables = _variables(holder)
    if not variables:
        yield _none()
        return
    judged = 0
    for variable in variables:
        reasons = secret_reasons(variable)
        if params.scope == "secret_like" and not reasons:
            if (outcome := undecided(variable)) is not None:
                judged += 1
                yield outcome
            continue
        judged += 1
        item = variable_item(variable)
        why = f" ({'; '.join(reasons)})" if reasons else ""
        if variable.protected is True:
            yield passed(
                f"protected{why}: only pipelines on protected branches and tags receive it",
                item=item,
                expected=True,
                actual=True,
            )
        elif variable.protected is None:
            yield unknown(
                f"GitLab did not report whether it is protected{why}", item=item, expected=True
            )
        else:
            yield failed(
                f"not protected{why}: a pipeline on any branch receives it, so anyone who can "
                "push a branch can read it",
                item=item,
                expected=True,
                actual=False,
            )
    if judged == 0:
        yield not_applicable("no secret-like CI/CD variables")


# -- variables.broad_scope_secret ------------------------------------------------------------


class MaxProjects(Params):
    max_projects: int = Field(
        default=10,
        ge=0,
        description="a group secret may reach at most this many projects under the group",
    )


def check_broad_scope_secret(
    holder: Instance | Group, params: MaxProjects, ctx: Context
) -> Iterator[Outcome]:
    variables = _variables(holder)
    if not variables:
        yield _none()
        return
    if isinstance(holder, Group):
        count = len(ctx.projects_under(holder))
        plural = "s" if count != 1 else ""
        reach: int | str = count
        where = f"pipelines of {count} project{plural} under {holder.full_path}"
        too_broad = count > params.max_projects
        limit = f"; allowed: at most {params.max_projects}"
    else:
        reach = "all projects"
        where = "every pipeline of every project on the instance"
        too_broad = True
        limit = ""
    judged = 0
    for variable in variables:
        reasons = secret_reasons(variable)
        if not reasons:
            if (outcome := undecided(variable)) is not None:
                judged += 1
                yield outcome
            continue
        judged += 1
        item = variable_item(variable)
        why = "; ".join(reasons)
        verdict = failed if too_broad else passed
        yield verdict(
            f"secret ({why}) is readable by {where}{limit}",
            item=item,
            expected=params.max_projects,
            actual=reach,
        )
    if judged == 0:
        yield not_applicable("no secret-like CI/CD variables")


# -- variables.prefer_hidden -----------------------------------------------------------------


def check_prefer_hidden(holder: Holder, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    if isinstance(holder, Instance):
        yield not_applicable("instance variables cannot be hidden")
        return
    variables = _variables(holder)
    if not variables:
        yield _none()
        return
    judged = 0
    for variable in variables:
        reasons = secret_reasons(variable)
        if not reasons:
            if (outcome := undecided(variable)) is not None:
                judged += 1
                yield outcome
            continue
        judged += 1
        item = variable_item(variable)
        why = "; ".join(reasons)
        if variable.hidden is True:
            yield passed("hidden", item=item, expected=True, actual=True)
        elif variable.hidden is None:
            yield unknown(
                f"secret ({why}) but GitLab did not report whether it is hidden",
                item=item,
                expected=True,
            )
        else:
            yield failed(
                f"secret ({why}) is not hidden: project maintainers can reveal its value in "
                "the UI and read it through the API",
                item=item,
                expected=True,
                actual=False,
            )
    if judged == 0:
        yield not_applicable("no secret-like CI/CD variables")


RULES: tuple[Rule, ...] = (
    Rule(
        id="variables.secret_like_unmasked",
        title="Secret CI/CD variables are masked",
        severity=Severity.HIGH,
        targets=(Target.INSTANCE, Target.GROUP, Target.PROJECT),
        rationale=(
            "An unmasked variable is printed in clear text whenever a job echoes it, and job "
            "logs are kept, shared in merge requests and readable by every project member. A "
            "credential in a log has to be treated as leaked."
        ),
        remediation=(
            "Settings > CI/CD > Variables (project or group; Admin > Settings > CI/CD for "
            "instance variables): edit the variable and set Visibility to Masked. API: PUT "
            "/projects/:id/variables/:key (PUT /groups/:id/variables/:key, PUT "
            "/admin/ci/variables/:key) with masked=true; the API requires value as well, and "
            "filter[environment_scope] when the key exists in several scopes. If GitLab cannot "
            "mask the value, rotate it to one it can mask or move it to a secrets manager."
        ),
        references=(MASK, PROJECT_API, GROUP_API, INSTANCE_API),
        soc2=("CC6.1",),
        check=check_secret_like_unmasked,
        params=NameHints,
        requires=("variables",),
    ),
    Rule(
        id="variables.unprotected",
        title="Secret CI/CD variables are protected",
        severity=Severity.MEDIUM,
        targets=(Target.INSTANCE, Target.GROUP, Target.PROJECT),
        rationale=(
            "An unprotected variable is passed to pipelines on every branch, so anyone who can "
            "push a branch can change .gitlab-ci.yml to send it anywhere, without review. "
            "Protected variables reach only protected branches and tags."
        ),
        remediation=(
            "Settings > CI/CD > Variables: edit the variable and tick Protect variable. API: "
            "PUT /projects/:id/variables/:key (PUT /groups/:id/variables/:key, PUT "
            "/admin/ci/variables/:key) with protected=true and the value. Jobs that need it "
            "must then run on protected branches or tags."
        ),
        references=(PROTECT, PROJECT_API, GROUP_API, INSTANCE_API),
        soc2=("CC6.1", "CC6.3", "CC8.1"),
        cis=("2.1.7",),
        check=check_unprotected,
        params=VariableScope,
        requires=("variables",),
    ),
    Rule(
        id="variables.broad_scope_secret",
        title="Secrets are not shared with more projects than need them",
        severity=Severity.MEDIUM,
        targets=(Target.INSTANCE, Target.GROUP),
        rationale=(
            "An instance variable reaches every pipeline on the instance and a group variable "
            "every pipeline in every project under the group, including projects created "
            "later. One careless or malicious job in any of them can exfiltrate it."
        ),
        remediation=(
            "Move the secret to the projects (or a small subgroup) that use it: Settings > "
            "CI/CD > Variables, add it there, then delete it from the group or the Admin area. "
            "API: POST /projects/:id/variables, then DELETE /groups/:id/variables/:key or "
            "DELETE /admin/ci/variables/:key."
        ),
        references=(
            Reference("GitLab: CI/CD variables", VARIABLES_DOCS),
            GROUP_API,
            INSTANCE_API,
        ),
        soc2=("CC6.1", "CC6.3"),
        cis=("2.1.7",),
        check=check_broad_scope_secret,
        params=MaxProjects,
        requires=("variables",),
    ),
    Rule(
        id="variables.prefer_hidden",
        title="Secret CI/CD variables are hidden",
        severity=Severity.LOW,
        targets=(Target.INSTANCE, Target.GROUP, Target.PROJECT),
        rationale=(
            "A masked variable can still be revealed in the settings page and read through "
            "the API by every Maintainer. A hidden variable (GitLab 17.4 and later) can only "
            "be used by pipelines, so a compromised maintainer account does not expose it."
        ),
        remediation=(
            "GitLab can hide a variable only when it is created: Settings > CI/CD > Variables > "
            "Add variable with Visibility set to Masked and hidden, then delete the old one. "
            "API: POST /projects/:id/variables (or POST /groups/:id/variables) with "
            "masked_and_hidden=true, then DELETE the old variable."
        ),
        references=(HIDE, PROJECT_API, GROUP_API),
        soc2=("CC6.1",),
        check=check_prefer_hidden,
        requires=("variables",),
        default_enabled=False,
    ),
)
