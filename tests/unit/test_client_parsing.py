"""The HTTP layer's pure pieces: URL checks, endpoint names, error text, rate-limit headers."""

from __future__ import annotations

import email.utils
import json

import pytest

from posture.errors import ConfigError
from posture.gitlab.client import (
    ApiError,
    ClientConfig,
    GitLabClient,
    encode_id,
    error_message,
    normalise_base_url,
)
from posture.gitlab.endpoints import RequestStats, endpoint_template, request_key
from posture.gitlab.ratelimit import RateLimitPacer, parse_retry_after, wait_hint

NOW = 1_700_000_000.0
FAKE_TOKEN = "fake-token-for-tests-0000"


# --- base URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://gitlab.example.com", "http://10.0.0.5:8080", "http://gitlab.localhost.example.com"],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"refusing http:// to .*: use https \(plain HTTP is"):
        normalise_base_url(url)


def test_refusal_names_the_host_in_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        GitLabClient(ClientConfig(url="http://gitlab.example.com/", token=FAKE_TOKEN))
    assert str(info.value) == (
        "refusing http:// to gitlab.example.com: use https "
        "(plain HTTP is only allowed to a loopback sandbox)"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8929/", "http://127.0.0.1:8929"),
        ("http://127.1.2.3", "http://127.1.2.3"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8080/gitlab/", "http://[::1]:8080/gitlab"),
        ("https://GitLab.Example.com/gitlab/", "https://gitlab.example.com/gitlab"),
        ("https://gitlab.example.com", "https://gitlab.example.com"),
    ],
)
def test_accepted_urls_are_normalised(url: str, expected: str) -> None:
    assert normalise_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "no GitLab URL"),
        ("gitlab.example.com", "must start with https://"),
        ("ftp://gitlab.example.com", "must start with https://"),
        ("https://", "no host name"),
        ("https://gitlab.example.com:99999", "malformed"),
        ("https://gitlab.example.com/api/v4", "without /api/v4"),
        ("https://gitlab.example.com/?x=1", "query string"),
    ],
)
def test_malformed_urls_are_config_errors(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        normalise_base_url(url)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as info:
        normalise_base_url("https://robot:hunter2-fake@gitlab.example.com")
    assert "hunter2-fake" not in str(info.value)
    assert "credentials" in str(info.value)


def test_config_repr_hides_the_token() -> None:
    cfg = ClientConfig(url="https://gitlab.example.com", token=FAKE_TOKEN)
    assert FAKE_TOKEN not in repr(cfg)
    assert FAKE_TOKEN not in str(cfg)
    assert FAKE_TOKEN not in repr(GitLabClient(cfg))


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", 0), ("workers", 0), ("max_attempts", 0), ("max_retry_after", -1)],
)
def test_nonsense_numbers_are_config_errors(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        ClientConfig(url="https://gitlab.example.com", token=FAKE_TOKEN, **{field: value})


def test_missing_ca_bundle_is_a_config_error(tmp_path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match="CA bundle not found"):
        GitLabClient(ClientConfig(url="https://g.example.com", token=FAKE_TOKEN, ca_bundle=missing))


# --- ids and endpoint names -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, "12"),
        ("acme/platform", "acme%2Fplatform"),
        ("acme", "acme"),
        ("a b/c.d", "a%20b%2Fc.d"),
    ],
)
def test_encode_id(value: int | str, expected: str) -> None:
    assert encode_id(value) == expected


def test_encode_id_rejects_non_ids() -> None:
    with pytest.raises(TypeError):
        encode_id(True)
    with pytest.raises(ValueError, match="empty"):
        encode_id("")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/projects/12/protected_branches", "GET /projects/:id/protected_branches"),
        ("/groups/acme%2Fplatform", "GET /groups/:id"),
        ("/groups/acme", "GET /groups/:id"),
        ("/groups/acme/projects", "GET /groups/:id/projects"),
        ("/runners/31", "GET /runners/:id"),
        ("/runners/all", "GET /runners/all"),
        ("/groups", "GET /groups"),
        ("/projects/acme%2Fweb/variables/DEPLOY_KEY", "GET /projects/:id/variables/:id"),
        ("/projects/7/protected_branches/main", "GET /projects/:id/protected_branches/:id"),
        ("/application/settings", "GET /application/settings"),
        ("/admin/ci/variables", "GET /admin/ci/variables"),
        ("/projects/7/push_rule", "GET /projects/:id/push_rule"),
        (
            "https://gitlab.example.com/gitlab/api/v4/projects/9/hooks?page=2&per_page=100",
            "GET /projects/:id/hooks",
        ),
    ],
)
def test_endpoint_templates(path: str, expected: str) -> None:
    assert endpoint_template("get", path) == expected


def test_request_key_sorts_the_query_and_hides_credentials() -> None:
    url = "https://g.example.com/api/v4/projects?per_page=100&private_token=zzz-fake&page=2"
    assert request_key("GET", url) == ("GET /projects?page=2&per_page=100&private_token=[REDACTED]")


def test_stats_snapshot_is_sorted_and_json_ready() -> None:
    stats = RequestStats()
    stats.record_request("GET", "https://g.example.com/api/v4/projects/2")
    stats.record_request("GET", "https://g.example.com/api/v4/groups")
    stats.record_request("GET", "https://g.example.com/api/v4/projects/2")
    stats.record_wait(1.23456)
    snap = stats.snapshot()
    assert list(snap) == sorted(snap)
    assert list(snap["by_endpoint"]) == ["GET /groups", "GET /projects/:id"]
    assert snap["duplicates"] == ["GET /projects/2"]
    assert snap["rate_limit_wait_seconds"] == 1.235
    assert json.loads(json.dumps(snap)) == snap


# --- error messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b'{"message":"404 Project Not Found"}', 404, "404 Project Not Found"),
        (b'{"error":"404 Not Found"}', 404, "404 Not Found"),
        (b"Retry later\n", 429, "Retry later"),
        (
            b'{"message":{"error":"This endpoint has been requested too many times."}}',
            429,
            "This endpoint has been requested too many times.",
        ),
        (b'{"message":{"name":["has already been taken"]}}', 400, "name has already been taken"),
        (b'{"message":["first","second"]}', 400, "first; second"),
        (
            b'{"error":"insufficient_scope","error_description":"The request requires higher'
            b' privileges than provided by the access token.","scope":"api read_api"}',
            403,
            "insufficient_scope: The request requires higher privileges than provided by the "
            "access token.",
        ),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, "Bad Gateway"),
        (b"", 503, "Service Unavailable"),
    ],
)
def test_error_message_reads_every_gitlab_shape(body: bytes, status: int, expected: str) -> None:
    assert error_message(body, status) == expected


def test_error_message_is_one_short_line() -> None:
    body = json.dumps({"message": "word\n" * 200}).encode()
    text = error_message(body, 400)
    assert "\n" not in text
    assert len(text) <= 200
    assert text.endswith("…")


def test_api_error_str_adds_the_status_once() -> None:
    assert str(ApiError(403, "403 Forbidden", "GET /projects/:id/hooks")) == (
        "GET /projects/:id/hooks: 403 Forbidden"
    )
    assert str(ApiError(429, "Retry later", "GET /groups")) == "GET /groups: 429 Retry later"
    err = ApiError(None, "timed out after 30s", "GET /groups", kind="timeout")
    assert str(err) == "GET /groups: timed out after 30s"


# --- rate-limit headers ---------------------------------------------------------------


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after("3", NOW) == 3.0
    date = email.utils.formatdate(NOW + 42, usegmt=True)
    assert parse_retry_after(date, NOW) == 42.0
    past = email.utils.formatdate(NOW - 42, usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None


def test_wait_hint_prefers_retry_after_then_reset() -> None:
    assert wait_hint({"Retry-After": "4", "RateLimit-Reset": str(int(NOW) + 60)}, NOW) == 4.0
    assert wait_hint({"RateLimit-Reset": str(int(NOW) + 60)}, NOW) == 60.0
    assert wait_hint({"Retry-After": "garbage", "RateLimit-Reset": str(int(NOW) + 9)}, NOW) == 9.0
    assert wait_hint({}, NOW) is None


def test_pacer_waits_only_while_the_quota_is_spent() -> None:
    pacer = RateLimitPacer()
    assert pacer.delay(NOW) == 0.0
    pacer.observe({"RateLimit-Remaining": "5", "RateLimit-Reset": str(int(NOW) + 30)}, NOW)
    assert pacer.delay(NOW) == 0.0
    pacer.observe({"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(NOW) + 30)}, NOW)
    assert pacer.delay(NOW) == 30.0
    assert pacer.delay(NOW + 31) == 0.0
    pacer.observe({"Content-Type": "application/json"}, NOW)  # no quota headers: no change
    assert pacer.delay(NOW + 10) == 20.0
