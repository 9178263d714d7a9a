"""The per-token rate limit: RateLimit-* headers, 429 with Retry-After and `Retry later`."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import gitlab
import requests

from posture.sandbox import Sandbox
from posture.sandbox.instance import parse_instance
from posture.sandbox.ratelimit import RateLimiter

INSTANCE = {"groups": [{"path": "g", "projects": [{"path": "p"}]}]}


def test_429_after_the_limit_with_gitlab_headers() -> None:
    with Sandbox(parse_instance(INSTANCE), rate_limit=(3, 60)) as sb:
        session = requests.Session()
        session.headers["PRIVATE-TOKEN"] = sb.token_for("admin")
        answers = [session.get(f"{sb.url}/api/v4/projects", timeout=10) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
        assert [r.headers["RateLimit-Observed"] for r in answers] == ["1", "2", "3", "4"]
        assert all(r.headers["RateLimit-Limit"] == "3" for r in answers)
        assert all(r.headers["RateLimit-Name"] == "throttle_authenticated_api" for r in answers)
        throttled = answers[-1]
        assert throttled.text == "Retry later\n"
        assert throttled.headers["Content-Type"].startswith("text/plain")
        retry_after = int(throttled.headers["Retry-After"])
        reset = int(throttled.headers["RateLimit-Reset"])
        reset_time = parsedate_to_datetime(throttled.headers["RateLimit-ResetTime"])
        assert 1 <= retry_after <= 60
        assert time.time() < reset <= time.time() + 61
        assert abs(reset_time.timestamp() - reset) < 1.5
        assert "Retry-After" not in answers[0].headers
        # Another token has its own window.
        other = requests.get(
            f"{sb.url}/api/v4/projects",
            headers={"PRIVATE-TOKEN": sb.token_for("owner")},
            timeout=10,
        )
        assert other.status_code == 200
        assert [e.status for e in sb.request_log][-2:] == [429, 200]


def test_limit_header_is_per_minute_like_gitlab() -> None:
    limiter = RateLimiter(10, 10, clock=lambda: 1000.0)
    verdict = limiter.check("t", authenticated=True)
    assert verdict.headers["RateLimit-Limit"] == "60"
    assert verdict.headers["RateLimit-Remaining"] == "9"


def test_windows_roll_over() -> None:
    now = [100.0]
    limiter = RateLimiter(1, 10, clock=lambda: now[0])
    assert limiter.check("t", authenticated=True).allowed
    assert not limiter.check("t", authenticated=True).allowed
    now[0] = 110.0
    assert limiter.check("t", authenticated=True).allowed


def test_python_gitlab_waits_and_retries_on_429() -> None:
    with Sandbox(parse_instance(INSTANCE), rate_limit=(2, 1)) as sb:
        gl = gitlab.Gitlab(sb.url, private_token=sb.token_for("admin"), timeout=10)
        time.sleep(1.01 - time.time() % 1)  # start at a window's beginning: 3 calls, 1 window
        results = [gl.http_get("/metadata") for _ in range(3)]
        assert all(r["enterprise"] is True for r in results)
        statuses = [e.status for e in sb.request_log]
        assert 429 in statuses
        assert statuses[-1] == 200
