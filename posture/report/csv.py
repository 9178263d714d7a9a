"""One CSV row per result, passes included, for spreadsheets and ad-hoc filtering.

RFC 4180 (the csv module, CRLF line ends), UTF-8 without a byte-order mark. Spreadsheets run
a cell that starts with ``= + - @`` (or a tab or carriage return) as a formula, and project
names, branch names and webhook hosts are chosen by whoever can create them in GitLab; such
cells get a leading apostrophe (OWASP "CSV injection" guidance) so they open as text.

An audit run with ``--previous`` appends one row per drift change after the findings, in the
same columns: ``rule_id`` ``drift/<family>/<what>``, ``title`` ``drift: <kind>``, ``severity``
empty, ``status`` the classification (weakening, strengthening, neutral, unknown: never a
finding status), ``message`` the summary with why and who, ``expected``/``actual`` the old and
new values, ``fingerprint`` the change id.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from posture.drift.model import Change, Classification, DriftReport
from posture.findings import AuditReport, Finding
from posture.report import drift_common as dc

COLUMNS = (
    "rule_id",
    "title",
    "family",
    "severity",
    "status",
    "target_kind",
    "target_path",
    "target_url",
    "item",
    "message",
    "expected",
    "actual",
    "waiver_owner",
    "waiver_expires",
    "waiver_reason",
    "waiver_status",
    "fingerprint",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Make a cell inert in spreadsheets: a formula-like start is prefixed with an apostrophe."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _value(value: Any) -> str:
    """Strings as they are, other values as compact JSON, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _row(finding: Finding) -> list[str]:
    waiver = finding.waiver
    cells = [
        finding.rule_id,
        finding.title,
        finding.family,
        finding.severity,
        finding.status.value,
        finding.target_kind,
        finding.target_path,
        finding.target_url or "",
        finding.item or "",
        finding.message,
        _value(finding.expected),
        _value(finding.actual),
        waiver.owner if waiver else "",
        waiver.expires if waiver else "",
        waiver.reason if waiver else "",
        waiver.status if waiver else "",
        finding.fingerprint,
    ]
    return [neutralise(c) for c in cells]


def render(report: AuditReport) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    writer.writerows(_row(f) for f in report.findings)
    if report.drift is not None:
        drift = report.drift
        writer.writerows(_drift_row(c, drift) for c in dc.worst_first(drift.changes))
    return out.getvalue()


def _drift_row(change: Change, drift: DriftReport) -> list[str]:
    message = change.summary
    if change.why:
        message += f"; why: {change.why}"
    if change.classification is not Classification.UNKNOWN:
        message += f"; {dc.author_text(change, drift.authors)}"
    cells = [
        dc.rule_id(change),
        f"drift: {change.kind.value}",
        change.family,
        "",
        change.classification.value,
        change.target_kind,
        change.target_path,
        change.target_url or "",
        change.item or "",
        message,
        _value(change.old),
        _value(change.new),
        "",
        "",
        "",
        "",
        change.id,
    ]
    return [neutralise(c) for c in cells]
