"""End to end: crawl the sandbox through python-gitlab and check what the snapshot says."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from posture import snapshot as snap
from posture.sandbox import Sandbox
from posture.snapshot import PROJECT_SECTIONS, Status
from tests.integration.conftest import crawl, instance_from

pytestmark = pytest.mark.integration

PREMIUM_GROUP_SECTIONS = {"webhooks", "approval_settings"}
PREMIUM_PROJECT_SECTIONS = {"approval_settings", "approval_rules"}


def statuses(snapshot: snap.Snapshot) -> Counter[tuple[str, Status]]:
    return Counter(
        (f"{target.split(':', 1)[0]}.{name}", section.status)
        for target, name, section in snapshot.sections()
    )


def test_demo_crawl_as_admin_on_premium_reads_every_section(demo, demo_sandbox) -> None:
    result = crawl(demo_sandbox)
    s = result.snapshot

    expected_groups = {full for _g, _p, full in demo.walk_groups()}
    expected_projects = {full for _p, _g, full in demo.walk_projects()}
    assert {g.full_path for g in s.groups} == expected_groups
    assert {p.path_with_namespace for p in s.projects} == expected_projects
    assert max(g.full_path.count("/") for g in s.groups) >= 2  # nesting at least 3 deep

    not_ok = [(t, n, sec.status) for t, n, sec in s.sections() if sec.status is not Status.OK]
    assert not_ok == []
    assert s.meta.complete is True
    assert s.meta.token.is_admin is True
    assert s.meta.gitlab_enterprise is True
    assert s.instance.settings.data is not None

    # archived projects are recorded and marked; forks know their parent
    archived = {full for p, _g, full in demo.walk_projects() if p.archived}
    assert sum(p.archived for p in s.projects) == len(archived) >= 1
    forks = {full for p, _g, full in demo.walk_projects() if p.forked_from}
    assert {p.path_with_namespace for p in s.projects if p.forked_from} == forks


def test_each_runner_is_fetched_once_and_nothing_is_requested_twice(demo_sandbox) -> None:
    result = crawl(demo_sandbox, workers=8)
    assert result.duplicates == []
    assert demo_sandbox.duplicate_requests() == {} or not demo_sandbox.duplicate_requests()
    runner_gets = result.stats["by_endpoint"].get("GET /runners/:id", 0)
    assert runner_gets == len(result.snapshot.runners) >= 1
    referenced = {
        ref.id for p in result.snapshot.projects if p.runners.data for ref in p.runners.data
    }
    assert referenced == {r.id for r in result.snapshot.runners}


def test_two_crawls_give_identical_bytes_outside_volatile_fields(demo_sandbox) -> None:
    first = json.loads(snap.dumps(crawl(demo_sandbox, workers=8).snapshot))
    second = json.loads(snap.dumps(crawl(demo_sandbox, workers=2).snapshot))
    assert first["meta"]["run"] != second["meta"]["run"] or True  # volatile by design
    stable_first = json.dumps(snap.stable_view(first), sort_keys=True)
    stable_second = json.dumps(snap.stable_view(second), sort_keys=True)
    assert stable_first == stable_second


def test_free_tier_marks_premium_sections_unavailable_never_empty(demo) -> None:
    with Sandbox(demo, tier="free") as sandbox:
        s = crawl(sandbox).snapshot
    counts = statuses(s)
    for name in PREMIUM_PROJECT_SECTIONS:
        assert counts[(f"project.{name}", Status.UNAVAILABLE)] == len(s.projects)
        assert counts[(f"project.{name}", Status.OK)] == 0
    for name in PREMIUM_GROUP_SECTIONS:
        assert counts[(f"group.{name}", Status.OK)] == 0
    top = [g for g in s.groups if g.parent_id is None]
    assert all(g.protected_branches.status is Status.UNAVAILABLE for g in top)
    # Free features are still read
    assert counts[("project.protected_branches", Status.OK)] == len(s.projects)
    assert counts[("project.variables", Status.OK)] == len(s.projects)
    assert all(
        level.user_id is None and level.group_id is None
        for p in s.projects
        for b in p.protected_branches.data or []
        for level in b.push_access_levels + b.merge_access_levels
    )


def test_community_edition_answers_404_and_omits_ee_keys(demo) -> None:
    with Sandbox(demo, tier="free", edition="ce") as sandbox:
        s = crawl(sandbox).snapshot
    assert s.meta.gitlab_enterprise is False
    for project in s.projects:
        assert project.approval_rules.status is Status.UNAVAILABLE
        assert project.approval_rules.http_status == 404
        for branch in project.protected_branches.data or []:
            assert branch.unprotect_access_levels is None  # unknown, not "nobody"
            assert branch.code_owner_approval_required is None


def test_owner_token_sees_what_gitlab_shows_a_non_admin() -> None:
    instance = instance_from(
        {
            "groups": [
                {
                    "path": "corp",
                    "variables": [{"key": "GROUP_VAR", "value": "plain-value"}],
                    "projects": [
                        {"path": "owned", "variables": [{"key": "A", "value": "x-value"}]},
                        {
                            "path": "dev-only",
                            "member_role": "developer",
                            "variables": [{"key": "B", "value": "y-value"}],
                        },
                    ],
                    "subgroups": [
                        {
                            "path": "reporting",
                            "member_role": "reporter",
                            "projects": [{"path": "numbers"}],
                        }
                    ],
                }
            ]
        }
    )
    with Sandbox(instance, tier="premium") as sandbox:
        s = crawl(sandbox, role="owner").snapshot
    assert s.meta.token.is_admin is False
    assert s.instance.settings.status is Status.FORBIDDEN
    assert s.instance.variables.status is Status.FORBIDDEN
    by_path = {p.path_with_namespace: p for p in s.projects}
    owned, dev = by_path["corp/owned"], by_path["corp/dev-only"]
    assert owned.variables.status is Status.OK
    assert owned.ci_settings.status is Status.OK
    assert dev.variables.status is Status.FORBIDDEN
    assert dev.variables.http_status == 403
    assert dev.ci_settings.status is Status.FORBIDDEN  # keys hidden, never "false"
    assert dev.webhooks.status is Status.FORBIDDEN
    reporting = {g.full_path: g for g in s.groups}["corp/reporting"]
    assert reporting.variables.status is Status.FORBIDDEN
    assert s.meta.complete is True  # forbidden is known, not a failure


def test_group_with_more_than_100_projects_is_paged(demo) -> None:
    projects = [{"path": f"svc-{i:03d}"} for i in range(130)]
    instance = instance_from(
        {
            "groups": [
                {
                    "path": "big",
                    "projects": projects[:110],
                    "subgroups": [{"path": "deeper", "projects": projects[110:]}],
                }
            ]
        }
    )
    with Sandbox(instance, tier="premium") as sandbox:
        result = crawl(sandbox)
        listing = [
            r for r in sandbox.request_log if r.path.endswith("/projects") and "page=2" in r.query
        ]
    assert len(result.snapshot.projects) == 130
    assert listing, "the second page of the group's project listing was never requested"
    assert result.duplicates == []


def test_paths_with_dots_dashes_underscores_and_a_url_prefix() -> None:
    instance = instance_from(
        {
            "groups": [
                {
                    "path": "acme.corp",
                    "subgroups": [
                        {
                            "path": "team-a_b",
                            "subgroups": [{"path": "x.y-z", "projects": [{"path": "api_v2"}]}],
                        }
                    ],
                }
            ]
        }
    )
    with Sandbox(instance, tier="premium", path_prefix="/gitlab") as sandbox:
        assert sandbox.url.endswith("/gitlab")
        s = crawl(sandbox, groups=("acme.corp/team-a_b",)).snapshot
    assert [p.path_with_namespace for p in s.projects] == ["acme.corp/team-a_b/x.y-z/api_v2"]
    assert {g.full_path for g in s.groups} == {"acme.corp/team-a_b", "acme.corp/team-a_b/x.y-z"}


def test_overlapping_groups_are_crawled_once(demo_sandbox, demo) -> None:
    top = demo.top_level_groups()[0]
    sub = top.subgroups[0]
    result = crawl(demo_sandbox, groups=(top.full_path, f"{top.full_path}/{sub.path}"))
    assert result.duplicates == []
    ids = [p.id for p in result.snapshot.projects]
    assert len(ids) == len(set(ids))


def test_all_groups_as_admin_covers_the_instance(demo, demo_sandbox) -> None:
    result = crawl(demo_sandbox, all_groups=True)
    assert {g.full_path for g in result.snapshot.groups} == {
        full for _g, _p, full in demo.walk_groups()
    }
    assert result.snapshot.meta.scope.all_groups is True
    assert result.duplicates == []


def test_requests_per_project_stay_within_budget(demo, demo_sandbox) -> None:
    result = crawl(demo_sandbox)
    per_project = result.stats["total"] / len(result.snapshot.projects)
    project_endpoints = {
        k: v for k, v in result.stats["by_endpoint"].items() if k.startswith("GET /projects/:id/")
    }
    # one request per project per section, no more
    assert all(v <= len(result.snapshot.projects) for v in project_endpoints.values())
    # ci_settings comes from the listing; an admin's runner lists are derived from
    # GET /runners/all and each runner's details (tests/integration/test_crawl_budget.py)
    assert len(project_endpoints) == len(PROJECT_SECTIONS) - 2
    assert "GET /projects/:id/runners" not in project_endpoints
    assert per_project < 15


def test_a_project_shared_into_a_group_stays_under_its_own_namespace(demo, demo_sandbox) -> None:
    shared = [
        (full, link.group)
        for project, _g, full in demo.walk_projects()
        for link in project.shared_with_groups
    ]
    assert shared, "the demo instance should share a project into another group"
    project_path, into_group = shared[0]
    assert not project_path.startswith(into_group + "/")

    result = crawl(demo_sandbox, groups=(into_group,))
    paths = {p.path_with_namespace for p in result.snapshot.projects}
    assert project_path not in paths  # with_shared=false: not one of the group's own

    whole = crawl(demo_sandbox).snapshot
    recorded = [p for p in whole.projects if p.path_with_namespace == project_path]
    assert len(recorded) == 1
    assert recorded[0].namespace_full_path == project_path.rsplit("/", 1)[0]
    assert any(g.group_full_path == into_group for g in recorded[0].shared_with_groups)
