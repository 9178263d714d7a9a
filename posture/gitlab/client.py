"""The crawler's only door to GitLab: python-gitlab on a session that retries once, here.

``GitLabClient`` checks the URL before anything is sent, hands python-gitlab a shared
``GitLabSession`` (one connection pool, one retry policy, one set of counters) with
python-gitlab's own retries switched off, and turns every failure into a one-line
``ApiError`` or ``AuthenticationError`` that never carries the token, a header or a body.
"""

from __future__ import annotations

import http
import http.client
import http.cookiejar
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import gitlab
import gitlab.exceptions
import requests
import requests.adapters
import urllib3
import urllib3.exceptions

import posture
from posture.errors import AuthenticationError, ConfigError, PostureError
from posture.gitlab.endpoints import (
    API_PREFIX,
    RequestStats,
    encode_id,
    endpoint_template,
    request_key,
)
from posture.gitlab.retry import ForeignOriginError, GitLabSession, RetryPolicy

__all__ = [
    "ApiError",
    "ClientConfig",
    "GitLabClient",
    "OffsetLimitError",
    "RequestStats",
    "encode_id",
    "normalise_base_url",
]

ErrorKind = Literal["http", "timeout", "connection", "tls"]

MAX_MESSAGE = 200
PER_PAGE = 100
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class ClientConfig:
    """Everything the HTTP layer needs; the token never shows in ``repr``."""

    url: str
    token: str = field(repr=False)
    timeout: float = 30.0
    ca_bundle: str | os.PathLike[str] | None = None
    insecure: bool = False
    workers: int = 8
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    deadline: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wallclock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {self.timeout}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("backoff_initial", "backoff_max", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.insecure and self.ca_bundle is not None:
            raise ConfigError("a CA bundle and insecure mode exclude each other: choose one")


class ApiError(PostureError):
    """GitLab answered with an error after retries, or could not be reached.

    ``status`` is the HTTP status, or None when no response came (then ``kind`` says why:
    "timeout", "connection" or "tls"). ``endpoint`` is the template, e.g.
    "GET /projects/:id/hooks", so messages group well across thousands of projects.
    """

    def __init__(
        self,
        status: int | None,
        message: str,
        endpoint: str,
        *,
        kind: ErrorKind = "http",
        insufficient_scope: bool = False,
    ) -> None:
        self.status = status
        self.message = one_line(message)
        self.endpoint = endpoint
        self.kind: ErrorKind = kind
        self.insufficient_scope = insufficient_scope
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.status is None or self.message.startswith(str(self.status)):
            return f"{self.endpoint}: {self.message}"
        return f"{self.endpoint}: {self.status} {self.message}"

    #: True only on ``OffsetLimitError``: GitLab refused an offset page past its limit.
    offset_limit = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.message, self.endpoint), self.__dict__)


class OffsetLimitError(ApiError):
    """GitLab refused an offset page past its offset limit (405, 50,000 rows by default).

    The listing is not broken: the rows past the limit are only reachable with keyset
    pagination (``pagination=keyset``, where GitLab offers it) or narrower listings, so a
    crawler catches this one and changes its way of listing. ``limit`` is the row limit
    GitLab named, when it did.
    """

    offset_limit = True

    def __init__(
        self, status: int | None, message: str, endpoint: str, *, limit: int | None = None
    ) -> None:
        super().__init__(status, message, endpoint)
        self.limit = limit


# doc/api/rest/_index.md "Offset-based pagination"; the message is built by GitLab's
# API::Helpers::PaginationStrategies: "Offset pagination has a maximum allowed offset of
# 50000 for requests that return objects of type Project. Remaining records can be
# retrieved using keyset pagination."
_OFFSET_LIMIT = re.compile(r"maximum allowed offset of (\d+)", re.IGNORECASE)


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace and cut to ``limit`` characters, so a message fits a log line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _flatten(value: Any) -> str:
    """Render GitLab's ``message``/``error`` value, which may be a string, object or list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            text = _flatten(inner)
            parts.append(text if key in ("error", "message", "base") else f"{key} {text}")
        return "; ".join(parts)
    return json.dumps(value)


def _parse_body(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        return None


def error_message(body: bytes | None, status: int) -> str:
    """The short reason GitLab gave: ``message``, else ``error`` (+ description), else text.

    HTML error pages from a proxy are replaced by the status phrase: they are long and say
    nothing a user can act on.
    """
    data = _parse_body(body)
    text = ""
    if isinstance(data, dict):
        if data.get("message") not in (None, "", [], {}):
            text = _flatten(data["message"])
        elif data.get("error") not in (None, "", [], {}):
            text = _flatten(data["error"])
            if data.get("error_description"):
                text = f"{text}: {_flatten(data['error_description'])}"
    elif isinstance(data, str | list):
        text = _flatten(data)
    elif data is None and body:
        raw = body.decode("utf-8", errors="replace").strip()
        if not raw.startswith("<"):
            text = raw
    if not text.strip():
        try:
            text = http.HTTPStatus(status).phrase
        except ValueError:
            text = "error"
    return one_line(text)


def is_insufficient_scope(body: bytes | None) -> bool:
    """True for GitLab's OAuth-style answer to a token without the needed scope."""
    data = _parse_body(body)
    return isinstance(data, dict) and data.get("error") == "insufficient_scope"


def _auth_message(body: bytes | None) -> str:
    data = _parse_body(body)
    description = data.get("error_description") if isinstance(data, dict) else None
    if isinstance(description, str) and "expired" in description.lower():
        return "GitLab rejected the token (401): the token has expired"
    return "GitLab rejected the token (401): it is invalid or revoked"


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_base_url(url: str) -> str:
    """Check a GitLab base URL and return it without a trailing slash.

    Plain HTTP would send the token in clear text, so it is only accepted for a loopback
    sandbox. Credentials in the URL are refused without echoing it.
    """
    text = (url or "").strip()
    if not text:
        raise ConfigError("no GitLab URL was given")
    has_userinfo = "@" in urllib.parse.urlsplit(text).netloc if "://" in text else False
    shown = "the GitLab URL" if has_userinfo else f"GitLab URL {text!r}"
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"malformed {shown}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"{shown} must start with https://")
    if not host:
        raise ConfigError(f"malformed {shown}: no host name")
    if has_userinfo:
        raise ConfigError("the GitLab URL must not contain credentials: pass the token separately")
    if parts.query or parts.fragment:
        raise ConfigError(f"{shown} must not have a query string or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/api/v4"):
        raise ConfigError(f"{shown} must be the instance's base URL, without /api/v4")
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"refusing http:// to {host}: use https "
            "(plain HTTP is only allowed to a loopback sandbox)"
        )
    return f"{scheme}://{parts.netloc.lower()}{path}"


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception nested in a requests error: args, urllib3 reasons, causes."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        nested += [e for e in (current.__cause__, current.__context__) if e is not None]
        stack.extend(nested)


# "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: … (_ssl.c:1006)" -> the words
_SSL_DETAIL = re.compile(
    r"\[SSL(?::\s*[A-Z_]+)?\]\s*(?P<detail>[^()'\"]+?)\s*(?:\(_ssl\.c|['\")]|$)"
)


def _tls_detail(exc: BaseException) -> str:
    for nested in _exception_chain(exc):
        if isinstance(nested, ssl.SSLCertVerificationError) and getattr(
            nested, "verify_message", None
        ):
            return f"certificate verify failed: {nested.verify_message}"
    for nested in _exception_chain(exc):
        for text in [str(a) for a in nested.args if isinstance(a, str)] + [str(nested)]:
            match = _SSL_DETAIL.search(text)
            if match:
                return match.group("detail").strip()
    return "TLS handshake failed"


def _connection_reason(exc: BaseException) -> str:
    chain = list(_exception_chain(exc))
    checks: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        (ConnectionRefusedError, "connection refused"),
        ((socket.gaierror, urllib3.exceptions.NameResolutionError), "host name not found"),
        (ConnectionResetError, "connection reset"),
        (
            (http.client.RemoteDisconnected, urllib3.exceptions.ProtocolError),
            "connection closed by the server",
        ),
        (OSError, "network error"),
    ]
    for types, reason in checks:
        if any(isinstance(e, types) for e in chain):
            return reason
    return "connection failed"


class _OneAttemptGitlab(gitlab.Gitlab):
    """python-gitlab with its retry loop forced off on every call, wherever it comes from.

    Retries live in ``GitLabSession``; a second layer would multiply attempts (10 × N).
    """

    def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["obey_rate_limit"] = False
        kwargs["retry_transient_errors"] = False
        kwargs["max_retries"] = 0
        return super().http_request(verb, path, *args, **kwargs)


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy caller params; booleans go out as GitLab's documented ``true``/``false``."""
    return {
        k: ("true" if v else "false") if isinstance(v, bool) else v
        for k, v in (params or {}).items()
    }


def _check_path(path: str) -> None:
    # A full URL would make python-gitlab send the token wherever it points.
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path must be relative to /api/v4 and start with '/', got {path!r}")


class GitLabClient:
    """Read GitLab's REST API v4 from many threads through one pool and one retry policy."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.base_url = normalise_base_url(config.url)
        if not config.token:
            raise AuthenticationError("no GitLab token was given")
        if config.ca_bundle is not None and not os.path.exists(config.ca_bundle):
            raise ConfigError(f"CA bundle not found: {os.fspath(config.ca_bundle)}")
        parsed = urllib.parse.urlsplit(self.base_url)
        host = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._host = host
        self._where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._verify: bool | str = (
            os.fspath(config.ca_bundle) if config.ca_bundle is not None else not config.insecure
        )
        if config.insecure:
            # The caller prints one warning; urllib3 would print one per request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

        self.stats = RequestStats()
        policy = RetryPolicy(
            max_attempts=config.max_attempts,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            max_retry_after=config.max_retry_after,
            deadline=config.deadline,
            sleep=config.sleep,
            clock=config.clock,
            wallclock=config.wallclock,
        )
        session = GitLabSession(self.base_url, policy, self.stats)
        # One connection per worker, plus one for the crawl's main thread, which pages the
        # project listing while the workers run; fewer would open and discard connections.
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=config.workers + 1, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.verify = self._verify
        # API calls authenticate with the token; cookies would only add hidden state.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        if _is_loopback(host):
            session.trust_env = False  # a proxy cannot reach our loopback sandbox
        self._session = session
        self._local = threading.local()
        self._user_agent = f"gitlab-posture/{posture.__version__} {gitlab.const.USER_AGENT}"

    def __repr__(self) -> str:
        return f"GitLabClient({self.base_url!r})"

    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def gitlab(self) -> gitlab.Gitlab:
        """This thread's python-gitlab instance; all share one session and connection pool.

        python-gitlab objects stay bound to the instance that made them, so never pass one
        to another thread: pass ids and rebuild with ``gl.projects.get(id, lazy=True)``.
        """
        instance: gitlab.Gitlab | None = getattr(self._local, "gitlab", None)
        if instance is None:
            instance = _OneAttemptGitlab(
                url=self.base_url,
                private_token=self.config.token,
                ssl_verify=self._verify,
                timeout=self.config.timeout,
                per_page=PER_PAGE,
                user_agent=self._user_agent,
                retry_transient_errors=False,
                keep_base_url=True,
                session=self._session,
            )
            self._local.gitlab = instance
        return instance

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one resource and return its JSON (None for GitLab's literal ``null``)."""
        _check_path(path)
        endpoint = endpoint_template("GET", path)
        try:
            response = self.gitlab().http_request("get", path, query_data=_query(params))
        except (gitlab.exceptions.GitlabError, requests.exceptions.RequestException) as exc:
            raise self.translate_error(exc, endpoint) from None
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise ApiError(response.status_code, f"expected JSON, got {kind}", endpoint) from None

    def iter_list(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Yield every item of a list endpoint, page by page, following GitLab's ``Link``.

        Works alike for offset and keyset listings (``{"pagination": "keyset", "order_by":
        "id", "sort": "asc"}`` on ``/projects``): only ``rel="next"`` is followed, each page
        once; a next link back to a page already fetched ends the listing with an
        ``ApiError`` instead of a loop. GitLab refusing an offset page past its limit
        raises ``OffsetLimitError`` after the rows before it were yielded.

        Lazy: nothing is sent until the first item is asked for. ``page`` is refused:
        the links choose the pages.
        """
        _check_path(path)
        query = _query(params)
        if "page" in query:
            raise ValueError("iter_list follows every page itself: do not pass 'page'")
        query.setdefault("per_page", PER_PAGE)
        return self._iterate(path, query, endpoint_template("GET", path))

    def _iterate(self, path: str, query: dict[str, Any], endpoint: str) -> Iterator[dict]:
        errors = (gitlab.exceptions.GitlabError, requests.exceptions.RequestException)
        gl = self.gitlab()
        target: str = path
        data: dict[str, Any] | None = query
        fetched: set[str] = set()
        while True:
            try:
                response = gl.http_request("get", target, query_data=data)
            except errors as exc:
                raise self.translate_error(exc, endpoint) from None
            fetched.add(request_key("GET", response.request.url or target))
            items = self._json_list(response, endpoint)
            following = response.links.get("next", {}).get("url")
            response.close()
            yield from items
            if not following:
                return
            target = self._rebase(following)
            if request_key("GET", target) in fetched:
                raise ApiError(
                    None,
                    "GitLab's next-page link points back to a page already read; "
                    "the listing was stopped there",
                    endpoint,
                )
            data = None  # the link carries every parameter, cursor included

    @staticmethod
    def _json_list(response: requests.Response, endpoint: str) -> list[dict]:
        try:
            items = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise ApiError(response.status_code, f"expected JSON, got {kind}", endpoint) from None
        if not isinstance(items, list):
            shown = type(items).__name__ if items is not None else "null"
            raise ApiError(
                response.status_code, f"expected a JSON list, got {shown}", endpoint
            ) from None
        return items

    def _rebase(self, url: str) -> str:
        """A pagination link moved onto our base URL (python-gitlab's ``keep_base_url``).

        GitLab builds links from its own ``external_url``, which behind a proxy is often
        another host; the path from ``/api/v4`` on is what matters. A link without it is
        left alone, and the session refuses it if it leaves the GitLab origin.
        """
        ours = self.base_url + API_PREFIX
        if url.startswith(ours + "/") or url.startswith(ours + "?"):
            return url
        at = url.find(API_PREFIX + "/")
        return ours + url[at + len(API_PREFIX) :] if at >= 0 else url

    def list(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        """Every item of a list endpoint, all pages."""
        return list(self.iter_list(path, params))

    def close(self) -> None:
        """Close the shared connection pool."""
        self._session.close()

    def translate_error(self, exc: BaseException, endpoint: str) -> PostureError:
        """Turn a python-gitlab or requests exception into posture's one-line error.

        Public so code using ``gitlab()`` objects directly can report failures the same way.
        """
        if isinstance(exc, gitlab.exceptions.GitlabError):
            status = exc.response_code
            body = exc.response_body
            if status == 401:
                return AuthenticationError(_auth_message(body))
            if status is None:
                return ApiError(None, self._scrub(str(exc) or "unreadable response"), endpoint)
            message = self._scrub(error_message(body, status))
            limit = _OFFSET_LIMIT.search(message) if status == 405 else None
            if limit is not None:
                return OffsetLimitError(status, message, endpoint, limit=int(limit.group(1)))
            return ApiError(
                status,
                self._scrub(error_message(body, status)),
                endpoint,
                insufficient_scope=status == 403 and is_insufficient_scope(body),
            )
        return self._transport_error(exc, endpoint)

    def _transport_error(self, exc: BaseException, endpoint: str) -> ApiError:
        where = self._where
        timeout = f"{self.config.timeout:g}s"
        if isinstance(exc, ForeignOriginError):
            return ApiError(None, str(exc), endpoint)
        if isinstance(exc, requests.exceptions.SSLError):
            detail = _tls_detail(exc)
            if "verify failed" in detail:
                message = f"TLS verification failed for {self._host}: {detail}"
            else:
                message = f"TLS error talking to {where}: {detail}"
            return ApiError(None, message, endpoint, kind="tls")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            message = f"timed out after {timeout} connecting to {where}"
            return ApiError(None, message, endpoint, kind="timeout")
        if isinstance(exc, requests.exceptions.Timeout):
            message = f"timed out after {timeout} waiting for {where} to respond"
            return ApiError(None, message, endpoint, kind="timeout")
        if isinstance(exc, requests.exceptions.ConnectionError):
            message = f"cannot connect to {where}: {_connection_reason(exc)}"
            return ApiError(None, message, endpoint, kind="connection")
        if isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            return ApiError(None, f"broken response from {where}", endpoint)
        return ApiError(None, f"request to {where} failed ({type(exc).__name__})", endpoint)

    def _scrub(self, text: str) -> str:
        token = self.config.token
        return text.replace(token, "[REDACTED]") if len(token) >= 4 else text
