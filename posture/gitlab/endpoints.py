"""Endpoint names and request counting.

Benchmarks and the snapshot report how many requests a crawl issued and to which endpoints.
Counting by *template* ("GET /projects/:id/hooks") rather than by URL keeps that report
readable at 5,000 projects, and flagging repeated logical requests catches crawler bugs
that would otherwise only show up as a slow audit.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

API_PREFIX = "/api/v4"

# Collections whose items GitLab addresses by name as well as by number, so the segment
# after them is an identifier even when it is plain text ("/groups/acme",
# "/projects/:id/protected_branches/main", "/admin/ci/variables/DEPLOY_KEY").
_NAME_KEYED = frozenset(
    {
        "branches",
        "groups",
        "namespaces",
        "projects",
        "protected_branches",
        "protected_tags",
        "tags",
        "variables",
    }
)

# Query parameters that can carry a credential. GitLab accepts tokens in the query string;
# posture never sends them there, but a pagination link could echo one back.
_SECRET_PARAMS = frozenset({"private_token", "access_token", "job_token", "token"})


def encode_id(id_or_path: int | str) -> str:
    """Return a project or group id ready for a path: numbers as is, full paths URL-encoded.

    GitLab takes either form at ``:id``; a full path must have its slashes encoded
    ("acme/platform" -> "acme%2Fplatform") or the router sees extra segments.
    """
    if isinstance(id_or_path, bool) or not isinstance(id_or_path, int | str):
        raise TypeError(f"expected an int or str id, got {type(id_or_path).__name__}")
    if isinstance(id_or_path, int):
        return str(id_or_path)
    if not id_or_path:
        raise ValueError("an empty string is not a GitLab id or path")
    return urllib.parse.quote(id_or_path, safe="")


def api_relative(path: str) -> str:
    """Strip scheme, host, any base-URL prefix and ``/api/v4`` from a path or URL."""
    parsed = urllib.parse.urlsplit(path)
    raw = parsed.path or "/"
    index = raw.find(API_PREFIX + "/")
    if index >= 0:
        return raw[index + len(API_PREFIX) :]
    if raw.endswith(API_PREFIX):
        return "/"
    return raw


def endpoint_template(method: str, path: str) -> str:
    """Name the endpoint a request hits, e.g. ``GET /projects/:id/hooks``.

    Numeric ids, URL-encoded paths and the item after a name-keyed collection become
    ``:id``; literal route words ("all", "hooks", "subgroups") are kept.
    """
    segments = [s for s in api_relative(path).split("/") if s]
    out: list[str] = []
    previous_literal = ""
    for segment in segments:
        if segment.isdigit() or "%" in segment or previous_literal in _NAME_KEYED:
            out.append(":id")
            previous_literal = ""
        else:
            out.append(segment)
            previous_literal = segment
    return f"{method.upper()} /{'/'.join(out)}"


def redact_query(query: str) -> list[tuple[str, str]]:
    """Parse a query string into sorted pairs, hiding values of credential parameters."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return sorted((k, "[REDACTED]" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs)


def display_url(url: str) -> str:
    """Path and query of a URL, safe to log: no host, no credential values."""
    parsed = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode(redact_query(parsed.query), safe="[]:,")
    return f"{parsed.path}?{query}" if query else parsed.path


def request_key(method: str, url: str) -> str:
    """Identify a logical request: method, API path and sorted query (pages stay distinct)."""
    parsed = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode(redact_query(parsed.query), safe="[]:,")
    path = api_relative(url)
    return f"{method.upper()} {path}?{query}" if query else f"{method.upper()} {path}"


class RequestStats:
    """Thread-safe counters of what the client sent, for the snapshot and benchmarks.

    ``total`` counts logical requests (one per page), ``attempts`` every try on the wire,
    so ``attempts - total`` is the cost of retries.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._attempts = 0
        self._retries = 0
        self._rate_limited = 0
        self._rate_limit_wait = 0.0
        self._by_endpoint: dict[str, int] = {}
        # Hashes, not the URLs: a 20,000-project crawl sends ~185,000 requests, and their
        # keys as strings cost ~45 MB. A false duplicate needs a 64-bit hash collision.
        self._seen: set[int] = set()
        self._duplicates: list[str] = []
        self._reported: set[str] = set()

    def record_request(self, method: str, url: str) -> None:
        """Count one logical request and remember it to spot duplicates."""
        endpoint = endpoint_template(method, url)
        key = request_key(method, url)
        with self._lock:
            self._total += 1
            self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1
            digest = hash(key)
            if digest not in self._seen:
                self._seen.add(digest)
            elif key not in self._reported:
                self._reported.add(key)
                self._duplicates.append(key)

    def record_attempt(self) -> None:
        with self._lock:
            self._attempts += 1

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def record_rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    def record_wait(self, seconds: float) -> None:
        """Add time spent waiting on GitLab's rate limit (429 or pacing)."""
        with self._lock:
            self._rate_limit_wait += seconds

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    @property
    def attempts(self) -> int:
        with self._lock:
            return self._attempts

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retries

    @property
    def rate_limited(self) -> int:
        with self._lock:
            return self._rate_limited

    @property
    def rate_limit_wait_seconds(self) -> float:
        with self._lock:
            return self._rate_limit_wait

    @property
    def by_endpoint(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_endpoint)

    @property
    def duplicates(self) -> list[str]:
        with self._lock:
            return list(self._duplicates)

    def snapshot(self) -> dict[str, Any]:
        """A plain, JSON-ready copy with sorted keys, taken under one lock."""
        with self._lock:
            return {
                "attempts": self._attempts,
                "by_endpoint": dict(sorted(self._by_endpoint.items())),
                "duplicates": sorted(self._duplicates),
                "rate_limit_wait_seconds": round(self._rate_limit_wait, 3),
                "rate_limited": self._rate_limited,
                "retries": self._retries,
                "total": self._total,
            }

    def __repr__(self) -> str:
        snap = self.snapshot()
        return (
            f"RequestStats(total={snap['total']}, attempts={snap['attempts']}, "
            f"retries={snap['retries']}, rate_limited={snap['rate_limited']})"
        )
