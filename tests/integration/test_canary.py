"""No secret reaches any output: every secret-bearing field of the demo holds a canary.

The canaried demo instance is served; posture crawls it through the CLI at --debug, as admin
and as a group owner, with failing sections and with error paths. No canary may appear in the
snapshot, stdout, stderr or log records. The test first proves GitLab (the sandbox) really
served the canaries to the crawler, so it cannot pass by never seeing them.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from posture.cli import main
from posture.report import Format
from posture.sandbox import Fault, Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def canaried(demo):
    return demo.with_canaries()


@pytest.fixture
def sandbox(canaried) -> Iterator[Sandbox]:
    instance, _canaries = canaried
    faults = [Fault("GET /projects/:id/deploy_tokens", status=500)]
    with Sandbox(instance, tier="premium", faults=faults) as sb:
        yield sb


def served_bodies(sb: Sandbox) -> str:
    """What GitLab hands the crawler on the secret-bearing endpoints."""
    session = requests.Session()
    session.headers["PRIVATE-TOKEN"] = sb.token_for("admin")
    api = f"{sb.url}/api/v4"
    bodies = [session.get(f"{api}/admin/ci/variables", timeout=10).text]
    projects = session.get(f"{api}/projects", params={"per_page": 100}, timeout=10)
    bodies.append(projects.text)
    for project in projects.json():
        for what in ("variables", "hooks"):
            bodies.append(session.get(f"{api}/projects/{project['id']}/{what}", timeout=10).text)
    for group in session.get(f"{api}/groups", params={"per_page": 100}, timeout=10).json():
        for what in ("variables", "hooks"):
            bodies.append(session.get(f"{api}/groups/{group['id']}/{what}", timeout=10).text)
    return "\n".join(bodies)


def test_canaries_are_served_but_never_written(
    sandbox, canaried, tmp_path: Path, capsys, monkeypatch, caplog
) -> None:
    _instance, canaries = canaried
    served = served_bodies(sandbox)
    seen = [c for c in canaries if c in served]
    assert len(seen) >= 20, "the sandbox did not serve the canaries: this test would prove nothing"
    sandbox.reset_log()

    outputs: list[str] = []
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("GITLAB_URL", raising=False)
    runs = [
        ("admin", ["--group", "acme", "--group", "acme-oss", "--group", "acme-sandbox"]),
        ("owner", ["--group", "acme"]),
        ("owner", ["--group", "acme/platfrom"]),  # error path: not found, suggestions
        ("admin", ["--all", "--strict"]),  # error path: failed sections, exit 3
    ]
    for index, (role, scope) in enumerate(runs):
        monkeypatch.setenv("GITLAB_TOKEN", sandbox.token_for(role))
        target = tmp_path / f"s{index}.json"
        argv = ["snapshot", "--url", sandbox.url, *scope, "-o", str(target), "--debug"]
        argv += ["--max-attempts", "2"]
        code = main(argv)
        out, err = capsys.readouterr()
        outputs += [out, err]
        if target.exists():
            outputs.append(target.read_text())
        assert code in (0, 2, 3)
    # Every report format, from the admin snapshot (which saw every served secret).
    reports = [f"--report={fmt.value}={tmp_path / f'r.{fmt.value}'}" for fmt in Format]
    code = main(["check", str(tmp_path / "s0.json"), "--fail-on", "none", "-q", *reports])
    assert code == 0
    outputs += [(tmp_path / f"r.{fmt.value}").read_text() for fmt in Format]
    # An evidence bundle crawled live from the canaried instance: every member, unzipped.
    bundle = tmp_path / "evidence.zip"
    monkeypatch.setenv("GITLAB_TOKEN", sandbox.token_for("admin"))
    code = main(
        ["evidence", "--url", sandbox.url, "--group", "acme", "--max-attempts", "2",
         "-o", str(bundle), "-q"]
    )  # fmt: skip
    assert code == 0
    with zipfile.ZipFile(bundle) as archive:
        members = archive.namelist()
        assert "snapshot.json" in members
        outputs += [archive.read(name).decode("utf-8", "replace") for name in members]
    outputs += [record.getMessage() for record in caplog.records]
    outputs += [str(record.args) for record in caplog.records]

    admin_snapshot = (tmp_path / "s0.json").read_text()
    assert '"looks_like_secret": true' in admin_snapshot  # the values were seen, then dropped
    assert '"url_had_userinfo": true' in admin_snapshot

    everything = "\n".join(outputs)
    assert "snapshot of" in everything.lower() or '"tool": "posture"' in everything
    leaked = [c for c in canaries if c in everything]
    assert leaked == []
    assert sandbox.token_for("admin") not in everything
    assert sandbox.token_for("owner") not in everything
