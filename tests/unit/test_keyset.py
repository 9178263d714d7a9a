"""Keyset listings: the client follows only ``rel="next"``, each page once, and names
GitLab's offset-limit refusal; the sandbox answers keyset as GitLab does on ``/projects``
(``id_after``/``id_before``) and on the audit event lists (opaque ``cursor``)."""

from __future__ import annotations

import pickle
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from posture.gitlab.client import ApiError, ClientConfig, GitLabClient, OffsetLimitError
from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, load_instance
from posture.sandbox.instance import parse_instance
from posture.sandbox.pagination import (
    decode_cursor,
    encode_cursor,
    offset_limit_error,
)

BASE = "https://gitlab.example.com"
API = f"{BASE}/api/v4"
FAKE_TOKEN = "fake-token-for-tests-0000"
KEYSET = {"pagination": "keyset", "order_by": "id", "sort": "asc"}
OFFSET_LIMIT_BODY = {
    "error": "Offset pagination has a maximum allowed offset of 50000 for requests that "
    "return objects of type Project. Remaining records can be retrieved using keyset "
    "pagination."
}
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client() -> Iterator[GitLabClient]:
    with GitLabClient(ClientConfig(url=BASE, token=FAKE_TOKEN, sleep=lambda s: None)) as made:
        yield made


def keyset_link(after: int) -> dict[str, str]:
    """GitLab's only keyset header: the next link with the cursor (doc/api/rest/_index.md)."""
    query = "pagination=keyset&per_page=2&order_by=id&sort=asc"
    return {"Link": f'<{API}/projects?{query}&id_after={after}>; rel="next"'}


# --- the client ----------------------------------------------------------------------------


def test_a_keyset_listing_is_read_across_many_pages_each_once(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    first = {**KEYSET, "per_page": "2"}
    rsps.get(
        f"{API}/projects",
        json=[{"id": 1}, {"id": 2}],
        headers=keyset_link(2),
        match=[matchers.query_param_matcher(first)],
    )
    for after in range(2, 10, 2):
        last_page = after == 8
        rsps.get(
            f"{API}/projects",
            json=[{"id": after + 1}, {"id": after + 2}] if not last_page else [{"id": 9}],
            headers={} if last_page else keyset_link(after + 2),
            match=[matchers.query_param_matcher({**first, "id_after": str(after)})],
        )
    ids = [p["id"] for p in client.iter_list("/projects", {**KEYSET, "per_page": 2})]
    assert ids == list(range(1, 10))
    urls = [call.request.url for call in rsps.calls]
    assert len(urls) == len(set(urls)) == 5
    assert client.stats.total == 5
    assert client.stats.duplicates == []


def test_a_next_link_back_to_a_page_already_read_stops_the_listing(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    """A broken proxy or server must not make posture walk in circles."""
    rsps.get(f"{API}/projects", json=[{"id": 1}, {"id": 2}], headers=keyset_link(2))
    again = f"{API}/projects?pagination=keyset&per_page=2&order_by=id&sort=asc&id_after=2"
    rsps.get(
        f"{API}/projects",
        json=[{"id": 3}, {"id": 4}],
        headers=keyset_link(2),  # the same cursor again
        match=[matchers.query_param_matcher({**KEYSET, "per_page": "2", "id_after": "2"})],
    )
    seen: list[int] = []
    with pytest.raises(ApiError, match="points back to a page already read") as info:
        seen.extend(p["id"] for p in client.iter_list("/projects", {**KEYSET, "per_page": 2}))
    assert seen == [1, 2, 3, 4]
    assert [c.request.url for c in rsps.calls][-1] == again
    assert len(rsps.calls) == 2
    assert not info.value.offset_limit


def test_gitlabs_offset_limit_is_its_own_error_after_the_rows_before_it(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    nxt = f'<{API}/groups/7/projects?page=2&per_page=100>; rel="next"'
    rsps.get(f"{API}/groups/7/projects", json=[{"id": 1}], headers={"Link": nxt})
    rsps.get(f"{API}/groups/7/projects", status=405, json=OFFSET_LIMIT_BODY)
    rows: list[dict[str, Any]] = []
    with pytest.raises(OffsetLimitError) as info:
        rows.extend(client.iter_list("/groups/7/projects"))
    err = info.value
    assert rows == [{"id": 1}]
    assert (err.status, err.limit, err.offset_limit) == (405, 50000, True)
    assert isinstance(err, ApiError)
    assert str(err) == f"GET /groups/:id/projects: 405 {OFFSET_LIMIT_BODY['error']}"
    copy = pickle.loads(pickle.dumps(err))  # crosses process pools intact
    assert (type(copy), copy.limit, str(copy)) == (OffsetLimitError, 50000, str(err))


def test_other_405s_stay_plain_api_errors(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(f"{API}/projects", status=405, json={"error": "405 Not Allowed"})
    with pytest.raises(ApiError) as info:
        client.list("/projects")
    assert type(info.value) is ApiError
    assert info.value.offset_limit is False


def test_a_listing_that_is_not_a_list_is_an_error(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(f"{API}/projects/1/hooks", json={"id": 1})
    with pytest.raises(ApiError, match="expected a JSON list, got dict"):
        client.list("/projects/1/hooks")


# --- the sandbox's pieces --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "per_page", "refused"),
    [("500", "100", False), ("501", "100", True), ("2500", "20", False), ("2501", None, True)],
)
def test_the_offset_limit_is_gitlabs_page_times_per_page(
    page: str, per_page: str | None, refused: bool
) -> None:
    params = {"page": page} | ({"per_page": per_page} if per_page else {})
    body = offset_limit_error(params, 50_000, "Project")
    assert (body is not None) == refused
    if body is not None:
        assert body == OFFSET_LIMIT_BODY
    assert offset_limit_error(params, 0, "Project") is None, "0 turns the limit off"


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    assert decode_cursor(encode_cursor(4711)) == 4711
    for junk in ("", "not base64!", encode_cursor(0), "eyJpZCI6IjEifQ=="):  # {"id":"1"}
        assert decode_cursor(junk) is None


# --- the sandbox over HTTP --------------------------------------------------------------------


def links(response: requests.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def query_of(url: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)


@pytest.fixture(scope="module")
def small() -> Iterator[Sandbox]:
    spec = {"groups": [{"path": "g", "projects": [{"path": f"p{n:02d}"} for n in range(45)]}]}
    with Sandbox(parse_instance(spec)) as sandbox:
        yield sandbox


def get(sb: Sandbox, path: str) -> requests.Response:
    headers = {"PRIVATE-TOKEN": sb.token_for("admin")}
    return requests.get(f"{sb.url}/api/v4{path}", headers=headers, timeout=10)


def test_projects_keyset_link_is_the_docs_form(small: Sandbox) -> None:
    """doc/api/rest/_index.md: `...?pagination=keyset&per_page=50&order_by=id&sort=asc
    &id_after=42`, the request's own parameters plus the cursor, and no `x-*` header."""
    first = get(small, "/projects?pagination=keyset&per_page=20&order_by=id&sort=asc")
    assert [p["id"] for p in first.json()] == list(range(1, 21))
    assert not [h for h in first.headers if h.lower().startswith("x-")]
    assert set(links(first)) == {"next"}
    nxt = links(first)["next"]
    assert nxt.startswith(f"{small.url}/api/v4/projects?")
    assert query_of(nxt) == [
        ("pagination", "keyset"),
        ("order_by", "id"),
        ("sort", "asc"),
        ("per_page", "20"),
        ("id_after", "20"),
    ]
    backwards = get(small, "/projects?pagination=keyset&per_page=20&order_by=id&sort=desc")
    assert [p["id"] for p in backwards.json()] == list(range(45, 25, -1))
    assert ("id_before", "26") in query_of(links(backwards)["next"])
    last = get(small, "/projects?pagination=keyset&per_page=20&order_by=id&sort=asc&id_after=40")
    assert [p["id"] for p in last.json()] == [41, 42, 43, 44, 45]
    assert "Link" not in last.headers


def test_group_projects_offer_no_keyset_and_page_by_offset(small: Sandbox) -> None:
    """GitLab pages `/groups/:id/projects` with offset only: `pagination=keyset` is
    ignored there (doc/api/rest/_index.md, "Supported resources")."""
    response = get(small, "/groups/1/projects?pagination=keyset&order_by=id&sort=asc&per_page=20")
    assert response.headers["x-page"] == "1"
    assert response.headers["x-total"] == "45"
    assert ("page", "2") in query_of(links(response)["next"])


@pytest.fixture
def audited() -> Iterator[Sandbox]:
    """The demo with 25 events on project 20 and 3 on its group, acme-oss."""
    with Sandbox(load_instance(DEMO_INSTANCE_PATH)) as sandbox:
        session = requests.Session()
        session.headers["PRIVATE-TOKEN"] = sandbox.token_for("admin")
        for n in range(25):
            url = f"{sandbox.url}/api/v4/projects/20"
            assert session.put(url, json={"public_jobs": n % 2 == 1}, timeout=10).ok
        for n in range(3):
            url = f"{sandbox.url}/api/v4/groups/acme-oss"
            assert session.put(url, json={"description": f"d{n}"}, timeout=10).ok
        yield sandbox


def test_audit_event_lists_page_by_cursor_newest_first(audited: Sandbox) -> None:
    every = [e["id"] for e in reversed(audited.audit_events)]
    project = [e["id"] for e in reversed(audited.audit_events) if e["entity_type"] == "Project"]
    assert len(project) == 25
    config = ClientConfig(url=audited.url, token=audited.token_for("admin"))
    with GitLabClient(config) as client:
        keyset = {"pagination": "keyset", "per_page": 10}
        got = [e["id"] for e in client.iter_list("/projects/20/audit_events", keyset)]
        assert got == project
        assert client.stats.by_endpoint == {"GET /projects/:id/audit_events": 3}
        everything = [e["id"] for e in client.iter_list("/audit_events", keyset)]
        assert everything == every
        group = client.list("/groups/acme-oss/audit_events", {**keyset, "order_by": "id"})
        assert len(group) == 3
        assert client.stats.duplicates == []
    first = get(audited, "/projects/20/audit_events?pagination=keyset&per_page=10")
    assert not [h for h in first.headers if h.lower().startswith("x-")]
    cursor = dict(query_of(links(first)["next"]))["cursor"]
    assert decode_cursor(cursor) == project[9]


def test_audit_keyset_orders_and_cursors_gitlab_refuses(audited: Sandbox) -> None:
    assert get(audited, "/audit_events?pagination=keyset&sort=asc").status_code == 405
    wrong = get(audited, "/audit_events?pagination=keyset&order_by=created_at")
    assert wrong.status_code == 405
    assert wrong.json() == {
        "error": "Keyset pagination is not yet available for this type of request"
    }
    assert get(audited, "/audit_events?pagination=keyset&cursor=junk").status_code == 400
