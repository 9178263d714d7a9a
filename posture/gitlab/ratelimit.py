"""Reading GitLab's rate-limit headers, and pacing requests so the quota is never spent.

GitLab says how long to wait in three ways (GITLAB-API.md §6): ``Retry-After`` in seconds
or as an HTTP date, and ``RateLimit-Reset`` as a Unix time. python-gitlab crashes on the
date form and never caps the wait; this module reads all of them and leaves the decision
to wait or give up to the retry policy.

Why pace and not just retry: GitLab counts requests per user in fixed windows (Rack::Attack,
``now / period``), 2,000 a minute on GitLab.com. A crawler that runs until it meets a 429
wastes requests, and its workers stampede the next window together. ``RateLimitPacer``
spreads what is left of the window over the time left in it, so a long crawl runs at the
rate GitLab grants and gets (almost) no 429 at all.
"""

from __future__ import annotations

import email.utils
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

# A RateLimit-Reset below this is a delay in seconds (the IETF draft's meaning, sent by
# some proxies), not a Unix time (GitLab's meaning): 10**9 seconds is the year 2001.
_EPOCH_FLOOR = 1_000_000_000
# Reset values are whole seconds: two within this distance name the same window.
_SAME_WINDOW = 0.5
#: Share of each window's budget left unused: it absorbs requests of the same user outside
#: this crawl and a client clock a little ahead of GitLab's (requests sent just before the
#: reset GitLab counts in the old window).
DEFAULT_MARGIN = 0.02


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
        return seconds if seconds >= 0 and math.isfinite(seconds) else None
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
    if reset < 0 or not math.isfinite(reset):
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


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Quota:
    """What one response said about the user's window.

    ``reset_at`` is wall-clock Unix time; ``limit`` (requests per window) is known only from
    an answer that still had quota left, as ``Observed + Remaining``: ``RateLimit-Limit`` is
    normalised to a minute and says nothing exact about windows of another length.
    """

    remaining: int
    reset_at: float | None
    limit: int | None


def read_quota(headers: Mapping[str, str], now: float) -> Quota | None:
    """The quota in a response's ``RateLimit-*`` headers, or None when it carries none."""
    remaining = _int_header(headers, "RateLimit-Remaining")
    if remaining is None:
        return None
    reset = headers.get("RateLimit-Reset")
    delay = parse_reset(reset, now) if reset is not None else None
    observed = _int_header(headers, "RateLimit-Observed")
    limit = observed + remaining if observed is not None and remaining > 0 else None
    return Quota(max(remaining, 0), now + delay if delay is not None else None, limit)


class RateLimitPacer:
    """One request budget per client (one token), shared by every worker thread.

    The algorithm, on wall-clock time:

    - each response's ``RateLimit-Remaining``, minus this client's other requests still in
      flight (GitLab may count them after this one), estimates what is left of the window
      ending at ``RateLimit-Reset``; within a window only the lowest estimate counts, a
      later window replaces it, an earlier one is ignored. Requests answered meanwhile need
      no correction: their own answers are estimates too. (Counting "sent after this one"
      instead would count twice every request GitLab saw before a delayed one.);
    - each request takes a slot: what is left, less a margin (``margin`` of the window's
      limit), is spread evenly over the time until the reset, so the next slot comes
      ``time left / budget left`` later. A client that starts mid-window, or is alone,
      uses the leftover too: the rate adapts every request, never stalls at a fixed one;
    - when nothing is left, every request waits for the reset; after it, the budget is
      unknown until the first answer of the new window, so the workers go at once;
    - a 429 holds every worker, not just the one that met it, for its ``Retry-After``
      (GitLab.com's 429s from some APIs carry no ``RateLimit-*`` header at all).

    The lock is held only to compute a slot; callers sleep after releasing it.
    """

    def __init__(self, margin: float = DEFAULT_MARGIN) -> None:
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {margin}")
        self._margin = margin
        self._lock = threading.Lock()
        self._issued = 0  # tickets handed out: requests sent through the pacer
        self._open: set[int] = set()  # tickets whose answer has not come yet
        self._reset_at: float | None = None  # end of the window the estimate is about
        self._remaining = 0.0  # requests left in that window after every ticket issued
        self._limit: int | None = None  # requests per window, when known
        self._next_at = -math.inf  # earliest wall time of the next slot
        self._hold_until = -math.inf  # a 429's Retry-After, for every worker

    def acquire(self, now: float) -> tuple[float, int]:
        """Take the next slot: (seconds to wait before sending, ticket for ``observe``)."""
        with self._lock:
            slot, spread = self._slot(now)
            if spread is not None:
                self._remaining -= 1
                self._next_at = slot + spread
            self._issued += 1
            self._open.add(self._issued)
            return slot - now, self._issued

    def release(self, ticket: int) -> None:
        """Forget a ticket whose request got no answer (a transport error)."""
        with self._lock:
            self._open.discard(ticket)

    def delay(self, now: float) -> float:
        """Seconds the next request would wait, without taking its slot."""
        with self._lock:
            return self._slot(now)[0] - now

    def _slot(self, now: float) -> tuple[float, float | None]:
        """The next slot, and the interval after it (None: no budget to spend, or unknown)."""
        slot = max(now, self._next_at, self._hold_until)
        reset_at = self._reset_at
        if reset_at is None or slot >= reset_at:
            return slot, None  # no quota known for this window
        usable = self._remaining - self._reserve()
        if usable < 1:
            return reset_at, None  # spent: wait for the reset
        return slot, (reset_at - slot) / usable

    def _reserve(self) -> int:
        return math.ceil(self._margin * self._limit) if self._limit else 0

    def observe(
        self,
        headers: Mapping[str, str],
        now: float,
        *,
        ticket: int | None = None,
        throttled: bool = False,
    ) -> None:
        """Record what a response said; ``ticket`` is the one ``acquire`` gave its request.

        Responses without ``RateLimit-*`` headers change only that the ticket is answered,
        unless ``throttled`` (a 429): then its wait hint holds every request. Without a
        ticket, nothing is known of the requests in flight: none is subtracted.
        """
        hint = wait_hint(headers, now) if throttled else None
        quota = read_quota(headers, now)
        with self._lock:
            if ticket is not None:
                self._open.discard(ticket)
            if hint is not None:
                self._hold_until = max(self._hold_until, now + hint)
            if quota is None or quota.reset_at is None:
                return
            in_flight = len(self._open) if ticket is not None else 0
            estimate = float(quota.remaining - in_flight)
            if quota.limit is not None:
                self._limit = quota.limit
            current = self._reset_at
            if current is None or quota.reset_at > current + _SAME_WINDOW:
                self._reset_at = quota.reset_at
                self._remaining = estimate
            elif quota.reset_at >= current - _SAME_WINDOW:
                self._remaining = min(self._remaining, estimate)
            # else: an answer from a window already over says nothing about this one
