"""The server itself: request log, latency, concurrency, clean shutdown, and the CLI."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from posture.errors import ConfigError
from posture.sandbox import LoggedRequest, Sandbox
from posture.sandbox.cli import add_serve_arguments, build_instance, parse_rate_limit
from posture.sandbox.instance import Group, Instance, Project, parse_instance

INSTANCE = {"groups": [{"path": "g", "projects": [{"path": "p"}, {"path": "q"}]}]}


def get(sb: Sandbox, path: str, session: requests.Session | None = None) -> requests.Response:
    client = session or requests
    return client.get(
        f"{sb.url}/api/v4{path}", headers={"PRIVATE-TOKEN": sb.token_for("owner")}, timeout=10
    )


def test_request_log_counts_and_duplicates() -> None:
    with Sandbox(parse_instance(INSTANCE)) as sb:
        get(sb, "/projects/1/hooks")
        get(sb, "/projects/2/hooks")
        get(sb, "/projects/1/hooks")
        get(sb, "/projects/g%2Fp?statistics=false")
        get(sb, "/projects/99")
        get(sb, "/projects/99")
        assert sb.request_log[0] == LoggedRequest(
            "GET", "/api/v4/projects/1/hooks", "", 200, "owner"
        )
        assert sb.request_log[3].query == "statistics=false"
        assert sb.requests_by_endpoint() == {
            "GET /projects/:id": 3,
            "GET /projects/:id/hooks": 3,
        }
        assert sb.duplicate_requests() == {"GET /api/v4/projects/1/hooks": 2}
        sb.reset_log()
        assert sb.request_log == []
        assert sb.requests_by_endpoint() == {}


def test_latency_is_added_and_requests_are_served_concurrently() -> None:
    with Sandbox(parse_instance(INSTANCE), latency_ms=300) as sb:
        start = time.perf_counter()
        assert get(sb, "/metadata").status_code == 200
        assert time.perf_counter() - start >= 0.3
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _i: get(sb, "/metadata").status_code, range(8)))
        elapsed = time.perf_counter() - start
        assert codes == [200] * 8
        assert elapsed < 1.2, f"8 x 300 ms took {elapsed:.2f}s: requests were serialised"


def test_stop_closes_keep_alive_connections_and_threads() -> None:
    before = threading.active_count()
    sb = Sandbox(parse_instance(INSTANCE)).start()
    session = requests.Session()
    assert get(sb, "/metadata", session).status_code == 200  # leaves a keep-alive connection
    port = sb.port
    start = time.perf_counter()
    sb.stop()
    assert time.perf_counter() - start < 3
    assert threading.active_count() == before
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    session.close()
    sb.stop()  # stopping twice is harmless


def test_started_twice_is_still_one_server() -> None:
    with Sandbox(parse_instance(INSTANCE)) as sb:
        port = sb.port
        assert sb.start().port == port


def test_token_for_unknown_role() -> None:
    with pytest.raises(ValueError, match="admin, owner, read_user, expired"):
        Sandbox.token_for("root")


def test_bad_options_are_config_errors() -> None:
    inst = parse_instance(INSTANCE)
    with pytest.raises(ConfigError):
        Sandbox(inst, latency_ms=-1)
    taken = Sandbox(inst).start()
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            Sandbox(inst, port=taken.port).start()
    finally:
        taken.stop()


# --- CLI -----------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_rate_limit_option() -> None:
    assert parse_rate_limit("600/60") == (600, 60.0)
    assert parse_rate_limit(None) is None
    for bad in ("600", "0/60", "x/60", "10/0"):
        with pytest.raises(ConfigError, match="N/SECONDS"):
            parse_rate_limit(bad)


def test_instance_options(tmp_path: Path) -> None:
    demo = build_instance(parse())
    assert any(g.path == "acme" for g in demo.groups)
    generated = build_instance(parse("--generate-projects", "30", "--generate-groups", "3"))
    assert len(list(generated.walk_projects())) == 30
    with pytest.raises(ConfigError):
        build_instance(parse("--instance", str(tmp_path / "x.yaml"), "--generate-projects", "3"))


def test_serve_prints_url_and_token_and_stops_on_sigterm() -> None:
    code = (
        "import argparse, sys\n"
        "from posture.sandbox.cli import add_serve_arguments, serve\n"
        "p = argparse.ArgumentParser(); add_serve_arguments(p)\n"
        "sys.exit(serve(p.parse_args(sys.argv[1:])))\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--role", "owner", "--path-prefix", "/gl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[1].strip().removeprefix("export GITLAB_URL=")
        token = lines[2].strip().removeprefix("export GITLAB_TOKEN=")
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/gl")
        assert token == Sandbox.token_for("owner")
        me = requests.get(f"{url}/api/v4/user", headers={"PRIVATE-TOKEN": token}, timeout=10)
        assert me.json()["username"] == "alex.owner"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_instances_built_in_code_are_served() -> None:
    inst = Instance(
        groups=[Group(path="a", projects=[Project(path="p")], subgroups=[Group(path="b")])]
    )
    with Sandbox(inst) as sb:
        project = get(sb, "/projects/a%2Fp").json()
        assert project["id"] == 1
        assert project["name_with_namespace"] == "A / P"
    assert [g.full_path for g, _p, _f in inst.walk_groups()] == ["a", "a/b"]
    assert inst.groups[0].projects[0].full_path == "a/p"
    assert [g.path for g in inst.top_level_groups()] == ["a"]
