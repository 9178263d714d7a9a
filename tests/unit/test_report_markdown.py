"""The markdown report: the summary an MR comment shows, and GitLab values kept inert."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from posture import findings as F
from posture.report import Format, render
from posture.report.markdown import OPEN_UP_TO, safe_url, text
from tests.reporting import make_report

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "[click](javascript:alert(1))",
    "![x](https://evil.example/pixel.png)",
    "a | b | c",
    "line one\nline two\r\n| injected | row |",
    "@all #1 !2 ~label $3 %4 &epic ^5",
    "**bold** _it_ `code` ~~strike~~",
    "&lt;script&gt;",
]
_SPECIAL = "\\`*_{}[]()<>#+!|~&@$%^"


def finding(
    status: F.Status = F.Status.FAIL,
    *,
    rule: str = "branches.force_push",
    severity: str = "high",
    path: str = "acme/app",
    url: str | None = None,
    item: str | None = "main",
    message: str = "force push is allowed on main",
    waiver: F.WaiverInfo | None = None,
) -> F.Finding:
    return F.Finding(
        rule_id=rule,
        title="Force push is forbidden",
        family=rule.split(".", maxsplit=1)[0],
        severity=severity,
        status=status,
        target_kind="project",
        target_id=1,
        target_path=path,
        target_url=url if url is not None else f"https://gitlab.example/{path}",
        item=item,
        message=message,
        waiver=waiver,
        fingerprint=F.Finding.make_fingerprint(rule, "project", 1, path, item),
    )


def report(*items: F.Finding, name: str = "acme-hardening") -> F.AuditReport:
    moment = datetime(2026, 11, 1, 3, 4, tzinfo=UTC)
    return make_report(
        items,
        name=name,
        digest="sha256:" + "ab" * 32,
        username="auditor",
        moment=moment,
        expired_waivers=1,
    )


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def unescaped(value: str, chars: str) -> list[str]:
    """Characters from ``chars`` that are not backslash-escaped (every backslash escapes)."""
    found, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] in chars:
            found.append(value[i])
        i += 1
    return found


def test_summary_has_counts_baseline_and_snapshot() -> None:
    r = report(finding(), finding(F.Status.PASS), finding(F.Status.FAIL, severity="critical"))
    md = render(r, Format.MARKDOWN)
    assert "Baseline **acme\\-hardening**" not in md  # '-' is not escaped: plain readable text
    assert "Baseline **acme-hardening** (`sha256:abababababab…`)" in md
    assert "snapshot 2026-11-01 03:04 UTC by auditor" in md
    assert "| 2 | 0 | 0 | 1 | 0 |" in md  # fail unknown waived pass n/a
    assert "| 1 | 1 | 0 | 0 | 0 |" in md  # failing critical high medium low info
    assert "1 expired" in md


def test_failing_findings_are_grouped_by_target_with_a_link_worst_first() -> None:
    r = report(
        finding(path="acme/low", severity="low"),
        finding(path="acme/crit", severity="critical", rule="branches.push_access"),
        finding(path="acme/crit", severity="medium"),
        finding(F.Status.PASS, path="acme/passing"),
    )
    md = render(r, Format.MARKDOWN)
    assert md.index("acme/crit") < md.index("acme/low")
    assert "(project): 1 critical, 1 medium</summary>" in md
    assert "[acme/crit](https://gitlab.example/acme/crit)" in md
    assert "acme/passing" not in md
    assert "### Failing (3)" in md


def test_long_reports_fold_and_short_ones_open() -> None:
    few = render(report(finding()), Format.MARKDOWN)
    assert "<details open>" in few
    many = [finding(path=f"acme/p{i:03}", item=None) for i in range(OPEN_UP_TO + 175)]
    md = render(report(*many), Format.MARKDOWN)
    assert "<details open>" not in md
    assert md.count("<details><summary>") == len(many)
    assert md.count("<details") == md.count("</details>")


def test_unknowns_list_their_reason_and_waivers_their_owner_and_expiry() -> None:
    active = F.WaiverInfo(
        reason="community workflow",
        owner="oss@acme.example",
        expires="2027-03-31",
        status="active",
        source="b.yaml",
    )
    expired = active.model_copy(update={"status": "expired", "expires": "2026-06-30"})
    r = report(
        finding(F.Status.UNKNOWN, message="branches: forbidden (403)", path="acme/u"),
        finding(F.Status.WAIVED, path="acme/w", waiver=active),
        finding(F.Status.FAIL, path="acme/e", waiver=expired),
    )
    md = render(r, Format.MARKDOWN)
    unknown = md[md.index("### Not checked (1)") :]
    assert "branches: forbidden \\(403\\)" in unknown
    waived = md[md.index("### Waived (1)") :]
    assert "oss\\@acme.example | 2027-03-31 | community workflow |" in waived
    assert "### Expired waivers, failing again (1)" in md
    assert md.index("### Failing") < md.index("### Not checked") < md.index("### Waived")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_inert(value: str) -> None:
    r = report(finding(path=value, item=value, message=f"branch {value} is open"))
    md = render(r, Format.MARKDOWN)
    for line in md.splitlines():
        # the only raw HTML is our own folding; everything else has its "<" escaped
        bare = re.sub(r"</?(details|summary|code)( open)?>", "", line)
        assert unescaped(bare, "<") == [], line
        if not line.startswith("<details"):
            # link destinations are only ever http(s): the hostile "(javascript:" is escaped
            for destination in re.findall(r"(?<!\\)\]\(([^)]*)\)", line):
                assert destination.startswith("https://"), line
    for line in md.splitlines():
        if line.startswith("| high |"):
            # exactly five cell separators: the value did not add columns or rows
            assert len(unescaped(line, "|")) == 5, line
            cell = line.split(" | ")[2]
            assert unescaped(cell, _SPECIAL.replace("|", "")) == []
            assert unescape(cell) == " ".join(value.split())


def test_text_escapes_and_flattens() -> None:
    assert text("a\nb\tc\u202ed") == "a b c d"
    assert text("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"
    assert text("@all") == "\\@all"
    assert text(None) == ""


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>", "//evil.example", ""],
)
def test_only_http_links(url: str) -> None:
    assert safe_url(url) is None
    md = render(report(finding(url=url or "ftp://x.example/a")), Format.MARKDOWN)
    assert "](" not in md  # the target is named but not linked


def test_link_destinations_cannot_break_out() -> None:
    url = "https://gitlab.example/a b)(<x>|y"
    assert safe_url(url) == "https://gitlab.example/a%20b%29%28%3Cx%3E%7Cy"


def test_summary_tag_escapes_html() -> None:
    md = render(report(finding(path="<b>x</b>")), Format.MARKDOWN)
    assert "<summary><code>&lt;b&gt;x&lt;/b&gt;</code>" in md


def test_empty_report_says_so() -> None:
    md = render(report(finding(F.Status.PASS)), Format.MARKDOWN)
    assert "No failing findings." in md
    assert "### Waived" not in md
    assert "### Not checked" not in md
