"""SARIF 2.1.0, for code-scanning dashboards and any tool that aggregates static-analysis results.

One run. ``tool.driver.rules`` lists every rule that produced a finding in this report (passes
and not-applicable ones included: those rules ran), in catalog order, so ``ruleIndex`` is
stable for a given report. Results:

- ``fail`` → ``kind: fail`` with the rule's level (critical/high → error, medium → warning,
  low/info → note).
- ``waived`` → the same, plus an accepted external suppression carrying the waiver's reason
  (``justification``), owner, expiry and source. Viewers hide it by default but it stays in
  the file, as accepted risk must.
- ``unknown`` → ``kind: open``, ``level: none``: SARIF's "the rule was evaluated and there was
  not enough information to decide" (and SARIF requires level ``none`` for any kind but
  ``fail``, so a "note" would be invalid).
- ``pass`` and ``not_applicable`` are not results; their counts are in ``run.properties``.

Settings have no source file, so a result has only a logical location: the target's path as
``fullyQualifiedName`` (kind ``module`` for a project, ``namespace`` for a group, ``resource``
for the instance and runners). ``partialFingerprints`` carries the finding's fingerprint, which
survives renames. A plain-text message that contains ``](`` has ``\\``, ``[`` and ``]`` escaped,
so a GitLab name such as ``[x](javascript:…)`` cannot become a SARIF embedded link.

Drift is a run of its own (``posture diff``, and a second run of an audit with ``--previous``),
with ``automationDetails.id`` ``posture-drift/`` so aggregators keep it apart from the audit's
run. Its rules are kinds of change (``drift/branches/allow_force_push``). Weakening changes are
``kind: fail`` results at level ``warning`` (a change to review, not a baseline violation: the
audit's findings carry severities); unknown ones are ``kind: open``, ``level: none``;
strengthening and neutral changes are counted in ``run.properties`` only.
``partialFingerprints`` carries the change id.
"""

from __future__ import annotations

import json
from typing import Any

from posture.drift.model import Change, Classification, DriftReport
from posture.findings import SEVERITIES, AuditReport, Finding, Status
from posture.report import drift_common as dc
from posture.rules import REGISTRY, RULES
from posture.rules.base import Rule
from posture.rules.catalog import help_uri

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/posture-dev/gitlab-posture"
FINGERPRINT_KEY = "postureFingerprint/v1"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
#: GitHub code scanning's numeric ``security-severity`` convention (CVSS-like bands).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
_LOCATION_KINDS = {"project": "module", "group": "namespace"}
_CATALOG_ORDER = {rule.id: index for index, rule in enumerate(RULES)}


def plain(text: str) -> str:
    """Escape text for a SARIF plain-text message: no embedded links from untrusted names.

    An embedded link needs ``](``; only then are backslashes and brackets escaped (SARIF's own
    escape), so ordinary messages such as ``[waiver expired …]`` stay readable.
    """
    if "](" not in text:
        return text
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _pascal(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace(".", "_").split("_") if part)


def _descriptor(rule_id: str, rule: Rule | None, sample: Finding) -> dict[str, Any]:
    severity = rule.severity.value if rule is not None else sample.severity
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": rule.title if rule is not None else sample.title},
    }
    tags = ["security", rule.family if rule is not None else sample.family]
    properties: dict[str, Any] = {"severity": severity}
    if rule is not None:
        references = "\n".join(f"- {ref.title}: {ref.url}" for ref in rule.references)
        markdown_refs = "\n".join(f"- [{ref.title}]({ref.url})" for ref in rule.references)
        descriptor["fullDescription"] = {"text": rule.rationale}
        descriptor["help"] = {
            "text": f"{rule.remediation}\n\nReferences:\n{references}",
            "markdown": f"**How to fix it**\n\n{rule.remediation}\n\n"
            f"**References**\n\n{markdown_refs}",
        }
        descriptor["helpUri"] = help_uri(rule_id)
        tags += [f"SOC 2 {criterion}" for criterion in rule.soc2]
        tags += [f"CIS {recommendation}" for recommendation in rule.cis]
        properties.update({"soc2": list(rule.soc2), "cis": list(rule.cis)})
    descriptor["defaultConfiguration"] = {"level": LEVELS.get(severity, "warning")}
    properties["tags"] = tags
    properties["security-severity"] = SECURITY_SEVERITY.get(severity, "5.5")
    descriptor["properties"] = properties
    return descriptor


def _message(finding: Finding) -> str:
    where = finding.target_path + (f" ({finding.item})" if finding.item else "")
    text = f"{where}: {finding.message}"
    if finding.status is Status.UNKNOWN:
        text = f"{where}: not checked: {finding.message}"
    return plain(text)


def _result(finding: Finding, index: int) -> dict[str, Any]:
    location: dict[str, Any] = {
        "fullyQualifiedName": finding.target_path,
        "name": finding.target_path.rsplit("/", 1)[-1],
        "kind": _LOCATION_KINDS.get(finding.target_kind, "resource"),
    }
    properties: dict[str, Any] = {
        "severity": finding.severity,
        "status": finding.status.value,
        "target_kind": finding.target_kind,
        "target_path": finding.target_path,
        "target_url": finding.target_url,
        "item": finding.item,
        "expected": finding.expected,
        "actual": finding.actual,
    }
    result: dict[str, Any] = {"ruleId": finding.rule_id, "ruleIndex": index}
    if finding.status is Status.UNKNOWN:
        result.update({"kind": "open", "level": "none"})
    else:
        result.update({"kind": "fail", "level": LEVELS.get(finding.severity, "warning")})
    result["message"] = {"text": _message(finding)}
    result["locations"] = [{"logicalLocations": [location]}]
    result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    waiver = finding.waiver
    if waiver is not None and finding.status is Status.WAIVED:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": waiver.reason,
                "properties": {
                    "owner": waiver.owner,
                    "expires": waiver.expires,
                    "source": waiver.source,
                },
            }
        ]
    elif waiver is not None:
        properties["expired_waiver"] = {
            "reason": waiver.reason,
            "owner": waiver.owner,
            "expires": waiver.expires,
            "source": waiver.source,
        }
    result["properties"] = properties
    return result


def _time(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(report: AuditReport) -> dict[str, Any]:
    """The SARIF log as a dict (tests validate it against the official schema)."""
    samples: dict[str, Finding] = {}
    for finding in report.findings:
        samples.setdefault(finding.rule_id, finding)
    rule_ids = sorted(samples, key=lambda r: (_CATALOG_ORDER.get(r, len(_CATALOG_ORDER)), r))
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = [_descriptor(r, REGISTRY.get(r), samples[r]) for r in rule_ids]

    shown = (Status.FAIL, Status.WAIVED, Status.UNKNOWN)
    severity_rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings = sorted(
        (f for f in report.findings if f.status in shown),
        key=lambda f: (
            shown.index(f.status),
            severity_rank.get(f.severity, len(SEVERITIES)),
            index[f.rule_id],
            f.target_path,
            f.item or "",
            f.fingerprint,
        ),
    )
    snapshot = report.snapshot
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "posture",
                "fullName": "posture: GitLab configuration posture auditor",
                "version": report.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "startTimeUtc": _time(snapshot.started_at),
                "endTimeUtc": _time(snapshot.finished_at),
            }
        ],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule_id]) for f in findings],
        "properties": {
            "gitlab_url": snapshot.gitlab_url,
            "gitlab_version": snapshot.gitlab_version,
            "scope": list(snapshot.scope),
            "snapshot_complete": snapshot.complete,
            "baseline": report.baseline.name,
            "baseline_digest": report.baseline.digest,
            "baseline_sources": list(report.baseline.sources),
            "evaluated_on": report.evaluated_on,
            "summary": report.summary.model_dump(mode="json"),
        },
    }
    runs = [run]
    if report.drift is not None:
        runs.append(drift_run(report.drift))
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}


def render(report: AuditReport) -> str:
    return json.dumps(build(report), indent=2, sort_keys=True) + "\n"


# --- drift ------------------------------------------------------------------------------

DRIFT_FINGERPRINT_KEY = "postureDriftChange/v1"
DRIFT_CATEGORY = "posture-drift/"
#: Weakening drift is a change to review; severities belong to the audit's findings.
DRIFT_LEVEL = "warning"
_DRIFT_SHOWN = (Classification.WEAKENING, Classification.UNKNOWN)


_DRIFT_HELP = {
    Classification.WEAKENING: "Review the change: if it was not intended, revert it in GitLab. "
    "The audit's findings (rules in properties.related_rules) say whether the new setting "
    "violates the baseline.",
    Classification.UNKNOWN: "Not compared: the data was readable in only one of the two "
    "snapshots, so whether it changed is unknown. Give the token the access it needs.",
}


def _drift_descriptor(
    rule_id: str, family: str, classes: set[Classification], related: list[str]
) -> dict[str, Any]:
    what = rule_id.rsplit("/", 1)[-1]
    weakening = Classification.WEAKENING in classes
    return {
        "id": rule_id,
        "name": _pascal(rule_id.replace("/", "_")),
        "shortDescription": {"text": f"Drift in {family}: {what}"},
        "help": {"text": "\n\n".join(_DRIFT_HELP[c] for c in _DRIFT_SHOWN if c in classes)},
        "defaultConfiguration": {"level": DRIFT_LEVEL if weakening else "none"},
        "properties": {"tags": ["security", "drift", family], "related_rules": related},
    }


def _drift_result(change: Change, index: int, drift: DriftReport) -> dict[str, Any]:
    unknown = change.classification is Classification.UNKNOWN
    if unknown:
        text = f"{change.target_path}: not compared: {change.why or change.summary}"
    else:
        text = f"{change.target_path}: {change.summary}" + (
            f" ({change.why})" if change.why else ""
        )
    location = {
        "fullyQualifiedName": change.target_path,
        "name": change.target_path.rsplit("/", 1)[-1],
        "kind": _LOCATION_KINDS.get(change.target_kind, "resource"),
    }
    result: dict[str, Any] = {"ruleId": dc.rule_id(change), "ruleIndex": index}
    if unknown:
        result.update({"kind": "open", "level": "none"})
    else:
        result.update({"kind": "fail", "level": DRIFT_LEVEL})
    result["message"] = {"text": plain(text)}
    result["locations"] = [{"logicalLocations": [location]}]
    result["partialFingerprints"] = {DRIFT_FINGERPRINT_KEY: change.id}
    result["properties"] = {
        "classification": change.classification.value,
        "change_kind": change.kind.value,
        "family": change.family,
        "target_kind": change.target_kind,
        "target_path": change.target_path,
        "target_url": change.target_url,
        "old_path": change.old_path,
        "section": change.section,
        "item": change.item,
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "why": change.why,
        "rules": list(change.rules),
        "author": None if unknown else dc.author_text(change, drift.authors),
        "events": [e.model_dump(mode="json") for e in change.events],
    }
    return result


def drift_run(drift: DriftReport) -> dict[str, Any]:
    """One SARIF run for the drift between two snapshots."""
    shown = [c for c in dc.worst_first(drift.changes) if c.classification in _DRIFT_SHOWN]
    families: dict[str, str] = {}
    classes: dict[str, set[Classification]] = {}
    related: dict[str, set[str]] = {}
    for change in shown:
        rid = dc.rule_id(change)
        families.setdefault(rid, change.family)
        classes.setdefault(rid, set()).add(change.classification)
        related.setdefault(rid, set()).update(change.rules)
    rule_ids = sorted(families)
    descriptors = [
        _drift_descriptor(r, families[r], classes[r], sorted(related[r])) for r in rule_ids
    ]
    index = {rid: i for i, rid in enumerate(rule_ids)}
    return {
        "tool": {
            "driver": {
                "name": "posture",
                "fullName": "posture: GitLab configuration drift",
                "version": drift.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }
        },
        "automationDetails": {"id": DRIFT_CATEGORY},
        "invocations": [{"executionSuccessful": True}],
        "columnKind": "unicodeCodePoints",
        "results": [_drift_result(c, index[dc.rule_id(c)], drift) for c in shown],
        "properties": {
            "kind": "drift",
            "gitlab_url": drift.new.gitlab_url,
            "old": drift.old.model_dump(mode="json"),
            "new": drift.new.model_dump(mode="json"),
            "authors": drift.authors.model_dump(mode="json"),
            "summary": drift.summary.model_dump(mode="json"),
        },
    }


def build_drift(drift: DriftReport) -> dict[str, Any]:
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [drift_run(drift)]}


def render_drift(drift: DriftReport) -> str:
    return json.dumps(build_drift(drift), indent=2, sort_keys=True) + "\n"
