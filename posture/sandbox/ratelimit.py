"""A per-token request-rate limit answering like GitLab's Rack::Attack throttle.

doc/administration/settings/user_and_ip_rate_limits.md: every response carries `RateLimit-*`
headers; beyond the limit the answer is 429 with `Retry-After` (seconds), `RateLimit-ResetTime`
(HTTP date) and the plain-text body `Retry later`. Why: the crawler's pacing and retry layer
must be exercised against the real header set, not a guess.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate


@dataclass(frozen=True)
class Verdict:
    """Whether to serve the request, and the headers to send either way."""

    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """Fixed windows aligned to the period (as Rack::Attack keys them), one count per key."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("rate limit needs at least 1 request per positive period")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def check(self, key: str, *, authenticated: bool) -> Verdict:
        """Count one request for `key` and say whether GitLab would serve it.

        The headers are `Gitlab::RackAttack::RequestThrottleData`'s: `RateLimit-Remaining` is
        the window's own limit minus the count (not the per-minute `RateLimit-Limit`), and
        `Retry-After` is the time to the window's end, at least 1 s.
        """
        now = self._clock()
        window = int(now // self.period)
        with self._lock:
            observed = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = observed
            if len(self._counts) > 10_000:  # forget old windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
        reset = (window + 1) * self.period
        headers = {
            # "The request quota for the client each minute" (the doc): normalised to 60 s.
            "RateLimit-Limit": str(math.ceil(self.limit * 60 / self.period)),
            "RateLimit-Name": (
                "throttle_authenticated_api" if authenticated else "throttle_unauthenticated_api"
            ),
            "RateLimit-Observed": str(observed),
            "RateLimit-Remaining": str(max(self.limit - observed, 0)),
            "RateLimit-Reset": str(math.ceil(reset)),
        }
        if observed <= self.limit:
            return Verdict(True, headers)
        headers["RateLimit-ResetTime"] = formatdate(reset, usegmt=True)
        headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return Verdict(False, headers)
