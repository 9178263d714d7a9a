"""Audit end to end: the demo instance against the shipped baselines, golden outputs, exit codes.

The golden snapshot (tests/golden/demo.snapshot.json) is the demo crawled through the sandbox
with the URL and the volatile run block pinned; a test keeps it equal to a fresh crawl, and the
golden reports are evaluated from it with the tool version pinned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from posture import snapshot as snap
from posture.baseline import load_baseline
from posture.cli import main
from posture.evaluate import evaluate
from posture.findings import Status
from posture.report import Format, render
from posture.sandbox import Sandbox
from tests.integration.conftest import crawl

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_SNAPSHOT = ROOT / "tests" / "golden" / "demo.snapshot.json"
PINNED_URL = "https://gitlab.demo.example"
HARDENED = "acme/platform/payments/ledger"

#: Every kind of misconfiguration planted in examples/demo-instance.yaml, by the rule that
#: must report it.
PLANTED = (
    "project.visibility",
    "group.visibility",
    "instance.restricted_visibility",
    "branches.default_protected",
    "branches.force_push",
    "branches.push_access",
    "branches.merge_access",
    "branches.code_owner_approval",
    "approvals.min_required",
    "approvals.author_can_approve",
    "approvals.committer_can_approve",
    "approvals.reset_on_push",
    "approvals.override_approvers",
    "variables.secret_like_unmasked",
    "variables.unprotected",
    "pipelines.public_jobs",
    "pipelines.variable_override_role",
    "pipelines.job_token_scope",
    "webhooks.ssl_verification",
    "webhooks.plain_http",
    "webhooks.credentials_in_url",
    "runners.instance_runners_enabled",
    "runners.run_untagged",
    "runners.unlocked",
    "runners.protected_refs_only",
    "access.deploy_key_write",
    "access.token_expiry",
    "access.token_scopes",
)


def pinned(text: str, url: str) -> snap.Snapshot:
    """A crawl's snapshot with the sandbox URL and the volatile block fixed."""
    data = json.loads(text.replace(url, PINNED_URL))
    moment = datetime(2026, 11, 2, 3, 0, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    data["meta"]["run"] = {
        "started_at": moment,
        "finished_at": moment,
        "duration_seconds": 1.0,
        "requests_total": 0,
        "requests_by_endpoint": {},
        "attempts": 0,
        "retries": 0,
        "rate_limited": 0,
        "rate_limit_wait_seconds": 0.0,
    }
    return snap.loads(json.dumps(data))


@pytest.fixture(scope="module")
def demo_snapshot(demo) -> snap.Snapshot:
    with Sandbox(demo, tier="premium") as sandbox:
        return pinned(snap.dumps(crawl(sandbox).snapshot), sandbox.url)


@pytest.fixture
def pin_version(monkeypatch) -> None:
    monkeypatch.setattr("posture.evaluate.__version__", "0.0.0-test")


def test_golden_snapshot_matches_a_fresh_crawl(demo_snapshot, golden) -> None:
    golden("demo.snapshot.json", snap.dumps(demo_snapshot))


@pytest.mark.parametrize(
    ("baseline", "name"),
    [
        ("gitlab-hardening", "demo-gitlab-hardening"),
        ("minimal", "demo-minimal"),
        (str(ROOT / "examples" / "acme-baseline.yaml"), "demo-acme"),
    ],
)
@pytest.mark.parametrize("fmt", list(Format))
def test_golden_reports(baseline, name, fmt, golden, pin_version) -> None:
    snapshot = snap.load(GOLDEN_SNAPSHOT)
    report = evaluate(snapshot, load_baseline(baseline))
    text = render(report, fmt)
    if baseline.endswith(".yaml"):
        text = text.replace(str(ROOT), "<repo>")
    golden(f"{name}.{fmt.value}", text)


def test_every_planted_misconfiguration_fails_and_the_hardened_project_is_clean(
    demo_snapshot,
) -> None:
    report = evaluate(demo_snapshot, load_baseline("gitlab-hardening"))
    failing = {f.rule_id for f in report.findings if f.status is Status.FAIL}
    missing = [rule for rule in PLANTED if rule not in failing]
    assert missing == []
    ledger = [f for f in report.findings if f.target_path == HARDENED]
    assert ledger, "the hardened project was not evaluated"
    assert [f for f in ledger if f.status is Status.FAIL] == []
    assert [f for f in ledger if f.status is Status.UNKNOWN] == []


def test_passes_are_kept_as_evidence(demo_snapshot) -> None:
    report = evaluate(demo_snapshot, load_baseline("gitlab-hardening"))
    assert report.summary.by_status["pass"] > 0
    fingerprints = [f.fingerprint for f in report.findings]
    assert len(fingerprints) == len(set(fingerprints))


def test_check_gives_exactly_the_findings_audit_gives(demo, tmp_path, capsys, monkeypatch) -> None:
    with Sandbox(demo, tier="premium") as sandbox:
        monkeypatch.setenv("GITLAB_TOKEN", sandbox.token_for("admin"))
        argv = [
            "audit", "--url", sandbox.url, "--group", "acme", "--group", "acme-oss",
            "--format", "json", "-o", str(tmp_path / "audit.json"),
            "--save-snapshot", str(tmp_path / "s.json"), "--quiet",
        ]  # fmt: skip
        assert main(argv) == 1  # the demo has high-severity failures
    argv = [
        "check", str(tmp_path / "s.json"), "--format", "json",
        "-o", str(tmp_path / "check.json"), "--quiet",
    ]  # fmt: skip
    assert main(argv) == 1
    capsys.readouterr()
    assert (tmp_path / "audit.json").read_bytes() == (tmp_path / "check.json").read_bytes()


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("high", 1), ("critical", 0), ("none", 0)],
)
def test_fail_on_decides_the_exit_code(fail_on, expected, capsys) -> None:
    code = main(["check", str(GOLDEN_SNAPSHOT), "--fail-on", fail_on, "-q"])
    capsys.readouterr()
    # the demo has high failures but (by default severities) no critical ones
    assert code == expected


def test_strict_turns_unknowns_into_exit_3(tmp_path, capsys) -> None:
    data = json.loads(GOLDEN_SNAPSHOT.read_text())
    forbidden = {"status": "forbidden", "http_status": 403, "message": "403 Forbidden"}
    data["instance"]["settings"] = forbidden
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    base = ["check", str(path), "--fail-on", "none", "-q"]
    assert main(base) == 0
    assert main([*base, "--strict"]) == 3
    assert "unknown because data could not be collected" in capsys.readouterr().err


def test_bad_baseline_is_a_one_line_error_before_crawling(tmp_path, capsys) -> None:
    bad = tmp_path / "b.yaml"
    bad.write_text("name: x\nsettings:\n  approval.min_required: {min: 2}\n")
    code = main(["check", str(GOLDEN_SNAPSHOT), "--baseline", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert f"{bad}:3" in err[0]
    assert "approvals.min_required" in err[0]


def test_rules_commands(capsys) -> None:
    assert main(["rules"]) == 0
    assert "branches.force_push" in capsys.readouterr().out
    assert main(["rules", "explain", "branches.force_push"]) == 0
    out = capsys.readouterr().out
    assert "How to fix it" in out
    assert "API" in out
    assert main(["rules", "explain", "branches.forcepush"]) == 2
    assert "did you mean 'branches.force_push'" in capsys.readouterr().err


def test_baseline_commands(tmp_path, capsys) -> None:
    example = str(ROOT / "examples" / "acme-baseline.yaml")
    assert main(["baseline", "validate", example]) == 0
    assert "valid baseline" in capsys.readouterr().out
    assert main(["baseline", "show", example]) == 0
    assert "project.visibility" in capsys.readouterr().out
    assert main(["baseline", "init", "--from-snapshot", str(GOLDEN_SNAPSHOT), "-o",
                 str(tmp_path / "starter.yaml")]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["baseline", "validate", str(tmp_path / "starter.yaml")]) == 0
