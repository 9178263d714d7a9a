"""posture merge: shards of one crawl combine into the single crawl; anything else is refused.

The shards here are cut from the golden demo snapshot (a real single crawl) with
``posture.merge.split``; tests/integration/test_shard_merge.py checks that ``split`` writes
what real ``--shard`` crawls write, and merges real crawls.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posture import snapshot as snapshot_io
from posture.cli import main
from posture.errors import ConfigError
from posture.merge import MergeError, load_shards, merge, parse_shard, shard_of, split, stable_json
from posture.snapshot import RunStats, Section, ShardInfo, Snapshot, Status

GOLDEN = Path(__file__).parents[1] / "golden" / "demo.snapshot.json"


@pytest.fixture(scope="module")
def whole() -> Snapshot:
    return snapshot_io.load(GOLDEN)


def shards(whole: Snapshot, total: int) -> list[Snapshot]:
    return [s.model_copy(deep=True) for s in split(whole, total)]


def refusal(snapshots: list[Snapshot], names: list[str] | None = None) -> str:
    with pytest.raises(MergeError) as info:
        merge(snapshots, names=names)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- parse_shard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("2/7", (2, 7)), ("1/1", (1, 1)), (" 3 / 3 ", (3, 3)), ("7/7", (7, 7))]
)
def test_parse_shard_reads_index_and_total(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/3", "--shard 0/3: INDEX must be between 1 and 3"),
        ("4/3", "--shard 4/3: INDEX must be between 1 and 3"),
        ("1/0", "--shard 1/0: TOTAL must be at least 1"),
        ("a/b", "--shard 'a/b': expected INDEX/TOTAL, two whole numbers such as 2/7"),
        ("2", "--shard '2': expected INDEX/TOTAL, two whole numbers such as 2/7"),
        ("-1/3", "--shard '-1/3': expected INDEX/TOTAL, two whole numbers such as 2/7"),
        (
            "/",
            "--shard '/': expected INDEX/TOTAL, two whole numbers such as 2/7; in GitLab CI, "
            "CI_NODE_INDEX and CI_NODE_TOTAL are set only in a job with `parallel:`",
        ),
        (
            "$CI_NODE_INDEX/$CI_NODE_TOTAL",
            "--shard '$CI_NODE_INDEX/$CI_NODE_TOTAL': expected INDEX/TOTAL, two whole numbers "
            "such as 2/7; in GitLab CI, CI_NODE_INDEX and CI_NODE_TOTAL are set only in a job "
            "with `parallel:`",
        ),
    ],
)
def test_parse_shard_refuses_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_shard(text)
    assert str(info.value) == message


def test_shard_of_follows_id_modulo_total() -> None:
    assert [shard_of(pid, 3) for pid in (3, 4, 5, 6)] == [1, 2, 3, 1]


def test_snapshot_with_a_bad_shard_exits_2_before_connecting(capsys, monkeypatch) -> None:
    monkeypatch.delenv("GITLAB_URL", raising=False)
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    code = main(["snapshot", "--group", "acme", "--shard", "4/3", "-o", "-", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "posture: error: --shard 4/3: INDEX must be between 1 and 3\n"


def test_audit_takes_shard_too(capsys, monkeypatch) -> None:
    monkeypatch.delenv("GITLAB_URL", raising=False)
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    code = main(["audit", "--group", "acme", "--shard", "x/2", "--quiet"])
    assert code == 2
    assert "expected INDEX/TOTAL" in capsys.readouterr().err


# -- merging equals the single crawl ----------------------------------------------------


@pytest.mark.parametrize("total", [1, 2, 3, 7, 40])
def test_split_then_merge_gives_the_single_crawl(whole: Snapshot, total: int) -> None:
    parts = shards(whole, total)
    assert sum(len(p.projects) for p in parts) == len(whole.projects)
    merged = merge(list(reversed(parts)))  # the order of the files does not matter
    assert stable_json(merged) == stable_json(whole)
    assert merged.meta.shard is None


def test_each_shard_holds_its_projects_and_shard_1_the_groups(whole: Snapshot) -> None:
    parts = shards(whole, 3)
    for index, part in enumerate(parts, start=1):
        assert part.meta.shard == ShardInfo(index=index, total=3)
        assert all(p.id % 3 == index - 1 for p in part.projects)
        used = {r.id for p in part.projects for r in (p.runners.data or [])}
        assert {r.id for r in part.runners} == used
    assert parts[0].groups == whole.groups
    assert parts[1].groups == parts[2].groups == []
    assert parts[1].instance.settings.status is Status.SKIPPED


def test_merged_run_spans_all_shards_and_sums_their_requests(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    t0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    parts[0].meta.run = RunStats(
        started_at=t0 + timedelta(seconds=5),
        finished_at=t0 + timedelta(seconds=60),
        duration_seconds=55.0,
        requests_total=100,
        requests_by_endpoint={"GET /projects/:id/variables": 40, "GET /groups/:id/hooks": 60},
        attempts=103,
        retries=3,
        rate_limited=1,
        rate_limit_wait_seconds=1.5,
    )
    parts[1].meta.run = RunStats(
        started_at=t0,
        finished_at=t0 + timedelta(seconds=42),
        duration_seconds=42.0,
        requests_total=50,
        requests_by_endpoint={"GET /projects/:id/variables": 50},
        attempts=50,
        rate_limit_wait_seconds=0.25,
    )
    run = merge(parts).meta.run
    assert run.started_at == t0
    assert run.finished_at == t0 + timedelta(seconds=60)
    assert run.duration_seconds == 60.0
    assert run.requests_total == 150
    assert run.requests_by_endpoint == {
        "GET /groups/:id/hooks": 60,
        "GET /projects/:id/variables": 90,
    }
    assert (run.attempts, run.retries, run.rate_limited) == (153, 3, 1)
    assert run.rate_limit_wait_seconds == 1.75


def test_errors_of_every_shard_are_listed_in_crawl_order(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    late = parts[1].projects[-1]
    early = parts[0].projects[0]
    for part, project in ((parts[1], late), (parts[0], early)):
        project.variables = Section(status=Status.ERROR, http_status=502, message="502 Bad Gateway")
        part.meta.complete = False
    merged = merge(parts)
    assert merged.meta.complete is False
    assert [(e.target, e.section, e.http_status) for e in merged.meta.errors] == [
        (f"project:{early.path_with_namespace}", "variables", 502),
        (f"project:{late.path_with_namespace}", "variables", 502),
    ]


def test_a_runner_seen_by_two_shards_must_be_equal(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    shared = {r.id for r in parts[0].runners} & {r.id for r in parts[1].runners}
    rid = min(shared)
    runner = next(r for r in parts[1].runners if r.id == rid)
    assert runner.details.data is not None
    runner.details.data.run_untagged = not runner.details.data.run_untagged
    runner.paused = not runner.paused
    assert refusal(parts, ["a.json", "b.json"]) == (
        f"runner {rid} differs between a.json and b.json (details, paused); the shards saw "
        "different states of GitLab: crawl them again"
    )


def test_a_runner_fetch_that_failed_in_one_shard_takes_the_other_shards_answer(
    whole: Snapshot,
) -> None:
    parts = shards(whole, 2)
    shared = {r.id for r in parts[0].runners} & {r.id for r in parts[1].runners}
    rid = min(shared)
    runner = next(r for r in parts[0].runners if r.id == rid)
    runner.details = Section(status=Status.ERROR, http_status=500, message="500 Internal")
    merged = merge(parts)
    assert stable_json(merged) == stable_json(whole)
    assert merged.meta.complete is True


def test_shards_by_different_users_merge_with_a_warning(whole: Snapshot, caplog) -> None:
    parts = shards(whole, 2)
    parts[1].meta.token = parts[1].meta.token.model_copy(
        update={"user_id": 77, "username": "group_42_bot"}
    )
    with caplog.at_level(logging.WARNING, logger="posture.merge"):
        merged = merge(parts, names=["s1.json", "s2.json"])
    assert merged.meta.token == whole.meta.token
    assert "different users (root in s1.json, group_42_bot in s2.json)" in caplog.text


# -- refusals ---------------------------------------------------------------------------


def test_refuses_nothing(whole: Snapshot) -> None:
    assert refusal([]) == "nothing to merge: give the snapshot file of every shard"


def test_refuses_a_snapshot_that_is_not_a_shard(whole: Snapshot) -> None:
    assert refusal([whole], ["full.json"]) == (
        "full.json is not a shard (written without --shard); posture merge combines the "
        "snapshots of `posture snapshot --shard I/N`"
    )


def test_refuses_shards_of_different_instances(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    parts[1].meta.gitlab_url = "https://gitlab.other.example"
    assert refusal(parts, ["a.json", "b.json"]) == (
        f"a.json is a snapshot of {whole.meta.gitlab_url} but b.json of "
        "https://gitlab.other.example; shards must come from one GitLab instance"
    )


def test_refuses_shards_of_different_scopes(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    parts[1].meta.scope = parts[1].meta.scope.model_copy(update={"groups": ["acme"]})
    first = " ".join(f"--group {g}" for g in whole.meta.scope.groups)
    assert refusal(parts, ["a.json", "b.json"]) == (
        f"a.json crawled {first} but b.json crawled --group acme; shards must crawl the same scope"
    )


def test_refuses_shards_of_different_baselines(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    parts[0].meta.sections = ["project.protected_branches", "project.variables"]
    parts[1].meta.sections = ["project.variables"]
    assert refusal(parts, ["a.json", "b.json"]) == (
        "a.json collected 2 sections but b.json 1 section (different baselines?): "
        "only a.json: project.protected_branches"
    )
    parts[1].meta.sections = None
    assert refusal(parts, ["a.json", "b.json"]) == (
        "a.json collected 2 sections but b.json every section (different baselines?)"
    )


def test_refuses_shards_of_different_totals(whole: Snapshot) -> None:
    parts = [*shards(whole, 2)[:1], *shards(whole, 3)[1:]]
    assert refusal(parts, ["a.json", "b.json", "c.json"]) == (
        "a.json is shard 1/2 but b.json is shard 2/3; every shard must use the same total"
    )


def test_refuses_a_repeated_shard(whole: Snapshot) -> None:
    one, two, three = shards(whole, 3)
    assert refusal([one, two, two, three], ["1.json", "2.json", "2-again.json", "3.json"]) == (
        "2.json and 2-again.json are both shard 2/3"
    )


def test_refuses_a_missing_shard(whole: Snapshot) -> None:
    parts = shards(whole, 7)
    assert refusal([parts[0], parts[2], parts[3], parts[5], parts[6]]) == (
        "shards 2/7, 5/7 missing: merge needs all 7 shards"
    )
    assert refusal(parts[:2]) == "shards 3/7, 4/7, 5/7, 6/7, 7/7 missing: merge needs all 7 shards"
    assert refusal(parts[1:]) == "shard 1/7 missing: merge needs all 7 shards"


def test_refuses_shards_of_different_posture_versions(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    parts[1].meta.tool_version = "0.0.1"
    assert refusal(parts, ["a.json", "b.json"]) == (
        f"a.json was written by posture {whole.meta.tool_version} but b.json by posture "
        "0.0.1; crawl every shard with the same posture version"
    )


def test_refuses_an_admin_shard_with_a_non_admin_shard(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    parts[0].meta.token = parts[0].meta.token.model_copy(update={"is_admin": False})
    assert refusal(parts, ["a.json", "b.json"]) == (
        "b.json was crawled with an administrator's token but a.json was not; shards must "
        "see the same projects"
    )


def test_refuses_a_project_in_the_wrong_shard(whole: Snapshot) -> None:
    parts = shards(whole, 3)
    stray = parts[0].projects.pop()
    parts[1].projects.append(stray)
    assert refusal(parts, ["a.json", "b.json", "c.json"]) == (
        f"b.json (shard 2/3) holds project {stray.id} ({stray.path_with_namespace}), which "
        "belongs to shard 1/3"
    )


def test_refuses_groups_of_a_later_shard_that_differ_from_shard_1(whole: Snapshot) -> None:
    parts = shards(whole, 2)
    parts[1].groups = [g.model_copy(update={"visibility": "public"}) for g in whole.groups]
    assert refusal(parts, ["a.json", "b.json"]) == (
        "b.json holds groups that differ from those of a.json (shard 1); the shards saw "
        "different states of GitLab: crawl them again"
    )
    parts[1].groups = list(whole.groups)  # an equal copy is harmless
    assert stable_json(merge(parts)) == stable_json(whole)


def test_load_refuses_files_of_different_schema_versions(whole: Snapshot, tmp_path) -> None:
    one, two = shards(whole, 2)
    paths = [tmp_path / "1.json", tmp_path / "2.json"]
    snapshot_io.save(one, paths[0])
    old = json.loads(snapshot_io.dumps(two))
    old["schema_version"] = 1  # version 2 only added fields; a v1 file still validates
    paths[1].write_text(json.dumps(old))
    with pytest.raises(MergeError) as info:
        load_shards(paths)
    assert str(info.value) == (
        f"{paths[0]} has snapshot schema_version 2 but {paths[1]} has 1; crawl every shard "
        "with the same posture version"
    )


# -- the command ------------------------------------------------------------------------


def write_shards(whole: Snapshot, total: int, directory: Path) -> list[str]:
    paths = []
    for index, part in enumerate(shards(whole, total), start=1):
        path = directory / f"shard-{index}.json"
        snapshot_io.save(part, path)
        paths.append(str(path))
    return paths


def test_merge_command_writes_the_single_crawl(whole: Snapshot, tmp_path, capsys) -> None:
    paths = write_shards(whole, 3, tmp_path)
    out = tmp_path / "full.json"
    code = main(["merge", *paths, "-o", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert stable_json(snapshot_io.load(out)) == stable_json(whole)
    assert "Merged 3 shard(s)" in stdout
    assert f"projects  {len(whole.projects)}" in stdout
    assert f"Written: {out}" in stdout


def test_merge_command_refuses_with_one_line_and_exit_2(whole: Snapshot, tmp_path, capsys) -> None:
    paths = write_shards(whole, 3, tmp_path)
    out = tmp_path / "full.json"
    code = main(["merge", paths[0], paths[2], "-o", str(out), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == (
        "posture: error: shard 2/3 missing: merge needs all 3 shards\n"
    )
    assert not out.exists()


def test_merge_command_strict_exits_3_on_an_incomplete_merge(
    whole: Snapshot, tmp_path, capsys
) -> None:
    one, two = shards(whole, 2)
    two.projects[0].webhooks = Section(status=Status.ERROR, http_status=503, message="503")
    paths = [tmp_path / "1.json", tmp_path / "2.json"]
    snapshot_io.save(one, paths[0])
    snapshot_io.save(two, paths[1])
    out = tmp_path / "full.json"
    code = main(["merge", *map(str, paths), "-o", str(out), "--strict", "--quiet"])
    assert code == 3
    assert "1 section(s) could not be collected (--strict)" in capsys.readouterr().err
    assert snapshot_io.load(out).meta.complete is False  # written all the same
