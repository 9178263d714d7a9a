from __future__ import annotations

from posture.rules import REGISTRY
from posture.rules.base import Verdict
from posture.rules.visibility import AllowedVisibility
from posture.snapshot import InstanceSettings
from tests.rules.factories import error, forbidden, group, instance, ok, project, run, verdicts

PROJECT = REGISTRY["project.visibility"]
GROUP = REGISTRY["group.visibility"]
DEFAULTS = REGISTRY["instance.default_visibility"]
RESTRICTED = REGISTRY["instance.restricted_visibility"]


def test_private_project_passes_public_fails() -> None:
    assert verdicts(run(PROJECT, project(visibility="private"))) == [Verdict.PASS]
    [outcome] = run(PROJECT, project(visibility="public"))
    assert outcome.verdict is Verdict.FAIL
    assert outcome.actual == "public"
    assert outcome.expected == ["private", "internal"]


def test_override_can_allow_public() -> None:
    params = AllowedVisibility(allowed=["public"])
    assert verdicts(run(PROJECT, project(visibility="public"), params)) == [Verdict.PASS]


def test_group_visibility() -> None:
    assert verdicts(run(GROUP, group(visibility="internal"))) == [Verdict.PASS]
    assert verdicts(run(GROUP, group(visibility="public"))) == [Verdict.FAIL]


def test_instance_defaults_judged_one_by_one() -> None:
    settings = InstanceSettings(
        default_project_visibility="internal", default_group_visibility="private"
    )
    outcomes = run(DEFAULTS, instance(settings=ok(settings)))
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("default_project_visibility", Verdict.FAIL),
        ("default_group_visibility", Verdict.PASS),
    }


def test_restricted_levels() -> None:
    assert verdicts(run(RESTRICTED, instance())) == [Verdict.PASS]
    open_settings = ok(InstanceSettings(restricted_visibility_levels=[]))
    assert verdicts(run(RESTRICTED, instance(settings=open_settings))) == [Verdict.FAIL]


def test_unreadable_instance_settings_are_unknown_never_pass() -> None:
    for section in (forbidden("requires an administrator token"), error()):
        [outcome] = run(DEFAULTS, instance(settings=section))
        assert outcome.verdict is Verdict.UNKNOWN
        assert "settings" in outcome.message
        [outcome] = run(RESTRICTED, instance(settings=section))
        assert outcome.verdict is Verdict.UNKNOWN
