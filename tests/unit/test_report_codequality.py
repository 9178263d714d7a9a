"""Code Quality report: the fields GitLab requires, on every issue, for failing findings only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from posture import findings as F
from posture.report import codequality
from posture.rules import REGISTRY
from tests.reporting import make_report

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}

HOSTILE_PATH = 'evil/<script>alert(1)</script>"><img src=x onerror=alert(2)>'
HOSTILE_MESSAGE = "=HYPERLINK(1) [x](javascript:alert(1)) | pipe\nnew line\r\x00\x1b\u2028end"


def finding(
    status: F.Status,
    rule: str = "branches.force_push",
    *,
    target: str = "acme/app",
    target_id: int = 1,
    item: str | None = None,
    message: str = "force push is allowed",
    severity: str = "high",
    waiver: F.WaiverInfo | None = None,
) -> F.Finding:
    return F.Finding(
        rule_id=rule,
        title=REGISTRY[rule].title if rule in REGISTRY else "Custom rule",
        family=rule.split(".", maxsplit=1)[0],
        severity=severity,
        status=status,
        target_kind="project",
        target_id=target_id,
        target_path=target,
        target_url=f"https://gitlab.example/{target}",
        item=item,
        message=message,
        expected=False,
        actual=True,
        waiver=waiver,
        fingerprint=F.Finding.make_fingerprint(rule, "project", target_id, target, item),
    )


def waiver(status: str = "active", source: str = "posture-baseline.yaml:12") -> F.WaiverInfo:
    return F.WaiverInfo(
        reason="accepted",
        owner="team@acme.example",
        expires="2026-06-30",
        status=status,  # type: ignore[arg-type]
        source=source,
    )


def report(*items: F.Finding, sources: tuple[str, ...] = ("posture-baseline.yaml",)):
    return make_report(items, sources=sources)


def render(audit: F.AuditReport) -> list[dict[str, Any]]:
    text = codequality.render(audit)
    assert not text.startswith("\ufeff")  # GitLab's parser rejects a byte order mark
    issues = json.loads(text)
    assert isinstance(issues, list)
    for issue in issues:
        assert_gitlab_issue(issue)
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(fingerprints) == len(set(fingerprints))
    return issues


def assert_gitlab_issue(issue: dict[str, Any]) -> None:
    """The required fields of GitLab's doc/ci/testing/code_quality.md, with their types."""
    assert isinstance(issue["description"], str)
    assert issue["description"]
    assert isinstance(issue["check_name"], str)
    assert issue["check_name"]
    assert isinstance(issue["fingerprint"], str)
    assert issue["fingerprint"]
    assert issue["severity"] in GITLAB_SEVERITIES
    path = issue["location"]["path"]
    assert isinstance(path, str)
    assert path
    assert not path.startswith("./")
    begin = issue["location"]["lines"]["begin"]
    assert isinstance(begin, int)
    assert begin >= 1


def test_only_failing_findings_become_issues() -> None:
    issues = render(
        report(
            finding(F.Status.PASS, item="main"),
            finding(F.Status.FAIL, item="release"),
            finding(F.Status.UNKNOWN, "variables.unprotected"),
            finding(F.Status.WAIVED, "pipelines.public_jobs", waiver=waiver()),
            finding(F.Status.NOT_APPLICABLE, "pipelines.job_token_scope"),
        )
    )
    (issue,) = issues
    assert issue["check_name"] == "branches.force_push"
    assert issue["description"] == "branches.force_push: acme/app (release): force push is allowed"
    assert issue["fingerprint"] == F.Finding.make_fingerprint(
        "branches.force_push", "project", 1, "acme/app", "release"
    )
    assert REGISTRY["branches.force_push"].remediation in issue["content"]["body"]
    assert "https://gitlab.example/acme/app" in issue["content"]["body"]


def test_every_severity_maps_to_its_own_gitlab_level_in_order() -> None:
    items = [
        finding(F.Status.FAIL, target=f"acme/p{i}", target_id=i, severity=s)
        for i, s in enumerate(F.SEVERITIES)
    ]
    issues = render(report(*items))
    assert [i["severity"] for i in issues] == ["blocker", "critical", "major", "minor", "info"]


@pytest.mark.parametrize(
    ("sources", "path"),
    [
        (("gitlab-hardening (shipped)", "./posture-baseline.yaml"), "posture-baseline.yaml"),
        (("minimal (shipped)", "base.yaml", "teams/web.yaml"), "teams/web.yaml"),
        (("gitlab-hardening (shipped)",), ".gitlab-ci.yml"),
        (("<text>",), ".gitlab-ci.yml"),
    ],
)
def test_location_is_the_most_specific_baseline_file(sources: tuple[str, ...], path: str) -> None:
    (issue,) = render(report(finding(F.Status.FAIL), sources=sources))
    assert issue["location"] == {"path": path, "lines": {"begin": 1}}


def test_expired_waiver_points_at_the_waiver_line() -> None:
    expired = finding(F.Status.FAIL, waiver=waiver("expired", "./teams/web.yaml:42"))
    unparsable = finding(F.Status.FAIL, target_id=2, waiver=waiver("expired", "somewhere"))
    issues = render(report(expired, unparsable))
    locations = {i["fingerprint"]: i["location"] for i in issues}
    assert locations[expired.fingerprint] == {"path": "teams/web.yaml", "lines": {"begin": 42}}
    assert locations[unparsable.fingerprint]["path"] == "posture-baseline.yaml"


def test_hostile_values_stay_inert_and_on_one_line() -> None:
    hostile = finding(F.Status.FAIL, target=HOSTILE_PATH, item="x\ny", message=HOSTILE_MESSAGE)
    text = codequality.render(report(hostile))
    (issue,) = render(report(hostile))
    description = issue["description"]
    assert "\n" not in description
    assert "\r" not in description
    assert "\u2028" not in description
    assert "\x00" not in description
    assert "\x1b" not in description
    assert HOSTILE_PATH in description  # data, not markup: GitLab shows it as text
    # JSON encoding keeps every byte of the file printable ASCII: no raw control characters.
    assert text.isascii()
    assert all(ch >= " " or ch == "\n" for ch in text)


def test_empty_report_is_an_empty_list() -> None:
    assert codequality.render(report(finding(F.Status.PASS))) == "[]\n"


def test_output_is_deterministic() -> None:
    items = [finding(F.Status.FAIL, target=f"acme/p{i}", target_id=i) for i in range(5)]
    assert codequality.render(report(*items)) == codequality.render(report(*reversed(items)))


@pytest.mark.parametrize("name", ["demo-acme", "demo-minimal", "demo-gitlab-hardening"])
def test_demo_reports_have_one_valid_issue_per_failure(name: str) -> None:
    source = GOLDEN / f"{name}.json"
    audit = F.loads(source.read_text(encoding="utf-8"), str(source))
    issues = render(audit)
    assert len(issues) == audit.summary.by_status["fail"]
