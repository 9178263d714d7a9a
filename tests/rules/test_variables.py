from __future__ import annotations

from typing import Any

import pytest

from posture.rules import REGISTRY
from posture.rules.base import Verdict
from posture.rules.variables import MaxProjects, NameHints, VariableScope
from posture.snapshot import Variable
from tests.rules.factories import (
    error,
    forbidden,
    group,
    instance,
    ok,
    project,
    run,
    unavailable,
    verdicts,
)

UNMASKED = REGISTRY["variables.secret_like_unmasked"]
UNPROTECTED = REGISTRY["variables.unprotected"]
BROAD = REGISTRY["variables.broad_scope_secret"]
HIDDEN = REGISTRY["variables.prefer_hidden"]
UNCOLLECTED = [forbidden(), unavailable(), error()]


def var(key: str = "BUILD_MODE", **fields: Any) -> Variable:
    """A plain, unprotected, unmasked project variable whose value is not a secret."""
    base: dict[str, Any] = {
        "key": key,
        "protected": False,
        "masked": False,
        "hidden": False,
        "environment_scope": "*",
        "value_available": True,
        "looks_like_secret": False,
        "name_suggests_secret": False,
    }
    base.update(fields)
    return Variable(**base)


def secret(key: str = "DEPLOY_CREDENTIAL", **fields: Any) -> Variable:
    """A variable whose value the crawler recognised as a credential."""
    fields = {"looks_like_secret": True, "secret_kinds": ["aws_secret_access_key"], **fields}
    return var(key, **fields)


def instance_var(key: str = "SHARED_CREDENTIAL", **fields: Any) -> Variable:
    """Instance variables have neither an environment scope nor a hidden flag."""
    return var(key, hidden=None, environment_scope=None, **fields)


def holding(*variables: Variable):
    return project(variables=ok(list(variables)))


@pytest.mark.parametrize("rule", [UNMASKED, UNPROTECTED, BROAD, HIDDEN], ids=lambda r: r.id)
@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_variables_are_unknown_never_pass(rule, section) -> None:
    subjects = [group(variables=section), instance(variables=section)]
    if "project" in [t.value for t in rule.targets]:
        subjects.append(project(variables=section))
    for subject in subjects:
        [outcome] = run(rule, subject)
        assert outcome.verdict is Verdict.UNKNOWN
        assert "variables" in outcome.message


@pytest.mark.parametrize("rule", [UNMASKED, UNPROTECTED, HIDDEN], ids=lambda r: r.id)
def test_no_variables_is_not_applicable(rule) -> None:
    assert verdicts(run(rule, project())) == [Verdict.NOT_APPLICABLE]


# -- variables.secret_like_unmasked -----------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "verdict"),
    [
        (secret(masked=False), Verdict.FAIL),
        (secret(masked=True), Verdict.PASS),
        (var("DB_PASSWORD", name_suggests_secret=True), Verdict.FAIL),
        (var("DB_PASSWORD", name_suggests_secret=True, masked=True), Verdict.PASS),
        # hidden: GitLab withholds the value and masks it
        (secret(hidden=True, masked=True, value_available=False), Verdict.PASS),
        (var(hidden=True, masked=True, value_available=False), Verdict.PASS),
        (var(), Verdict.PASS),
        (secret(masked=None), Verdict.UNKNOWN),
        # no value to inspect and nothing in the name: posture cannot vouch for it
        (var(value_available=False), Verdict.UNKNOWN),
        # masked variables pass even when posture could not see the value
        (var(masked=True, value_available=False), Verdict.PASS),
    ],
)
def test_secret_like_unmasked(variable: Variable, verdict: Verdict) -> None:
    assert verdicts(run(UNMASKED, holding(variable))) == [verdict]


def test_unmasked_failure_names_the_kind_of_secret_and_the_variable() -> None:
    [outcome] = run(UNMASKED, holding(secret("AWS_SECRET", environment_scope="production")))
    assert outcome.item == "AWS_SECRET@production"
    assert "credential (aws_secret_access_key)" in outcome.message
    assert "not masked" in outcome.message
    assert outcome.actual == "visible"


def test_name_hints_can_be_switched_off() -> None:
    named = var("DEPLOY_TOKEN", name_suggests_secret=True)
    assert verdicts(run(UNMASKED, holding(named), NameHints(name_hints=False))) == [Verdict.PASS]
    # a value that looks like a credential still counts
    shaped = secret("SOMETHING")
    assert verdicts(run(UNMASKED, holding(shaped), NameHints(name_hints=False))) == [Verdict.FAIL]


def test_unmaskable_value_gets_a_different_fix() -> None:
    [outcome] = run(UNMASKED, holding(secret(maskable=False)))
    assert outcome.verdict is Verdict.FAIL
    assert "cannot mask" in outcome.message
    [outcome] = run(UNMASKED, holding(secret(maskable=True)))
    assert "cannot mask" not in outcome.message


def test_one_outcome_per_variable_across_scopes() -> None:
    subject = holding(
        secret("TOKEN", environment_scope="production"),
        secret("TOKEN", environment_scope="staging", masked=True),
        var("MODE"),
    )
    outcomes = run(UNMASKED, subject)
    assert {(o.item, o.verdict) for o in outcomes} == {
        ("TOKEN@production", Verdict.FAIL),
        ("TOKEN@staging", Verdict.PASS),
        ("MODE", Verdict.PASS),
    }


def test_instance_and_group_variables_are_judged_too() -> None:
    [outcome] = run(UNMASKED, instance(variables=ok([instance_var(looks_like_secret=True)])))
    assert outcome.verdict is Verdict.FAIL
    assert outcome.item == "SHARED_CREDENTIAL"
    assert verdicts(run(UNMASKED, group(variables=ok([secret()])))) == [Verdict.FAIL]


# -- variables.unprotected --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "verdict"),
    [
        (secret(protected=False), Verdict.FAIL),
        (secret(protected=True), Verdict.PASS),
        (secret(protected=None), Verdict.UNKNOWN),
        (var("API_TOKEN", name_suggests_secret=True), Verdict.FAIL),
        # a masked or hidden variable is one its owner declared secret
        (var(masked=True), Verdict.FAIL),
        (var(masked=True, hidden=True, value_available=False), Verdict.FAIL),
        (var(masked=True, protected=True), Verdict.PASS),
    ],
)
def test_unprotected(variable: Variable, verdict: Verdict) -> None:
    assert verdicts(run(UNPROTECTED, holding(variable))) == [verdict]


def test_unprotected_skips_variables_out_of_scope() -> None:
    outcomes = run(UNPROTECTED, holding(var("MODE"), secret("CLOUD_KEY")))
    assert [(o.item, o.verdict) for o in outcomes] == [("CLOUD_KEY", Verdict.FAIL)]
    assert "any branch" in outcomes[0].message


def test_unprotected_without_secrets_is_not_applicable() -> None:
    [outcome] = run(UNPROTECTED, holding(var("MODE"), var("REGION")))
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert "secret-like" in outcome.message


def test_unprotected_scope_all_judges_every_variable() -> None:
    outcomes = run(UNPROTECTED, holding(var("MODE"), var("REGION", protected=True)),
                   VariableScope(scope="all"))  # fmt: skip
    assert [(o.item, o.verdict) for o in outcomes] == [
        ("MODE", Verdict.FAIL),
        ("REGION", Verdict.PASS),
    ]


# -- variables.broad_scope_secret -------------------------------------------------------------


def test_broad_scope_targets_instance_and_group_only() -> None:
    assert {t.value for t in BROAD.targets} == {"instance", "group"}


def test_instance_secret_reaches_every_project() -> None:
    [outcome] = run(BROAD, instance(variables=ok([instance_var(name_suggests_secret=True)])))
    assert outcome.verdict is Verdict.FAIL
    assert "every project" in outcome.message


def test_instance_without_secrets_is_not_applicable() -> None:
    subject = instance(variables=ok([instance_var("REGISTRY_HOST")]))
    assert verdicts(run(BROAD, subject)) == [Verdict.NOT_APPLICABLE]
    assert verdicts(run(BROAD, instance())) == [Verdict.NOT_APPLICABLE]


def projects_under(count: int, prefix: str = "acme"):
    return [project(id=i + 1, path_with_namespace=f"{prefix}/sub/p{i}") for i in range(count)]


@pytest.mark.parametrize(
    ("count", "max_projects", "verdict"),
    [(11, 10, Verdict.FAIL), (10, 10, Verdict.PASS), (0, 10, Verdict.PASS), (1, 0, Verdict.FAIL)],
)
def test_group_secret_judged_by_projects_under_the_group(
    count: int, max_projects: int, verdict: Verdict
) -> None:
    subject = group(variables=ok([secret()]))
    params = MaxProjects(max_projects=max_projects)
    [outcome] = run(BROAD, subject, params, projects=projects_under(count))
    assert outcome.verdict is verdict
    assert f"{count} project" in outcome.message
    assert outcome.actual == count


def test_projects_of_other_groups_are_not_counted() -> None:
    # "acme-labs" and "acmex" start with "acme" but are not under the acme group
    others = projects_under(20, "acme-labs") + projects_under(20, "acmex")
    [outcome] = run(BROAD, group(variables=ok([secret()])), projects=others)
    assert outcome.verdict is Verdict.PASS
    assert outcome.actual == 0


def test_group_non_secret_variables_are_skipped() -> None:
    subject = group(variables=ok([var("MODE"), secret("CLOUD_KEY")]))
    outcomes = run(BROAD, subject, projects=projects_under(30))
    assert [(o.item, o.verdict) for o in outcomes] == [("CLOUD_KEY", Verdict.FAIL)]


# -- variables.prefer_hidden ------------------------------------------------------------------


def test_prefer_hidden_is_opt_in() -> None:
    assert HIDDEN.default_enabled is False


@pytest.mark.parametrize(
    ("variable", "verdict"),
    [
        (secret(masked=True, hidden=False), Verdict.FAIL),
        (var(masked=True), Verdict.FAIL),
        (secret(masked=True, hidden=True, value_available=False), Verdict.PASS),
        # GitLab before 17.4 sends no hidden flag
        (secret(masked=True, hidden=None), Verdict.UNKNOWN),
    ],
)
def test_prefer_hidden(variable: Variable, verdict: Verdict) -> None:
    assert verdicts(run(HIDDEN, holding(variable))) == [verdict]


def test_prefer_hidden_skips_ordinary_variables_and_instance_variables() -> None:
    assert verdicts(run(HIDDEN, holding(var("MODE")))) == [Verdict.NOT_APPLICABLE]
    subject = instance(variables=ok([instance_var(looks_like_secret=True, masked=True)]))
    [outcome] = run(HIDDEN, subject)
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert "instance" in outcome.message


@pytest.mark.parametrize("rule", [UNPROTECTED, BROAD, HIDDEN], ids=lambda r: r.id)
def test_variable_posture_cannot_classify_is_unknown_not_skipped(rule) -> None:
    opaque = var("OPAQUE", value_available=False)
    subject = group(variables=ok([opaque, var("MODE")]))
    [outcome] = run(rule, subject)
    assert outcome.verdict is Verdict.UNKNOWN
    assert outcome.item == "OPAQUE"
