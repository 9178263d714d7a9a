"""Drift end to end: crawl the sandbox, change it through its API as people do, crawl again,
and read the drift — exact changes, audit-event authors on Premium, "author unknown" on Free,
every format, no secret anywhere."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from posture.cli import main
from posture.drift import demo as scenario
from posture.drift.authors import attach_authors
from posture.drift.engine import diff_snapshots
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.report import DRIFT_FORMATS, Format
from posture.sandbox import Sandbox
from posture.snapshot import save
from tests.integration.conftest import crawl

pytestmark = pytest.mark.integration

LEDGER = scenario.LEDGER
#: (target, field or section, kind, classification, author) for every demo step, and nothing else.
EXPECTED = {
    ("acme-sandbox", "visibility", "changed", "weakening", "Administrator"),
    ("acme-sandbox/playground", "visibility", "changed", "weakening", "Alex Owner"),
    (LEDGER, "allow_force_push", "changed", "weakening", "Administrator"),
    (LEDGER, "approvals_required", "changed", "weakening", "Alex Owner"),
    (LEDGER, "merge_requests_author_approval", "changed", "weakening", "Alex Owner"),
    (LEDGER, "protected", "changed", "weakening", "Administrator"),
    (LEDGER, "webhooks", "added", "weakening", "Alex Owner"),
    (LEDGER, "deploy_keys", "added", "weakening", "Administrator"),
    (scenario.K8S, "protected_branches", "added", "strengthening", "Alex Owner"),
    (scenario.K8S, "default_branch_protected", "changed", "strengthening", "Alex Owner"),
    (scenario.GATEWAY, "approvals_required", "changed", "strengthening", "Alex Owner"),
    ("acme-sandbox/hackathon-cli-2026", None, "renamed", "neutral", "Alex Owner"),
    ("acme-sandbox/hackathon-cli-2026", "name", "changed", "neutral", "Alex Owner"),
    (scenario.LOAD_TESTS, None, "deleted", "neutral", "Administrator"),
}


def _tokens(sb: Sandbox) -> dict[str, str]:
    return {"admin": sb.token_for("admin"), "owner": sb.token_for("owner_api")}


def _summary(report) -> set[tuple]:  # type: ignore[no-untyped-def]
    return {
        (
            c.target_path,
            c.field or c.section,
            c.kind.value,
            c.classification.value,
            c.events[0].author_name if c.events else None,
        )
        for c in report.changes
    }


def test_premium_diff_shows_exactly_the_changes_and_who_made_them(demo) -> None:  # type: ignore[no-untyped-def]
    with Sandbox(demo, tier="premium") as sb:
        before = crawl(sb).snapshot
        scenario.apply_demo_changes(sb.url, _tokens(sb))
        after = crawl(sb).snapshot
        with GitLabClient(ClientConfig(url=sb.url, token=sb.token_for("admin"))) as client:
            report = attach_authors(diff_snapshots(before, after), client)
    assert report.authors.status == "ok"
    assert _summary(report) == EXPECTED


def test_free_tier_diff_says_author_unknown(demo) -> None:  # type: ignore[no-untyped-def]
    free_steps = [s for s in scenario.STEPS if "approval" not in s.run.__name__]
    with Sandbox(demo, tier="free") as sb:
        before = crawl(sb).snapshot
        gl = {a: scenario.gitlab.Gitlab(sb.url, private_token=t) for a, t in _tokens(sb).items()}
        for step in free_steps:
            step.run(gl[step.actor])
        after = crawl(sb).snapshot
        with GitLabClient(ClientConfig(url=sb.url, token=sb.token_for("admin"))) as client:
            report = attach_authors(diff_snapshots(before, after), client)
    assert report.authors.status == "forbidden"
    assert "Premium" in (report.authors.message or "")
    found = {
        (c.target_path, c.field or c.section) for c in report.changes if c.kind.value != "unknown"
    }
    assert (LEDGER, "allow_force_push") in found
    assert (scenario.LOAD_TESTS, None) in found
    assert all(not c.events for c in report.changes)
    from posture.report import render_drift

    table = render_drift(report, Format.TABLE)
    assert "author unknown" in table
    assert "Premium" in table


@pytest.fixture(scope="module")
def pair(tmp_path_factory, demo) -> Iterator[tuple[Sandbox, Path, Path]]:  # type: ignore[no-untyped-def]
    """A live sandbox with two saved snapshots, before and after the demo's changes."""
    root = tmp_path_factory.mktemp("drift")
    with Sandbox(demo, tier="premium") as sb:
        save(crawl(sb).snapshot, root / "old.json")
        scenario.apply_demo_changes(sb.url, _tokens(sb))
        save(crawl(sb).snapshot, root / "new.json")
        yield sb, root / "old.json", root / "new.json"


def test_cli_diff_with_authors_and_exit_codes(pair, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    sb, old, new = pair
    monkeypatch.setenv("GITLAB_URL", sb.url)
    monkeypatch.setenv("GITLAB_TOKEN", sb.token_for("admin"))
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "Weakening (8)" in out
    assert "by Alex Owner" in out
    assert main(["diff", str(old), str(new), "--fail-on", "none"]) == 0
    capsys.readouterr()
    assert main(["diff", str(old), str(old), "--fail-on", "any"]) == 0
    assert "No changes" in capsys.readouterr().out
    assert main(["diff", str(old), str(new), "--no-audit-events", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["authors"]["status"] == "not_requested"
    assert all(not c["events"] for c in data["changes"])


def test_token_goes_only_to_the_named_instance(pair, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    sb, old, new = pair
    sb.reset_log()
    monkeypatch.setenv("GITLAB_URL", "https://gitlab.elsewhere.example")
    monkeypatch.setenv("GITLAB_TOKEN", sb.token_for("admin"))
    assert main(["diff", str(old), str(new), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["authors"]["status"] == "not_requested"
    assert "not the snapshots' instance" in data["authors"]["message"]
    monkeypatch.delenv("GITLAB_URL")
    assert main(["diff", str(old), str(new), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert "set GITLAB_URL=" in data["authors"]["message"]
    assert sb.request_log == []  # nothing was asked of any GitLab


def test_bad_inputs_exit_2_with_one_line(pair, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _sb, old, _new = pair
    other = json.loads(old.read_text())
    other["meta"]["gitlab_url"] = "https://gitlab.other.example"
    (tmp_path / "other.json").write_text(json.dumps(other))
    newer = json.loads(old.read_text())
    newer["schema_version"] = 99
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    (tmp_path / "junk.json").write_text("{not json")
    for bad, words in [
        ("other.json", "different GitLab instances"),
        ("newer.json", "upgrade posture"),
        ("junk.json", "not a posture snapshot"),
        ("missing.json", "cannot read snapshot"),
    ]:
        code = main(["diff", str(old), str(tmp_path / bad), "--no-audit-events"])
        err = capsys.readouterr().err
        assert code == 2, bad
        assert words in err
        assert err.count("\n") == 1
        assert "Traceback" not in err


def test_audit_with_previous_adds_drift_to_every_format(
    pair, monkeypatch, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    sb, old, _new = pair
    monkeypatch.setenv("GITLAB_TOKEN", sb.token_for("admin"))
    reports = [f"--report={f.value}={tmp_path / f'r.{f.value}'}" for f in Format]
    argv = ["audit", "--url", sb.url, "--group", "acme", "--group", "acme-sandbox"]
    argv += ["--group", "acme-oss", "--previous", str(old), "--fail-on", "none", "-q", *reports]
    assert main(argv) == 0
    assert main([*argv, "--fail-on-drift", "weakening"]) == 1
    for fmt in Format:
        text = (tmp_path / f"r.{fmt.value}").read_text()
        assert "force" in text.lower(), fmt  # the ledger's force-push drift is in every format
    findings = json.loads((tmp_path / "r.json").read_text())
    assert findings["drift"]["summary"]["by_classification"]["weakening"] == 8
    capsys.readouterr()


def test_evidence_bundle_carries_drift(pair, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _sb, old, new = pair
    bundle = tmp_path / "evidence.zip"
    argv = ["evidence", "--snapshot", str(new), "--previous", str(old), "-o", str(bundle), "-q"]
    assert main(argv) == 0
    with zipfile.ZipFile(bundle) as archive:
        drift = json.loads(archive.read("drift.json"))
        readme = archive.read("README.md").decode()
    assert drift["summary"]["by_classification"]["weakening"] == 8
    assert "Weakening changes" in readme
    assert main(["evidence", "verify", str(bundle)]) == 0


def test_demo_drift_reads_well(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo", "--drift"]) == 0
    captured = capsys.readouterr()
    assert "Weakening (8)" in captured.out
    assert "by Alex Owner" in captured.out
    assert "changed: weakening" in captured.err


def test_no_secret_in_any_drift_output(demo, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    instance, canaries = demo.with_canaries()
    outputs: list[str] = []
    with Sandbox(instance, tier="premium") as sb:
        save(crawl(sb).snapshot, tmp_path / "old.json")
        scenario.apply_demo_changes(sb.url, _tokens(sb))
        save(crawl(sb).snapshot, tmp_path / "new.json")
        monkeypatch.setenv("GITLAB_URL", sb.url)
        monkeypatch.setenv("GITLAB_TOKEN", sb.token_for("admin"))
        for fmt in DRIFT_FORMATS:
            out = tmp_path / f"d.{fmt.value}"
            main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"),
                  "--format", fmt.value, "-o", str(out), "--debug"])  # fmt: skip
            outputs.append(out.read_text())
        reports = [f"--report={f.value}={tmp_path / f'a.{f.value}'}" for f in Format]
        main(["check", str(tmp_path / "new.json"), "--previous", str(tmp_path / "old.json"),
              "--fail-on", "none", "-q", *reports])  # fmt: skip
        outputs += [(tmp_path / f"a.{f.value}").read_text() for f in Format]
        events = json.dumps(sb.audit_events)
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err]
    everything = "\n".join(outputs)
    assert "LEDGER_DB_PASSWORD" in everything  # the variable's change was reported …
    assert [c for c in canaries if c in everything] == []  # … never its value
    assert [c for c in canaries if c in events] == []
    assert sb.token_for("admin") not in everything
