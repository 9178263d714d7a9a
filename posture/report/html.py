"""One self-contained HTML page for people: summary, filters, search and every result.

Everything GitLab supplied is untrusted text. The page is rendered by Jinja2 with autoescaping
on and no ``|safe`` anywhere; the data the filters need travels as JSON in a
``<script type="application/json">`` island written by ``|tojson`` (which escapes ``<``, ``>``,
``&`` and ``'``) and read with ``JSON.parse``. A Content-Security-Policy meta tag allows only
the inline style and script, so the page makes no request and works offline. Links go only to
http(s) URLs (the targets' GitLab pages). Output is a pure function of the report.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from posture.findings import SEVERITIES, STATUS_ORDER, AuditReport, Finding, Status
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
        )
    )
