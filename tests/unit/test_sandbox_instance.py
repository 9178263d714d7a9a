"""The instance description: loading, validation errors, ids, the demo file, the generator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from posture.errors import ConfigError
from posture.sandbox import DEMO_INSTANCE_PATH, Instance, generate_instance, load_instance
from posture.sandbox.instance import parse_instance

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "demo-instance.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "instance.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the demo instance -------------------------------------------------------------------


def test_packaged_demo_is_identical_to_the_example_file() -> None:
    assert DEMO_INSTANCE_PATH.read_bytes() == EXAMPLE.read_bytes(), (
        "posture/sandbox/demo-instance.yaml must be a copy of examples/demo-instance.yaml; "
        "run: cp examples/demo-instance.yaml posture/sandbox/demo-instance.yaml"
    )


@pytest.fixture(scope="module")
def demo() -> Instance:
    return load_instance(DEMO_INSTANCE_PATH)


def test_demo_is_a_small_realistic_company(demo: Instance) -> None:
    projects = list(demo.walk_projects())
    depth = max(full.count("/") + 1 for _g, _p, full in demo.walk_groups())
    assert 2 <= len(demo.groups) <= 3
    assert depth >= 3
    assert 22 <= len(projects) <= 28


def test_demo_plants_every_kind_of_misconfiguration(demo: Instance) -> None:
    projects = [p for p, _g, _f in demo.walk_projects()]
    branches = [b for p in projects for b in p.effective_protected_branches()]
    rules = [r for p in projects for r in p.approval_rules]
    variables = [v for p in projects for v in p.variables]
    hooks = [h for p in projects for h in p.hooks]
    runners = {r.name: r for r in demo.runners}
    tokens = [t for p in projects for t in p.access_tokens] + [
        t for g, _p, _f in demo.walk_groups() for t in g.access_tokens
    ]
    planted = {
        "public project": any(
            p.visibility == "public" and "data" in f for p, _g, f in demo.walk_projects()
        ),
        "default branch unprotected": any(p.protected_branches == [] for p in projects),
        "force push": any(b.allow_force_push for b in branches),
        "developers push": any(a.access_level == 30 for b in branches for a in b.push),
        "developers merge": any(a.access_level == 30 for b in branches for a in b.merge),
        "no code owner": any(not b.code_owner_approval_required for b in branches),
        "approvals 0": any(r.approvals_required == 0 for r in rules),
        "approvals 1": any(r.approvals_required == 1 for r in rules),
        "author approves": any(p.approvals.merge_requests_author_approval for p in projects),
        "committer approves": any(
            not p.approvals.merge_requests_disable_committers_approval for p in projects
        ),
        "no reset on push": any(not p.approvals.reset_approvals_on_push for p in projects),
        "overriding approvers": any(
            not p.approvals.disable_overriding_approvers_per_merge_request for p in projects
        ),
        "unmasked secret": any(
            v.key == "AWS_SECRET_ACCESS_KEY" and not v.masked for v in variables
        ),
        "unprotected variable": any(not v.protected for v in variables),
        "public jobs": any(p.public_jobs and p.visibility == "public" for p in projects),
        "pipeline vars by developers": any(
            p.ci_pipeline_variables_minimum_override_role == "developer" for p in projects
        ),
        "job token scope off": any(not p.job_token_scope.inbound_enabled for p in projects),
        "hook without ssl": any(not h.enable_ssl_verification for h in hooks),
        "hook over http": any(h.url.startswith("http://") for h in hooks),
        "hook credentials": any("@" in h.url and "token=" in h.url for h in hooks),
        "untagged runner": any(r.run_untagged for r in runners.values()),
        "unlocked project runner": any(
            not r.locked and r.runner_type == "project_type" for r in runners.values()
        ),
        "runner not protected": any(r.access_level == "not_protected" for r in runners.values()),
        "deploy key writes": any(k.can_push for p in projects for k in p.deploy_keys),
        "deploy token forever": any(
            t.expires_at is None for p in projects for t in p.deploy_tokens
        ),
        "access token forever": any(t.expires_at is None for t in tokens),
        "broad token scope": any("api" in t.scopes for t in tokens),
        "shared project": any(p.shared_with_groups for p in projects),
        "archived project": any(p.archived for p in projects),
        "fork": any(p.forked_from for p in projects),
        "weak group": any(g.settings for g, _p, _f in demo.walk_groups()),
    }
    assert [kind for kind, present in planted.items() if not present] == []


def test_demo_plants_are_commented(demo: Instance) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count("# PLANTED:") >= 30
    assert "hardened" in text.lower()


def test_demo_has_one_hardened_project_named_so(demo: Instance) -> None:
    ledger = next(p for p, _g, f in demo.walk_projects() if f == "acme/platform/payments/ledger")
    assert "hardened" in ledger.description.lower()
    assert ledger.public_jobs is False
    assert ledger.ci_pipeline_variables_minimum_override_role == "no_one_allowed"
    assert all(
        not b.allow_force_push and b.code_owner_approval_required
        for b in ledger.protected_branches or []
    )
    assert all(v.masked and v.protected for v in ledger.variables)
    assert all(r.approvals_required >= 2 for r in ledger.approval_rules)
    assert ledger.shared_runners_enabled is False


# --- ids ---------------------------------------------------------------------------------


def test_ids_follow_declaration_order_and_respect_explicit_ones() -> None:
    inst = parse_instance(
        {
            "groups": [
                {
                    "path": "a",
                    "projects": [{"path": "one"}, {"path": "two", "id": 1}],
                    "subgroups": [{"path": "b", "projects": [{"path": "three"}]}],
                },
                {"path": "c", "id": 7},
            ]
        }
    )
    groups = {full: g.id for g, _p, full in inst.walk_groups()}
    projects = {full: p.id for p, _g, full in inst.walk_projects()}
    assert groups == {"a": 1, "a/b": 2, "c": 7}
    assert projects == {"a/one": 2, "a/two": 1, "a/b/three": 3}


def test_same_file_same_ids(tmp_path: Path) -> None:
    first = load_instance(DEMO_INSTANCE_PATH)
    second = load_instance(DEMO_INSTANCE_PATH)
    assert first.model_dump() == second.model_dump()


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("groups: [\n  - path: a\n  bad", "not valid YAML"),
        ("groups:\n  - path: a\n    visibilty: public\n", "groups[0].visibilty"),
        ("groups:\n  - path: a\n    visibility: secret\n", "groups[0].visibility"),
        ("groups:\n  - path: a\n    runners: [ghost]\n", "unknown runner 'ghost'"),
        ("groups:\n  - path: a\n  - path: A\n", "duplicate group path"),
        ("- just\n- a list\n", "top level must be a mapping"),
        (
            "groups:\n  - path: a\n    projects:\n      - path: p\n        forked_from: x/y\n",
            "forked from unknown project",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_instance(path)
    assert isinstance(caught.value, ValueError)
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read instance file"):
        load_instance(tmp_path / "nope.yaml")


def test_errors_never_quote_a_secret_from_the_file(tmp_path: Path) -> None:
    secret = "hunter2-EXAMPLE-super-secret"
    bad_type = (
        f"groups:\n  - path: a\n    variables:\n      - key: K\n        value: {{x: {secret}}}\n"
    )
    bad_yaml = f"groups:\n  - path: a\n    variables:\n      - key: K\n        value: '{secret}\n"
    for text in (bad_type, bad_yaml):
        with pytest.raises(ConfigError) as caught:
            load_instance(write(tmp_path, text))
        assert secret not in str(caught.value)


def test_only_safe_yaml_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "groups: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_instance(path)


# --- the generator -----------------------------------------------------------------------


def test_generator_is_deterministic_and_seeded() -> None:
    first = generate_instance(groups=12, projects=80, seed=3)
    again = generate_instance(groups=12, projects=80, seed=3)
    other = generate_instance(groups=12, projects=80, seed=4)
    assert first.model_dump() == again.model_dump()
    assert first.model_dump() != other.model_dump()


def test_generator_builds_the_requested_shape_quickly() -> None:
    start = time.perf_counter()
    inst = generate_instance(groups=200, projects=5000, seed=1)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    groups = list(inst.walk_groups())
    projects = [p for p, _g, _f in inst.walk_projects()]
    assert len(groups) == 200
    assert len(projects) == 5000
    assert max(full.count("/") + 1 for _g, _p, full in groups) == 4
    usage: dict[str, int] = {}
    for project in projects:
        for name in project.runners:
            usage[name] = usage.get(name, 0) + 1
    assert max(usage.values()) >= 2, "some project runner should serve several projects"
    assert any(p.protected_branches == [] for p in projects)
    assert any(not v.masked for p in projects for v in p.variables)
    assert all("EXAMPLE" in v.value for p in projects for v in p.variables)


# --- canaries ----------------------------------------------------------------------------


def _secret_values(inst: Instance) -> list[str]:
    """Every secret-bearing value of an instance, as the canary contract lists them."""
    values = [v.value for v in inst.variables] + [r.token or "" for r in inst.runners]
    owners = [g for g, _p, _f in inst.walk_groups()] + [p for p, _g, _f in inst.walk_projects()]
    for owner in owners:
        values += [v.value for v in owner.variables]
        values += [t.token or "" for t in owner.deploy_tokens]
        values += [t.token or "" for t in owner.access_tokens]
        values.append(owner.runners_token or "")
        for hook in owner.hooks:
            values.append(hook.token or "")
            values += list(hook.url_variables.values()) + list(hook.custom_headers.values())
    return values


def test_canaries_mark_every_secret_once_and_leave_the_original_alone(demo: Instance) -> None:
    before = demo.model_dump()
    marked, canaries = demo.with_canaries()
    assert demo.model_dump() == before
    assert len(canaries) == len(set(canaries))
    values = _secret_values(marked)
    for value in values:
        assert sum(c in value for c in canaries) == 1, "every secret holds exactly one canary"
    hooks = [h for p, _g, _f in marked.walk_projects() for h in p.hooks]
    creds = next(h for h in hooks if "@" in h.url)
    user_part = creds.url.split("@")[0]
    assert any(c in user_part for c in canaries), "the URL password holds a canary"
    query = creds.url.split("?", 1)[1]
    token_param = next(p for p in query.split("&") if p.startswith("token="))
    team_param = next(p for p in query.split("&") if p.startswith("team="))
    assert any(c in token_param for c in canaries)
    assert not any(c in team_param for c in canaries), "non-secret parameters are untouched"
    expected = len(values) + 2  # + the URL password and the token= query parameter
    assert len(canaries) == expected


def test_canaries_cover_generated_instances_too() -> None:
    inst = generate_instance(groups=5, projects=40, seed=2)
    marked, canaries = inst.with_canaries()
    for value in _secret_values(marked):
        assert any(c in value for c in canaries)
