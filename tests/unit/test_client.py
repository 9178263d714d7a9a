"""GitLabClient against mocked GitLab responses: paging, retries, errors, counting, secrecy.

Every fixture yields a ``responses.RequestsMock()``, so a registered response that is never
requested fails the test. Time is fake: sleeping advances the fake clocks instantly.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import gitlab.exceptions
import pytest
import requests
import responses
import urllib3.exceptions
from responses import matchers

from posture.errors import AuthenticationError
from posture.gitlab.client import ApiError, ClientConfig, GitLabClient

BASE = "https://gitlab.example.com"
API = f"{BASE}/api/v4"
FAKE_TOKEN = "fake-token-for-tests-0000"


class FakeTime:
    """Monotonic and wall clocks that only move when the code under test sleeps."""

    def __init__(self) -> None:
        self.mono = 5_000.0
        self.wall = 1_700_000_000.0  # a whole second, so HTTP dates round-trip exactly
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(float(seconds))
        self.mono += seconds
        self.wall += seconds

    def clock(self) -> float:
        return self.mono

    def wallclock(self) -> float:
        return self.wall


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[GitLabClient]:
    with make_client(fake_time) as made:
        yield made


def make_client(fake_time: FakeTime, url: str = BASE, **overrides: Any) -> GitLabClient:
    return GitLabClient(
        ClientConfig(
            url=url,
            token=FAKE_TOKEN,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            wallclock=fake_time.wallclock,
            **overrides,
        )
    )


def page_headers(url: str, page: int, pages: int, per_page: int, total: int) -> dict[str, str]:
    """GitLab's offset-pagination headers, in the order and form GitLab sends them."""

    def link(number: int, rel: str) -> str:
        return f'<{url}&page={number}&per_page={per_page}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(page - 1, "prev"))
    if page < pages:
        links.append(link(page + 1, "next"))
    links += [link(1, "first"), link(pages, "last")]
    return {
        "Link": ", ".join(links),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
    }


RETRY_LATER = {"body": "Retry later\n", "content_type": "text/plain"}


# --- pagination and URLs --------------------------------------------------------------


def test_iter_list_follows_link_over_three_pages(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    url = f"{API}/groups/acme%2Fplatform/projects"
    link_base = f"{url}?id=acme%2Fplatform&with_shared=false"
    items = [{"id": n} for n in range(1, 6)]
    rsps.get(
        url,
        json=items[0:2],
        headers=page_headers(link_base, 1, 3, 2, 5),
        match=[matchers.query_param_matcher({"per_page": "2", "with_shared": "false"})],
    )
    for page, chunk in ((2, items[2:4]), (3, items[4:5])):
        rsps.get(
            url,
            json=chunk,
            headers=page_headers(link_base, page, 3, 2, 5),
            match=[
                matchers.query_param_matcher(
                    {"id": "acme/platform", "with_shared": "false", "page": str(page)}
                    | {"per_page": "2"}
                )
            ],
        )

    pages = client.iter_list(
        "/groups/acme%2Fplatform/projects", {"with_shared": "false", "per_page": 2}
    )
    assert len(rsps.calls) == 0, "iter_list must be lazy"
    assert list(pages) == items
    assert len(rsps.calls) == 3
    assert client.stats.by_endpoint == {"GET /groups/:id/projects": 3}
    assert client.stats.duplicates == []


def test_path_prefix_base_url_builds_the_right_request(
    rsps: responses.RequestsMock, fake_time: FakeTime
) -> None:
    rsps.get(
        "https://gitlab.example.com/gitlab/api/v4/projects/12/hooks",
        json=[{"id": 1, "url": "https://hooks.example.com/x"}],
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    with make_client(fake_time, url="https://gitlab.example.com/gitlab/") as client:
        assert client.base_url == "https://gitlab.example.com/gitlab"
        assert client.list("/projects/12/hooks") == [
            {"id": 1, "url": "https://hooks.example.com/x"}
        ]


def test_boolean_params_are_sent_as_gitlab_spells_them(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(
        f"{API}/groups/acme",
        json={"id": 9},
        match=[matchers.query_param_matcher({"with_projects": "false", "statistics": "true"})],
    )
    assert client.get("/groups/acme", {"with_projects": False, "statistics": True}) == {"id": 9}


def test_get_returns_none_for_a_literal_null_body(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(f"{API}/projects/12/push_rule", body="null", content_type="application/json")
    assert client.get("/projects/12/push_rule") is None


def test_token_is_sent_as_private_token_header(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(f"{API}/user", json={"id": 1, "username": "auditor"})
    assert client.get("/user")["username"] == "auditor"
    sent = rsps.calls[0].request.headers
    assert sent["PRIVATE-TOKEN"] == FAKE_TOKEN
    assert sent["User-Agent"].startswith("gitlab-posture/")


def test_full_urls_and_page_params_are_refused(client: GitLabClient) -> None:
    with pytest.raises(ValueError, match="start with '/'"):
        client.get("https://elsewhere.example.com/api/v4/user")
    with pytest.raises(ValueError, match="page"):
        client.iter_list("/projects", {"page": 3})


def test_a_pagination_link_off_origin_is_rewritten_to_our_base(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    # GitLab behind a proxy often advertises its internal external_url in Link.
    rsps.get(
        f"{API}/groups",
        json=[{"id": 1}],
        headers={
            "Link": '<http://gitlab.internal:8080/api/v4/groups?page=2&per_page=100>; rel="next"'
        },
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    rsps.get(
        f"{API}/groups",
        json=[{"id": 2}],
        match=[matchers.query_param_matcher({"page": "2", "per_page": "100"})],
    )
    assert client.list("/groups") == [{"id": 1}, {"id": 2}]


def test_a_redirect_to_another_host_never_receives_the_token(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(
        f"{API}/projects/1",
        status=302,
        headers={"Location": "https://collector.example.net/steal"},
    )
    with pytest.raises(ApiError) as info:
        client.get("/projects/1")
    assert "collector.example.net" in str(info.value)
    assert [c.request.url for c in rsps.calls] == [f"{API}/projects/1"]


# --- retries --------------------------------------------------------------------------


def test_429_with_retry_after_seconds_then_200(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    rsps.get(f"{API}/projects/1", status=429, headers={"Retry-After": "2"}, **RETRY_LATER)
    rsps.get(f"{API}/projects/1", json={"id": 1})

    assert client.get("/projects/1") == {"id": 1}
    assert fake_time.sleeps == [2.0]
    snap = client.stats.snapshot()
    assert snap["total"] == 1
    assert snap["attempts"] == 2
    assert snap["retries"] == 1
    assert snap["rate_limited"] == 1
    assert snap["rate_limit_wait_seconds"] == 2.0
    assert snap["duplicates"] == [], "a retry is not a duplicate request"


def test_429_with_retry_after_as_http_date(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    when = email.utils.formatdate(fake_time.wall + 7, usegmt=True)
    rsps.get(f"{API}/projects/1", status=429, headers={"Retry-After": when}, **RETRY_LATER)
    rsps.get(f"{API}/projects/1", json={"id": 1})

    assert client.get("/projects/1") == {"id": 1}
    assert fake_time.sleeps == [7.0]


def test_429_without_retry_after_uses_ratelimit_reset(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    reset = int(fake_time.wall) + 5
    headers = {
        "RateLimit-Name": "throttle_authenticated_api",
        "RateLimit-Limit": "60",
        "RateLimit-Observed": "67",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(reset),
        "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True),
    }
    rsps.get(f"{API}/groups/3", status=429, headers=headers, **RETRY_LATER)
    rsps.get(f"{API}/groups/3", json={"id": 3})

    assert client.get("/groups/3") == {"id": 3}
    assert fake_time.sleeps == [5.0], "the reset passed during the retry wait: no extra pacing"


def test_persistent_429_makes_exactly_max_attempts(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    rsps.get(f"{API}/projects/1", status=429, headers={"Retry-After": "1"}, **RETRY_LATER)

    with pytest.raises(ApiError) as info:
        client.get("/projects/1")
    assert info.value.status == 429
    assert str(info.value) == "GET /projects/:id: 429 Retry later"
    assert len(rsps.calls) == 5
    assert fake_time.sleeps == [1.0] * 4
    assert client.stats.rate_limited == 5


def test_python_gitlab_retries_are_really_off(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    """Through python-gitlab's own objects too: max_attempts, not max_attempts × 11."""
    rsps.get(f"{API}/projects/1", status=429, headers={"Retry-After": "0"}, **RETRY_LATER)
    rsps.get(f"{API}/projects/2", status=503, body="")

    with pytest.raises(gitlab.exceptions.GitlabGetError) as info:
        client.gitlab().projects.get(1)
    assert info.value.response_code == 429
    with pytest.raises(ApiError):
        client.get("/projects/2")
    assert [c.request.url for c in rsps.calls] == [f"{API}/projects/1"] * 5 + [
        f"{API}/projects/2"
    ] * 5


def test_retry_after_above_the_cap_gives_up_without_sleeping(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    rsps.get(f"{API}/groups", status=429, headers={"Retry-After": "600"}, **RETRY_LATER)

    with pytest.raises(ApiError) as info:
        client.get("/groups")
    assert info.value.status == 429
    assert fake_time.sleeps == []
    assert len(rsps.calls) == 1


def test_never_sleeps_past_the_deadline(rsps: responses.RequestsMock, fake_time: FakeTime) -> None:
    rsps.get(f"{API}/groups", status=429, headers={"Retry-After": "3"}, **RETRY_LATER)

    with (
        make_client(fake_time, deadline=fake_time.mono + 5) as client,
        pytest.raises(ApiError) as info,
    ):
        client.get("/groups")
    assert info.value.status == 429
    assert fake_time.sleeps == [3.0], "a second 3 s wait would end past the deadline"
    assert len(rsps.calls) == 2


def test_502_then_200(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    rsps.get(f"{API}/projects/1/hooks", status=502, body="<html>Bad Gateway</html>")
    rsps.get(f"{API}/projects/1/hooks", json=[])

    assert client.list("/projects/1/hooks") == []
    assert len(fake_time.sleeps) == 1
    assert 0.0 <= fake_time.sleeps[0] <= 0.5


def test_500_forever_is_bounded_with_capped_jittered_backoff(
    rsps: responses.RequestsMock, fake_time: FakeTime
) -> None:
    rsps.get(f"{API}/projects/1", status=500, json={"message": "500 Internal Server Error"})

    with (
        make_client(fake_time, max_attempts=8, backoff_initial=1.0, backoff_max=4.0) as client,
        pytest.raises(ApiError) as info,
    ):
        client.get("/projects/1")
    assert str(info.value) == "GET /projects/:id: 500 Internal Server Error"
    assert len(rsps.calls) == 8
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert len(fake_time.sleeps) == len(ceilings)
    assert all(0.0 <= s <= c for s, c in zip(fake_time.sleeps, ceilings, strict=True))
    assert client.stats.rate_limit_wait_seconds == 0.0, "5xx backoff is not rate-limit waiting"


def test_other_4xx_are_not_retried(rsps: responses.RequestsMock, client: GitLabClient) -> None:
    rsps.get(f"{API}/projects/1/hooks", status=403, json={"message": "403 Forbidden"})

    with pytest.raises(ApiError) as info:
        client.list("/projects/1/hooks")
    err = info.value
    assert (err.status, err.message, err.kind) == (403, "403 Forbidden", "http")
    assert str(err) == "GET /projects/:id/hooks: 403 Forbidden"
    assert err.insufficient_scope is False
    assert len(rsps.calls) == 1


def test_pacing_waits_when_ratelimit_remaining_is_zero(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    reset = int(fake_time.wall) + 3
    spent = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset), "RateLimit-Limit": "600"}
    rsps.get(f"{API}/projects/1", json={"id": 1}, headers=spent)
    rsps.get(f"{API}/projects/2", json={"id": 2}, headers={"RateLimit-Remaining": "599"})
    rsps.get(f"{API}/projects/3", json={"id": 3})

    client.get("/projects/1")
    assert fake_time.sleeps == []
    client.get("/projects/2")
    assert fake_time.sleeps == [3.0]
    client.get("/projects/3")
    assert fake_time.sleeps == [3.0], "quota restored: no more waiting"
    assert client.stats.rate_limit_wait_seconds == 3.0


def test_pacing_never_waits_longer_than_the_cap(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    spent = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(fake_time.wall) + 3600)}
    rsps.get(f"{API}/projects/1", json={"id": 1}, headers=spent)
    rsps.get(f"{API}/projects/2", json={"id": 2})

    client.get("/projects/1")
    client.get("/projects/2")
    assert fake_time.sleeps == []


# --- errors ---------------------------------------------------------------------------


def test_insufficient_scope_is_flagged(rsps: responses.RequestsMock, client: GitLabClient) -> None:
    rsps.get(
        f"{API}/projects/1/variables",
        status=403,
        json={
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the "
            "access token.",
            "scope": "api read_api",
        },
    )
    with pytest.raises(ApiError) as info:
        client.list("/projects/1/variables")
    assert info.value.status == 403
    assert info.value.insufficient_scope is True
    assert info.value.message.startswith("insufficient_scope: The request requires")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "404 Project Not Found"}, "GET /projects/:id: 404 Project Not Found"),
        ({"error": "404 Not Found"}, "GET /projects/:id: 404 Not Found"),
    ],
)
def test_404_message_and_error_forms(
    rsps: responses.RequestsMock, client: GitLabClient, body: dict[str, str], expected: str
) -> None:
    rsps.get(f"{API}/projects/acme%2Fgone", status=404, json=body)
    with pytest.raises(ApiError) as info:
        client.get("/projects/acme%2Fgone")
    assert info.value.status == 404
    assert str(info.value) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"message": "401 Unauthorized"},
            "GitLab rejected the token (401): it is invalid or revoked",
        ),
        (
            {
                "error": "invalid_token",
                "error_description": "Token is expired. You can either do re-authorization or "
                "token refresh.",
            },
            "GitLab rejected the token (401): the token has expired",
        ),
    ],
)
def test_401_is_an_authentication_error(
    rsps: responses.RequestsMock, client: GitLabClient, body: dict[str, str], expected: str
) -> None:
    rsps.get(f"{API}/user", status=401, json=body)
    with pytest.raises(AuthenticationError) as info:
        client.get("/user")
    assert str(info.value) == expected
    assert len(rsps.calls) == 1, "401 is never retried"


def test_401_on_a_later_page_is_an_authentication_error(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(
        f"{API}/projects",
        json=[{"id": 1}],
        headers=page_headers(f"{API}/projects?order_by=id", 1, 2, 100, 101),
    )
    rsps.get(f"{API}/projects", status=401, json={"message": "401 Unauthorized"})
    pages = client.iter_list("/projects", {"order_by": "id"})
    assert next(pages) == {"id": 1}
    with pytest.raises(AuthenticationError):
        next(pages)


def test_read_timeout_after_retries(
    rsps: responses.RequestsMock, client: GitLabClient, fake_time: FakeTime
) -> None:
    rsps.get(f"{API}/groups/5", body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(ApiError) as info:
        client.get("/groups/5")
    err = info.value
    assert (err.status, err.kind) == (None, "timeout")
    assert str(err) == (
        "GET /groups/:id: timed out after 30s waiting for gitlab.example.com:443 to respond"
    )
    assert len(rsps.calls) == 5
    assert len(fake_time.sleeps) == 4


def test_dns_failure_is_a_connection_error(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    reason = urllib3.exceptions.NameResolutionError(
        "gitlab.example.com", None, socket.gaierror(-2, "Name or service not known")
    )
    failure = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/api/v4/groups", reason)
    )
    rsps.get(f"{API}/groups", body=failure)

    with pytest.raises(ApiError) as info:
        client.list("/groups")
    assert info.value.kind == "connection"
    assert (
        str(info.value)
        == "GET /groups: cannot connect to gitlab.example.com:443: host name not found"
    )
    assert len(rsps.calls) == 5


def test_tls_failure_is_reported_once_and_not_retried(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    cause = ssl.SSLCertVerificationError(
        1,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
        "in certificate chain (_ssl.c:1006)",
    )
    failure = requests.exceptions.SSLError(
        urllib3.exceptions.MaxRetryError(None, "/api/v4/user", urllib3.exceptions.SSLError(cause))
    )
    rsps.get(f"{API}/user", body=failure)

    with pytest.raises(ApiError) as info:
        client.get("/user")
    assert info.value.kind == "tls"
    assert info.value.message == (
        "TLS verification failed for gitlab.example.com: certificate verify failed: "
        "self-signed certificate in certificate chain"
    )
    assert len(rsps.calls) == 1


def test_a_non_json_success_is_an_api_error(
    rsps: responses.RequestsMock, client: GitLabClient
) -> None:
    rsps.get(f"{API}/metadata", body="<html>login</html>", content_type="text/html")
    with pytest.raises(ApiError, match="expected JSON, got text/html"):
        client.get("/metadata")


# --- counting -------------------------------------------------------------------------


def test_endpoint_counts_and_duplicates(rsps: responses.RequestsMock, client: GitLabClient) -> None:
    rsps.get(f"{API}/projects/7/protected_branches", json=[])
    rsps.get(f"{API}/groups/acme%2Fplatform", json={"id": 9})
    rsps.get(f"{API}/runners/all", json=[])
    rsps.get(f"{API}/runners/31", json={"id": 31})

    client.list("/projects/7/protected_branches")
    client.list("/projects/7/protected_branches")
    client.get("/groups/acme%2Fplatform", {"with_projects": "false"})
    client.list("/runners/all")
    client.get("/runners/31")

    assert client.stats.by_endpoint == {
        "GET /projects/:id/protected_branches": 2,
        "GET /groups/:id": 1,
        "GET /runners/all": 1,
        "GET /runners/:id": 1,
    }
    assert client.stats.duplicates == ["GET /projects/7/protected_branches?per_page=100"]
    assert client.stats.total == 5


# --- secrecy --------------------------------------------------------------------------


def test_token_never_reaches_errors_or_logs(
    rsps: responses.RequestsMock,
    client: GitLabClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.get(f"{API}/user", json={"id": 1})
    rsps.get(f"{API}/groups/1", status=429, headers={"Retry-After": "1"}, **RETRY_LATER)
    rsps.get(f"{API}/groups/2", status=404, json={"message": f"404 no {FAKE_TOKEN} here"})
    rsps.get(f"{API}/groups/3", body=requests.exceptions.ConnectionError("refused"))
    rsps.get(f"{API}/user/keys", status=401, json={"message": "401 Unauthorized"})

    client.get("/user")
    errors: list[Exception] = []
    for path in ("/groups/1", "/groups/2", "/groups/3", "/user/keys"):
        with pytest.raises((ApiError, AuthenticationError)) as info:
            client.get(path)
        errors.append(info.value)

    assert rsps.calls[0].request.headers["PRIVATE-TOKEN"] == FAKE_TOKEN
    for err in errors:
        assert FAKE_TOKEN not in str(err)
        assert FAKE_TOKEN not in repr(err)
    http_lines = [r.getMessage() for r in caplog.records if r.name == "posture.http"]
    assert any("GET /api/v4/user → 200 in" in line for line in http_lines)
    assert any(", retrying in 1.0 s (attempt 2/5)" in line for line in http_lines)
    for record in caplog.records:
        assert FAKE_TOKEN not in record.getMessage()
        assert "PRIVATE-TOKEN" not in record.getMessage()
