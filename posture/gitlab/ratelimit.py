"""Reading GitLab's rate-limit headers, and pacing requests when the quota runs out.

GitLab says how long to wait in three ways (GITLAB-API.md §6): ``Retry-After`` in seconds
or as an HTTP date, and ``RateLimit-Reset`` as a Unix time. python-gitlab crashes on the
date form and never caps the wait; this module reads all of them and leaves the decision
to wait or give up to the retry policy.
"""

from __future__ import annotations

import email.utils
import threading
from collections.abc import Mapping

# A RateLimit-Reset below this is a delay in seconds (the IETF draft's meaning, sent by
# some proxies), not a Unix time (GitLab's meaning): 10**9 seconds is the year 2001.
_EPOCH_FLOOR = 1_000_000_000


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay or HTTP date); None if unreadable."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        return None
    return max(0.0, when.timestamp() - now)


def parse_reset(value: str, now: float) -> float | None:
    """Seconds until a ``RateLimit-Reset`` (Unix time; a small number is read as a delay)."""
    try:
        reset = float(value.strip())
    except ValueError:
        return None
    if reset < 0:
        return None
    if reset < _EPOCH_FLOOR:
        return reset
    return max(0.0, reset - now)


def wait_hint(headers: Mapping[str, str], now: float) -> float | None:
    """How long a 429 asks us to wait: Retry-After first, then RateLimit-Reset; else None.

    ``now`` is wall-clock Unix time, because both the HTTP date and the reset are.
    """
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        seconds = parse_retry_after(retry_after, now)
        if seconds is not None:
            return seconds
    reset = headers.get("RateLimit-Reset")
    if reset is not None:
        return parse_reset(reset, now)
    return None


class RateLimitPacer:
    """Remembers the latest quota GitLab reported, shared by every worker thread.

    When a response says ``RateLimit-Remaining: 0`` with a reset in the future, every
    further request waits for the reset instead of spending a request on a certain 429.
    Latest response wins; a later change may smooth the rate instead of stopping dead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float | None = None

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        """Record the quota from a response's headers; responses without them change nothing."""
        remaining = headers.get("RateLimit-Remaining")
        if remaining is None:
            return
        try:
            count = int(remaining.strip())
        except ValueError:
            return
        reset = headers.get("RateLimit-Reset")
        delay = parse_reset(reset, now) if reset is not None else None
        with self._lock:
            self._remaining = count
            self._reset_at = now + delay if delay is not None else None

    def delay(self, now: float) -> float:
        """Seconds to hold the next request: until the reset when the quota is spent, else 0."""
        with self._lock:
            if self._remaining != 0 or self._reset_at is None:
                return 0.0
            return max(0.0, self._reset_at - now)
