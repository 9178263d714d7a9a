"""The findings document: schema freshness, loading, exit-code helpers, format dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posture import findings as F
from posture.errors import SnapshotFormatError
from posture.report import Format, render

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "findings.schema.json"


def finding(status: F.Status, severity: str = "high", rule: str = "branches.force_push"):
    return F.Finding(
        rule_id=rule,
        title="t",
        family=rule.split(".", maxsplit=1)[0],
        severity=severity,
        status=status,
        target_kind="project",
        target_id=1,
        target_path="acme/app",
        message="m",
        fingerprint=F.Finding.make_fingerprint(rule, "project", 1, "acme/app", None),
    )


def report(*findings: F.Finding) -> F.AuditReport:
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 1, tzinfo=UTC)
    items = list(findings)
    return F.AuditReport(
        tool_version="0.0.0",
        evaluated_on="2026-11-01",
        baseline=F.BaselineRef(name="b", digest="sha256:00", sources=["b.yaml"]),
        snapshot=F.SnapshotRef(
            gitlab_url="https://g.example",
            scope=["acme"],
            complete=True,
            started_at=moment,
            finished_at=moment,
        ),
        summary=F.summarise(items, [], 0),
        findings=items,
    )


def test_schema_is_fresh() -> None:
    fresh = json.dumps(F.json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_FILE.read_text() == fresh, (
        "docs/findings.schema.json is stale: python -m posture.findings > docs/findings.schema.json"
    )


def test_failing_respects_threshold_and_ignores_waived() -> None:
    r = report(
        finding(F.Status.FAIL, "medium"),
        finding(F.Status.FAIL, "critical", rule="approvals.min_required"),
        finding(F.Status.WAIVED, "critical", rule="variables.unprotected"),
    )
    assert [f.severity for f in r.failing("high")] == ["critical"]
    assert len(r.failing("medium")) == 2
    assert len(r.failing("info")) == 2


def test_fingerprint_is_stable_and_distinguishes_items() -> None:
    a = F.Finding.make_fingerprint("r.x", "project", 1, "a/b", "main")
    assert a == F.Finding.make_fingerprint("r.x", "project", 1, "renamed/path", "main")
    assert a != F.Finding.make_fingerprint("r.x", "project", 1, "a/b", "dev")
    assert a != F.Finding.make_fingerprint("r.x", "project", 2, "a/b", "main")


def test_round_trip_and_bad_files() -> None:
    r = report(finding(F.Status.PASS))
    assert F.loads(F.dumps(r)) == r
    with pytest.raises(SnapshotFormatError, match="not a posture findings file"):
        F.loads("{}")
    with pytest.raises(SnapshotFormatError, match="invalid JSON"):
        F.loads("{")


@pytest.mark.parametrize("fmt", list(Format))
def test_every_format_has_a_renderer(fmt: Format) -> None:
    text = render(report(finding(F.Status.FAIL)), fmt)
    assert "branches.force_push" in text
