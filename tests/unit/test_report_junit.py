"""JUnit report: parsed the way GitLab reads it (testsuite > testcase, classname as the suite)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from posture import findings as F
from posture.report import junit
from posture.rules import REGISTRY
from tests.reporting import make_report

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

HOSTILE_PATH = 'evil/<script>alert(1)</script>"><img src=x onerror=alert(2)>'
HOSTILE_ITEM = "]]><!-- & \"quoted\" 'single' | pipe\nnext line"
HOSTILE_MESSAGE = (
    "bad\x00null\x1bescape\x0bvtab\ud800lone\ufffeuffe [x](javascript:alert(1)) "
    "=HYPERLINK(1) </failure><failure>forged</failure>"
)


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


def waiver(status: str = "active") -> F.WaiverInfo:
    return F.WaiverInfo(
        reason="Public build logs are part of the community workflow",
        owner="oss-team@acme.example",
        expires="2027-03-31",
        status=status,  # type: ignore[arg-type]
        source="posture-baseline.yaml:12",
    )


def report(*items: F.Finding) -> F.AuditReport:
    return make_report(items, sources=["posture-baseline.yaml"])


def parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def cases(root: ET.Element) -> list[ET.Element]:
    return root.findall("./testsuite/testcase")


def mixed() -> F.AuditReport:
    return report(
        finding(F.Status.PASS, item="main"),
        finding(F.Status.FAIL, item="release"),
        finding(F.Status.UNKNOWN, "variables.unprotected", message="variables forbidden"),
        finding(F.Status.WAIVED, "pipelines.public_jobs", severity="medium", waiver=waiver()),
        finding(F.Status.NOT_APPLICABLE, "pipelines.job_token_scope", target="acme/other"),
        finding(F.Status.FAIL, "project.visibility", target="acme/lib", target_id=2),
    )


def test_counts_match_the_testcases_in_every_suite_and_in_total() -> None:
    root = parse(junit.render(mixed()))
    suites = root.findall("testsuite")
    for suite in suites:
        children = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(children)
        for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(suite.get(attr, "-1")) == sum(c.find(tag) is not None for c in children)
    assert root.get("tests") == "5"  # not_applicable is omitted
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("2", "1", "1")
    # One suite per catalog family, in catalog order; project.visibility sits in "visibility".
    names = [s.get("name") for s in suites]
    assert names == ["visibility", "branches", "variables", "pipelines"]
    pipelines = suites[names.index("pipelines")]
    props = {p.get("name"): p.get("value") for p in pipelines.iter("property")}
    assert props["not_applicable"] == "1"
    assert props["baseline"] == "b"


def test_testcase_is_target_path_and_rule_with_item() -> None:
    root = parse(junit.render(mixed()))
    pairs = {(c.get("classname"), c.get("name")) for c in cases(root)}
    assert ("acme/app", "branches.force_push [main]") in pairs
    assert ("acme/app", "branches.force_push [release]") in pairs
    assert ("acme/lib", "project.visibility") in pairs
    assert not any(classname == "acme/other" for classname, _ in pairs)


def test_failure_carries_message_expected_actual_remediation_and_links() -> None:
    root = parse(junit.render(mixed()))
    case = next(c for c in cases(root) if c.get("name") == "branches.force_push [release]")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "force push is allowed"
    assert failure.get("type") == "high"
    body = failure.text or ""
    assert "expected: false" in body
    assert "actual: true" in body
    assert REGISTRY["branches.force_push"].remediation in body
    assert "https://gitlab.example/acme/app" in body
    assert "docs/rules.md#branchesforce_push" in body


def test_unknown_is_an_error_never_a_pass_and_waived_is_skipped_with_the_waiver() -> None:
    root = parse(junit.render(mixed()))
    unknown = next(c for c in cases(root) if c.get("name") == "variables.unprotected")
    error = unknown.find("error")
    assert error is not None
    assert error.get("message") == "variables forbidden"
    assert "not a pass" in (error.text or "")

    waived = next(c for c in cases(root) if c.get("name") == "pipelines.public_jobs")
    skipped = waived.find("skipped")
    assert skipped is not None
    assert waived.find("failure") is None
    assert "community workflow" in (skipped.get("message") or "")
    text = skipped.text or ""
    for part in ("oss-team@acme.example", "2027-03-31", "posture-baseline.yaml:12"):
        assert part in text


def test_expired_waiver_fails_and_says_the_waiver_expired() -> None:
    expired = finding(
        F.Status.FAIL, "pipelines.public_jobs", severity="medium", waiver=waiver("expired")
    )
    root = parse(junit.render(report(expired)))
    failure = cases(root)[0].find("failure")
    assert failure is not None
    assert "waiver expired on 2027-03-31" in (failure.text or "")
    assert root.get("skipped") == "0"


def test_passes_are_plain_testcases() -> None:
    root = parse(junit.render(report(finding(F.Status.PASS))))
    (case,) = cases(root)
    assert list(case) == []
    assert root.get("failures") == root.get("errors") == root.get("skipped") == "0"


def test_empty_report_is_still_a_valid_file() -> None:
    root = parse(junit.render(report()))
    assert root.tag == "testsuites"
    assert root.get("tests") == "0"


def test_same_classname_and_name_are_disambiguated() -> None:
    """GitLab keeps only the first of two test cases with the same name in a suite."""
    a = finding(F.Status.FAIL, target_id=1)
    b = finding(F.Status.FAIL, target_id=2)  # same path (e.g. a renamed project), other id
    root = parse(junit.render(report(a, b)))
    names = [c.get("name") for c in cases(root)]
    assert len(set(names)) == 2


@pytest.mark.parametrize("status", [F.Status.FAIL, F.Status.UNKNOWN, F.Status.WAIVED])
def test_hostile_values_are_escaped_and_forbidden_characters_replaced(status: F.Status) -> None:
    hostile = finding(
        status,
        target=HOSTILE_PATH,
        item=HOSTILE_ITEM,
        message=HOSTILE_MESSAGE,
        waiver=waiver() if status is F.Status.WAIVED else None,
    )
    text = junit.render(report(hostile))
    assert "<script" not in text
    assert "<img" not in text
    assert "</failure><failure>" not in text
    for bad in ("\x00", "\x1b", "\x0b", "\ud800", "\ufffe"):
        assert bad not in text
    text.encode("utf-8")  # no lone surrogate left to break the file
    root = parse(text)
    (case,) = cases(root)
    # The values survive as text: nothing forged, nothing lost but the forbidden characters.
    assert case.get("classname") == HOSTILE_PATH
    assert case.get("name") == f"branches.force_push [{HOSTILE_ITEM}]"
    outcome = case[0]
    assert len(case) == 1
    if status is not F.Status.WAIVED:
        assert outcome.get("message") == junit.clean(HOSTILE_MESSAGE)
        assert "\ufffd" in (outcome.get("message") or "")
    assert "[x](javascript:alert(1))" in (outcome.text or "")


def test_output_is_deterministic_and_independent_of_input_order() -> None:
    a = mixed()
    b = report(*reversed(a.findings))
    assert junit.render(a) == junit.render(a) == junit.render(b)


def test_demo_golden_findings_render_with_consistent_counts() -> None:
    source = GOLDEN / "demo-acme.json"
    audit = F.loads(source.read_text(encoding="utf-8"), str(source))
    root = parse(junit.render(audit))
    by_status = audit.summary.by_status
    assert int(root.get("failures", "-1")) == by_status["fail"]
    assert int(root.get("errors", "-1")) == by_status["unknown"]
    assert int(root.get("skipped", "-1")) == by_status["waived"]
    assert int(root.get("tests", "-1")) == audit.summary.total - by_status["not_applicable"]
    keys = [(c.get("classname"), c.get("name")) for c in cases(root)]
    assert len(keys) == len(set(keys))
