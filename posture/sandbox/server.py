"""The sandbox HTTP server: a loopback GitLab REST v4 endpoint in a background thread.

Why a real server and not a mock: posture's crawler, its retries and python-gitlab's paging
must be exercised over real HTTP, as they will be against GitLab. This module is the HTTP
edge only: it parses, authenticates, throttles, delays, logs; `routes.py` decides answers.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from posture.errors import ConfigError
from posture.sandbox import access
from posture.sandbox.audit import AuditLog
from posture.sandbox.catalog import Catalog
from posture.sandbox.faults import Fault
from posture.sandbox.instance import finalize
from posture.sandbox.pagination import OFFSET_LIMIT, RequestURL
from posture.sandbox.params import parse_body
from posture.sandbox.ratelimit import RateLimiter
from posture.sandbox.routes import NOT_FOUND_ROUTE, HttpError, Request, Response, Router, dumps
from posture.sandbox.serialize import Flavor
from posture.sandbox.writes import NOT_ALLOWED, Writer

if TYPE_CHECKING:
    from types import TracebackType

    from posture.sandbox.instance import Instance

_REDACTED_PARAMS = ("private_token", "access_token", "job_token")
# Write parameters that may carry a secret when a client sends them in the query string.
_REDACTED_WRITE_PARAMS = ("value", "token", "url", "custom_headers", "url_variables")
_REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request. `query` has token parameters redacted; `role` is None when the
    request carried no known token."""

    method: str
    path: str
    query: str
    status: int
    role: str | None


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can close its open keep-alive connections on stop."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # socketserver's default backlog is 5: sixteen workers connecting at once overflow it,
    # and each dropped SYN costs the client a 1 s retransmission (a GitLab never does that).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_one, args=(request, client_address), daemon=True
        )
        with self._open_lock:
            self._open.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            # A client that breaks off mid-request must not take the server down with it.
            with contextlib.suppress(Exception):
                self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._open_lock:
                self._open.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut every open connection so handler threads return, then wait for them."""
        with self._open_lock:
            sockets = list(self._open)
            threads = list(self._handler_threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    """Parses one request and writes the router's answer; keep-alive (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the sandbox keeps its own log, and stderr noise breaks CLI output."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response, endpoint, role, path, query = sandbox.respond(
            self.command, self.path, self.headers, self.client_address[0], body
        )
        if sandbox.latency_s:
            time.sleep(sandbox.latency_s)
        # Logged before the write: a client that has its answer always finds it in the log.
        sandbox.record(LoggedRequest(self.command, path, query, response.status, role), endpoint)
        # One write for head and body: two small writes meet Nagle and delayed ACKs and
        # cost ~40 ms per request on keep-alive connections.
        reason = _REASONS.get(response.status, "")
        head = [
            f"HTTP/1.1 {response.status} {reason}",
            "Server: nginx",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers.items()),
        ]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)


class Sandbox:
    """A loopback GitLab REST v4 server seeded from an `Instance`.

    Use as a context manager, or `start()`/`stop()`. Give `url` and `token_for(role)` to
    python-gitlab. The request log says what a client asked for, in order.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        tier: str = "premium",
        edition: str = "ee",
        latency_ms: float = 0,
        rate_limit: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path_prefix: str = "",
        faults: Sequence[Fault] = (),
        audit_untracked_writes: bool = True,
        offset_limit: int = OFFSET_LIMIT,
    ) -> None:
        if tier not in ("free", "premium"):
            raise ConfigError(f"unknown tier {tier!r}; use free or premium")
        if edition not in ("ee", "ce"):
            raise ConfigError(f"unknown edition {edition!r}; use ee or ce")
        if edition == "ce" and tier == "premium":
            raise ConfigError("GitLab CE has no Premium tier; use tier='free' with edition='ce'")
        if latency_ms < 0:
            raise ConfigError("latency_ms must not be negative")
        if offset_limit < 0:
            raise ConfigError("offset_limit must not be negative (0 turns the limit off)")
        prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        self.instance = instance
        self.tier = tier
        self.edition = edition
        self.latency_s = latency_ms / 1000.0
        self.host = host
        self.port = port
        self.path_prefix = prefix
        self.offset_limit = offset_limit
        # Instances built in code have no ids yet; finalizing is idempotent for loaded ones.
        self.catalog = _without_gc(lambda: Catalog(finalize(instance)))
        self._limiter = RateLimiter(*rate_limit) if rate_limit else None
        self.faults = list(faults)
        self._identities = access.identities(instance.users.admin, instance.users.owner)
        self.audit_log = AuditLog()
        self.audit_untracked_writes = audit_untracked_writes
        self._writer = Writer(self, ee=edition == "ee")
        self._router: Router | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[tuple[LoggedRequest, str]] = []
        self._log_lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind and serve from a background thread; returns self."""
        if self._server is not None:
            return self
        try:
            server = _Server((self.host, self.port), self)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror})"
            ) from None
        self.port = server.server_address[1]
        flavor = Flavor(self.catalog, self.url, self.tier, self.edition)
        self._router = Router(flavor, self.audit_log, offset_limit=self.offset_limit)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and join every thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(5.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what clients need ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for python-gitlab, e.g. http://127.0.0.1:41234 (plus the path prefix)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path_prefix}"

    @staticmethod
    def token_for(role: str) -> str:
        """The fake token for "admin", "owner", "read_user", "expired" or "owner_api"."""
        return access.token_for(role)

    # --- state and audit events ----------------------------------------------------------

    @property
    def router(self) -> Router:
        """The router of the current state; a request keeps the one it started with."""
        assert self._router is not None, "the sandbox is not started"
        return self._router

    def install(self, instance: Instance) -> Router:
        """Serve a changed (finalized) instance: new catalog, new router, empty caches.

        One attribute assignment swaps the router, so a concurrent GET sees the old state
        or the new one, never a mix.
        """
        catalog = Catalog(instance)
        flavor = Flavor(catalog, self.url, self.tier, self.edition)
        router = Router(flavor, self.audit_log, offset_limit=self.offset_limit)
        self.instance = instance
        self.catalog = catalog
        self._router = router
        return router

    @property
    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event recorded so far, oldest first, as the API serialises them."""
        return [copy.deepcopy(event.body) for event in self.audit_log.all()]

    # --- the request log -----------------------------------------------------------------

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Every request answered so far, in order (a copy)."""
        with self._log_lock:
            return [entry for entry, _endpoint in self._log]

    def requests_by_endpoint(self) -> dict[str, int]:
        """Counts per endpoint template without /api/v4, e.g. {"GET /projects/:id/hooks": 25}."""
        with self._log_lock:
            counts = Counter(f"{e.method} {endpoint}" for e, endpoint in self._log)
        return dict(sorted(counts.items()))

    def duplicate_requests(self) -> dict[str, int]:
        """Requests (method, path and query) answered 2xx more than once, with their counts."""
        with self._log_lock:
            counts = Counter(
                f"{e.method} {e.path}" + (f"?{e.query}" if e.query else "")
                for e, _endpoint in self._log
                if 200 <= e.status < 300
            )
        return {key: n for key, n in sorted(counts.items()) if n > 1}

    def reset_log(self) -> None:
        """Forget every logged request (rate-limit windows are kept)."""
        with self._log_lock:
            self._log.clear()

    def record(self, entry: LoggedRequest, endpoint: str) -> None:
        with self._log_lock:
            self._log.append((entry, endpoint))

    # --- answering -----------------------------------------------------------------------

    def respond(
        self, method: str, raw_path: str, headers: Any, client_ip: str, body: bytes = b""
    ) -> tuple[Response, str, str | None, str, str]:
        """Answer one request: (response, endpoint template, role, path, redacted query)."""
        path, _sep, query = raw_path.partition("?")
        params_list = parse_qsl(query, keep_blank_values=True)
        token = access.bearer_token(
            headers.get("PRIVATE-TOKEN"), headers.get("Authorization")
        ) or next((v for k, v in params_list if k == "private_token"), None)
        identity = self._identities.get(token) if token else None
        role = identity.role if identity else None
        logged_query = _redact(query, write=method != "GET")

        limit_headers: dict[str, str] = {}
        if self._limiter is not None:
            verdict = self._limiter.check(token or client_ip, authenticated=identity is not None)
            limit_headers = verdict.headers
            if not verdict.allowed:
                response = Response(429, b"Retry later\n", limit_headers, "text/plain")
                return response, "<throttled>", role, path, logged_query

        api_root = f"{self.path_prefix}/api/v4"
        assert self._router is not None
        if path != api_root and not path.startswith(api_root + "/"):
            response = Response(404, dumps(NOT_FOUND_ROUTE))
            endpoint = "<unknown route>"
        else:
            rest = path[len(api_root) :].strip("/")
            segments = tuple(unquote(s) for s in rest.split("/")) if rest else ()
            host = headers.get("Host") or f"{self.host}:{self.port}"
            url = RequestURL("http", host, path, query)
            write = self._writer.match(method, segments) if method != "GET" else None
            if write is not None:
                route, args = write
                endpoint = route.template
                fault = next((f for f in self.faults if f.take(f"{method} {endpoint}")), None)
                if fault is not None:  # an injected fault fails the write before it applies
                    return (
                        Response(fault.status, dumps(fault.body), limit_headers),
                        endpoint,
                        role,
                        path,
                        logged_query,
                    )
                try:
                    parsed = parse_body(body, headers.get("Content-Type"))
                except HttpError as err:
                    response = Router.error(err.status, err.body)
                else:
                    request = Request(
                        method, segments, dict(params_list), url, identity, parsed, client_ip
                    )
                    response = self._writer.handle(request, route, args)
            else:
                request = Request(method, segments, dict(params_list), url, identity)
                router = self._router  # one read: this request sees one state throughout
                response, endpoint = router.handle(request)
                if (
                    method != "GET"
                    and response.status == 404
                    and self._writer.other_method(segments)
                ):
                    response = Response(405, dumps(NOT_ALLOWED))
                fault = next((f for f in self.faults if f.take(f"{method} {endpoint}")), None)
                if fault is not None:
                    response = Response(fault.status, dumps(fault.body))
        response.headers.update(limit_headers)
        return response, endpoint, role, path, logged_query


def _without_gc(build: Callable[[], Catalog]) -> Catalog:
    """Build a catalog with the cyclic GC paused: at 50,000 projects its passes over the
    many small objects take four times as long as the build itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return build()
    finally:
        if was_enabled:
            gc.enable()


def _redact(query: str, *, write: bool = False) -> str:
    """The raw query as logged, token parameters (and for writes, values, hook URLs and
    headers) replaced: no credential reaches the log."""
    if not query:
        return ""
    pieces = []
    for piece in query.split("&"):
        key = unquote(piece.partition("=")[0])
        secret = key in _REDACTED_PARAMS or (
            write and key.split("[", 1)[0] in _REDACTED_WRITE_PARAMS
        )
        pieces.append(f"{key}=[FILTERED]" if secret else piece)
    return "&".join(pieces)
