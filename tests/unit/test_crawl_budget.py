"""The crawl's request budget, offline: derived runner lists, baseline-driven sections,
schema 2, and the fallback past GitLab's 50,000-row offset limit (responses-based)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from posture import snapshot as snap
from posture.baseline import load_baseline, load_baseline_text
from posture.errors import ConfigError, GitLabConnectionError
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.collect import RunnerAvailability
from posture.gitlab.crawl import Crawler, CrawlOptions, check_shard
from posture.rules import REGISTRY, RULES
from posture.rules.base import Context, Rule, Target
from posture.rules.needs import EXTRA_NEEDS, missing_sections, rule_sections, sections_for
from posture.snapshot import (
    SECTION_KEYS,
    ApprovalRule,
    ApprovalSettings,
    DefaultBranchProtection,
    RunnerDetails,
    Section,
    Snapshot,
    Status,
    normalise_sections,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "demo.snapshot.json"

# -- deriving GET /projects/:id/runners ----------------------------------------------------

RUNNERS = [
    {"id": 1, "runner_type": "instance_type", "is_shared": True},
    {"id": 2, "runner_type": "group_type", "is_shared": False},  # on group 10 (top)
    {"id": 3, "runner_type": "group_type", "is_shared": False},  # on group 11 (sibling)
    {"id": 4, "runner_type": "project_type", "is_shared": False},  # projects 100 and 101
    {"id": 5, "runner_type": "project_type", "is_shared": False},  # project 102
]
DETAILS = {
    2: RunnerDetails(group_ids=[10]),
    3: RunnerDetails(group_ids=[11]),
    4: RunnerDetails(project_ids=[100, 101]),
    5: RunnerDetails(project_ids=[102]),
}


def refs(pid: int, chain: list[int], *, shared: bool, group: bool) -> list[int]:
    available = RunnerAvailability(RUNNERS, DETAILS)
    found = available.refs_for(
        pid, chain, shared_runners_enabled=shared, group_runners_enabled=group
    )
    return [r.id for r in found]


def test_a_project_gets_its_own_its_ancestors_and_instance_runners() -> None:
    # project 100 lives in group 12, a subgroup of 10
    assert refs(100, [12, 10], shared=True, group=True) == [1, 2, 4]


def test_disabled_instance_runners_and_group_runners_are_left_out() -> None:
    assert refs(100, [12, 10], shared=False, group=True) == [2, 4]
    assert refs(100, [12, 10], shared=True, group=False) == [1, 4]
    assert refs(100, [12, 10], shared=False, group=False) == [4]


def test_a_sibling_groups_runner_and_other_projects_runners_never_apply() -> None:
    assert refs(102, [10], shared=False, group=True) == [2, 5]
    assert refs(999, [11], shared=False, group=True) == [3]


def test_refs_keep_the_listing_records_fields() -> None:
    available = RunnerAvailability(RUNNERS, DETAILS)
    [ref] = available.refs_for(101, [], shared_runners_enabled=False, group_runners_enabled=False)
    assert (ref.id, ref.runner_type, ref.is_shared) == (4, "project_type", False)


def test_an_unknown_runner_type_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="unknown runner_type"):
        RunnerAvailability([{"id": 9, "runner_type": "fleet_type"}], {})


# -- which sections a baseline needs -------------------------------------------------------


def test_minimal_needs_a_strict_subset_of_the_hardening_baseline() -> None:
    minimal = sections_for(load_baseline("minimal"))
    hardening = sections_for(load_baseline("gitlab-hardening"))
    assert minimal < hardening <= SECTION_KEYS
    assert {"project.protected_branches", "project.variables", "instance.variables"} <= minimal
    assert {"group.webhooks", "project.access_tokens", "group.deploy_tokens"} <= minimal
    not_read = {"project.approval_rules", "project.runners", "runner.details"}
    assert not minimal & not_read
    assert "instance.settings" not in minimal  # no instance-settings rule in minimal
    assert {"runner.details", "project.runners", "instance.settings"} <= hardening


def test_sections_no_rule_reads_are_never_needed() -> None:
    everything = frozenset().union(*(rule_sections(rule) for rule in RULES))
    # Collected for people and drift, judged by no rule today.
    assert "group.protected_branches" not in everything
    assert "group.approval_settings" not in everything


def test_a_rule_enabled_only_by_an_override_counts() -> None:
    baseline = load_baseline_text(
        "name: narrow\n"
        "settings: {}\n"
        "overrides:\n"
        "  - match: {path: 'acme/**'}\n"
        "    settings:\n"
        "      pipelines.job_token_scope: true\n"
    )
    assert sections_for(baseline) == {"project.job_token_scope"}


def test_every_required_section_exists_and_extra_needs_are_valid() -> None:
    for rule in RULES:
        assert rule_sections(rule) <= SECTION_KEYS
        for name in rule.requires:
            keys = {f"{t.value}.{name}" for t in rule.targets}
            assert keys & SECTION_KEYS, f"{rule.id} requires {name}, a section of no target"
    for rule_id, keys in EXTRA_NEEDS.items():
        assert rule_id in REGISTRY
        assert set(keys) <= SECTION_KEYS


def test_missing_sections_names_what_a_snapshot_lacks_for_a_baseline() -> None:
    hardening = load_baseline("gitlab-hardening")
    minimal_sections = sorted(sections_for(load_baseline("minimal")))
    missing = missing_sections(hardening, minimal_sections)
    assert "project.approval_rules" in missing
    assert missing_sections(hardening, None) == frozenset()
    assert missing_sections(load_baseline("minimal"), minimal_sections) == frozenset()


def _subjects(snapshot: Snapshot, kind: Target) -> list[Any]:
    if kind is Target.INSTANCE:
        return [snapshot.instance]
    if kind is Target.GROUP:
        return list(snapshot.groups)
    if kind is Target.PROJECT:
        return list(snapshot.projects)
    return list(snapshot.runners)


def _skip_all_but(snapshot: Snapshot, keep: frozenset[str]) -> Snapshot:
    """A copy whose sections outside ``keep`` are skipped, as a baseline crawl writes them."""
    copy = snap.loads(snap.dumps(snapshot))
    skipped = Section(status=Status.SKIPPED, message=snap.SKIPPED_MESSAGE)
    for kind, name in (key.split(".", 1) for key in SECTION_KEYS - keep):
        for subject in _subjects(copy, Target(kind)):
            setattr(subject, name, skipped)
            if (kind, name) == ("project", "protected_branches"):
                subject.default_branch_protection = None  # derived from it
    if "project.runners" not in keep:
        copy.runners = []  # found through the projects' runner lists
    return copy


def _outcomes(rule: Rule, snapshot: Snapshot) -> list[tuple[str, Any]]:
    context = Context(snapshot)
    out = []
    for kind in rule.targets:
        for subject in _subjects(snapshot, kind):
            label = getattr(subject, "id", "instance")
            out += [
                (f"{kind.value}:{label}", o) for o in rule.evaluate(subject, rule.params(), context)
            ]
    return out


@pytest.fixture(scope="module")
def demo() -> Snapshot:
    """The golden demo, plus two projects on the paths the demo does not walk: approvals
    from the legacy /approvals setting, and a rule for "all protected branches" on a
    project whose default branch is not protected."""
    snapshot = snap.load(GOLDEN)
    with_branch = [p for p in snapshot.projects if p.default_branch and not p.empty_repo]
    legacy, all_protected = with_branch[0], with_branch[1]
    legacy.approvals_before_merge = None
    legacy.approval_rules = Section(status=Status.OK, data=[])
    legacy.approval_settings = Section(
        status=Status.OK, data=ApprovalSettings(approvals_before_merge=2)
    )
    all_protected.approvals_before_merge = None
    all_protected.protected_branches = Section(status=Status.OK, data=[])
    all_protected.default_branch_protection = DefaultBranchProtection(
        default_branch=all_protected.default_branch, covered=False
    )
    all_protected.approval_rules = Section(
        status=Status.OK,
        data=[
            ApprovalRule(
                id=999,
                name="all protected",
                approvals_required=2,
                eligible_approvers_count=2,
                applies_to_all_protected_branches=True,
            )
        ],
    )
    return snapshot


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_a_rule_judges_the_same_with_only_the_sections_it_needs(rule, demo) -> None:
    """The needs table is complete: nothing a rule reads is missing from it."""
    full = _outcomes(rule, demo)
    assert full, f"{rule.id} judged nothing on the demo"
    assert _outcomes(rule, _skip_all_but(demo, rule_sections(rule))) == full


def test_the_needs_table_is_what_keeps_min_required_exact(demo) -> None:
    """Guard for the test above: without its extra needs, min_required changes verdicts."""
    rule = REGISTRY["approvals.min_required"]
    bare = frozenset(f"project.{name}" for name in rule.requires)
    assert _outcomes(rule, _skip_all_but(demo, bare)) != _outcomes(rule, demo)


def test_a_skipped_section_gives_unknown_never_pass(demo) -> None:
    rule = REGISTRY["variables.secret_like_unmasked"]
    reduced = _skip_all_but(demo, frozenset())
    outcomes = [o for _t, o in _outcomes(rule, reduced)]
    assert outcomes
    assert {o.verdict.value for o in outcomes} == {"unknown"}
    assert all("skipped" in o.message and "no enabled rule" in o.message for o in outcomes)


# -- options ------------------------------------------------------------------------------


def test_section_keys_are_checked_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"project\.varables \(did you mean project\.variables"):
        normalise_sections({"project.varables"})
    assert normalise_sections(None) is None
    assert normalise_sections(["runner.details"]) == {"runner.details", "project.runners"}


@pytest.mark.parametrize("bad", [(0, 3), (4, 3), (1, 0), ("1", 2), (True, 2), (1,), 5])
def test_bad_shards_are_configuration_errors(bad) -> None:
    with pytest.raises(ConfigError):
        check_shard(bad)


def test_good_shards_pass() -> None:
    assert check_shard((3, 7)) == (3, 7)
    assert check_shard(None) is None


# -- schema 2 -----------------------------------------------------------------------------


def test_a_version_1_snapshot_is_migrated_on_load() -> None:
    data = json.loads(GOLDEN.read_text())
    data["schema_version"] = 1
    del data["meta"]["shard"], data["meta"]["sections"]
    loaded = snap.loads(json.dumps(data))
    assert loaded.schema_version == snap.SCHEMA_VERSION == 2
    assert loaded.meta.shard is None
    assert loaded.meta.sections is None
    assert snap.dumps(loaded) == GOLDEN.read_text()


def test_every_older_version_has_a_migration_step() -> None:
    assert sorted(snap.MIGRATIONS) == list(range(1, snap.SCHEMA_VERSION))


def test_skipped_and_shard_round_trip_and_a_bad_shard_is_refused() -> None:
    data = json.loads(GOLDEN.read_text())
    data["meta"]["shard"] = {"index": 2, "total": 3}
    data["meta"]["sections"] = ["project.variables"]
    data["instance"]["settings"] = {"status": "skipped", "message": "by choice"}
    text = json.dumps(data)
    loaded = snap.loads(text)
    assert loaded.instance.settings.status is Status.SKIPPED
    assert loaded.meta.shard is not None
    assert loaded.meta.shard.index == 2
    data["meta"]["shard"] = {"index": 4, "total": 3}
    with pytest.raises(snap.SnapshotFormatError, match=r"meta\.shard"):
        snap.loads(json.dumps(data))


# -- past 50,000 rows: the per-group fallback ----------------------------------------------

BASE = "https://gitlab.example.com"
API = f"{BASE}/api/v4"
OFFSET_LIMIT = {
    "error": "Offset pagination has a maximum allowed offset of 50000 for requests that "
    "return objects of type Project. Remaining records can be retrieved using keyset "
    "pagination."
}


def _project(pid: int, gid: int, path: str) -> dict[str, Any]:
    return {
        "id": pid,
        "path_with_namespace": f"{path}/p{pid}",
        "namespace": {"id": gid, "full_path": path, "kind": "group"},
        "visibility": "private",
    }


def _group(gid: int, path: str, parent: int | None) -> dict[str, Any]:
    return {"id": gid, "full_path": path, "parent_id": parent, "visibility": "private"}


@pytest.fixture
def big_group() -> Iterator[responses.RequestsMock]:
    """``acme`` (1) with ``acme/a`` (2): the subtree listing breaks on its second page, as
    GitLab's does at row 50,001, so posture must list each group on its own."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{API}/metadata", json={"version": "17.11.1-ee", "enterprise": True})
        rsps.get(f"{API}/user", json={"id": 1, "username": "root", "is_admin": False})
        rsps.get(f"{API}/personal_access_tokens/self", json={"scopes": ["read_api"]})
        rsps.get(f"{API}/groups/acme", json=_group(1, "acme", None))
        rsps.get(f"{API}/groups/1/descendant_groups", json=[_group(2, "acme/a", 1)])
        subtree = matchers.query_param_matcher(
            {
                "include_subgroups": "true",
                "with_shared": "false",
                "order_by": "id",
                "sort": "asc",
                "per_page": "100",
            }
        )
        page_two = f"{API}/groups/1/projects?include_subgroups=true&page=2&per_page=100"
        rsps.get(
            f"{API}/groups/1/projects",
            json=[_project(10, 1, "acme"), _project(20, 2, "acme/a")],
            headers={"Link": f'<{page_two}>; rel="next"'},
            match=[subtree],
        )
        rsps.get(
            f"{API}/groups/1/projects",
            status=405,
            json=OFFSET_LIMIT,
            match=[
                matchers.query_param_matcher(
                    {"include_subgroups": "true", "page": "2", "per_page": "100"}
                )
            ],
        )
        own = {
            "include_subgroups": "false",
            "with_shared": "false",
            "order_by": "id",
            "sort": "asc",
            "per_page": "100",
        }
        rsps.get(
            f"{API}/groups/1/projects",
            json=[_project(10, 1, "acme"), _project(11, 1, "acme")],
            match=[matchers.query_param_matcher(own)],
        )
        yield rsps


def _crawl(**options: Any) -> tuple[Snapshot, GitLabClient]:
    client = GitLabClient(ClientConfig(url=BASE, token="glpat-EXAMPLEbudgetunit0000", workers=2))
    try:
        return Crawler(client, CrawlOptions(**options)).run(), client
    finally:
        client.close()


def test_past_the_offset_limit_each_group_is_listed_and_nothing_twice(big_group) -> None:
    big_group.get(
        f"{API}/groups/2/projects",
        json=[_project(20, 2, "acme/a"), _project(21, 2, "acme/a")],
    )
    snapshot, client = _crawl(groups=("acme",), workers=2, sections=frozenset())
    assert [p.id for p in snapshot.projects] == [10, 11, 20, 21]
    assert client.stats.duplicates == []
    assert all(s.status is Status.SKIPPED for _t, _n, s in snapshot.sections())
    assert snapshot.meta.sections == []
    assert snapshot.meta.complete


def test_a_single_group_past_the_limit_is_a_clear_error(big_group) -> None:
    big_group.get(f"{API}/groups/2/projects", status=405, json=OFFSET_LIMIT)
    with pytest.raises(GitLabConnectionError, match="more than 50,000 projects of its own"):
        _crawl(groups=("acme",), workers=2, sections=frozenset())


# -- when runner lists are derived, and when each project is asked ------------------------


def _admin_instance(rsps: responses.RequestsMock, version: str) -> None:
    rsps.get(f"{API}/metadata", json={"version": version, "enterprise": True})
    rsps.get(f"{API}/user", json={"id": 1, "username": "root", "is_admin": True})
    rsps.get(f"{API}/personal_access_tokens/self", json={"scopes": ["read_api"]})
    rsps.get(f"{API}/groups/acme", json=_group(1, "acme", None))
    rsps.get(f"{API}/groups/1/descendant_groups", json=[])
    rsps.get(
        f"{API}/groups/1/projects",
        json=[
            {
                **_project(10, 1, "acme"),
                "shared_runners_enabled": True,
                "group_runners_enabled": True,
            },
            {
                **_project(11, 1, "acme"),
                "shared_runners_enabled": False,
                "group_runners_enabled": True,
            },
        ],
    )
    shared = {"id": 1, "runner_type": "instance_type", "is_shared": True}
    rsps.get(f"{API}/projects/10/runners", json=[shared])
    rsps.get(f"{API}/projects/11/runners", json=[])


def _asked(rsps: responses.RequestsMock, path: str) -> int:
    return sum(1 for call in rsps.calls if call.request.url.split("?")[0] == f"{API}{path}")


@pytest.mark.parametrize(
    ("version", "catalog", "mode"),
    [
        (
            "17.11.1-ee",
            {"json": [{"id": 1, "runner_type": "instance_type", "is_shared": True}]},
            "derived",
        ),
        ("16.11.3-ee", None, "listed"),  # before RUNNERS_DERIVED_SINCE: never derived
        ("17.11.1-ee", {"status": 403, "json": {"message": "403 Forbidden"}}, "listed"),
        ("17.11.1-ee", {"json": [{"id": 1, "runner_type": "fleet_type"}]}, "listed"),
    ],
)
def test_runner_lists_are_derived_only_when_exact(version, catalog, mode) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _admin_instance(rsps, version)
        if catalog is not None:
            rsps.get(f"{API}/runners/all", **catalog)
        client = GitLabClient(
            ClientConfig(url=BASE, token="glpat-EXAMPLEbudgetunit0000", workers=2)
        )
        try:
            crawler = Crawler(
                client, CrawlOptions(groups=("acme",), workers=2, sections={"project.runners"})
            )
            snapshot = crawler.run()
        finally:
            client.close()
        assert crawler.runner_mode == mode
        assert [[r.id for r in p.runners.data or []] for p in snapshot.projects] == [[1], []]
        assert [r.details.status for r in snapshot.runners] == [Status.SKIPPED]
        per_project = _asked(rsps, "/projects/10/runners") + _asked(rsps, "/projects/11/runners")
        assert per_project == (0 if mode == "derived" else 2)
        assert _asked(rsps, "/runners/all") == (0 if version.startswith("16") else 1)
        assert _asked(rsps, "/runners/1") == 0  # details not wanted, and not needed


def test_unreadable_runner_details_fall_back_to_asking_each_project() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _admin_instance(rsps, "17.11.1-ee")
        rsps.get(f"{API}/runners/all", json=[{"id": 7, "runner_type": "project_type"}])
        rsps.get(f"{API}/runners/7", status=404, json={"message": "404 Runner Not Found"})
        rsps.get(f"{API}/runners/1", json={"id": 1, "run_untagged": False, "tag_list": []})
        client = GitLabClient(
            ClientConfig(url=BASE, token="glpat-EXAMPLEbudgetunit0000", workers=2)
        )
        try:
            wanted = {"project.runners", "runner.details"}
            crawler = Crawler(client, CrawlOptions(groups=("acme",), workers=2, sections=wanted))
            snapshot = crawler.run()
        finally:
            client.close()
        assert crawler.runner_mode == "listed"
        # runner 7 is nobody's in scope: fetched to derive, then left out of the snapshot
        assert [(r.id, r.details.status) for r in snapshot.runners] == [(1, Status.OK)]
        assert [[r.id for r in p.runners.data or []] for p in snapshot.projects] == [[1], []]
        assert _asked(rsps, "/runners/7") == 1
        assert client.stats.duplicates == []
