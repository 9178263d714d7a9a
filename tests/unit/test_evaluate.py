"""Evaluation: waivers active, expired and stale; unknowns never waived; stable output."""

from __future__ import annotations

from posture.baseline.load import load_baseline_text
from posture.evaluate import evaluate
from posture.findings import Status
from tests.rules.factories import forbidden, project, snapshot

BASELINE = """
name: t
settings:
  project.visibility: {allowed: [private]}
  pipelines.job_token_scope: true
waivers:
  - rule: project.visibility
    target: acme/open
    reason: published on purpose
    owner: oss@acme.example
    expires: 2026-12-31
  - rule: project.visibility
    target: acme/old
    reason: was going to be made private
    owner: web@acme.example
    expires: 2026-10-31
  - rule: project.visibility
    target: acme/gone
    reason: that project no longer exists
    owner: web@acme.example
    expires: 2027-01-31
  - rule: pipelines.job_token_scope
    target: acme/hidden
    reason: waivers never hide missing data
    owner: sec@acme.example
    expires: 2027-01-31
"""


def projects():
    return [
        project(id=1, path_with_namespace="acme/open", visibility="public"),
        project(id=2, path_with_namespace="acme/old", visibility="internal"),
        project(id=3, path_with_namespace="acme/fine"),
        project(id=4, path_with_namespace="acme/hidden", job_token_scope=forbidden()),
    ]


def by_path(report, rule):
    return {f.target_path: f for f in report.findings if f.rule_id == rule}


def test_waivers_active_expired_stale_and_unknown_untouched() -> None:
    # the snapshot is dated 2026-11-01: acme/old's waiver ran out the day before
    report = evaluate(snapshot(projects=projects()), load_baseline_text(BASELINE))
    vis = by_path(report, "project.visibility")
    assert vis["acme/open"].status is Status.WAIVED
    assert vis["acme/open"].waiver.owner == "oss@acme.example"
    assert vis["acme/old"].status is Status.FAIL
    assert vis["acme/old"].waiver.status == "expired"
    assert vis["acme/old"].message.startswith("[waiver expired 2026-10-31")
    assert vis["acme/fine"].status is Status.PASS
    assert vis["acme/fine"].waiver is None
    scope = by_path(report, "pipelines.job_token_scope")
    assert scope["acme/hidden"].status is Status.UNKNOWN
    assert "forbidden" in scope["acme/hidden"].message
    stale = {(w.rule, w.target) for w in report.stale_waivers}
    assert stale == {
        ("project.visibility", "acme/gone"),
        ("pipelines.job_token_scope", "acme/hidden"),
    }
    assert report.summary.expired_waivers == 1
    assert report.summary.by_status["waived"] == 1


def test_disabled_rules_give_no_results_and_output_is_ordered() -> None:
    report = evaluate(snapshot(projects=projects()), load_baseline_text(BASELINE))
    assert {f.rule_id for f in report.findings} == {
        "project.visibility",
        "pipelines.job_token_scope",
    }
    keys = [(f.target_path, f.rule_id, f.item or "") for f in report.findings]
    assert keys == sorted(keys)
    again = evaluate(snapshot(projects=list(reversed(projects()))), load_baseline_text(BASELINE))
    assert again.model_dump() == report.model_dump()
