"""GitLabClient over real loopback sockets: genuine timeouts, refusals and concurrency."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from posture.gitlab.client import ApiError, ClientConfig, GitLabClient

FAKE_TOKEN = "fake-token-for-tests-0000"


class _Handler(BaseHTTPRequestHandler):
    """Answers JSON for /api/v4/projects/:id; stalls on /api/v4/slow until released."""

    server: _Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.paths.append(self.path)
        if self.path.startswith("/api/v4/slow"):
            self.server.release.wait(2.0)
        body = json.dumps({"path": self.path}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up on a stalled request and closed the socket

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.paths: list[str] = []
        self.release = threading.Event()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def _client(port: int, **overrides: object) -> GitLabClient:
    cfg = ClientConfig(
        url=f"http://127.0.0.1:{port}",
        token=FAKE_TOKEN,
        sleep=lambda _s: None,
        **overrides,  # type: ignore[arg-type]
    )
    return GitLabClient(cfg)


def test_a_genuine_read_timeout_is_retried_then_reported(server: _Server) -> None:
    port = server.server_address[1]
    with _client(port, timeout=0.15, max_attempts=2) as client, pytest.raises(ApiError) as info:
        client.get("/slow")
    err = info.value
    assert (err.status, err.kind) == (None, "timeout")
    assert err.message == f"timed out after 0.15s waiting for 127.0.0.1:{port} to respond"
    assert server.paths == ["/api/v4/slow", "/api/v4/slow"]
    assert client.stats.attempts == 2
    assert client.stats.total == 1


def test_a_refused_connection_names_host_and_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: the kernel refuses at once.
    with _client(port, max_attempts=3) as client, pytest.raises(ApiError) as info:
        client.get("/version")
    assert info.value.kind == "connection"
    assert info.value.message == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert client.stats.attempts == 3


def test_threads_share_one_session_but_not_python_gitlab_objects(server: _Server) -> None:
    port = server.server_address[1]
    with _client(port, workers=4) as client:
        main_gl = client.gitlab()
        assert client.gitlab() is main_gl

        def fetch(n: int) -> tuple[int, object]:
            gl = client.gitlab()
            assert gl.session is main_gl.session
            return id(gl), client.get(f"/projects/{n}")["path"]

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(fetch, range(60)))

    assert [path for _, path in results] == [f"/api/v4/projects/{n}" for n in range(60)]
    worker_instances = {gl_id for gl_id, _ in results}
    assert id(main_gl) not in worker_instances
    assert 1 <= len(worker_instances) <= 4, "one python-gitlab instance per worker thread"
    snap = client.stats.snapshot()
    assert snap["total"] == snap["attempts"] == 60
    assert snap["by_endpoint"] == {"GET /projects/:id": 60}
    assert snap["duplicates"] == []
