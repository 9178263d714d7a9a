"""Runners: the machines that execute CI jobs, and which jobs they accept.

A runner sees everything a job sees: source code, CI/CD variables, job tokens and whatever the
host keeps between jobs (caches, Docker layers, cloud credentials). Which jobs reach a runner
decides who can run code next to those secrets. Runner settings come from ``GET /runners/:id``
(the ``details`` section); each runner in the snapshot is judged once.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from posture.snapshot import Project, Runner, RunnerDetails

CONFIGURE = "https://docs.gitlab.com/ci/runners/configure_runners/"
SCOPE = "https://docs.gitlab.com/ci/runners/runners_scope/"
RUNNERS_API = Reference("GitLab API: runners", "https://docs.gitlab.com/api/runners/")

_TYPE_NAMES = {
    "instance_type": "instance runner",
    "group_type": "group runner",
    "project_type": "project runner",
}


def _details(runner: Runner) -> RunnerDetails | None:
    return runner.details.data


def _no_details() -> Outcome:
    return unknown("GitLab returned no details for this runner")


# -- runners.instance_runners_enabled ---------------------------------------------------------


def check_instance_runners(project: Project, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    enabled = project.shared_runners_enabled
    if enabled is None:
        yield unknown("GitLab did not report shared_runners_enabled", expected=False)
    elif enabled:
        yield failed(
            "instance runners are enabled: this project's jobs, with its variables and job "
            "token, can run on machines shared with every other project on the instance",
            expected=False,
            actual=True,
        )
    else:
        yield passed(
            "instance runners are disabled: jobs run only on group or project runners",
            expected=False,
            actual=False,
        )


# -- runners.run_untagged ---------------------------------------------------------------------


def check_run_untagged(runner: Runner, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    details = _details(runner)
    if details is None:
        yield _no_details()
        return
    tags = ", ".join(details.tag_list) or "none"
    if details.run_untagged is None:
        yield unknown("GitLab did not report run_untagged", expected=False)
    elif details.run_untagged:
        yield failed(
            f"runs untagged jobs (tags: {tags}): any job without tags in a project that can "
            "use this runner lands on it",
            expected=False,
            actual=True,
        )
    else:
        yield passed(
            f"takes only jobs that ask for its tags (tags: {tags})", expected=False, actual=False
        )


# -- runners.unlocked -------------------------------------------------------------------------


def check_unlocked(runner: Runner, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    if runner.runner_type is None:
        yield unknown("GitLab did not report the runner's type", expected=True)
        return
    if runner.runner_type != "project_type":
        kind = _TYPE_NAMES.get(runner.runner_type, runner.runner_type)
        yield not_applicable(f"{kind}: locking applies to project runners only")
        return
    details = _details(runner)
    if details is None:
        yield _no_details()
        return
    count = len(details.project_ids)
    used_by = f" (enabled in {count} project{'s' if count != 1 else ''})" if count else ""
    if details.locked is None:
        yield unknown("GitLab did not report whether the runner is locked", expected=True)
    elif details.locked:
        yield passed(f"locked to its current projects{used_by}", expected=True, actual=True)
    else:
        yield failed(
            f"not locked{used_by}: a maintainer of any project it is enabled in can enable "
            "it for other projects, whose jobs then run beside this project's",
            expected=True,
            actual=False,
        )


# -- runners.protected_refs_only --------------------------------------------------------------


def check_protected_refs_only(runner: Runner, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    details = _details(runner)
    if details is None:
        yield _no_details()
        return
    level = details.access_level
    if level == "ref_protected":
        yield passed(
            "runs jobs only for protected branches and tags",
            expected="ref_protected",
            actual=level,
        )
    elif level == "not_protected":
        yield failed(
            "runs jobs from any branch: code nobody reviewed runs on it, next to whatever "
            "credentials and caches the host holds",
            expected="ref_protected",
            actual=level,
        )
    elif level is None:
        yield unknown("GitLab did not report the runner's access_level", expected="ref_protected")
    else:
        yield unknown(f"unrecognised access_level {level!r}", expected="ref_protected")


RULES: tuple[Rule, ...] = (
    Rule(
        id="runners.instance_runners_enabled",
        title="Project does not use instance runners",
        severity=Severity.LOW,
        targets=(Target.PROJECT,),
        rationale=(
            "Instance runners take jobs from every project on the instance; a job can leave "
            "files, caches or processes behind that the next project's job finds, and the "
            "runner's host sees every project's secrets. Sensitive projects should use "
            "runners of their own (baselines enable this rule for such scopes)."
        ),
        remediation=(
            "Settings > CI/CD > Runners: turn off Enable instance runners for this project and "
            "register a project or group runner. API: PUT /projects/:id with "
            "shared_runners_enabled=false."
        ),
        references=(
            Reference(
                "GitLab: disable instance runners for a project",
                f"{SCOPE}#disable-instance-runners-for-a-project",
            ),
            Reference("GitLab API: edit a project", "https://docs.gitlab.com/api/projects/"),
        ),
        soc2=("CC6.1", "CC6.8"),
        cis=("2.2.3",),
        check=check_instance_runners,
    ),
    Rule(
        id="runners.run_untagged",
        title="Runners take only jobs that ask for their tags",
        severity=Severity.MEDIUM,
        targets=(Target.RUNNER,),
        rationale=(
            "A runner that runs untagged jobs takes any job that does not choose a runner, so "
            "a runner set up for deployments with cloud credentials also runs every ordinary "
            "test job. Tags keep each runner to the work it was built for."
        ),
        remediation=(
            "Settings > CI/CD > Runners (Build > Runners for a group, Admin > CI/CD > Runners "
            "for an instance runner): edit the runner, give it tags and clear Run untagged "
            "jobs. API: PUT /runners/:id with run_untagged=false and tag_list."
        ),
        references=(
            Reference(
                "GitLab: control jobs that a runner can run",
                f"{CONFIGURE}#control-jobs-that-a-runner-can-run",
            ),
            RUNNERS_API,
        ),
        soc2=("CC6.3", "CC6.8"),
        check=check_run_untagged,
        requires=("details",),
    ),
    Rule(
        id="runners.unlocked",
        title="Project runners are locked to their projects",
        severity=Severity.MEDIUM,
        targets=(Target.RUNNER,),
        rationale=(
            "An unlocked project runner can be enabled for other projects by anyone who "
            "maintains one of its projects, so jobs from a less trusted project end up on a "
            "machine holding another project's secrets and caches."
        ),
        remediation=(
            "Settings > CI/CD > Runners: edit the project runner and tick Lock to current "
            "projects. API: PUT /runners/:id with locked=true."
        ),
        references=(
            Reference(
                "GitLab: prevent a project runner from being enabled for other projects",
                f"{SCOPE}#prevent-a-project-runner-from-being-enabled-for-other-projects",
            ),
            RUNNERS_API,
        ),
        soc2=("CC6.3",),
        cis=("2.2.3",),
        check=check_unlocked,
        requires=("details",),
    ),
    Rule(
        id="runners.protected_refs_only",
        title="Runners run jobs only for protected branches and tags",
        severity=Severity.MEDIUM,
        targets=(Target.RUNNER,),
        rationale=(
            "A runner that accepts jobs from any branch runs code nobody has reviewed. If the "
            "runner holds deployment credentials, a cloud role or a shared cache, anyone who "
            "can push a branch can use or poison them."
        ),
        remediation=(
            "Settings > CI/CD > Runners (Build > Runners for a group, Admin > CI/CD > Runners "
            "for an instance runner): edit the runner and tick Protected. API: PUT "
            "/runners/:id with access_level=ref_protected."
        ),
        references=(
            Reference(
                "GitLab: prevent runners from revealing sensitive information",
                f"{CONFIGURE}#prevent-runners-from-revealing-sensitive-information",
            ),
            RUNNERS_API,
        ),
        soc2=("CC6.1", "CC8.1"),
        check=check_protected_refs_only,
        requires=("details",),
    ),
)
