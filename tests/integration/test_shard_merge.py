"""Acceptance (issue 8): shard + merge equals a single crawl, for N = 1, 2, 3 and 7.

Real crawls of the sandbox: once whole, then N times with ``--shard I/N``, merged, and
compared outside the volatile ``meta.run``. Each real shard is also compared with
``posture.merge.split`` of the whole crawl, which the unit tests build their shards with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture import snapshot as snapshot_io
from posture.cli import main
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.crawl import Crawler, CrawlOptions
from posture.merge import merge, split, stable_json
from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, generate_instance, load_instance
from posture.snapshot import Snapshot, Status

pytestmark = pytest.mark.integration

TOTALS = (1, 2, 3, 7)


class Target:
    """A running sandbox and its whole crawl, shared by the tests of one instance."""

    def __init__(self, sandbox: Sandbox, role: str = "admin", all_groups: bool = False) -> None:
        self.sandbox = sandbox
        self.role = role
        self.all_groups = all_groups
        self.groups = tuple(sorted(g.full_path for g in sandbox.instance.top_level_groups()))
        self.whole = self.crawl()

    def crawl(self, shard: tuple[int, int] | None = None) -> Snapshot:
        config = ClientConfig(url=self.sandbox.url, token=self.sandbox.token_for(self.role))
        client = GitLabClient(config)
        try:
            options = CrawlOptions(
                groups=() if self.all_groups else self.groups,
                all_groups=self.all_groups,
                workers=8,
                shard=shard,
            )
            return Crawler(client, options).run()
        finally:
            client.close()


@pytest.fixture(scope="module")
def demo_target() -> Iterator[Target]:
    with Sandbox(load_instance(DEMO_INSTANCE_PATH), tier="premium") as sandbox:
        yield Target(sandbox)


@pytest.fixture(scope="module")
def generated_target() -> Iterator[Target]:
    with Sandbox(generate_instance(groups=20, projects=150, seed=8), tier="premium") as sandbox:
        yield Target(sandbox)


def check_shards_merge_to_the_whole(target: Target, total: int) -> list[Snapshot]:
    parts = [target.crawl((index, total)) for index in range(1, total + 1)]
    merged = merge(parts)
    assert stable_json(merged) == stable_json(target.whole)
    # The unit tests' shards (split) are what real sharded crawls write.
    for real, modelled in zip(parts, split(target.whole, total), strict=True):
        assert stable_json(real) == stable_json(modelled)
    return parts


@pytest.mark.parametrize("total", TOTALS)
def test_demo_shards_merge_to_the_single_crawl(demo_target: Target, total: int) -> None:
    parts = check_shards_merge_to_the_whole(demo_target, total)
    assert demo_target.whole.meta.complete
    assert sum(len(p.projects) for p in parts) == len(demo_target.whole.projects) >= total


@pytest.mark.parametrize("total", TOTALS)
def test_generated_instance_shards_merge_to_the_single_crawl(
    generated_target: Target, total: int
) -> None:
    parts = check_shards_merge_to_the_whole(generated_target, total)
    whole = generated_target.whole
    assert len(whole.projects) == 150
    assert len(whole.runners) > 1
    if total > 1:
        # the same runner is used from several shards, so the union is exercised
        runner_ids = [r.id for p in parts for r in p.runners]
        assert len(runner_ids) > len(set(runner_ids))


def test_owner_token_shards_merge_with_the_instance_forbidden(demo_target: Target) -> None:
    target = Target(demo_target.sandbox, role="owner")
    assert target.whole.instance.settings.status is Status.FORBIDDEN
    parts = check_shards_merge_to_the_whole(target, 3)
    assert parts[1].instance.settings.status is Status.SKIPPED


def test_admin_all_groups_shards_merge_to_the_single_crawl(demo_target: Target) -> None:
    target = Target(demo_target.sandbox, all_groups=True)
    check_shards_merge_to_the_whole(target, 2)


# -- the commands, as a CI job runs them -------------------------------------------------


def run(capsys, monkeypatch, argv: list[str], token: str) -> tuple[int, str, str]:
    monkeypatch.delenv("GITLAB_URL", raising=False)
    monkeypatch.setenv("GITLAB_TOKEN", token)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot_argv(target: Target, output: Path, *extra: str) -> list[str]:
    groups = [arg for g in target.groups for arg in ("--group", g)]
    return ["snapshot", "--url", target.sandbox.url, *groups, "-o", str(output), "--quiet", *extra]


def test_snapshot_shard_then_merge_commands(
    demo_target: Target, tmp_path: Path, capsys, monkeypatch
) -> None:
    token = demo_target.sandbox.token_for("admin")
    paths = []
    for index in (1, 2, 3):
        path = tmp_path / f"shard-{index}.json"
        code, _out, err = run(
            capsys, monkeypatch, snapshot_argv(demo_target, path, "--shard", f"{index}/3"), token
        )
        assert (code, err) == (0, "")
        data: dict[str, Any] = json.loads(path.read_text())
        assert data["meta"]["shard"] == {"index": index, "total": 3}
        paths.append(str(path))
    full = tmp_path / "full.json"
    code, _out, err = run(capsys, monkeypatch, ["merge", *paths, "-o", str(full), "-q"], token)
    assert (code, err) == (0, "")
    merged = snapshot_io.load(full)
    assert stable_json(merged) == stable_json(demo_target.whole)
    assert merged.meta.run.requests_total == sum(
        snapshot_io.load(Path(p)).meta.run.requests_total for p in paths
    )

    # shards of another scope do not belong to this crawl
    other = tmp_path / "other-2.json"
    code, _out, err = run(
        capsys,
        monkeypatch,
        [
            "snapshot", "--url", demo_target.sandbox.url, "--group", demo_target.groups[0],
            "-o", str(other), "--quiet", "--shard", "2/3",
        ],
        token,
    )  # fmt: skip
    assert code == 0
    code, _out, err = run(
        capsys, monkeypatch, ["merge", paths[0], str(other), paths[2], "-o", str(full)], token
    )
    scope = " ".join(f"--group {g}" for g in demo_target.groups)
    assert code == 2
    assert err == (
        f"posture: error: {paths[0]} crawled {scope} but {other} crawled --group "
        f"{demo_target.groups[0]}; shards must crawl the same scope\n"
    )


def test_merge_refuses_shards_of_two_instances(
    demo_target: Target, tmp_path: Path, capsys, monkeypatch
) -> None:
    one = tmp_path / "first-1.json"
    two = tmp_path / "second-2.json"
    snapshot_io.save(demo_target.crawl((1, 2)), one)
    with Sandbox(demo_target.sandbox.instance, tier="premium") as second:
        snapshot_io.save(Target(second).crawl((2, 2)), two)
    code, _out, err = run(
        capsys, monkeypatch, ["merge", str(one), str(two), "-o", str(tmp_path / "x.json")], "x"
    )
    assert code == 2
    assert err == (
        f"posture: error: {one} is a snapshot of {demo_target.sandbox.url} but {two} of "
        f"{second.url}; shards must come from one GitLab instance\n"
    )
