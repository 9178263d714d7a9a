"""The request budget against the sandbox: nothing asked twice, at most 10 requests per
project, runner lists derived exactly, and a baseline-driven crawl that asks less and
judges the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from posture import snapshot as snap
from posture.baseline import load_baseline
from posture.evaluate import evaluate
from posture.gitlab import crawl as crawl_module
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.crawl import Crawler, CrawlOptions
from posture.rules.needs import sections_for
from posture.sandbox import Instance, Sandbox, generate_instance
from posture.snapshot import Snapshot, Status
from posture.summary import render

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MOMENT = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
RUNNER_SECTIONS = frozenset({"project.runners", "runner.details"})


class Result:
    def __init__(self, snapshot: Snapshot, stats: dict[str, Any], mode: str) -> None:
        self.snapshot = snapshot
        self.stats = stats
        self.mode = mode

    @property
    def per_project(self) -> float:
        return self.stats["total"] / len(self.snapshot.projects)

    def stable(self) -> dict[str, Any]:
        return snap.stable_view(json.loads(snap.dumps(self.snapshot)))


def run(sandbox: Sandbox, groups: tuple[str, ...] = (), **options: Any) -> Result:
    """Crawl as the admin with the clock pinned, so two crawls judge on the same day."""
    if not groups and not options.get("all_groups"):
        groups = tuple(g.full_path for g in sandbox.instance.top_level_groups())
    client = GitLabClient(
        ClientConfig(url=sandbox.url, token=sandbox.token_for("admin"), workers=4)
    )
    try:
        crawler = Crawler(
            client, CrawlOptions(groups=groups, workers=4, **options), clock=lambda: MOMENT
        )
        snapshot = crawler.run()
        return Result(snapshot, client.stats.snapshot(), crawler.runner_mode)
    finally:
        client.close()


@pytest.fixture(scope="module")
def generated() -> Instance:
    """A generated instance where every way a runner reaches a project occurs: instance
    runners on and off, group runners of ancestors on and off, shared project runners."""
    instance = generate_instance(groups=24, projects=300, seed=8)
    for index, (project, _group, _full) in enumerate(instance.walk_projects()):
        if index % 5 == 0:
            project.group_runners_enabled = False
    return instance


@pytest.fixture(scope="module")
def generated_sandbox(generated: Instance) -> Iterator[Sandbox]:
    with Sandbox(generated) as sandbox:
        yield sandbox


def test_a_generated_instance_costs_at_most_ten_requests_per_project(generated_sandbox) -> None:
    generated_sandbox.reset_log()
    result = run(generated_sandbox)
    by_endpoint = result.stats["by_endpoint"]
    assert result.stats["duplicates"] == []
    assert generated_sandbox.duplicate_requests() == {}
    assert result.per_project <= 10, by_endpoint
    assert result.mode == "derived"
    assert "GET /projects/:id/runners" not in by_endpoint
    assert by_endpoint["GET /runners/:id"] <= len(generated_sandbox.instance.runners)
    assert {r.id for r in result.snapshot.runners} == {
        ref.id for p in result.snapshot.projects for ref in p.runners.data or []
    }
    assert all(r.details.ok for r in result.snapshot.runners)


def test_derived_runner_lists_equal_what_gitlab_lists(
    generated, generated_sandbox, monkeypatch
) -> None:
    derived = run(generated_sandbox, sections=RUNNER_SECTIONS)
    monkeypatch.setattr(crawl_module, "RUNNERS_DERIVED_SINCE", (999, 0))
    listed = run(generated_sandbox, sections=RUNNER_SECTIONS)
    assert (derived.mode, listed.mode) == ("derived", "listed")
    assert listed.stats["by_endpoint"]["GET /projects/:id/runners"] == len(listed.snapshot.projects)
    assert "GET /projects/:id/runners" not in derived.stats["by_endpoint"]
    assert derived.stable() == listed.stable()

    # Every way a runner reaches a project, and every way it does not, was exercised.
    types = {
        p.path_with_namespace: {ref.runner_type for ref in p.runners.data or []}
        for p in derived.snapshot.projects
    }
    assert set().union(*types.values()) == {"instance_type", "group_type", "project_type"}
    shared_off = [
        p.path_with_namespace
        for p in derived.snapshot.projects
        if p.shared_runners_enabled is False
    ]
    assert shared_off
    assert all("instance_type" not in types[path] for path in shared_off)
    group_off = [full for p, _g, full in generated.walk_projects() if not p.group_runners_enabled]
    assert group_off
    assert all("group_type" not in types[path] for path in group_off)
    assert sum("group_type" in kinds for kinds in types.values()) > len(group_off)


def test_a_subgroup_scope_still_sees_runners_of_groups_above_it(demo, monkeypatch) -> None:
    # acme/platform has a group runner; the scope starts one level below it, with more
    # projects (7) than the demo has group and project runners (4), so deriving pays.
    scope = ("acme/platform/payments", "acme/platform/infra")
    with Sandbox(demo, tier="premium") as sandbox:
        derived = run(sandbox, scope, sections=RUNNER_SECTIONS)
        monkeypatch.setattr(crawl_module, "RUNNERS_DERIVED_SINCE", (999, 0))
        listed = run(sandbox, scope, sections=RUNNER_SECTIONS)
    assert (derived.mode, listed.mode) == ("derived", "listed")
    assert derived.stable() == listed.stable()
    group_runners = {
        ref.id
        for p in derived.snapshot.projects
        for ref in p.runners.data or []
        if ref.runner_type == "group_type"
    }
    assert group_runners, "the platform group runner should reach projects below acme/platform"
    # the two scope groups by path, then acme/platform and acme above them, once each
    assert derived.stats["by_endpoint"]["GET /groups/:id"] == 4
    assert derived.stats["duplicates"] == []


@pytest.mark.parametrize(
    "baseline", ["minimal", "gitlab-hardening", str(ROOT / "examples" / "acme-baseline.yaml")]
)
def test_a_baseline_driven_crawl_asks_less_and_judges_the_same(demo_sandbox, baseline) -> None:
    loaded = load_baseline(baseline)
    full = run(demo_sandbox)
    driven = run(demo_sandbox, sections=sections_for(loaded))
    assert driven.stats["total"] < full.stats["total"]
    assert driven.stats["duplicates"] == []
    assert evaluate(driven.snapshot, loaded).findings == evaluate(full.snapshot, loaded).findings


def test_minimal_crawl_records_what_it_skipped_and_why(demo_sandbox) -> None:
    wanted = sections_for(load_baseline("minimal"))
    result = run(demo_sandbox, sections=wanted)
    s = result.snapshot
    assert s.meta.sections == sorted(wanted)
    assert s.meta.complete is True
    assert s.meta.errors == []
    for target, name, section in s.sections():
        key = f"{target.split(':', 1)[0]}.{name}"
        if key in wanted:
            assert section.status is Status.OK, (target, name)
        else:
            assert section.status is Status.SKIPPED, (target, name)
            assert section.data is None
            assert section.message == snap.SKIPPED_MESSAGE
    assert s.runners == []  # no enabled rule judges runners
    assert all(p.default_branch_protection is not None for p in s.projects if p.default_branch)
    asked = {k.split(" ", 1)[1] for k in result.stats["by_endpoint"]}
    assert not {"/projects/:id/approval_rules", "/projects/:id/approvals", "/runners/all"} & asked
    assert "/application/settings" not in asked
    summary = render(s)
    assert "Not collected by choice" in summary
    assert "skipped" in summary


def test_admin_all_groups_lists_projects_with_keyset(demo, demo_sandbox) -> None:
    demo_sandbox.reset_log()
    everything = run(demo_sandbox, all_groups=True, sections=frozenset())
    listings = [r for r in demo_sandbox.request_log if r.path.endswith("/projects")]
    assert [r.path for r in listings] == ["/api/v4/projects"]
    assert "pagination=keyset" in listings[0].query
    assert "order_by=id" in listings[0].query
    expected = {full for _p, _g, full in demo.walk_projects()}
    assert {p.path_with_namespace for p in everything.snapshot.projects} == expected
    assert all(p.namespace_kind == "group" for p in everything.snapshot.projects)
