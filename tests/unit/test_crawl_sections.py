"""How HTTP outcomes become section statuses, crawl-wide (responses-based, instant).

A minimal GitLab with one group and one project is mocked; each test makes one endpoint
misbehave and checks what the snapshot records. The rest of the crawl must go on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses

from posture.errors import AuthenticationError
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.crawl import Crawler, CrawlOptions
from posture.snapshot import Snapshot, Status

BASE = "https://gitlab.example.com"
API = f"{BASE}/api/v4"
PROJECT = f"{API}/projects/10"
GROUP = f"{API}/groups/1"

PROJECT_JSON = {
    "id": 10,
    "path_with_namespace": "acme/api",
    "name": "api",
    "web_url": f"{BASE}/acme/api",
    "namespace": {"id": 1, "full_path": "acme", "kind": "group"},
    "visibility": "private",
    "default_branch": "main",
    "archived": False,
    "public_jobs": False,
    "shared_runners_enabled": False,
    "ci_pipeline_variables_minimum_override_role": "maintainer",
    "runners_token": "GR1348941EXAMPLEnotstored",
}
GROUP_JSON = {
    "id": 1,
    "full_path": "acme",
    "name": "acme",
    "parent_id": None,
    "visibility": "private",
    "web_url": f"{BASE}/groups/acme",
}

#: Every per-entity endpoint the crawler reads, with a healthy answer.
HEALTHY = {
    f"{GROUP}/variables": [],
    f"{GROUP}/hooks": [],
    f"{GROUP}/protected_branches": [],
    f"{GROUP}/merge_request_approval_setting": {},
    f"{GROUP}/deploy_tokens": [],
    f"{GROUP}/access_tokens": [],
    f"{PROJECT}/protected_branches": [{"id": 1, "name": "main"}],
    f"{PROJECT}/approvals": {"reset_approvals_on_push": True},
    f"{PROJECT}/approval_rules": [],
    f"{PROJECT}/variables": [{"key": "K", "value": "v", "masked": False}],
    f"{PROJECT}/hooks": [],
    f"{PROJECT}/runners": [{"id": 7, "runner_type": "project_type", "is_shared": False}],
    f"{PROJECT}/deploy_keys": [],
    f"{PROJECT}/deploy_tokens": [],
    f"{PROJECT}/access_tokens": [],
    f"{PROJECT}/job_token_scope": {"inbound_enabled": True, "outbound_enabled": False},
    f"{API}/runners/7": {"id": 7, "run_untagged": False, "locked": True, "tag_list": ["x"]},
}


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def gitlab_mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{API}/metadata", json={"version": "17.11.1-ee", "enterprise": True})
        rsps.get(f"{API}/user", json={"id": 1, "username": "root", "is_admin": False})
        rsps.get(f"{API}/personal_access_tokens/self", json={"scopes": ["read_api"]})
        rsps.get(f"{API}/groups/acme", json=GROUP_JSON)
        rsps.get(f"{GROUP}/descendant_groups", json=[])
        rsps.get(f"{GROUP}/projects", json=[PROJECT_JSON])
        yield rsps


def run_crawl(rsps: responses.RequestsMock, fake_time: FakeTime, **overrides) -> Snapshot:
    """Register healthy answers except the overridden URLs, then crawl."""
    for url, body in HEALTHY.items():
        if url in overrides:
            override = overrides[url]
            for answer in override if isinstance(override, list) else [override]:
                rsps.get(url, **answer)
        else:
            rsps.get(url, json=body)
    client = GitLabClient(
        ClientConfig(
            url=BASE,
            token="glpat-EXAMPLEcrawlunit000000",
            workers=2,
            max_attempts=3,
            sleep=fake_time.sleep,
            clock=lambda: fake_time.now,
            wallclock=lambda: fake_time.now,
        )
    )
    try:
        return Crawler(client, CrawlOptions(groups=("acme",), workers=2)).run()
    finally:
        client.close()


def calls_to(rsps: responses.RequestsMock, url: str) -> int:
    return sum(1 for call in rsps.calls if call.request.url.split("?")[0] == url)


def test_healthy_crawl_is_complete(gitlab_mock, fake_time) -> None:
    s = run_crawl(gitlab_mock, fake_time)
    assert s.meta.complete
    project = s.projects[0]
    assert project.variables.status is Status.OK
    assert project.default_branch_protection is not None
    assert project.default_branch_protection.covered
    assert [r.id for r in s.runners] == [7]
    assert "GR1348941EXAMPLEnotstored" not in s.model_dump_json()


def test_403_is_forbidden(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/variables"
    s = run_crawl(
        gitlab_mock, fake_time, **{url: {"status": 403, "json": {"message": "403 Forbidden"}}}
    )
    section = s.projects[0].variables
    assert (section.status, section.http_status, section.data) == (Status.FORBIDDEN, 403, None)
    assert s.meta.complete  # known, not failed
    assert calls_to(gitlab_mock, url) == 1  # 4xx is never retried


def test_404_is_unavailable(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/approval_rules"
    s = run_crawl(
        gitlab_mock, fake_time, **{url: {"status": 404, "json": {"error": "404 Not Found"}}}
    )
    assert s.projects[0].approval_rules.status is Status.UNAVAILABLE
    assert s.projects[0].approval_rules.message == "404 Not Found"


def test_premium_403_is_unavailable_with_a_reason(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/approvals"
    s = run_crawl(
        gitlab_mock, fake_time, **{url: {"status": 403, "json": {"message": "403 Forbidden"}}}
    )
    section = s.projects[0].approval_settings
    assert section.status is Status.UNAVAILABLE
    assert "Premium" in (section.message or "")


def test_persistent_429_makes_exactly_the_configured_attempts_then_error(
    gitlab_mock, fake_time
) -> None:
    url = f"{PROJECT}/hooks"
    throttled = {
        "status": 429,
        "body": "Retry later\n",
        "content_type": "text/plain",
        "headers": {"Retry-After": "2"},
    }
    s = run_crawl(gitlab_mock, fake_time, **{url: throttled})
    section = s.projects[0].webhooks
    assert section.status is Status.ERROR
    assert section.http_status == 429
    assert calls_to(gitlab_mock, url) == 3  # max_attempts, not 3 x python-gitlab's 10
    assert not s.meta.complete
    assert [(e.target, e.section) for e in s.meta.errors] == [("project:acme/api", "webhooks")]
    assert s.projects[0].variables.status is Status.OK  # the rest of the crawl went on


def test_429_with_http_date_then_success(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/deploy_keys"
    first = {
        "status": 429,
        "body": "Retry later\n",
        "content_type": "text/plain",
        "headers": {"Retry-After": "Thu, 01 Jan 1970 00:16:45 GMT"},  # now (1000 s) + 5 s
    }
    s = run_crawl(gitlab_mock, fake_time, **{url: [first, {"json": []}]})
    assert s.projects[0].deploy_keys.status is Status.OK
    assert 5.0 in fake_time.sleeps


def test_5xx_then_success(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/job_token_scope"
    answers = [
        {"status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"},
        {"json": {"inbound_enabled": False}},
    ]
    s = run_crawl(gitlab_mock, fake_time, **{url: answers})
    scope = s.projects[0].job_token_scope
    assert scope.status is Status.OK
    assert scope.data is not None
    assert scope.data.inbound_enabled is False
    assert s.meta.run.retries == 1


def test_timeout_after_retries_is_error(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/variables"
    timeout = {"body": requests.exceptions.ReadTimeout("read timed out")}
    s = run_crawl(gitlab_mock, fake_time, **{url: timeout})
    section = s.projects[0].variables
    assert section.status is Status.ERROR
    assert section.http_status is None
    assert "timed out" in (section.message or "")
    assert calls_to(gitlab_mock, url) == 3


def test_runner_detail_forbidden_keeps_the_runner(gitlab_mock, fake_time) -> None:
    url = f"{API}/runners/7"
    s = run_crawl(
        gitlab_mock, fake_time, **{url: {"status": 403, "json": {"message": "403 Forbidden"}}}
    )
    assert s.runners[0].details.status is Status.FORBIDDEN
    assert s.projects[0].runners.status is Status.OK


def test_missing_admin_only_keys_mean_forbidden_not_false(gitlab_mock, fake_time) -> None:
    gitlab_mock.replace(
        responses.GET,
        f"{GROUP}/projects",
        json=[
            {
                k: v
                for k, v in PROJECT_JSON.items()
                if k != "ci_pipeline_variables_minimum_override_role"
            }
        ],
    )
    s = run_crawl(gitlab_mock, fake_time)
    assert s.projects[0].ci_settings.status is Status.FORBIDDEN
    assert s.projects[0].ci_settings.data is None


def test_token_revoked_mid_crawl_stops_the_crawl(gitlab_mock, fake_time) -> None:
    url = f"{PROJECT}/variables"
    with pytest.raises(AuthenticationError):
        run_crawl(
            gitlab_mock,
            fake_time,
            **{url: {"status": 401, "json": {"message": "401 Unauthorized"}}},
        )


def test_revoked_token_cancels_queued_work(gitlab_mock, fake_time) -> None:
    many = [dict(PROJECT_JSON, id=100 + i, path_with_namespace=f"acme/p{i}") for i in range(40)]
    gitlab_mock.replace(responses.GET, f"{GROUP}/projects", json=many)
    unauthorized = {"status": 401, "json": {"message": "401 Unauthorized"}}
    for project in many:
        base = f"{API}/projects/{project['id']}"
        for suffix in ("protected_branches", "approvals", "approval_rules", "variables"):
            gitlab_mock.get(f"{base}/{suffix}", **unauthorized)
    with pytest.raises(AuthenticationError):
        run_crawl(gitlab_mock, fake_time)
    project_calls = sum(1 for c in gitlab_mock.calls if "/projects/1" in c.request.url)
    assert project_calls < 40, "queued projects were still crawled after the token failed"
