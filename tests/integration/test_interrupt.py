"""Ctrl+C and SIGTERM (a cancelled CI job) stop a crawl within 2 seconds with exit 130, and
the previous output file is left exactly as it was, with no temporary file beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from posture.sandbox import Sandbox

pytestmark = pytest.mark.integration


def _wait_for_project_requests(sb: Sandbox, timeout: float = 20.0) -> None:
    """Until the crawl is in its parallel phase (project sections being fetched)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any("/protected_branches" in e.path for e in sb.request_log):
            return
        time.sleep(0.05)
    raise AssertionError("the crawl never reached the project sections")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_fast_and_keeps_the_previous_file(demo, tmp_path: Path, signum) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "posture.snapshot.json"
    output.write_text("last night's snapshot\n")
    with Sandbox(demo, latency_ms=250) as sb:
        env = dict(os.environ, GITLAB_TOKEN=sb.token_for("admin"), NO_COLOR="1")
        env.pop("GITLAB_URL", None)
        argv = [sys.executable, "-m", "posture.cli", "snapshot", "--url", sb.url]
        argv += ["--group", "acme", "--workers", "4", "-o", str(output)]
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
        )
        try:
            _wait_for_project_requests(sb)
            sent = time.monotonic()
            process.send_signal(signum)
            _out, err = process.communicate(timeout=10)
            took = time.monotonic() - sent
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, err.decode()
    assert took < 2.0, f"took {took:.2f} s to stop"
    assert "interrupted" in err.decode()
    assert "Traceback" not in err.decode()
    assert output.read_text() == "last night's snapshot\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posture.snapshot.json"]
