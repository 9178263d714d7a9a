"""JUnit XML for GitLab's test reports (``artifacts:reports:junit``): the pipeline's Tests tab
and the merge request's Test summary.

GitLab groups test cases by ``classname`` (it ignores the ``testsuite`` name), so the classname
is the target's path: the Tests tab lists one "suite" per project or group. Each suite in the
file is a rule family, which keeps the file readable and gives per-family counts to other
JUnit consumers. A test case is one finding; its name is the rule id plus the item.

- ``fail`` → ``<failure>``: the message, then expected/actual, remediation and links.
- ``unknown`` → ``<error>``: GitLab shows errors as not passing (and as "newly encountered
  errors" in a merge request), so a check whose data could not be collected never looks
  green. ``<skipped>`` would hide it among accepted risks.
- ``waived`` → ``<skipped>`` with the waiver's reason, owner, expiry and source.
- ``pass`` → a plain test case: evidence that the control was checked.
- ``not_applicable`` → omitted: nothing was tested, and hundreds of them would bury the
  waivers in the skipped count. Their number is kept as a suite property.

Drift (``posture diff``, or an audit with ``--previous``) is one more testsuite, "posture drift",
with one test case per change, classname the target's path, name the change's rule-like id
(``drift/branches/allow_force_push [main]``):

- ``weakening`` → ``<failure type="weakening">`` with the summary, why, before/after, author.
- ``unknown`` → ``<error type="unknown">``, as for findings: a section that could not be
  compared must not look green.
- ``strengthening`` and ``neutral`` → passing test cases, the summary in ``<system-out>``.

Every value from GitLab is untrusted: ElementTree escapes markup, and characters XML 1.0
forbids (most C0 controls, lone surrogates, U+FFFE/U+FFFF) are replaced with U+FFFD, because
one of them would make GitLab reject the whole file.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from posture.drift.model import Change, Classification, DriftReport
from posture.findings import AuditReport, Finding, Status
from posture.report import drift_common as dc
from posture.rules import FAMILIES, REGISTRY
from posture.rules.catalog import help_uri

_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Catalog sections (docs/rules.md) in catalog order; "visibility" holds project., group. and
#: instance. rules, so a finding's own ``family`` (its id prefix) is only the fallback.
_FAMILY_ORDER = [family.__name__.rsplit(".", 1)[-1] for family in FAMILIES]
_SECTION = {
    rule.id: name
    for name, family in zip(_FAMILY_ORDER, FAMILIES, strict=True)
    for rule in family.RULES
}
_COUNTED = {Status.FAIL: "failures", Status.UNKNOWN: "errors", Status.WAIVED: "skipped"}


def clean(text: str) -> str:
    """Replace what XML 1.0 cannot carry, even escaped, so the file always parses."""
    return _FORBIDDEN.sub("\ufffd", text)


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _case_name(finding: Finding) -> str:
    return f"{finding.rule_id} [{finding.item}]" if finding.item else finding.rule_id


def _failure_body(finding: Finding) -> str:
    lines = [
        finding.message,
        "",
        f"rule: {finding.rule_id}: {finding.title}",
        f"severity: {finding.severity}",
        f"target: {finding.target_kind} {finding.target_path}",
    ]
    if finding.item:
        lines.append(f"item: {finding.item}")
    lines += [f"expected: {_value(finding.expected)}", f"actual: {_value(finding.actual)}"]
    if finding.waiver is not None and finding.waiver.status == "expired":
        lines.append(
            f"waiver expired on {finding.waiver.expires} (owner {finding.waiver.owner}, "
            f"{finding.waiver.source}): it no longer waives this finding"
        )
    rule = REGISTRY.get(finding.rule_id)
    if rule is not None:
        lines.append(f"remediation: {rule.remediation}")
    if finding.target_url:
        lines.append(f"fix it at: {finding.target_url}")
    if rule is not None:
        lines.append(f"rule reference: {help_uri(rule.id)}")
    return "\n".join(lines)


def _waiver_body(finding: Finding) -> str:
    waiver = finding.waiver
    lines = [f"waived: {finding.message}"]
    if waiver is not None:
        lines += [
            f"reason: {waiver.reason}",
            f"owner: {waiver.owner}",
            f"expires: {waiver.expires}",
            f"source: {waiver.source}",
        ]
    if finding.target_url:
        lines.append(f"target: {finding.target_url}")
    return "\n".join(lines)


def _testcase(parent: ET.Element, finding: Finding, name: str) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        {"classname": clean(finding.target_path), "name": clean(name), "time": "0"},
    )
    if finding.status is Status.FAIL:
        failure = ET.SubElement(
            case, "failure", {"message": clean(finding.message), "type": finding.severity}
        )
        failure.text = clean(_failure_body(finding))
    elif finding.status is Status.UNKNOWN:
        error = ET.SubElement(case, "error", {"message": clean(finding.message), "type": "unknown"})
        error.text = clean(
            f"not checked: {finding.message}\n"
            "The data this rule needs could not be collected; this is not a pass."
        )
    elif finding.status is Status.WAIVED:
        reason = finding.waiver.reason if finding.waiver is not None else finding.message
        skipped = ET.SubElement(case, "skipped", {"message": clean(f"waived: {reason}")})
        skipped.text = clean(_waiver_body(finding))


def _family_rank(family: str) -> tuple[int, str]:
    return (
        _FAMILY_ORDER.index(family) if family in _FAMILY_ORDER else len(_FAMILY_ORDER),
        family,
    )


def render(report: AuditReport) -> str:
    by_family: dict[str, list[Finding]] = defaultdict(list)
    not_applicable: dict[str, int] = defaultdict(int)
    for finding in report.findings:
        family = _SECTION.get(finding.rule_id, finding.family)
        if finding.status is Status.NOT_APPLICABLE:
            not_applicable[family] += 1
        else:
            by_family[family].append(finding)

    root = ET.Element("testsuites", {"name": "posture"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seen: set[tuple[str, str]] = set()
    for family in sorted(set(by_family) | set(not_applicable), key=_family_rank):
        findings = sorted(
            by_family.get(family, []),
            key=lambda f: (f.target_path, f.rule_id, f.item or "", f.fingerprint),
        )
        counts = {"tests": len(findings), "failures": 0, "errors": 0, "skipped": 0}
        for finding in findings:
            if finding.status in _COUNTED:
                counts[_COUNTED[finding.status]] += 1
        suite = ET.SubElement(
            root,
            "testsuite",
            {"name": clean(family), **{k: str(v) for k, v in counts.items()}, "time": "0"},
        )
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("baseline", report.baseline.name),
            ("baseline_digest", report.baseline.digest),
            ("gitlab_url", report.snapshot.gitlab_url),
            ("not_applicable", str(not_applicable.get(family, 0))),
        ):
            ET.SubElement(props, "property", {"name": key, "value": clean(value)})
        for finding in findings:
            # GitLab keeps only the first of two cases with the same classname and name.
            name = _case_name(finding)
            if (finding.target_path, name) in seen:
                name = f"{name} #{finding.fingerprint[:8]}"
            seen.add((finding.target_path, name))
            _testcase(suite, finding, name)
        for key in totals:
            totals[key] += counts[key]
    if report.drift is not None:
        counts = _drift_suite(root, report.drift, seen)
        for key in totals:
            totals[key] += counts[key]
    return _document(root, totals)


def _document(root: ET.Element, totals: dict[str, int]) -> str:
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# --- drift ------------------------------------------------------------------------------

DRIFT_SUITE = "posture drift"
_DRIFT_COUNTED = {Classification.WEAKENING: "failures", Classification.UNKNOWN: "errors"}


def _change_body(change: Change, drift: DriftReport, target: dc.Target) -> str:
    lines = [change.summary, ""]
    if change.why:
        lines.append(f"why: {change.why}")
    lines += [
        f"classification: {change.classification.value}",
        f"change: {dc.rule_id(change)} ({change.kind.value})",
        f"target: {target.label}",
    ]
    if change.item:
        lines.append(f"item: {change.item}")
    lines += [f"before: {_value(change.old)}", f"after: {_value(change.new)}"]
    if change.classification is not Classification.UNKNOWN:
        lines.append(dc.author_text(change, drift.authors))
    if change.rules:
        lines.append(f"checked by rules: {', '.join(change.rules)}")
    if change.target_url:
        lines.append(f"see it at: {change.target_url}")
    lines.append(f"change id: {change.id}")
    return "\n".join(lines)


def _drift_case(
    parent: ET.Element, change: Change, name: str, drift: DriftReport, target: dc.Target
) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        {"classname": clean(change.target_path), "name": clean(name), "time": "0"},
    )
    body = clean(_change_body(change, drift, target))
    if change.classification is Classification.WEAKENING:
        failure = ET.SubElement(
            case, "failure", {"message": clean(change.summary), "type": "weakening"}
        )
        failure.text = body
    elif change.classification is Classification.UNKNOWN:
        error = ET.SubElement(case, "error", {"message": clean(change.summary), "type": "unknown"})
        error.text = clean(
            f"not compared: {change.why or change.summary}\n"
            "The section could not be read in one of the snapshots; this does not mean unchanged."
        )
    else:
        out = ET.SubElement(case, "system-out")
        out.text = body


def _drift_suite(
    root: ET.Element, drift: DriftReport, seen: set[tuple[str, str]]
) -> dict[str, int]:
    changes = dc.worst_first(drift.changes)
    counts = {"tests": len(changes), "failures": 0, "errors": 0, "skipped": 0}
    for change in changes:
        if change.classification in _DRIFT_COUNTED:
            counts[_DRIFT_COUNTED[change.classification]] += 1
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": DRIFT_SUITE, **{k: str(v) for k, v in counts.items()}, "time": "0"},
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("gitlab_url", drift.new.gitlab_url),
        ("old_snapshot", drift.old.digest),
        ("old_started_at", drift.old.started_at.isoformat()),
        ("new_snapshot", drift.new.digest),
        ("new_started_at", drift.new.started_at.isoformat()),
        ("authors", dc.authors_text(drift.authors)),
        ("strengthening", str(len(drift.of(Classification.STRENGTHENING)))),
        ("neutral", str(len(drift.of(Classification.NEUTRAL)))),
    ):
        ET.SubElement(props, "property", {"name": key, "value": clean(value)})
    targets = {c.id: t for t, members in dc.by_target(changes, drift) for c in members}
    for change in changes:
        # GitLab keeps only the first of two cases with the same classname and name.
        name = dc.case_name(change)
        if (change.target_path, name) in seen:
            name = f"{name} #{change.id[:8]}"
        seen.add((change.target_path, name))
        _drift_case(suite, change, name, drift, targets[change.id])
    return counts


def render_drift(drift: DriftReport) -> str:
    """``posture diff`` for GitLab's test report: one suite, one case per change."""
    root = ET.Element("testsuites", {"name": DRIFT_SUITE})
    totals = _drift_suite(root, drift, set())
    return _document(root, totals)
