"""Sharded crawls: each shard crawls a deterministic slice of the projects, shard 1 adds the
groups and the instance, and the shards put together equal one crawl of everything.

``combine`` below is the contract ``posture merge`` relies on, written out for the test:
groups and instance from shard 1, projects from every shard, runners by id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from posture import snapshot as snap
from posture.baseline import load_baseline
from posture.errors import ConfigError
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.crawl import Crawler, CrawlOptions
from posture.rules.needs import sections_for
from posture.sandbox import Sandbox
from posture.snapshot import Snapshot, Status

pytestmark = pytest.mark.integration

MOMENT = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def run(sandbox: Sandbox, **options: Any) -> tuple[Snapshot, list[str]]:
    groups = tuple(g.full_path for g in sandbox.instance.top_level_groups())
    client = GitLabClient(
        ClientConfig(url=sandbox.url, token=sandbox.token_for("admin"), workers=4)
    )
    try:
        crawler = Crawler(
            client, CrawlOptions(groups=groups, workers=4, **options), clock=lambda: MOMENT
        )
        return crawler.run(), client.stats.duplicates
    finally:
        client.close()


def as_json(model: Any) -> Any:
    return json.loads(model.model_dump_json())


def combine(shards: list[Snapshot]) -> dict[str, Any]:
    """Shards 1..N back into one snapshot's stable JSON."""
    first = next(s for s in shards if s.meta.shard is None or s.meta.shard.index == 1)
    data = json.loads(snap.dumps(first))
    data["meta"]["shard"] = None
    data["projects"] = sorted(
        (as_json(p) for s in shards for p in s.projects), key=lambda p: p["id"]
    )
    runners = {r.id: as_json(r) for s in shards for r in s.runners}
    data["runners"] = [runners[k] for k in sorted(runners)]
    return snap.stable_view(data)


@pytest.fixture(scope="module")
def sandbox(demo) -> Iterator[Sandbox]:
    with Sandbox(demo, tier="premium") as sb:
        yield sb


@pytest.fixture(scope="module")
def whole(sandbox) -> Snapshot:
    snapshot, duplicates = run(sandbox)
    assert duplicates == []
    return snapshot


@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_shards_put_together_equal_one_crawl(sandbox, whole, total) -> None:
    shards = []
    for index in range(1, total + 1):
        shard, duplicates = run(sandbox, shard=(index, total))
        assert duplicates == []
        assert shard.meta.shard is not None
        assert (shard.meta.shard.index, shard.meta.shard.total) == (index, total)
        shards.append(shard)
    assert combine(shards) == snap.stable_view(json.loads(snap.dumps(whole)))


@pytest.mark.parametrize("total", [2, 3, 7])
def test_each_shard_holds_its_slice_and_only_the_runners_it_uses(sandbox, whole, total) -> None:
    seen: list[int] = []
    runners_by_id = {r.id: as_json(r) for r in whole.runners}
    for index in range(1, total + 1):
        shard, _ = run(sandbox, shard=(index, total))
        ids = [p.id for p in shard.projects]
        assert all(pid % total == index - 1 for pid in ids)
        seen += ids
        used = {ref.id for p in shard.projects for ref in p.runners.data or []}
        assert {r.id for r in shard.runners} == used
        assert all(as_json(r) == runners_by_id[r.id] for r in shard.runners)
        if index == 1:
            assert [as_json(g) for g in shard.groups] == [as_json(g) for g in whole.groups]
            assert as_json(shard.instance) == as_json(whole.instance)
        else:
            assert shard.groups == []
            for section in (shard.instance.settings, shard.instance.variables):
                assert section.status is Status.SKIPPED
                assert section.message == f"not collected: shard 1 of {total} collects it"
            assert shard.meta.complete is True
    assert sorted(seen) == [p.id for p in whole.projects]  # disjoint, and nothing missed


def test_shards_of_a_baseline_crawl_record_the_same_sections(sandbox) -> None:
    wanted = sections_for(load_baseline("minimal"))
    one, _ = run(sandbox, shard=(1, 2), sections=wanted)
    two, _ = run(sandbox, shard=(2, 2), sections=wanted)
    assert one.meta.sections == two.meta.sections == sorted(wanted)
    assert one.instance.settings.status is Status.SKIPPED  # no rule in minimal reads it
    assert one.instance.variables.status is Status.OK
    assert two.instance.variables.status is Status.SKIPPED
    assert one.runners == two.runners == []


def test_a_shard_without_projects_still_works(sandbox) -> None:
    big = 1000  # more shards than projects: most are empty
    shard, duplicates = run(sandbox, shard=(big, big))
    assert shard.projects == []
    assert shard.runners == []
    assert duplicates == []


@pytest.mark.parametrize("bad", [(0, 2), (3, 2)])
def test_a_bad_shard_is_refused_before_any_request(sandbox, bad) -> None:
    sandbox.reset_log()
    with pytest.raises(ConfigError, match="shard"):
        run(sandbox, shard=bad)
    assert sandbox.request_log == []
