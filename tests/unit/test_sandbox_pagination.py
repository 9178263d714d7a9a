"""Offset and keyset pagination headers, the >10,000-row rule, and python-gitlab paging."""

from __future__ import annotations

import re
from collections.abc import Iterator

import gitlab
import pytest
import requests

from posture.sandbox import Sandbox
from posture.sandbox.instance import parse_instance

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def big_group(projects: int, groups: int = 1) -> dict:
    """One top-level group holding `projects` projects (plus empty sibling groups)."""
    group = {"path": "big", "projects": [{"path": f"p{i:05d}"} for i in range(projects)]}
    extra = [{"path": f"g{i:04d}"} for i in range(groups - 1)]
    return {"groups": [group, *extra]}


def links(response: requests.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(parse_instance(big_group(250, groups=130)), path_prefix="/gitlab") as sandbox:
        yield sandbox


def get(sb: Sandbox, path: str, **headers: str) -> requests.Response:
    headers = {"PRIVATE-TOKEN": sb.token_for("admin"), **headers}
    return requests.get(f"{sb.url}/api/v4{path}", headers=headers, timeout=10)


def test_offset_headers_on_a_middle_page(sb: Sandbox) -> None:
    response = get(sb, "/groups/1/projects?per_page=100&page=2&order_by=id&sort=asc")
    rows = response.json()
    assert [r["path"] for r in rows] == [f"p{i:05d}" for i in range(100, 200)]
    h = response.headers
    assert (h["x-page"], h["x-per-page"], h["x-next-page"], h["x-prev-page"]) == (
        "2",
        "100",
        "3",
        "1",
    )
    assert (h["x-total"], h["x-total-pages"]) == ("250", "3")
    rel = links(response)
    assert set(rel) == {"prev", "next", "first", "last"}
    for url in rel.values():
        assert url.startswith(f"{sb.url}/api/v4/groups/1/projects?")
        assert "order_by=id" in url
        assert "sort=asc" in url
        assert "per_page=100" in url
    assert "page=1&" in rel["prev"] + "&"
    assert "page=3" in rel["next"]
    assert "page=3" in rel["last"]


def test_first_and_last_pages(sb: Sandbox) -> None:
    first = get(sb, "/groups/1/projects?per_page=100")
    assert first.headers["x-prev-page"] == ""
    assert "prev" not in links(first)
    last = get(sb, "/groups/1/projects?per_page=100&page=3")
    assert len(last.json()) == 50
    assert last.headers["x-next-page"] == ""
    assert "next" not in links(last)


def test_per_page_defaults_to_20_and_caps_at_100(sb: Sandbox) -> None:
    assert len(get(sb, "/groups/1/projects").json()) == 20
    capped = get(sb, "/groups/1/projects?per_page=500")
    assert len(capped.json()) == 100
    assert capped.headers["x-per-page"] == "100"


def test_link_uses_the_host_the_client_asked_for(sb: Sandbox) -> None:
    response = get(sb, "/groups?per_page=10", Host="gitlab.example.test:8443")
    assert links(response)["next"].startswith("http://gitlab.example.test:8443/gitlab/api/v4/")


def test_default_orders_match_gitlab(sb: Sandbox) -> None:
    projects = get(sb, "/projects?per_page=5").json()
    ids = [p["id"] for p in projects]
    assert ids == sorted(ids, reverse=True), "projects: created_at desc by default"
    groups = get(sb, "/groups?per_page=100&page=1").json()
    names = [g["name"].lower() for g in groups]
    assert names == sorted(names), "groups: name asc by default"


def test_python_gitlab_lists_every_row_through_the_links(sb: Sandbox) -> None:
    gl = gitlab.Gitlab(sb.url, private_token=sb.token_for("admin"), timeout=10)
    rows = list(gl.http_list("/groups/1/projects", iterator=True, per_page=100))
    assert len(rows) == 250
    assert len({r["id"] for r in rows}) == 250
    groups = list(gl.http_list("/groups", iterator=True))
    assert len(groups) == 130


def test_keyset_pagination_walks_projects_by_id(sb: Sandbox) -> None:
    url = "/projects?pagination=keyset&order_by=id&sort=asc&per_page=100"
    seen: list[int] = []
    response = get(sb, url)
    pages = 0
    while True:
        pages += 1
        assert "x-total" not in response.headers
        assert "x-page" not in response.headers
        seen += [p["id"] for p in response.json()]
        nxt = links(response).get("next")
        if nxt is None:
            break
        assert "id_after=" in nxt
        response = requests.get(nxt, headers={"PRIVATE-TOKEN": sb.token_for("admin")}, timeout=10)
    assert pages == 3
    assert seen == sorted(seen)
    assert len(seen) == 250


def test_keyset_by_other_columns_is_refused(sb: Sandbox) -> None:
    response = get(sb, "/projects?pagination=keyset&order_by=name&sort=asc")
    assert response.status_code == 405


def test_above_ten_thousand_rows_gitlab_stops_counting() -> None:
    spec = big_group(10_001)
    spec["groups"][0]["projects"][0]["archived"] = True  # archived=false leaves exactly 10,000
    with Sandbox(parse_instance(spec)) as sandbox:
        first = get(sandbox, "/groups/1/projects?per_page=100")
        assert "x-total" not in first.headers
        assert "x-total-pages" not in first.headers
        assert set(links(first)) == {"next", "first"}
        last = get(sandbox, "/groups/1/projects?per_page=100&page=101")
        assert len(last.json()) == 1
        assert last.headers["x-next-page"] == ""
        assert set(links(last)) == {"prev", "first"}
        counted = get(sandbox, "/groups/1/projects?per_page=100&archived=false")
        assert counted.headers["x-total"] == "10000"
        assert counted.headers["x-total-pages"] == "100"
        assert "last" in links(counted)
