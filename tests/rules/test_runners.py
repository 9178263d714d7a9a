from __future__ import annotations

from typing import Any

import pytest

from posture.rules import REGISTRY
from posture.rules.base import Verdict
from posture.snapshot import RunnerDetails
from tests.rules.factories import (
    error,
    forbidden,
    ok,
    project,
    run,
    runner,
    unavailable,
    verdicts,
)

INSTANCE_RUNNERS = REGISTRY["runners.instance_runners_enabled"]
UNTAGGED = REGISTRY["runners.run_untagged"]
UNLOCKED = REGISTRY["runners.unlocked"]
PROTECTED = REGISTRY["runners.protected_refs_only"]
RUNNER_RULES = [UNTAGGED, UNLOCKED, PROTECTED]
UNCOLLECTED = [
    forbidden("GET /runners/:id needs a maintainer of one of the runner's projects"),
    unavailable(),
    error(),
]


def with_details(runner_type: str = "project_type", **fields: Any):
    """A project runner whose details say what the test states, safe otherwise."""
    base: dict[str, Any] = {
        "run_untagged": False,
        "locked": True,
        "access_level": "ref_protected",
        "tag_list": ["deploy"],
        "project_ids": [1],
    }
    base.update(fields)
    return runner(runner_type=runner_type, details=ok(RunnerDetails(**base)))


# -- runners.instance_runners_enabled ---------------------------------------------------------


@pytest.mark.parametrize(
    ("enabled", "verdict"),
    [(True, Verdict.FAIL), (False, Verdict.PASS), (None, Verdict.UNKNOWN)],
)
def test_instance_runners_enabled(enabled: bool | None, verdict: Verdict) -> None:
    [outcome] = run(INSTANCE_RUNNERS, project(shared_runners_enabled=enabled))
    assert outcome.verdict is verdict
    if verdict is Verdict.FAIL:
        assert "every other project" in outcome.message


# -- runner details: uncollected --------------------------------------------------------------


@pytest.mark.parametrize("rule", RUNNER_RULES, ids=lambda r: r.id)
@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_runner_details_are_unknown_never_pass(rule, section) -> None:
    [outcome] = run(rule, runner(details=section))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "details" in outcome.message


@pytest.mark.parametrize("rule", RUNNER_RULES, ids=lambda r: r.id)
def test_empty_details_are_unknown(rule) -> None:
    assert verdicts(run(rule, runner(details=ok(None)))) == [Verdict.UNKNOWN]


# -- runners.run_untagged ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_untagged", "verdict"),
    [(True, Verdict.FAIL), (False, Verdict.PASS), (None, Verdict.UNKNOWN)],
)
@pytest.mark.parametrize("runner_type", ["instance_type", "group_type", "project_type"])
def test_run_untagged(run_untagged: bool | None, verdict: Verdict, runner_type: str) -> None:
    subject = with_details(runner_type, run_untagged=run_untagged)
    assert verdicts(run(UNTAGGED, subject)) == [verdict]


def test_run_untagged_failure_lists_the_tags() -> None:
    [outcome] = run(UNTAGGED, with_details(run_untagged=True, tag_list=["docker", "deploy"]))
    assert "docker, deploy" in outcome.message
    assert outcome.item is None


# -- runners.unlocked -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locked", "verdict"),
    [(False, Verdict.FAIL), (True, Verdict.PASS), (None, Verdict.UNKNOWN)],
)
def test_project_runner_lock(locked: bool | None, verdict: Verdict) -> None:
    assert verdicts(run(UNLOCKED, with_details(locked=locked))) == [verdict]


def test_unlocked_failure_says_how_many_projects_use_it() -> None:
    [outcome] = run(UNLOCKED, with_details(locked=False, project_ids=[1, 2, 3]))
    assert "3 projects" in outcome.message


@pytest.mark.parametrize("runner_type", ["instance_type", "group_type"])
def test_lock_does_not_apply_to_shared_runners(runner_type: str) -> None:
    [outcome] = run(UNLOCKED, with_details(runner_type, locked=False))
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert "project runners only" in outcome.message


def test_unknown_runner_type_is_unknown() -> None:
    assert verdicts(run(UNLOCKED, with_details(None, locked=False))) == [Verdict.UNKNOWN]


# -- runners.protected_refs_only --------------------------------------------------------------


@pytest.mark.parametrize(
    ("access_level", "verdict"),
    [
        ("not_protected", Verdict.FAIL),
        ("ref_protected", Verdict.PASS),
        (None, Verdict.UNKNOWN),
        ("something_new", Verdict.UNKNOWN),
    ],
)
def test_protected_refs_only(access_level: str | None, verdict: Verdict) -> None:
    [outcome] = run(PROTECTED, with_details("instance_type", access_level=access_level))
    assert outcome.verdict is verdict
    assert outcome.expected == "ref_protected"
