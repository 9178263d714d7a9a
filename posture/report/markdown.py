"""A markdown summary for merge-request comments and issues (GitLab Flavored Markdown).

Everything GitLab supplied (paths, branch names, hosts, messages built from them) is untrusted
and goes through :func:`text`: every character that can start markdown syntax, HTML or a
GitLab reference is backslash-escaped, which CommonMark defines as literal and which GitLab
also honours to stop ``@user``, ``#1``, ``!1``, ``~label`` and ``$1`` references firing;
newlines and control characters become spaces so a value cannot break out of a table row.
Links are written only for http(s) URLs. Long lists fold into ``<details>`` blocks so a report with
hundreds of failures stays readable.

Drift (``posture diff``, or an audit with ``--previous``) is a counts table, a table of the
weakening changes, and folded ``<details>`` for unknown, strengthening and neutral ones.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from urllib.parse import quote, urlsplit

from posture.drift.model import Change, Classification, DriftReport
from posture.findings import SEVERITIES, STATUS_ORDER, AuditReport, Finding, Status
from posture.report import drift_common as dc

#: Up to this many failing findings the per-target blocks start expanded.
OPEN_UP_TO = 25
#: Unknown and waived lists longer than this are folded.
FOLD_OVER = 10

#: Markdown syntax (emphasis, code, links, images, HTML, tables, headings), entities and
#: GitLab references (@ # ! ~ $ % & ^; see GitLab's Banzai MarkdownPreEscapeFilter). All are
#: ASCII punctuation, so CommonMark's backslash escape makes them literal.
_SPECIAL = frozenset("\\`*_{}[]()<>#+!|~&@$%^")
# C0/C1 controls and the bidi overrides that can make text read differently than it is.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _flat(value: str) -> str:
    return " ".join(_INVISIBLE.sub(" ", value).split())


def text(value: str | None) -> str:
    """Untrusted text made inert in markdown and in a table cell."""
    if not value:
        return ""
    return "".join("\\" + c if c in _SPECIAL else c for c in _flat(value))


def code(value: str) -> str:
    """Inline HTML code for places where markdown is not parsed (``<summary>``)."""
    return f"<code>{html.escape(_flat(value))}</code>"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a link destination, or None: no other scheme is ever linked."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url.strip(), safe=":/?#@!$&'*+,;=%~-._")


def link(label: str, url: str | None) -> str:
    target = safe_url(url)
    return f"[{text(label)}]({target})" if target else text(label)


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _fold(summary: str, body: list[str], *, open_: bool) -> list[str]:
    return [
        f"<details{' open' if open_ else ''}><summary>{summary}</summary>",
        "",
        *body,
        "",
        "</details>",
        "",
    ]


def _summary(report: AuditReport) -> list[str]:
    snap = report.snapshot
    summary = report.summary
    who = text(snap.username) or "unknown user"
    lines = [
        f"## posture audit of {text(snap.gitlab_url)}",
        "",
        f"Baseline **{text(report.baseline.name)}** (`{_flat(report.baseline.digest)[:19]}…`) · "
        f"snapshot {snap.started_at:%Y-%m-%d %H:%M} UTC by {who}"
        f"{' (admin)' if snap.is_admin else ''} · "
        + ("complete" if snap.complete else "**incomplete: some sections failed to collect**"),
        "",
    ]
    status_row = [str(summary.by_status.get(s.value, 0)) for s in STATUS_ORDER]
    lines += _table(
        [s.value.replace("_", " ") for s in STATUS_ORDER], [status_row], ["--:"] * len(STATUS_ORDER)
    )
    lines.append("")
    severity_row = [str(summary.failing_by_severity.get(s, 0)) for s in SEVERITIES]
    lines += _table([f"failing {s}" for s in SEVERITIES], [severity_row], ["--:"] * len(SEVERITIES))
    lines.append("")
    if summary.expired_waivers or summary.stale_waivers:
        lines += [
            f"Waivers: {summary.expired_waivers} expired (no longer waiving), "
            f"{summary.stale_waivers} stale (match no failing finding).",
            "",
        ]
    return lines


def _target_key(f: Finding) -> tuple[str, str, str | None]:
    return (f.target_kind, f.target_path, f.target_url)


def _failing(report: AuditReport) -> list[str]:
    failing = [f for f in report.findings if f.status is Status.FAIL]
    lines = [f"### Failing ({len(failing)})", ""]
    if not failing:
        return [*lines, "No failing findings.", ""]
    by_target: dict[tuple[str, str, str | None], list[Finding]] = defaultdict(list)
    for f in failing:
        by_target[_target_key(f)].append(f)

    def worst(key: tuple[str, str, str | None]) -> tuple[int, str, str]:
        return (min(_SEVERITY_RANK.get(f.severity, 9) for f in by_target[key]), key[1], key[0])

    open_ = len(failing) <= OPEN_UP_TO
    for key in sorted(by_target, key=worst):
        kind, path, url = key
        findings = sorted(
            by_target[key],
            key=lambda f: (_SEVERITY_RANK.get(f.severity, 9), f.rule_id, f.item or ""),
        )
        counts = Counter(f.severity for f in findings)
        tally = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])
        body = [f"Target: {link(path, url)} ({text(kind)})", ""]
        body += _table(
            ["severity", "rule", "item", "finding"],
            [[f.severity, f"`{f.rule_id}`", text(f.item), text(f.message)] for f in findings],
        )
        lines += _fold(f"{code(path)} ({html.escape(kind)}): {tally}", body, open_=open_)
    return lines


def _unknown(report: AuditReport) -> list[str]:
    unknown = [f for f in report.findings if f.status is Status.UNKNOWN]
    if not unknown:
        return []
    lines = [
        f"### Not checked ({len(unknown)})",
        "",
        "The data could not be collected, so these were not judged; never read them as a pass.",
        "",
    ]
    rows = [
        [link(f.target_path, f.target_url), f"`{f.rule_id}`", text(f.item), text(f.message)]
        for f in sorted(unknown, key=lambda f: (f.target_path, f.rule_id, f.item or ""))
    ]
    table = _table(["target", "rule", "item", "reason"], rows)
    if len(unknown) > FOLD_OVER:
        reasons = Counter(f.message for f in unknown)
        lines += [f"- {count} × {text(reason)}" for reason, count in sorted(reasons.items())]
        lines.append("")
        return lines + _fold(f"All {len(unknown)} unchecked results", table, open_=False)
    return [*lines, *table, ""]


def _waivers(report: AuditReport) -> list[str]:
    waived = [f for f in report.findings if f.waiver is not None]
    if not waived and not report.stale_waivers:
        return []
    lines: list[str] = []
    active = [f for f in waived if f.status is Status.WAIVED]
    expired = [f for f in waived if f.status is not Status.WAIVED]
    for title, group in (("Waived", active), ("Expired waivers, failing again", expired)):
        if not group:
            continue
        rows = [
            [
                link(f.target_path, f.target_url),
                f"`{f.rule_id}`",
                text(f.item),
                text(f.waiver.owner),
                text(f.waiver.expires),
                text(f.waiver.reason),
            ]
            for f in sorted(group, key=lambda f: (f.target_path, f.rule_id, f.item or ""))
            if f.waiver is not None
        ]
        table = _table(["target", "rule", "item", "owner", "expires", "reason"], rows)
        lines += [f"### {title} ({len(group)})", ""]
        if len(group) > FOLD_OVER:
            lines += _fold(f"{len(group)} findings", table, open_=False)
        else:
            lines += [*table, ""]
    if report.stale_waivers:
        lines += [f"### Stale waivers ({len(report.stale_waivers)})", ""]
        lines += [
            f"- `{s.rule}` on {text(s.target)}{' ' + text(s.item) if s.item else ''}: "
            f"owner {text(s.owner)}, expires {text(s.expires)} ({text(s.source)})"
            for s in report.stale_waivers
        ]
        lines.append("")
    return lines


def render(report: AuditReport) -> str:
    lines = _summary(report) + _failing(report) + _unknown(report) + _waivers(report)
    if report.drift is not None:
        lines += _drift_section(report.drift)
    return "\n".join(lines).rstrip() + "\n"


# --- drift ------------------------------------------------------------------------------

#: Folded sections after the weakening table, in the model's worst-first order.
_FOLDED = (Classification.UNKNOWN, Classification.STRENGTHENING, Classification.NEUTRAL)


def _side(label: str, side_: dc.SnapshotSide) -> str:
    who = text(side_.username) or "unknown user"
    state = "" if side_.complete else ", **incomplete: some sections failed to collect**"
    return (
        f"{label} snapshot `{dc.short_digest(_flat(side_.digest))}` "
        f"{dc.when(side_.started_at)} by {who}{' (admin)' if side_.is_admin else ''}{state}"
    )


def _drift_meta(drift: DriftReport) -> list[str]:
    return [
        f"{_side('Old', drift.old)} · {_side('new', drift.new)}",
        "",
        text("Authors: " + dc.authors_text(drift.authors)),
        "",
    ]


def _drift_counts(drift: DriftReport) -> list[str]:
    pairs = dc.counts(drift)
    header = [c.value for c, _ in pairs] + ["total"]
    row = [str(n) for _, n in pairs] + [str(drift.summary.total)]
    return [*_table(header, [row], ["--:"] * len(header)), ""]


def _target_cell(target: dc.Target) -> str:
    cell = link(target.path, target.url)
    if target.kind != "instance":
        cell += f" ({text(target.kind)})"
    return cell + (f", {text(target.moved)}" if target.moved else "")


def _change_rows(changes: list[Change], drift: DriftReport) -> list[str]:
    rows = [
        [
            _target_cell(target),
            text(change.summary),
            text(change.why),
            text(dc.author_text(change, drift.authors)),
        ]
        for target, members in dc.by_target(changes, drift)
        for change in members
    ]
    return _table(["target", "change", "why", "author"], rows)


def _unknown_rows(changes: list[Change], drift: DriftReport) -> list[str]:
    rows = [
        [_target_cell(target), text(change.summary)]
        for target, members in dc.by_target(changes, drift)
        for change in members
    ]
    return _table(["target", "not compared"], rows)


def _drift_changes(drift: DriftReport, level: str) -> list[str]:
    if not drift.changes:
        return [dc.empty_text(drift), ""]
    weakening = dc.of(drift, Classification.WEAKENING)
    lines = [f"{level} {dc.TITLES[Classification.WEAKENING]} ({len(weakening)})", ""]
    if weakening:
        lines += [*_change_rows(weakening, drift), ""]
    else:
        lines += ["No weakening changes.", ""]
    for classification in _FOLDED:
        changes = dc.of(drift, classification)
        if not changes:
            continue
        title = f"{html.escape(dc.TITLES[classification])} ({len(changes)})"
        if classification is Classification.UNKNOWN:
            body = [
                "These sections could not be read in one of the snapshots; never read them as "
                "unchanged.",
                "",
            ]
            if len(changes) > FOLD_OVER:
                body += [f"- {n} × {text(reason)}" for reason, n in dc.unknown_reasons(drift)]
                body.append("")
            body += _unknown_rows(changes, drift)
        else:
            body = _change_rows(changes, drift)
        lines += _fold(title, body, open_=False)
    return lines


def _drift_section(drift: DriftReport) -> list[str]:
    """Drift inside an audit's markdown, after the findings."""
    return [
        f"### Drift since {dc.when(drift.old.started_at)}",
        "",
        *_drift_meta(drift),
        *_drift_counts(drift),
        *_drift_changes(drift, "####"),
    ]


def render_drift(drift: DriftReport, *, fail_on: str = "weakening", strict: bool = False) -> str:
    """``posture diff`` for a merge-request comment or a job summary."""
    lines = [
        f"## posture drift of {text(drift.new.gitlab_url)}",
        "",
        *_drift_meta(drift),
        *_drift_counts(drift),
        f"**{text(dc.fail_on_text(drift, fail_on, strict))}**",
        "",
        *_drift_changes(drift, "###"),
    ]
    return "\n".join(lines).rstrip() + "\n"
