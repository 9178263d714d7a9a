"""GitLab's 50,000-row offset limit in the sandbox, and keyset paging across it.

The big fixture is a real listing of 50,010 projects (ten groups of 5,001 under one top
group), built once for the module: about 3 s to build, 5 s to walk by keyset, 1.5 s to walk
by offset up to the refusal. The refusal's details are tested on a small sandbox whose limit
is lowered to 250 rows, which is what ``Sandbox(offset_limit=...)`` is for.
"""

from __future__ import annotations

import gc
import urllib.parse
from collections.abc import Iterator

import pytest
import requests

from posture.gitlab.client import ClientConfig, GitLabClient, OffsetLimitError
from posture.sandbox import Sandbox
from posture.sandbox.instance import parse_instance

pytestmark = pytest.mark.integration

GROUPS, PER_GROUP = 10, 5_001
TOTAL = GROUPS * PER_GROUP  # 50,010: past the limit
KEYSET = {"pagination": "keyset", "order_by": "id", "sort": "asc"}


def gitlab_refusal(limit: int) -> str:
    """GitLab's text, from API::Helpers::PaginationStrategies (doc/api/rest/_index.md)."""
    return (
        f"Offset pagination has a maximum allowed offset of {limit} for requests that return "
        "objects of type Project. Remaining records can be retrieved using keyset pagination."
    )


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    subgroups = [
        {"path": f"g{g}", "projects": [{"path": f"p{n:05d}"} for n in range(PER_GROUP)]}
        for g in range(GROUPS)
    ]
    gc.disable()  # 50,000 small models: the cyclic GC would triple the build time
    try:
        instance = parse_instance({"groups": [{"path": "big", "subgroups": subgroups}]})
        sandbox = Sandbox(instance)
    finally:
        gc.enable()
    with sandbox:
        yield sandbox


def client_for(sandbox: Sandbox) -> GitLabClient:
    return GitLabClient(ClientConfig(url=sandbox.url, token=sandbox.token_for("admin")))


def test_keyset_paging_crosses_the_50000_row_boundary(big: Sandbox) -> None:
    big.reset_log()
    with client_for(big) as client:
        ids = [p["id"] for p in client.iter_list("/projects", KEYSET)]
        stats = client.stats.snapshot()
    assert ids == sorted(set(ids)), "every id once, in order"
    assert len(ids) == TOTAL
    assert set(ids) == set(big.catalog.projects)
    assert stats["by_endpoint"] == {"GET /projects": TOTAL // 100 + 1}
    assert stats["duplicates"] == []
    assert big.duplicate_requests() == {}
    log = big.request_log
    assert all(e.status == 200 for e in log)
    assert "id_after" not in log[0].query
    assert all("pagination=keyset" in e.query for e in log)


def test_the_offset_listing_fails_at_the_limit_with_gitlabs_error(big: Sandbox) -> None:
    big.reset_log()
    rows: list[int] = []
    with client_for(big) as client:
        listing = client.iter_list("/projects", {"order_by": "id", "sort": "asc"})
        with pytest.raises(OffsetLimitError) as info:
            rows.extend(p["id"] for p in listing)
    assert rows == list(range(1, 50_001)), "every row up to the limit is served, once"
    err = info.value
    assert (err.status, err.limit, err.message) == (405, 50_000, gitlab_refusal(50_000))
    refused = big.request_log[-1]
    assert refused.status == 405
    assert ("page", "501") in urllib.parse.parse_qsl(refused.query)
    assert [e.status for e in big.request_log].count(200) == 500


def test_group_project_listings_are_limited_too(big: Sandbox) -> None:
    """The strictest GitLab: releases differ in which listings enforce the limit
    (GITLAB-API.md §5), and a crawler must survive all of them."""
    response = requests.get(
        f"{big.url}/api/v4/groups/big/projects",
        params={"include_subgroups": "true", "page": 501, "per_page": 100},
        headers={"PRIVATE-TOKEN": big.token_for("admin")},
        timeout=30,
    )
    assert response.status_code == 405
    assert response.json() == {"error": gitlab_refusal(50_000)}
    one_group = requests.get(
        f"{big.url}/api/v4/groups/big%2Fg0/projects",
        params={"page": 51, "per_page": 100, "order_by": "id", "sort": "asc"},
        headers={"PRIVATE-TOKEN": big.token_for("admin")},
        timeout=30,
    )
    assert one_group.status_code == 200
    assert [p["path"] for p in one_group.json()] == ["p05000"]


# --- the limit as a setting, on a small instance -----------------------------------------------


@pytest.fixture(scope="module")
def small() -> Iterator[Sandbox]:
    spec = {"groups": [{"path": "g", "projects": [{"path": f"p{n:03d}"} for n in range(300)]}]}
    with Sandbox(parse_instance(spec), offset_limit=250) as sandbox:
        yield sandbox


def fetch(sandbox: Sandbox, path: str, **params: str | int) -> requests.Response:
    headers = {"PRIVATE-TOKEN": sandbox.token_for("owner")}
    return requests.get(f"{sandbox.url}/api/v4{path}", params=params, headers=headers, timeout=10)


@pytest.mark.parametrize("path", ["/projects", "/groups/g/projects"])
@pytest.mark.parametrize(
    ("page", "per_page", "status"),
    [(2, 100, 200), (3, 100, 405), (5, 50, 200), (6, 50, 405), (26, 10, 405)],
)
def test_the_limit_is_on_the_last_row_a_page_would_reach(
    small: Sandbox, path: str, page: int, per_page: int, status: int
) -> None:
    response = fetch(small, path, page=page, per_page=per_page, order_by="id", sort="asc")
    assert response.status_code == status
    if status == 405:
        assert response.json() == {"error": gitlab_refusal(250)}
        assert response.headers["Content-Type"] == "application/json"
    else:
        ids = [p["id"] for p in response.json()]
        assert ids == list(range((page - 1) * per_page + 1, page * per_page + 1))


def test_keyset_is_not_limited_and_group_listings_have_no_keyset(small: Sandbox) -> None:
    config = ClientConfig(url=small.url, token=small.token_for("owner"))
    with GitLabClient(config) as client:
        assert len(client.list("/projects", KEYSET)) == 300
        with pytest.raises(OffsetLimitError) as info:
            client.list("/groups/g/projects", KEYSET)  # served by offset, so refused
    assert info.value.limit == 250


def test_a_limit_of_zero_turns_the_refusal_off() -> None:
    spec = {"groups": [{"path": "g", "projects": [{"path": f"p{n}"} for n in range(3)]}]}
    with Sandbox(parse_instance(spec), offset_limit=0) as sandbox:
        response = fetch(sandbox, "/projects", page=10_000, per_page=100)
        assert response.status_code == 200
        assert response.json() == []
