"""GitLab Code Quality report (``artifacts:reports:codequality``): the merge request widget and
the pipeline's Code Quality tab.

One issue per **failing** finding. Waived findings are accepted risk and unknown ones are not
violations, so neither belongs in a list of quality degradations (both stay visible in every
other format). Fields are the ones GitLab reads: ``description``, ``check_name`` (the rule id),
``fingerprint`` (the finding's, stable across renames, so GitLab's MR comparison works),
``severity`` and ``location.path`` + ``location.lines.begin``; ``type``, ``categories`` and
``content.body`` follow the Code Climate spec for other consumers.

A GitLab setting has no source file, so the location is the file where the user acts on
posture's side, relative to the repository root as GitLab requires:

1. a failure whose waiver expired → the waiver's own line in the baseline (renew it or fix);
2. otherwise the most specific baseline file given to posture (``--baseline
   posture-baseline.yaml`` in the CI template), line 1;
3. with only a shipped baseline, ``.gitlab-ci.yml`` line 1: the file that runs the audit and
   chooses the baseline, and one that exists in every repository with a pipeline.

The baseline path is used as it was given (posture does not guess a repository root), so pass
a path relative to the repository root for GitLab to link it.

An audit run with ``--previous`` adds one issue per **weakening** change since that snapshot:
``check_name`` is the change's rule-like id (``drift/branches/allow_force_push``), the
fingerprint is the change id, severity ``major`` (a change to review; the findings carry the
baseline's severities), located like findings without an expired waiver. Unknown,
strengthening and neutral changes are not degradations and are left out.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from posture.drift.model import Change, Classification, DriftReport
from posture.findings import SEVERITIES, AuditReport, Finding, Status
from posture.report import drift_common as dc
from posture.rules import REGISTRY

#: posture severity → GitLab's five levels, one to one and in the same order.
SEVERITY_MAP = {
    "critical": "blocker",
    "high": "critical",
    "medium": "major",
    "low": "minor",
    "info": "info",
}
FALLBACK_PATH = ".gitlab-ci.yml"
#: GitLab severity of a weakening change (posture's "medium").
DRIFT_SEVERITY = "major"


def _file(source: str) -> str | None:
    """A baseline source as a repository path, or None for shipped or in-memory baselines."""
    if source.endswith(" (shipped)") or (source.startswith("<") and source.endswith(">")):
        return None
    path = source.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path or None


def baseline_file(report: AuditReport) -> str:
    """The most specific baseline file (sources are listed most general first)."""
    for source in reversed(report.baseline.sources):
        path = _file(source)
        if path is not None:
            return path
    return FALLBACK_PATH


def _location(finding: Finding, default: str) -> dict[str, Any]:
    waiver = finding.waiver
    if waiver is not None and waiver.status == "expired":
        path, _, line = waiver.source.rpartition(":")
        file = _file(path) if path else None
        if file is not None and line.isdigit() and int(line) > 0:
            return {"path": file, "lines": {"begin": int(line)}}
    return {"path": default, "lines": {"begin": 1}}


def _one_line(text: str) -> str:
    """One line for the widget: no line breaks, control characters or lone surrogates."""
    return "".join(
        "\ufffd" if unicodedata.category(c) in ("Cc", "Cs") else c for c in " ".join(text.split())
    )


def _issue(finding: Finding, default: str) -> dict[str, Any]:
    where = finding.target_path + (f" ({finding.item})" if finding.item else "")
    description = f"{finding.rule_id}: {where}: {finding.message}"
    body = [
        finding.title,
        f"expected: {json.dumps(finding.expected, sort_keys=True)}",
        f"actual: {json.dumps(finding.actual, sort_keys=True)}",
    ]
    rule = REGISTRY.get(finding.rule_id)
    if rule is not None:
        body.append(f"remediation: {rule.remediation}")
    if finding.target_url:
        body.append(f"fix it at: {finding.target_url}")
    return {
        "type": "issue",
        "check_name": finding.rule_id,
        "description": _one_line(description),
        "content": {"body": "\n".join(body)},
        "categories": ["Security"],
        "severity": SEVERITY_MAP.get(finding.severity, "major"),
        "fingerprint": finding.fingerprint,
        "location": _location(finding, default),
    }


def build(report: AuditReport) -> list[dict[str, Any]]:
    """The issue list (tests check the fields GitLab requires on every issue)."""
    default = baseline_file(report)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    failing = sorted(
        (f for f in report.findings if f.status is Status.FAIL),
        key=lambda f: (rank.get(f.severity, len(rank)), f.rule_id, f.target_path, f.item or ""),
    )
    issues: list[dict[str, Any]] = []
    seen: set[str] = set()
    for finding in failing:
        if finding.fingerprint not in seen:  # GitLab merges equal fingerprints anyway
            seen.add(finding.fingerprint)
            issues.append(_issue(finding, default))
    if report.drift is not None:
        for change in dc.worst_first(report.drift.of(Classification.WEAKENING)):
            if change.id not in seen:
                seen.add(change.id)
                issues.append(_drift_issue(change, report.drift, default))
    return issues


def _drift_issue(change: Change, drift: DriftReport, default: str) -> dict[str, Any]:
    rule = dc.rule_id(change)
    body = [change.summary]
    if change.why:
        body.append(f"why: {change.why}")
    body += [
        f"before: {json.dumps(change.old, sort_keys=True)}",
        f"after: {json.dumps(change.new, sort_keys=True)}",
        dc.author_text(change, drift.authors),
        f"since the snapshot of {dc.when(drift.old.started_at)}",
    ]
    if change.rules:
        body.append(f"checked by rules: {', '.join(change.rules)}")
    if change.target_url:
        body.append(f"see it at: {change.target_url}")
    return {
        "type": "issue",
        "check_name": rule,
        "description": _one_line(f"{rule}: {change.target_path}: {change.summary}"),
        "content": {"body": "\n".join(body)},
        "categories": ["Security"],
        "severity": DRIFT_SEVERITY,
        "fingerprint": change.id,
        "location": {"path": default, "lines": {"begin": 1}},
    }


def render(report: AuditReport) -> str:
    return json.dumps(build(report), indent=2) + "\n"
