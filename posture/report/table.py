"""A readable table for people at a terminal: problems grouped by target, then the counts.

Passes are evidence, not news: they are counted in the summary but not listed. Unknowns are
listed with the reason the data was missing, because "not checked" must never look like
"fine". Colour only when asked (the CLI asks on a TTY, unless NO_COLOR is set).

Drift (``posture diff``, or an audit with ``--previous``) lists weakening changes first, then
strengthening and neutral ones, each under its target with why and who; unknown changes are
listed when few and counted by reason when many, like unchecked findings. GitLab-supplied text
in drift has control characters removed, so a name cannot carry terminal escape sequences.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from tabulate import tabulate

from posture.drift.model import Classification, DriftReport
from posture.findings import SEVERITIES, STATUS_ORDER, AuditReport, Finding, Status
from posture.report import drift_common as dc

_COLOURS = {
    Status.FAIL: "\033[31m",
    Status.UNKNOWN: "\033[35m",
    Status.WAIVED: "\033[33m",
    Status.PASS: "\033[32m",
    Status.NOT_APPLICABLE: "\033[2m",
}
_RESET = "\033[0m"
_SHOWN = (Status.FAIL, Status.UNKNOWN, Status.WAIVED)
_MAX_MESSAGE = 100


def _label(status: Status, color: bool) -> str:
    text = status.value.upper().replace("_", " ")
    return f"{_COLOURS[status]}{text}{_RESET}" if color else text


def _clip(text: str, limit: int = _MAX_MESSAGE) -> str:
    """One line, no control characters (names come from GitLab: no terminal escapes), clipped."""
    text = dc.one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(finding: Finding, color: bool) -> list[str]:
    message = finding.message
    if finding.status is Status.WAIVED and finding.waiver is not None:
        message = (
            f"[waived until {finding.waiver.expires} by {finding.waiver.owner}: "
            f"{finding.waiver.reason}] {message}"
        )
    return [
        _label(finding.status, color),
        finding.severity if finding.status is not Status.UNKNOWN else "",
        finding.rule_id,
        _clip(finding.item or "", 60),
        _clip(message, 140 if finding.status is Status.WAIVED else _MAX_MESSAGE),
    ]


def render(report: AuditReport, *, color: bool = False, fail_on: str | None = "high") -> str:
    snap = report.snapshot
    lines = [
        f"Audit of {snap.gitlab_url} against baseline {report.baseline.name} "
        f"({report.baseline.digest[:19]}…)",
        f"Snapshot taken {snap.started_at:%Y-%m-%d %H:%M} UTC by {snap.username or 'unknown'}"
        f"{' (admin)' if snap.is_admin else ''}; "
        f"{'complete' if snap.complete else 'INCOMPLETE: some sections failed to collect'}",
        "",
    ]

    by_target: dict[tuple[str, str, str | None], list[Finding]] = defaultdict(list)
    for finding in report.findings:
        if finding.status in _SHOWN:
            key = (finding.target_kind, finding.target_path, finding.target_url)
            by_target[key].append(finding)
    severity_rank = {s: i for i, s in enumerate(SEVERITIES)}
    status_rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    # One table for every target, so columns line up down the whole report.
    rows: list[list[str]] = []
    owners: list[tuple[str, str, str | None]] = []
    for key, findings in by_target.items():
        findings.sort(
            key=lambda f: (status_rank[f.status], severity_rank.get(f.severity, 9), f.rule_id)
        )
        rows += [_row(f, color) for f in findings]
        owners += [key] * len(findings)
    table_lines = tabulate(rows, tablefmt="plain").splitlines() if rows else []
    current = None
    for key, line in zip(owners, table_lines, strict=True):
        if key != current:
            if current is not None:
                lines.append("")
            kind, path, url = key
            lines.append(f"{dc.one_line(path)} ({kind})" + (f"  {dc.one_line(url)}" if url else ""))
            current = key
        lines.append("  " + line.rstrip())
    if rows:
        lines.append("")
    if not by_target:
        lines.extend(["No failing, unknown or waived findings.", ""])
    if report.drift is not None:
        lines += _drift_section(report.drift, color)

    summary = report.summary
    counts = ", ".join(
        f"{summary.by_status.get(s.value, 0)} {s.value.replace('_', ' ')}" for s in STATUS_ORDER
    )
    lines.append(f"Results: {summary.total} checks: {counts}")
    failing = " · ".join(f"{s} {summary.failing_by_severity.get(s, 0)}" for s in SEVERITIES)
    lines.append(f"Failing by severity: {failing}")
    if summary.unknown_by_reason:
        lines.append("Not checked (data not collected; never counted as a pass):")
        for reason, count in sorted(summary.unknown_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {count:>5}  {_clip(reason)}")
    waiver_states = Counter(f.waiver.status for f in report.findings if f.waiver is not None)
    if waiver_states or report.stale_waivers:
        lines.append(
            f"Waivers: {waiver_states.get('active', 0)} finding(s) waived, "
            f"{summary.expired_waivers} waiver(s) expired and no longer waiving, "
            f"{summary.stale_waivers} stale (match no failing finding)"
        )
        for stale in report.stale_waivers:
            lines.append(f"  stale: {stale.rule} on {stale.target} ({stale.source})")
    if fail_on is None:
        lines.append("--fail-on none: failing findings do not change the exit code")
    else:
        at_or_above = len(report.failing(fail_on))
        lines.append(
            f"{at_or_above} failing finding(s) at or above {fail_on}"
            + (" (exit 1)" if at_or_above else "")
        )
    return "\n".join(lines) + "\n"


# --- drift ------------------------------------------------------------------------------

_DRIFT_COLOURS = {
    Classification.WEAKENING: "\033[31m",
    Classification.STRENGTHENING: "\033[32m",
    Classification.UNKNOWN: "\033[35m",
}
#: The order classifications are listed in: unknowns last, where they may be only counted.
_LISTED = (Classification.WEAKENING, Classification.STRENGTHENING, Classification.NEUTRAL)
_MAX_SUMMARY = 200


def _heading(classification: Classification, count: int, color: bool) -> str:
    text = f"{dc.TITLES[classification]} ({count})"
    colour = _DRIFT_COLOURS.get(classification)
    return f"{colour}{text}{_RESET}" if color and colour else text


def _target_line(target: dc.Target) -> str:
    return dc.one_line(target.label) + (f"  {dc.one_line(target.url)}" if target.url else "")


def _drift_body(drift: DriftReport, color: bool) -> list[str]:
    """The changes, worst first, grouped by target; unknowns listed or counted at the end."""
    if not drift.changes:
        return [dc.empty_text(drift), ""]
    lines: list[str] = []
    for classification in _LISTED:
        changes = dc.of(drift, classification)
        if not changes:
            continue
        lines.append(_heading(classification, len(changes), color))
        for target, members in dc.by_target(changes, drift):
            lines.append(_target_line(target))
            for change in members:
                lines.append(f"  - {_clip(dc.one_line(change.summary), _MAX_SUMMARY)}")
                if change.why:
                    lines.append(f"      why: {_clip(dc.one_line(change.why), _MAX_SUMMARY)}")
                if change.events or drift.authors.status != "not_requested":
                    lines.append(f"      {dc.author_text(change, drift.authors)}")
        lines.append("")
    unknown = dc.of(drift, Classification.UNKNOWN)
    if unknown:
        lines.append(_heading(Classification.UNKNOWN, len(unknown), color))
        lines.append("Sections not readable in one snapshot: never read these as unchanged.")
        if len(unknown) > dc.LISTED_UNKNOWN_MAX:
            for reason, count in dc.unknown_reasons(drift):
                lines.append(f"  {count:>5}  {_clip(dc.one_line(reason))}")
        else:
            for target, members in dc.by_target(unknown, drift):
                lines.append(_target_line(target))
                lines += [f"  - {_clip(dc.one_line(c.summary), _MAX_SUMMARY)}" for c in members]
        lines.append("")
    return lines


def _drift_section(drift: DriftReport, color: bool) -> list[str]:
    """Drift inside an audit table: after the findings, before the audit's own counts."""
    old = drift.old
    return [
        f"Drift since {dc.when(old.started_at)} "
        f"(snapshot {dc.short_digest(old.digest)} by {dc.one_line(old.username) or 'unknown'})",
        "Authors: " + dc.authors_text(drift.authors),
        "",
        *_drift_body(drift, color),
        f"Drift: {dc.counts_text(drift)}",
        "",
    ]


def render_drift(
    drift: DriftReport, *, color: bool = False, fail_on: str = "weakening", strict: bool = False
) -> str:
    """``posture diff`` at a terminal: header, changes, counts, and what ``--fail-on`` decided."""
    dc.check_fail_on(fail_on)
    lines = [
        f"Drift of {dc.one_line(drift.new.gitlab_url)}: "
        f"{dc.when(drift.old.started_at)} → {dc.when(drift.new.started_at)}",
        f"Old: {dc.one_line(dc.side_text(drift.old))}",
        f"New: {dc.one_line(dc.side_text(drift.new))}",
        "Authors: " + dc.authors_text(drift.authors),
        "",
        *_drift_body(drift, color),
        f"Total: {dc.counts_text(drift)}",
        dc.fail_on_text(drift, fail_on, strict),
    ]
    return "\n".join(lines) + "\n"
