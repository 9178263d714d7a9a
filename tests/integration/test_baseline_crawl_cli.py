"""The command line drives the crawl from the baseline: audit asks only for what its rules
need, snapshot --baseline does the same, check warns when a snapshot lacks what a baseline
needs."""

from __future__ import annotations

import json

import pytest

from posture.cli import main
from posture.sandbox import Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox(demo):  # type: ignore[no-untyped-def]
    with Sandbox(demo, tier="premium") as sb:
        yield sb


def _audit(sb: Sandbox, tmp_path, name: str, *extra: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    sb.reset_log()
    out = tmp_path / f"{name}.json"
    argv = ["audit", "--url", sb.url, "--group", "acme", "--baseline", "minimal"]
    argv += ["--fail-on", "none", "--format", "json", "-o", str(out), "-q", *extra]
    assert main(argv) == 0
    return len(sb.request_log), json.loads(out.read_text())


def test_audit_crawls_only_what_the_baseline_needs(sandbox, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITLAB_TOKEN", sandbox.token_for("admin"))
    lean, lean_report = _audit(sandbox, tmp_path, "lean")
    full, full_report = _audit(sandbox, tmp_path, "full", "--full-crawl")
    assert lean < full * 0.75
    assert lean_report["findings"] == full_report["findings"]


def test_snapshot_baseline_and_check_warning(sandbox, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITLAB_TOKEN", sandbox.token_for("admin"))
    snap = tmp_path / "s.json"
    argv = ["snapshot", "--url", sandbox.url, "--group", "acme", "--baseline", "minimal"]
    assert main([*argv, "-o", str(snap), "-q"]) == 0
    data = json.loads(snap.read_text())
    assert data["meta"]["sections"]
    assert (
        any(p["webhooks"]["status"] == "skipped" for p in data["projects"])
        or "project.webhooks" in data["meta"]["sections"]
    )
    capsys.readouterr()
    assert main(["check", str(snap), "--baseline", "minimal", "--fail-on", "none", "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
    main(["check", str(snap), "--baseline", "gitlab-hardening", "--fail-on", "none", "-q"])
    err = capsys.readouterr().err
    assert "crawled for another baseline" in err
    assert err.count("\n") == 1
