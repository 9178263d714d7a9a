"""One self-contained HTML page for people: summary, filters, search and every result.

Everything GitLab supplied is untrusted text. The page is rendered by Jinja2 with autoescaping
on and no ``|safe`` anywhere; the data the filters need travels as JSON in a
``<script type="application/json">`` island written by ``|tojson`` (which escapes ``<``, ``>``,
``&`` and ``'``) and read with ``JSON.parse``. A Content-Security-Policy meta tag allows only
the inline style and script, so the page makes no request and works offline. Links go only to
http(s) URLs (the targets' GitLab pages). Output is a pure function of the report.

Drift has its own page (``render_drift``, template ``drift.html.j2``) and, in an audit run with
``--previous``, a section after the findings; both come from the macros in
``drift_macros.html.j2`` and filter by classification and family with ``drift.js`` and their own
JSON island (``drift-data``). Only the drift page keeps its filter in the URL fragment: on an
audit page the fragment belongs to the findings filters.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from posture.drift.model import Change, ChangeKind, Classification, DriftReport
from posture.findings import SEVERITIES, STATUS_ORDER, AuditReport, Finding, Status
from posture.report import drift_common as dc
from posture.report.markdown import safe_url
from posture.rules import REGISTRY

#: The statuses the page shows until a reader picks another filter.
DEFAULT_STATUSES = (Status.FAIL.value, Status.UNKNOWN.value, Status.WAIVED.value)
_STATUS_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("posture.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def group_of(finding: Finding) -> str:
    """The top-level path segment: a top-level group, or ``instance`` / ``runners``."""
    return finding.target_path.split("/", 1)[0]


def _shown(value: Any) -> str:
    """Expected/actual as people read them: strings bare, anything else as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _finding(index: int, f: Finding) -> dict[str, Any]:
    rule = REGISTRY.get(f.rule_id)
    remediation = rule.remediation if rule is not None and f.status is not Status.PASS else None
    return {
        "id": f"f{index}",
        "f": f,
        "group": group_of(f),
        "url": safe_url(f.target_url),
        "expected": _shown(f.expected),
        "actual": _shown(f.actual),
        "remediation": remediation,
    }


def _island(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the filters need, per finding, in page order (search reads the page text)."""
    return {
        "default_statuses": list(DEFAULT_STATUSES),
        "findings": [
            {
                "id": r["id"],
                "status": r["f"].status.value,
                "severity": r["f"].severity,
                "family": r["f"].family,
                "group": r["group"],
            }
            for r in rows
        ],
    }


def render(report: AuditReport) -> str:
    ordered = sorted(
        report.findings,
        key=lambda f: (
            _STATUS_RANK[f.status],
            _SEVERITY_RANK.get(f.severity, 9),
            f.target_path,
            f.rule_id,
            f.item or "",
        ),
    )
    rows = [_finding(i, f) for i, f in enumerate(ordered)]
    families = sorted({f.family for f in report.findings})
    groups = sorted({group_of(f) for f in report.findings})
    waivers = Counter(f.waiver.status for f in report.findings if f.waiver is not None)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            snap=report.snapshot,
            gitlab_link=safe_url(report.snapshot.gitlab_url),
            statuses=[s.value for s in STATUS_ORDER],
            severities=list(SEVERITIES),
            families=families,
            groups=groups,
            rows=rows,
            island=_island(rows),
            active_waivers=waivers.get("active", 0),
            default_statuses=DEFAULT_STATUSES,
            drift=_drift(report.drift, sync_location=False) if report.drift is not None else None,
        )
    )


# --- drift ------------------------------------------------------------------------------


def _change(index: int, change: Change, target: dc.Target, drift: DriftReport) -> dict[str, Any]:
    unknown = change.classification is Classification.UNKNOWN
    return {
        "id": f"c{index}",
        "c": change,
        "target": target,
        "url": safe_url(target.url),
        "author": None if unknown else dc.author_text(change, drift.authors),
        "events": [
            dc.event_text(e) for e in sorted(change.events, key=lambda e: (e.created_at, e.id))
        ],
        "old": dc.value_text(change.old),
        "new": dc.value_text(change.new),
        "rule": dc.rule_id(change),
    }


def _drift(
    drift: DriftReport, *, sync_location: bool, verdict: str | None = None
) -> dict[str, Any]:
    """What the drift macros need: rows worst first, counts, filter values and the island."""
    targets = {
        change.id: target
        for target, members in dc.by_target(drift.changes, drift)
        for change in members
    }
    ordered = dc.worst_first(drift.changes)
    rows = [_change(i, c, targets[c.id], drift) for i, c in enumerate(ordered)]
    by_kind = drift.summary.by_kind
    return {
        "drift": drift,
        "rows": rows,
        "counts": [(c.value, n) for c, n in dc.counts(drift)],
        "kinds": [(k.value, by_kind.get(k.value, 0)) for k in ChangeKind],
        "reasons": dc.unknown_reasons(drift),
        "families": sorted({c.family for c in drift.changes}),
        "empty": dc.empty_text(drift),
        "since": dc.when(drift.old.started_at),
        "old_text": dc.side_text(drift.old),
        "new_text": dc.side_text(drift.new),
        "authors": dc.authors_text(drift.authors),
        "verdict": verdict,
        "gitlab_link": safe_url(drift.new.gitlab_url),
        "island": {
            "sync_location": sync_location,
            "changes": [
                {
                    "id": r["id"],
                    "classification": r["c"].classification.value,
                    "family": r["c"].family,
                    "kind": r["c"].kind.value,
                }
                for r in rows
            ],
        },
    }


def render_drift(drift: DriftReport, *, fail_on: str = "weakening", strict: bool = False) -> str:
    """``posture diff`` as one self-contained page, filterable by classification and family."""
    context = _drift(drift, sync_location=True, verdict=dc.fail_on_text(drift, fail_on, strict))
    return _environment().get_template("drift.html.j2").render(d=context)
