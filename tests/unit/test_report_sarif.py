"""SARIF report: every output validated against the official SARIF 2.1.0 schema, offline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from posture import findings as F
from posture.report import sarif
from posture.rules import REGISTRY
from posture.rules.catalog import help_uri
from tests.reporting import make_report

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"

HOSTILE_PATH = 'evil/<script>alert(1)</script>"><img src=x onerror=alert(2)>'
HOSTILE_MESSAGE = 'see [x](javascript:alert(1)) and \\[y\\](1) "quoted" | pipe\nline'
#: An embedded link as SARIF viewers find it: "[" not preceded by "\", text, "](", target.
EMBEDDED_LINK = re.compile(r"(?<!\\)\[(?:\\.|[^\]\\])*\]\(")


def finding(
    status: F.Status,
    rule: str = "branches.force_push",
    *,
    target: str = "acme/app",
    target_id: int = 1,
    kind: str = "project",
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
        target_kind=kind,
        target_id=target_id,
        target_path=target,
        target_url=f"https://gitlab.example/{target}",
        item=item,
        message=message,
        expected=False,
        actual=True,
        waiver=waiver,
        fingerprint=F.Finding.make_fingerprint(rule, kind, target_id, target, item),
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
    moment = datetime(2026, 11, 1, 3, tzinfo=UTC)
    return make_report(
        items, sources=["posture-baseline.yaml"], moment=moment, tool_version="1.2.3"
    )


@cache
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)
    # Internal "#/definitions/..." references only: nothing is fetched.
    return jsonschema.Draft4Validator(schema)


def test_the_schema_catches_broken_logs() -> None:
    """Guard against a validator that accepts anything (for example a schema not loaded)."""
    assert not validator().is_valid({"version": "2.1.0", "runs": [{"results": []}]})
    log = json.loads(sarif.render(report(finding(F.Status.FAIL))))
    log["runs"][0]["results"][0]["level"] = "severe"
    assert not validator().is_valid(log)


def render(audit: F.AuditReport) -> dict[str, Any]:
    """Render, parse and validate: every SARIF a test sees has passed the schema."""
    log = json.loads(sarif.render(audit))
    errors = sorted(validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return log


def mixed() -> F.AuditReport:
    return report(
        finding(F.Status.PASS, item="main"),
        finding(F.Status.FAIL, item="release"),
        finding(F.Status.UNKNOWN, "variables.unprotected", message="variables forbidden"),
        finding(F.Status.WAIVED, "pipelines.public_jobs", severity="medium", waiver=waiver()),
        finding(F.Status.NOT_APPLICABLE, "pipelines.job_token_scope"),
        finding(F.Status.FAIL, "project.visibility", target="acme", target_id=7, kind="group"),
        finding(F.Status.FAIL, "runners.run_untagged", target="runners/5", kind="runner"),
    )


def test_driver_describes_every_rule_that_ran() -> None:
    log = render(mixed())
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "posture"
    assert driver["version"] == "1.2.3"
    assert driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    # Catalog order, and rules that only passed or were not applicable are listed too.
    assert ids == [
        "project.visibility",
        "branches.force_push",
        "variables.unprotected",
        "pipelines.public_jobs",
        "pipelines.job_token_scope",
        "runners.run_untagged",
    ]
    rule = REGISTRY["branches.force_push"]
    descriptor = driver["rules"][ids.index("branches.force_push")]
    assert descriptor["shortDescription"]["text"] == rule.title
    assert descriptor["fullDescription"]["text"] == rule.rationale
    assert rule.remediation in descriptor["help"]["text"]
    assert rule.remediation in descriptor["help"]["markdown"]
    assert descriptor["helpUri"] == help_uri("branches.force_push")
    assert descriptor["defaultConfiguration"]["level"] == "error"  # high
    tags = descriptor["properties"]["tags"]
    assert "branches" in tags
    assert "SOC 2 CC8.1" in tags
    assert "CIS 1.1.16" in tags
    medium = driver["rules"][ids.index("variables.unprotected")]
    assert medium["defaultConfiguration"]["level"] == "warning"


def test_results_for_fail_waived_and_unknown_only_with_correct_rule_index() -> None:
    log = render(mixed())
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert sorted(r["properties"]["status"] for r in results) == [
        "fail",
        "fail",
        "fail",
        "unknown",
        "waived",
    ]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["partialFingerprints"]["postureFingerprint/v1"]) == 32
        (location,) = result["locations"]
        assert "physicalLocation" not in location
        assert location["logicalLocations"][0]["fullyQualifiedName"] in {
            "acme/app",
            "acme",
            "runners/5",
        }
    kinds = {
        r["properties"]["target_kind"]: r["locations"][0]["logicalLocations"][0]["kind"]
        for r in results
    }
    assert kinds == {"project": "module", "group": "namespace", "runner": "resource"}


def test_fail_result_fields() -> None:
    source = finding(F.Status.FAIL, item="release")
    log = render(report(source))
    (result,) = log["runs"][0]["results"]
    assert (result["kind"], result["level"]) == ("fail", "error")
    assert result["message"]["text"] == "acme/app (release): force push is allowed"
    assert result["partialFingerprints"]["postureFingerprint/v1"] == source.fingerprint
    props = result["properties"]
    assert props["severity"] == "high"
    assert (props["expected"], props["actual"]) == (False, True)
    assert props["target_url"] == "https://gitlab.example/acme/app"
    assert "suppressions" not in result


def test_unknown_is_an_open_result_with_level_none() -> None:
    """SARIF requires level "none" for any kind but "fail"; "open" means undecided."""
    log = render(report(finding(F.Status.UNKNOWN, message="branches forbidden (403)")))
    (result,) = log["runs"][0]["results"]
    assert (result["kind"], result["level"]) == ("open", "none")
    assert "not checked: branches forbidden (403)" in result["message"]["text"]


def test_waived_result_is_suppressed_with_the_waiver() -> None:
    log = render(report(finding(F.Status.WAIVED, "pipelines.public_jobs", waiver=waiver())))
    (result,) = log["runs"][0]["results"]
    (suppression,) = result["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["status"] == "accepted"
    assert suppression["justification"] == "Public build logs are part of the community workflow"
    assert suppression["properties"]["owner"] == "oss-team@acme.example"
    assert suppression["properties"]["expires"] == "2027-03-31"


def test_expired_waiver_is_not_a_suppression() -> None:
    expired = finding(F.Status.FAIL, "pipelines.public_jobs", waiver=waiver("expired"))
    (result,) = render(report(expired))["runs"][0]["results"]
    assert "suppressions" not in result
    assert result["properties"]["expired_waiver"]["expires"] == "2027-03-31"


def test_rule_missing_from_the_catalog_still_gives_valid_sarif() -> None:
    custom = finding(F.Status.FAIL, "custom.check", severity="low")
    log = render(report(custom))
    (descriptor,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert descriptor["id"] == "custom.check"
    assert descriptor["shortDescription"]["text"] == "Custom rule"
    assert log["runs"][0]["results"][0]["level"] == "note"


def test_empty_report_is_valid() -> None:
    log = render(report())
    assert log["runs"][0]["results"] == []


@pytest.mark.parametrize("status", [F.Status.FAIL, F.Status.UNKNOWN, F.Status.WAIVED])
def test_hostile_values_cannot_become_links_and_survive_as_data(status: F.Status) -> None:
    hostile = finding(
        status,
        target=HOSTILE_PATH,
        item="<b>main</b>",
        message=HOSTILE_MESSAGE,
        waiver=waiver() if status is F.Status.WAIVED else None,
    )
    log = render(report(hostile))
    (result,) = log["runs"][0]["results"]
    text = result["message"]["text"]
    assert not EMBEDDED_LINK.search(text), text
    assert "see \\[x\\](javascript:alert(1)) and \\\\\\[y\\\\\\](1)" in text
    assert "markdown" not in result["message"]  # no formatted message from untrusted text
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == HOSTILE_PATH
    assert result["properties"]["item"] == "<b>main</b>"


def test_plain_leaves_ordinary_brackets_alone() -> None:
    assert sarif.plain("[waiver expired 2026-06-30, no longer waived] x") == (
        "[waiver expired 2026-06-30, no longer waived] x"
    )
    assert sarif.plain("[a](b) \\") == "\\[a\\](b) \\\\"


def test_output_is_deterministic() -> None:
    a = mixed()
    b = report(*reversed(a.findings))
    assert sarif.render(a) == sarif.render(a) == sarif.render(b)


@pytest.mark.parametrize("name", ["demo-acme", "demo-minimal", "demo-gitlab-hardening"])
def test_demo_reports_validate_and_count(name: str) -> None:
    source = GOLDEN / f"{name}.json"
    audit = F.loads(source.read_text(encoding="utf-8"), str(source))
    log = render(audit)
    results = log["runs"][0]["results"]
    by_status = audit.summary.by_status
    assert len(results) == by_status["fail"] + by_status["waived"] + by_status["unknown"]
    assert sum("suppressions" in r for r in results) == by_status["waived"]
    fingerprints = [r["partialFingerprints"]["postureFingerprint/v1"] for r in results]
    assert len(fingerprints) == len(set(fingerprints))
