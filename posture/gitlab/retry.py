"""The ``requests.Session`` that carries posture's single retry policy.

python-gitlab is handed this session and told never to retry itself, so every request is
retried here, once, with one budget. Only this layer sees every status and header
(python-gitlab's exceptions carry none), so ``Retry-After`` and ``RateLimit-*`` are read
here. The session also counts requests, paces them to the quota GitLab reports (one
``RateLimitPacer`` per session, so per token), and refuses to send the token anywhere but
the configured GitLab origin.
"""

from __future__ import annotations

import logging
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import tenacity

from posture.gitlab import ratelimit
from posture.gitlab.endpoints import RequestStats, display_url

log = logging.getLogger("posture.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry; clocks are injectable so tests never sleep."""

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    deadline: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wallclock: Callable[[], float] = time.time

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, initial·2^(n-1))]."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** min(attempt - 1, 60))
        # Jitter spreads retries from parallel workers; it is not a security decision.
        return random.uniform(0.0, ceiling)  # noqa: S311

    def past_deadline(self, delay: float) -> bool:
        return self.deadline is not None and self.clock() + delay > self.deadline


class ForeignOriginError(requests.exceptions.RequestException):
    """A redirect or pagination link pointed away from the GitLab origin; nothing was sent.

    requests strips only ``Authorization`` on a cross-host redirect, not ``PRIVATE-TOKEN``,
    so following such a link would hand the token to another host.
    """

    def __init__(self, host: str) -> None:
        super().__init__(f"refusing to send the token to {host}: the link left the GitLab origin")
        self.host = host


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the default port filled in."""
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    return scheme, (parsed.hostname or "").lower(), parsed.port or _DEFAULT_PORTS.get(scheme, 0)


def is_transient(exc: BaseException) -> bool:
    """Transport failures worth another try: refused or reset connections and timeouts.

    TLS errors are not retried: a certificate that fails verification fails every time.
    """
    if isinstance(exc, requests.exceptions.SSLError | ForeignOriginError):
        return False
    return isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError,
    )


def _describe_exception(exc: BaseException) -> str:
    """A short, header-free name for a transport failure, for the debug log."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection error"
    return type(exc).__name__


@dataclass
class _Call:
    """What one logical request has done so far, for the retry decisions and the log."""

    method: str
    shown: str
    last: str = ""
    rate_limited: bool = False
    give_up: str | None = None


class GitLabSession(requests.Session):
    """A session that retries GET/HEAD per ``RetryPolicy`` and records ``RequestStats``."""

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy,
        stats: RequestStats,
        pacer: ratelimit.RateLimitPacer | None = None,
    ) -> None:
        super().__init__()
        self._origin = origin_of(base_url)
        self.policy = policy
        self.stats = stats
        self.pacer = pacer or ratelimit.RateLimitPacer()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send one logical request, retrying transient failures; return the last response.

        A final non-2xx response is returned, not raised, so python-gitlab turns it into
        its usual exception; a final transport error is re-raised as is.
        """
        url = request.url or ""
        scheme, host, port = origin_of(url)
        if (scheme, host, port) != self._origin:
            raise ForeignOriginError(host or "an unknown host")
        method = (request.method or "GET").upper()
        self.stats.record_request(method, url)
        call = _Call(method=method, shown=display_url(url))
        if method not in RETRY_METHODS:
            return self._attempt(call, request, kwargs, retryable=False)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient)
            | tenacity.retry_if_result(lambda r: r.status_code in RETRY_STATUSES),
            wait=lambda rs: self._wait(call, rs),
            stop=lambda rs: call.give_up is not None,
            sleep=self.policy.sleep,
            before_sleep=lambda rs: self._before_sleep(call, rs),
            retry_error_callback=lambda rs: self._surrender(call, rs),
        )
        return retrying(self._attempt, call, request, kwargs, retryable=True)

    def _attempt(
        self,
        call: _Call,
        request: requests.PreparedRequest,
        kwargs: dict[str, Any],
        *,
        retryable: bool,
    ) -> requests.Response:
        ticket = self._pace(call)
        self.stats.record_attempt()
        started = self.policy.clock()
        try:
            response = super().send(request.copy(), **kwargs)
        except Exception as exc:
            self.pacer.release(ticket)
            outcome = _describe_exception(exc)
            call.last = f"{call.method} {call.shown} → {outcome}{self._ms(started)}"
            if not (retryable and is_transient(exc)):
                log.debug("%s", call.last)
            raise
        wall = self.policy.wallclock()
        call.rate_limited = response.status_code == 429
        self.pacer.observe(response.headers, wall, ticket=ticket, throttled=call.rate_limited)
        if call.rate_limited:
            self.stats.record_rate_limited()
        call.last = f"{call.method} {call.shown} → {response.status_code}{self._ms(started)}"
        if not (retryable and response.status_code in RETRY_STATUSES):
            log.debug("%s", call.last)
        return response

    def _ms(self, started: float) -> str:
        return f" in {max(0.0, self.policy.clock() - started) * 1000:.0f} ms"

    def _pace(self, call: _Call) -> int:
        """Wait for this attempt's slot in the shared budget; return the pacer's ticket.

        The slot is taken under the pacer's lock and slept for after it, so one worker's
        wait never blocks another's bookkeeping. A wait longer than the retry policy
        allows (``max_retry_after``, the deadline) is skipped: GitLab then answers 429 and
        the retry policy gives up on that request, as it would have.
        """
        delay, ticket = self.pacer.acquire(self.policy.wallclock())
        if delay <= 0:
            return ticket
        if delay > self.policy.max_retry_after or self.policy.past_deadline(delay):
            log.debug(
                "%s %s: quota spent for %.1f s more; sending without waiting",
                call.method,
                call.shown,
                delay,
            )
            return ticket
        if delay >= 1.0:  # spreading waits are milliseconds: only the long ones are news
            log.debug(
                "%s %s: rate limit quota spent, waiting %.1f s for the reset",
                call.method,
                call.shown,
                delay,
            )
        self.stats.record_wait(delay)
        self.policy.sleep(delay)
        return ticket

    def _wait(self, call: _Call, rs: tenacity.RetryCallState) -> float:
        """Choose the next delay, and decide here whether to give up (tenacity stops next)."""
        policy = self.policy
        attempt = rs.attempt_number
        if attempt >= policy.max_attempts:
            call.give_up = f"{attempt} of {policy.max_attempts} attempts used"
            return 0.0
        outcome = rs.outcome
        response = None if outcome is None or outcome.failed else outcome.result()
        delay: float | None = None
        if response is not None and response.status_code == 429:
            delay = ratelimit.wait_hint(response.headers, policy.wallclock())
            if delay is not None and delay > policy.max_retry_after:
                call.give_up = (
                    f"GitLab asks to wait {delay:.0f} s, over the "
                    f"{policy.max_retry_after:g} s limit"
                )
                return 0.0
        if delay is None:
            delay = policy.backoff(attempt)
        if policy.past_deadline(delay):
            call.give_up = f"waiting {delay:.1f} s would pass the deadline"
            return 0.0
        return delay

    def _before_sleep(self, call: _Call, rs: tenacity.RetryCallState) -> None:
        delay = rs.upcoming_sleep
        if rs.outcome is not None and not rs.outcome.failed:
            rs.outcome.result().close()  # hand the connection back before the next try
        self.stats.record_retry()
        if call.rate_limited:
            self.stats.record_wait(delay)
        log.debug(
            "%s, retrying in %.1f s (attempt %d/%d)",
            call.last,
            delay,
            rs.attempt_number + 1,
            self.policy.max_attempts,
        )

    def _surrender(self, call: _Call, rs: tenacity.RetryCallState) -> requests.Response:
        """Out of retries: hand back the last response, or re-raise the last error."""
        log.debug("%s, giving up: %s", call.last, call.give_up)
        if rs.outcome is None:  # tenacity always sets it before stopping
            raise RuntimeError("retry gave up before any attempt")
        return rs.outcome.result()
