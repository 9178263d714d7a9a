"""Rate-limit pacing: one shared budget, spread over the window, never a 429 if avoidable.

The pacer is tested on explicit times, then through ``GitLabClient`` against a simulated
GitLab throttle on a fake clock (deterministic), and last against the sandbox's real
throttle over loopback with eight workers (the acceptance figures: 429s ≤ 1 % of requests,
wall ≤ 1.1 × requests ÷ rate).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import responses

from posture.gitlab.client import ClientConfig, GitLabClient
from posture.gitlab.endpoints import RequestStats
from posture.gitlab.ratelimit import RateLimitPacer, read_quota
from posture.gitlab.retry import GitLabSession, RetryPolicy
from posture.sandbox import Sandbox
from posture.sandbox.instance import parse_instance
from posture.sandbox.ratelimit import RateLimiter

NOW = 1_700_000_000.0  # a multiple of every window length used here
BASE = "https://gitlab.example.com"
API = f"{BASE}/api/v4"
FAKE_TOKEN = "fake-token-for-tests-0000"


def quota(remaining: int, reset_in: float, observed: int | None = None) -> dict[str, str]:
    """GitLab's headers for an answer with `remaining` left and the reset `reset_in` away."""
    headers = {
        "RateLimit-Name": "throttle_authenticated_api",
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(int(NOW + reset_in)),
    }
    if observed is not None:
        headers["RateLimit-Observed"] = str(observed)
    return headers


def take(pacer: RateLimitPacer, now: float, count: int) -> list[float]:
    """The send times of `count` requests asked for at `now` (each sent at its slot)."""
    return [now + pacer.acquire(now)[0] for _ in range(count)]


# --- the pacer on explicit times --------------------------------------------------------


def test_reading_the_quota_headers() -> None:
    q = read_quota(quota(33, 40, observed=67), NOW)
    assert q is not None
    assert (q.remaining, q.reset_at, q.limit) == (33, NOW + 40, 100)
    spent = read_quota(quota(0, 40, observed=101), NOW)
    assert spent is not None
    assert spent.limit is None, "a throttled answer's Observed is past the limit"
    assert read_quota({"Content-Type": "application/json"}, NOW) is None


def test_what_is_left_is_spread_evenly_until_the_reset() -> None:
    pacer = RateLimitPacer(margin=0)
    pacer.observe(quota(10, 10), NOW, ticket=pacer.acquire(NOW)[1])
    assert take(pacer, NOW, 5) == [NOW, NOW + 1, NOW + 2, NOW + 3, NOW + 4]
    # The rate follows the budget: half of it gone elsewhere, the gaps double.
    pacer.observe(quota(2, 10), NOW + 5)
    assert take(pacer, NOW + 5, 2) == [NOW + 5, NOW + 7.5]
    assert take(pacer, NOW + 5, 1) == [NOW + 10], "spent: the next one waits for the reset"


def test_nothing_known_means_no_waiting() -> None:
    pacer = RateLimitPacer()
    assert take(pacer, NOW, 20) == [NOW] * 20
    pacer.observe({"RateLimit-Remaining": "0"}, NOW)  # no reset: nothing to pace against
    assert pacer.delay(NOW) == 0.0


def test_a_margin_of_the_window_is_left_unused() -> None:
    pacer = RateLimitPacer(margin=0.02)
    pacer.observe(quota(3, 10, observed=97), NOW)  # 100 a window: 2 stay in reserve
    assert take(pacer, NOW, 2) == [NOW, NOW + 10]


def test_requests_still_in_flight_count_against_an_answer() -> None:
    pacer = RateLimitPacer(margin=0)
    tickets = [pacer.acquire(NOW)[1] for _ in range(3)]  # three sent before any answer
    # GitLab counted the first one with 3 left; the two sent after it will use 2 of them.
    pacer.observe(quota(3, 10), NOW, ticket=tickets[0])
    assert take(pacer, NOW, 2) == [NOW, NOW + 10]
    # Their answers, late and out of order, cannot raise the estimate again.
    pacer.observe(quota(2, 10), NOW + 0.1, ticket=tickets[2])
    pacer.observe(quota(1, 10), NOW + 0.1, ticket=tickets[1])
    assert pacer.delay(NOW + 0.1) == pytest.approx(9.9)


def test_a_new_window_replaces_the_old_one_and_stale_answers_are_ignored() -> None:
    pacer = RateLimitPacer(margin=0)
    pacer.observe(quota(0, 10), NOW)
    assert pacer.delay(NOW) == 10
    assert pacer.delay(NOW + 10) == 0, "after the reset the budget is unknown: go"
    pacer.observe(quota(4, 20), NOW + 10)  # the first answer of the next window
    pacer.observe(quota(0, 10), NOW + 10.2)  # a straggler from the window before
    assert take(pacer, NOW + 10, 3) == [NOW + 10, NOW + 12.5, NOW + 15]


def test_a_429_holds_every_worker_for_its_retry_after() -> None:
    """GitLab.com's 429s from the Projects, Groups and Users APIs carry no RateLimit-*."""
    pacer = RateLimitPacer()
    pacer.observe({"Retry-After": "7"}, NOW, throttled=True)
    assert take(pacer, NOW + 1, 3) == [NOW + 7] * 3
    assert pacer.delay(NOW + 7) == 0
    pacer.observe({"Retry-After": "7"}, NOW + 7)  # a 200 with Retry-After holds nobody
    assert pacer.delay(NOW + 7) == 0


def test_the_margin_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="margin"):
        RateLimitPacer(margin=1.5)


# --- through the client, against a simulated GitLab on a fake clock ----------------------


class FakeTime:
    """Wall and monotonic clocks that move only when the code sleeps or GitLab answers."""

    def __init__(self) -> None:
        self.wall = NOW
        self.mono = 50.0
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class SimulatedGitLab:
    """GitLab's Rack::Attack throttle (the sandbox's limiter) on the fake clock; every
    answer takes `latency` seconds."""

    def __init__(self, fake: FakeTime, limit: int, period: float, latency: float) -> None:
        self.fake = fake
        self.limiter = RateLimiter(limit, period, clock=lambda: fake.wall)
        self.latency = latency
        self.statuses: list[int] = []

    def answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        verdict = self.limiter.check(FAKE_TOKEN, authenticated=True)
        self.fake.advance(self.latency)
        status = 200 if verdict.allowed else 429
        self.statuses.append(status)
        body = json.dumps({"id": 1}) if verdict.allowed else "Retry later\n"
        return status, verdict.headers, body

    def spend(self, count: int) -> None:
        """Requests of the same user from elsewhere (another job, another shard)."""
        for _ in range(count):
            self.limiter.check(FAKE_TOKEN, authenticated=True)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def gitlab_sim(fake: FakeTime) -> Iterator[SimulatedGitLab]:
    sim = SimulatedGitLab(fake, limit=100, period=10.0, latency=0.01)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(API)}/projects/\d+"),
            callback=sim.answer,
            content_type="application/json",
        )
        yield sim


def make_client(fake: FakeTime) -> GitLabClient:
    return GitLabClient(
        ClientConfig(
            url=BASE,
            token=FAKE_TOKEN,
            sleep=fake.sleep,
            clock=lambda: fake.mono,
            wallclock=lambda: fake.wall,
        )
    )


def test_a_long_crawl_runs_at_the_granted_rate_without_a_429(
    fake: FakeTime, gitlab_sim: SimulatedGitLab
) -> None:
    """Unpaced, 10 ms answers would make 100 requests a second against 10 allowed."""
    with make_client(fake) as client:
        for n in range(1, 1001):
            client.get(f"/projects/{n}")
        stats = client.stats.snapshot()
    assert gitlab_sim.statuses.count(429) == 0
    assert stats["rate_limited"] == 0
    floor = 1000 / (100 / 10.0)  # requests ÷ rate
    elapsed = fake.wall - NOW
    assert 0.95 * floor <= elapsed <= 1.1 * floor
    assert stats["rate_limit_wait_seconds"] == pytest.approx(fake.slept, abs=0.01)
    assert fake.slept > 0.8 * floor


def test_a_window_partly_spent_elsewhere_is_shared_not_overrun(
    fake: FakeTime, gitlab_sim: SimulatedGitLab
) -> None:
    gitlab_sim.spend(90)  # another job of the same user took 90 of this window's 100
    with make_client(fake) as client:
        for n in range(1, 151):
            client.get(f"/projects/{n}")
    assert gitlab_sim.statuses.count(429) == 0
    # 8 in the first window (2 of its 100 stay in reserve), 98 in the next, 44 in the third.
    assert 20.0 < fake.wall - NOW < 30.0


def test_a_waiting_worker_holds_no_lock_others_need() -> None:
    """One worker sleeping until the reset must not block another's bookkeeping."""
    started, release = threading.Event(), threading.Event()

    def blocking_sleep(seconds: float) -> None:
        started.set()
        assert release.wait(10), "the test never released the sleeper"

    stats = RequestStats()
    pacer = RateLimitPacer()
    policy = RetryPolicy(sleep=blocking_sleep, wallclock=lambda: NOW)
    session = GitLabSession(BASE, policy, stats, pacer)
    pacer.observe(quota(0, 30), NOW)  # spent: the next request waits 30 s
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/projects/1", json={"id": 1})
        worker = threading.Thread(target=session.get, args=(f"{API}/projects/1",))
        worker.start()
        try:
            assert started.wait(5), "the worker never started waiting"
            done = threading.Event()

            def bookkeeping() -> None:
                pacer.observe(quota(0, 30), NOW)
                pacer.acquire(NOW)
                stats.record_request("GET", f"{API}/projects/2")
                stats.snapshot()
                done.set()

            threading.Thread(target=bookkeeping, daemon=True).start()
            assert done.wait(2), "bookkeeping blocked while a worker slept"
        finally:
            release.set()
            worker.join(5)
    assert not worker.is_alive()
    assert stats.snapshot()["rate_limit_wait_seconds"] == 30.0


# --- against the sandbox's throttle, eight workers, real time ----------------------------

LIMIT, PERIOD, WORKERS, REQUESTS = 100, 1.0, 8, 500


def _crawl(sandbox: Sandbox) -> tuple[float, dict[str, Any]]:
    """REQUESTS distinct GETs from WORKERS threads, started at a window's beginning."""
    paths = [
        f"/projects/{1 + n % 150}" + ("", "/hooks", "/variables", "/deploy_keys")[n // 150]
        for n in range(REQUESTS)
    ]
    config = ClientConfig(url=sandbox.url, token=sandbox.token_for("admin"), workers=WORKERS)
    with GitLabClient(config) as client, ThreadPoolExecutor(WORKERS) as pool:
        time.sleep(PERIOD - time.time() % PERIOD + 0.005)  # the worst case: a full window
        started = time.monotonic()
        list(pool.map(client.get, paths))
        return time.monotonic() - started, client.stats.snapshot()


@pytest.mark.integration
def test_eight_workers_against_the_sandbox_throttle_pace_to_the_limit() -> None:
    """The acceptance figures. The crawl starts at a window's beginning, so the sandbox's
    fixed windows give no head start: no slack is needed for their granularity."""
    instance = parse_instance(
        {"groups": [{"path": "g", "projects": [{"path": f"p{n:03d}"} for n in range(150)]}]}
    )
    with Sandbox(instance, rate_limit=(LIMIT, PERIOD)) as sandbox:
        wall, stats = _crawl(sandbox)
        statuses = [entry.status for entry in sandbox.request_log]
    sent = len(statuses)
    throttled = statuses.count(429)
    floor = sent / (LIMIT / PERIOD)
    print(f"\npacing: {sent} requests, {throttled} × 429, wall {wall:.2f} s, floor {floor:.2f} s")
    assert stats["total"] == REQUESTS
    assert stats["duplicates"] == []
    assert throttled <= 0.01 * sent
    assert wall <= 1.1 * floor
    assert wall >= 0.9 * floor, "faster than the limit allows: the throttle was not met"
    assert stats["rate_limit_wait_seconds"] > 0
