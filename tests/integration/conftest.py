"""Fixtures that crawl the sandbox over real loopback HTTP through python-gitlab."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.crawl import Crawler, CrawlOptions
from posture.sandbox import DEMO_INSTANCE_PATH, Instance, Sandbox, load_instance
from posture.sandbox.instance import parse_instance
from posture.snapshot import Snapshot

pytestmark = pytest.mark.integration


@dataclass
class Crawl:
    snapshot: Snapshot
    stats: dict[str, Any]
    duplicates: list[str]


def crawl(
    sandbox: Sandbox,
    groups: tuple[str, ...] | None = None,
    *,
    role: str = "admin",
    all_groups: bool = False,
    workers: int = 4,
    **config: Any,
) -> Crawl:
    if groups is None and not all_groups:
        groups = tuple(g.full_path for g in sandbox.instance.top_level_groups())
    client = GitLabClient(
        ClientConfig(url=sandbox.url, token=sandbox.token_for(role), workers=workers, **config)
    )
    try:
        snapshot = Crawler(
            client, CrawlOptions(groups=groups or (), all_groups=all_groups, workers=workers)
        ).run()
        return Crawl(snapshot, client.stats.snapshot(), list(client.stats.duplicates))
    finally:
        client.close()


@pytest.fixture(scope="session")
def demo() -> Instance:
    return load_instance(DEMO_INSTANCE_PATH)


@pytest.fixture
def demo_sandbox(demo: Instance) -> Iterator[Sandbox]:
    with Sandbox(demo, tier="premium") as sandbox:
        yield sandbox


def instance_from(data: dict[str, Any]) -> Instance:
    return parse_instance(data, source="<test>")
