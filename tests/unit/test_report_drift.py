"""Drift in every report: standalone (``posture diff``) and inside an audit (``--previous``).

Built from hand-made DriftReports (tests/drift_reporting.py): what a reader notices is checked
(order, who made a change, the --fail-on verdict, escaping, valid XML and SARIF), and an audit
without drift must render exactly as before.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from posture import findings as F
from posture.drift.model import ChangeKind, DriftReport, loads
from posture.errors import ConfigError
from posture.report import DRIFT_FORMATS, MODULES, Format, render, render_drift
from posture.report import csv as csv_report
from posture.report import drift_common as dc
from tests.drift_reporting import (
    GITLAB,
    N,
    S,
    U,
    W,
    authors,
    change,
    event,
    make_drift,
    sample_changes,
)
from tests.reporting import make_report

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden"
HOSTILE_BRANCH = "a|b<script>"
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def hostile_drift() -> DriftReport:
    return make_drift(
        [
            change(
                f"protected branch {HOSTILE_BRANCH}: force push false → true",
                item=HOSTILE_BRANCH,
                path="acme/[x](javascript:alert(1))",
            )
        ]
    )


def audit(drift: DriftReport | None) -> F.AuditReport:
    finding = F.Finding(
        rule_id="branches.force_push",
        title="Force push is forbidden",
        family="branches",
        severity="high",
        status=F.Status.FAIL,
        target_kind="project",
        target_id=1,
        target_path="acme/app",
        target_url=f"{GITLAB}/acme/app",
        item="main",
        message="force push is allowed on main",
        expected=False,
        actual=True,
        fingerprint=F.Finding.make_fingerprint(
            "branches.force_push", "project", 1, "acme/app", "main"
        ),
    )
    return make_report([finding], sources=["posture-baseline.yaml"]).model_copy(
        update={"drift": drift}
    )


# --- dispatch ---------------------------------------------------------------------------


def test_every_drift_format_has_a_renderer() -> None:
    """Adding a format to DRIFT_FORMATS without a render_drift fails here, not at a user."""
    import importlib

    assert set(DRIFT_FORMATS) == {
        Format.TABLE,
        Format.JSON,
        Format.MARKDOWN,
        Format.HTML,
        Format.JUNIT,
        Format.SARIF,
    }
    drift = make_drift()
    for fmt in DRIFT_FORMATS:
        module = importlib.import_module(f"posture.report.{MODULES[fmt]}")
        assert callable(getattr(module, "render_drift", None)), fmt
        text = render_drift(drift, fmt)
        assert "acme/app" in text, fmt


@pytest.mark.parametrize("fmt", [Format.CSV, Format.CODEQUALITY])
def test_formats_without_standalone_drift_say_so(fmt: Format) -> None:
    with pytest.raises(ConfigError, match="drift has no"):
        render_drift(make_drift(), fmt)


def test_an_unknown_fail_on_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="weakening, any, none"):
        render_drift(make_drift(), Format.TABLE, fail_on="high")


@pytest.mark.parametrize("fmt", list(Format))
def test_every_audit_format_shows_drift_and_is_unchanged_without_it(fmt: Format) -> None:
    weak = change("protected branch main: force push false → true", path="acme/drifted")
    without, with_ = audit(None), audit(make_drift([weak]))
    plain, drifted = render(without, fmt), render(with_, fmt)
    assert "acme/drifted" not in plain
    assert "acme/drifted" in drifted, fmt
    if fmt in (Format.TABLE, Format.MARKDOWN, Format.CSV):
        # Drift is added; nothing the audit already said is lost or reworded.
        assert set(plain.splitlines()) <= set(drifted.splitlines())


@pytest.mark.parametrize("fmt", list(Format))
def test_audit_without_drift_renders_its_golden_file(fmt: Format) -> None:
    source = GOLDEN / "demo-minimal.json"
    report = F.loads(source.read_text(encoding="utf-8"), str(source))
    assert report.drift is None
    expected = (GOLDEN / f"demo-minimal.{fmt.value}").read_bytes().decode("utf-8")
    assert render(report, fmt, fail_on="high") == expected


# --- shared helpers ---------------------------------------------------------------------


def test_rule_ids_name_family_and_what_changed() -> None:
    by_summary = {c.summary: dc.rule_id(c) for c in sample_changes()}
    assert by_summary["protected branch main: force push false → true"] == (
        "drift/branches/allow_force_push"
    )
    assert by_summary["CI/CD variable DEPLOY_TOKEN (production) added (unmasked; unprotected)"] == (
        "drift/variables/variables.added"
    )
    assert by_summary["project renamed: acme/old-api → acme/api"] == (
        "drift/visibility/project.renamed"
    )
    assert by_summary["protected branch not compared: forbidden (403) in the new snapshot"] == (
        "drift/branches/protected_branches.unknown"
    )


def test_author_text_from_events_or_the_lookup_status() -> None:
    with_event, without = sample_changes()[0], sample_changes()[1]
    ok = authors("ok", events_read=4)
    assert dc.author_text(with_event, ok) == (
        "by alice at 2026-11-01 14:02 UTC: change allow_force_push from false to true"
    )
    assert dc.author_text(without, ok) == "author unknown: no matching audit event"
    assert dc.author_text(without, authors()) == "author not looked up"
    assert dc.author_text(without, authors("unavailable", "needs GitLab Premium")) == (
        "author unknown: audit events are unavailable"
    )
    many = change("x", events=[event(f"user{i}", event_id=i) for i in range(5)])
    assert dc.author_text(many, ok).endswith("; and 2 more audit events")
    nameless = change("x", events=[event(None)])
    assert dc.author_text(nameless, ok).startswith("by user #7 at ")


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("not_requested", None, "not looked up (audit events were not requested)"),
        ("ok", None, "from 4 GitLab audit event(s) (3 group(s)/project(s) queried)"),
        ("unavailable", "needs GitLab Premium", "unknown: audit events are unavailable: needs"),
        ("forbidden", "403 Forbidden", "unknown: the token may not read audit events: 403"),
        ("error", "timed out", "unknown: audit events could not be read: timed out"),
        ("partial", "2 projects failed", "partly known, audit events were only partly read: 2"),
    ],
)
def test_every_report_says_whether_authors_could_be_read(
    status: str, message: str | None, expected: str
) -> None:
    drift = make_drift(lookup=authors(status, message, events_read=4))  # type: ignore[arg-type]
    assert dc.authors_text(drift.authors).startswith(expected)
    for fmt in (Format.TABLE, Format.HTML, Format.JUNIT):
        assert expected in render_drift(drift, fmt).replace("&#39;", "'"), fmt
    assert expected in render_drift(drift, Format.MARKDOWN).replace("\\", "")
    sarif_authors = json.loads(render_drift(drift, Format.SARIF))["runs"][0]["properties"]
    assert sarif_authors["authors"]["status"] == status


# --- table ------------------------------------------------------------------------------


def test_table_orders_weakening_first_grouped_by_target() -> None:
    text = render_drift(make_drift(lookup=authors("ok", events_read=4)), Format.TABLE)
    headings = [line for line in text.splitlines() if re.match(r"^[A-Z][a-z].* \(\d+\)$", line)]
    assert headings == [
        "Weakening (4)",
        "Strengthening (2)",
        "Neutral (4)",
        "Unknown: not compared (1)",
    ]
    weakening = text[text.index("Weakening (4)") : text.index("Strengthening (2)")]
    # Targets in path order, each once, its changes under it with why and who.
    assert [line for line in weakening.splitlines() if not line.startswith(" ")][1:-1] == [
        "acme/api (project), renamed from acme/old-api  https://gitlab.example/acme/api",
        "acme/app (project)  https://gitlab.example/acme/app",
        "acme/web (project)  https://gitlab.example/acme/web",
    ]
    assert (
        "  - protected branch main: force push false → true\n"
        "      why: force push allowed\n"
        "      by alice at 2026-11-01 14:02 UTC: change allow_force_push from false to true\n"
    ) in weakening
    assert "acme/tool (project), transferred from sandbox/tool" in text
    assert "Total: 11 changes: 4 weakening, 1 unknown, 2 strengthening, 4 neutral" in text


def test_table_header_names_both_snapshots() -> None:
    drift = make_drift(new_complete=False)
    lines = render_drift(drift, Format.TABLE).splitlines()
    assert lines[0] == (
        "Drift of https://gitlab.example: 2026-11-01 03:00 UTC → 2026-11-02 03:00 UTC"
    )
    assert lines[1] == "Old: 2026-11-01 03:00 UTC by root (admin), snapshot aaaaaaaaaaaa, complete"
    assert lines[2].startswith(
        "New: 2026-11-02 03:00 UTC by auditor (admin), snapshot bbbbbbbbbbbb"
    )
    assert "INCOMPLETE" in lines[2]


@pytest.mark.parametrize(
    ("changes", "fail_on", "strict", "last"),
    [
        (None, "weakening", False, "4 weakening changes: failing (--fail-on weakening); 1 not"),
        (None, "any", False, "10 changes: failing (--fail-on any); 1 not compared (unknown)"),
        (None, "none", False, "--fail-on none: changes do not change the exit code"),
        (None, "weakening", True, "5 weakening or unknown changes: failing (--fail-on weakening"),
        ([change("x", S)], "weakening", False, "No weakening changes: passing (--fail-on weak"),
        ([change("x", S)], "any", False, "1 change: failing (--fail-on any)"),
        ([change("x", W)], "weakening", False, "1 weakening change: failing (--fail-on weakening)"),
    ],
)
def test_table_last_line_is_what_fail_on_decided(
    changes: list | None, fail_on: str, strict: bool, last: str
) -> None:
    drift = make_drift(changes)
    text = render_drift(drift, Format.TABLE, fail_on=fail_on, strict=strict)
    assert text.endswith("\n")
    assert text.splitlines()[-1].startswith(last)
    # The verdict counts exactly what the exit code is computed from.
    failing = len(drift.failing(fail_on, strict))
    assert (failing > 0) == ("failing (" in text.splitlines()[-1])


def test_empty_drift_reads_clearly() -> None:
    text = render_drift(make_drift([]), Format.TABLE)
    assert "No changes between 2026-11-01 03:00 UTC and 2026-11-02 03:00 UTC." in text
    assert text.splitlines()[-1] == "No weakening changes: passing (--fail-on weakening)"
    assert "No changes between" in render_drift(make_drift([]), Format.MARKDOWN)
    assert "No changes between" in render_drift(make_drift([]), Format.HTML)


def test_table_colours_only_when_asked() -> None:
    drift = make_drift()
    assert "\x1b" not in render_drift(drift, Format.TABLE)
    coloured = render_drift(drift, Format.TABLE, color=True)
    assert "\x1b[31mWeakening (4)\x1b[0m" in coloured
    assert "\x1b[32mStrengthening (2)\x1b[0m" in coloured
    assert "\x1b[35mUnknown: not compared (1)\x1b[0m" in coloured


def test_table_strips_terminal_escapes_from_gitlab_values() -> None:
    evil = change("protected branch \x1b[2J\x1b]0;pwned\x07x: force push", item="\x1b[2Jx")
    text = render_drift(make_drift([evil]), Format.TABLE)
    assert "\x1b" not in text
    assert "\x07" not in text


def test_few_unknowns_are_listed_many_are_counted_by_reason() -> None:
    def unknowns(n: int) -> list:
        return [
            change(
                f"protected branch not compared in p{i}",
                U,
                ChangeKind.UNKNOWN,
                path=f"acme/p{i:02}",
                target_id=100 + i,
                why="protected_branches: forbidden (403) in both snapshots" if i % 3 else "x",
            )
            for i in range(n)
        ]

    few = render_drift(make_drift(unknowns(dc.LISTED_UNKNOWN_MAX)), Format.TABLE)
    assert "acme/p00 (project)" in few
    assert few.count("  - protected branch not compared") == dc.LISTED_UNKNOWN_MAX
    many = render_drift(make_drift(unknowns(30)), Format.TABLE)
    assert "acme/p00" not in many
    assert "     20  protected_branches: forbidden (403) in both snapshots" in many
    assert "     10  x" in many


# --- json -------------------------------------------------------------------------------


def test_json_is_the_drift_document_byte_for_byte() -> None:
    drift = make_drift(lookup=authors("ok", events_read=4))
    text = render_drift(drift, Format.JSON)
    assert text == render_drift(drift, Format.JSON)
    assert loads(text) == drift
    data = json.loads(text)
    assert data["kind"] == "drift"
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_audit_json_keeps_drift_only_when_set() -> None:
    drift = make_drift()
    with_ = render(audit(drift), Format.JSON)
    assert F.loads(with_).drift == drift
    assert "drift" not in json.loads(render(audit(None), Format.JSON))


# --- markdown ---------------------------------------------------------------------------


def test_markdown_counts_weakening_table_and_folded_rest() -> None:
    text = render_drift(make_drift(lookup=authors("ok", events_read=4)), Format.MARKDOWN)
    assert "| weakening | unknown | strengthening | neutral | total |" in text
    assert "| 4 | 1 | 2 | 4 | 11 |" in text
    assert "**4 weakening changes: failing \\(--fail-on weakening\\)" in text
    weakening = text[text.index("### Weakening (4)") : text.index("<details>")]
    assert weakening.count("\n| [acme/") == 4
    assert "by alice at 2026-11-01 14:02 UTC" in weakening
    summaries = re.findall(r"<details><summary>(.*?)</summary>", text)
    assert summaries == ["Unknown: not compared (1)", "Strengthening (2)", "Neutral (4)"]
    assert "<details open>" not in text


def test_markdown_escapes_a_hostile_branch() -> None:
    text = render_drift(hostile_drift(), Format.MARKDOWN)
    row = next(line for line in text.splitlines() if "force push" in line)
    # The pipe cannot add a cell, the tag cannot open, the link cannot form.
    assert row.count("|") - row.count("\\|") == 5
    assert "<script>" not in text
    assert "a\\|b\\<script\\>" in row
    assert "](javascript" not in text.replace("\\](", "")


def test_audit_markdown_has_a_drift_section_after_the_findings() -> None:
    text = render(audit(make_drift()), Format.MARKDOWN)
    assert text.index("### Failing") < text.index("### Drift since 2026-11-01 03:00 UTC")
    assert "#### Weakening (4)" in text


# --- html -------------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script = False
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append((dict(attrs), ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)

    def island(self, ident: str) -> dict[str, Any]:
        [data] = [t for a, t in self.scripts if a.get("id") == ident]
        return json.loads(data)


def test_html_drift_page_is_self_contained_and_filterable() -> None:
    page = Page(render_drift(make_drift(), Format.HTML))
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert [a["content"] for a in metas] == [CSP]
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "img", "base"), tag
        assert "src" not in attrs
        if "href" in attrs:
            assert urlsplit(attrs["href"] or "").netloc == "gitlab.example"
    island = page.island("drift-data")
    articles = [a for t, a in page.tags if t == "article"]
    assert [c["id"] for c in island["changes"]] == [a["id"] for a in articles]
    assert [a["data-classification"] for a in articles] == ["weakening"] * 4 + ["unknown"] + [
        "strengthening"
    ] * 2 + ["neutral"] * 4
    assert island["sync_location"] is True
    options = [a["value"] for t, a in page.tags if t == "option"]
    assert {"weakening", "unknown", "strengthening", "neutral"} <= set(options)
    text = " ".join(" ".join(page.text).split())
    assert "4 weakening changes: failing (--fail-on weakening)" in text
    assert "renamed from acme/old-api" in text


def test_html_escapes_a_hostile_branch() -> None:
    html = render_drift(hostile_drift(), Format.HTML)
    page = Page(html)
    assert html.count("<script") == 2  # the JSON island and drift.js, nothing from the data
    assert HOSTILE_BRANCH in "".join(page.text)
    assert "a|b&lt;script&gt;" in html
    hrefs = [a["href"] or "" for _, a in page.tags if "href" in a]
    assert hrefs
    assert {urlsplit(h).scheme for h in hrefs} == {"https"}


def test_audit_html_has_a_drift_section_that_leaves_the_url_alone() -> None:
    plain = render(audit(None), Format.HTML)
    html = render(audit(make_drift()), Format.HTML)
    page = Page(html)
    assert 'id="drift-h"' in html
    assert 'id="drift-h"' not in plain
    assert page.island("drift-data")["sync_location"] is False
    assert page.island("posture-data")["findings"][0]["status"] == "fail"
    ids = [a["id"] for t, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids))


# --- junit ------------------------------------------------------------------------------


def test_junit_one_suite_one_case_per_change() -> None:
    drift = make_drift()
    root = ET.fromstring(render_drift(drift, Format.JUNIT))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "posture drift"
    cases = suite.findall("testcase")
    assert len(cases) == len(drift.changes) == int(suite.get("tests", "0"))
    outcome = {
        (c.get("classname"), c.get("name")): (
            "failure"
            if c.find("failure") is not None
            else "error"
            if c.find("error") is not None
            else "pass"
        )
        for c in cases
    }
    assert outcome[("acme/app", "drift/branches/allow_force_push [main]")] == "failure"
    assert outcome[("acme/secret", "drift/branches/protected_branches.unknown")] == "error"
    assert outcome[("instance", "drift/visibility/signup_enabled")] == "pass"
    assert outcome[("acme/api", "drift/visibility/project.renamed")] == "pass"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "0")
    assert root.get("failures") == "4"
    failure = next(c for c in cases if c.get("classname") == "acme/app").find("failure")
    assert failure is not None
    assert failure.get("type") == "weakening"
    assert "by alice at 2026-11-01 14:02 UTC" in (failure.text or "")


def test_junit_survives_hostile_values_and_keeps_names_unique() -> None:
    evil = "bad\x00null </failure><failure>forged</failure> a|b<script>"
    twins = [
        change(evil, item=evil, field="push.principals", new="user:1", old=None),
        change(evil, item=evil, field="push.principals", new="user:2", old=None),
    ]
    twins[1] = twins[1].model_copy(update={"id": "f" * 32})
    root = ET.fromstring(render_drift(make_drift(twins), Format.JUNIT))
    cases = root.findall("testsuite/testcase")
    assert len({c.get("name") for c in cases}) == 2
    assert all("forged" in (c.find("failure").get("message") or "") for c in cases)  # type: ignore[union-attr]
    assert root.findall("testsuite/testcase/failure/failure") == []


def test_audit_junit_gets_an_extra_suite_and_totals() -> None:
    without = ET.fromstring(render(audit(None), Format.JUNIT))
    root = ET.fromstring(render(audit(make_drift()), Format.JUNIT))
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names[-1] == "posture drift"
    assert names[:-1] == [s.get("name") for s in without.findall("testsuite")]
    assert int(root.get("tests", "0")) == int(without.get("tests", "0")) + 11
    assert int(root.get("failures", "0")) == int(without.get("failures", "0")) + 4


# --- sarif ------------------------------------------------------------------------------


@cache
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def valid_sarif(text: str) -> dict[str, Any]:
    log = json.loads(text)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(log)]
    assert not errors, errors[:5]
    assert log["version"] == "2.1.0"
    for run in log["runs"]:
        assert run["tool"]["driver"]["name"] == "posture"
        rules = run["tool"]["driver"]["rules"]
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert result["message"]["text"]
            assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
    return log


def test_sarif_weakening_and_unknown_results_with_change_fingerprints() -> None:
    drift = make_drift()
    log = valid_sarif(render_drift(drift, Format.SARIF))
    (run,) = log["runs"]
    assert run["automationDetails"]["id"] == "posture-drift/"
    results = run["results"]
    assert [(r["kind"], r["level"]) for r in results] == [("fail", "warning")] * 4 + [
        ("open", "none")
    ]
    ids = {c.id for c in drift.of(W)} | {c.id for c in drift.of(U)}
    assert {r["partialFingerprints"]["postureDriftChange/v1"] for r in results} == ids
    assert run["properties"]["summary"]["by_classification"]["strengthening"] == 2
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(rule_ids)
    assert "drift/branches/allow_force_push" in rule_ids
    force = next(r for r in results if r["ruleId"] == "drift/branches/allow_force_push")
    assert force["message"]["text"] == (
        "acme/app: protected branch main: force push false → true (force push allowed)"
    )
    assert force["locations"][0]["logicalLocations"][0]["kind"] == "module"
    assert force["properties"]["author"].startswith("by alice at ")


def test_sarif_message_cannot_carry_an_embedded_link() -> None:
    log = valid_sarif(render_drift(hostile_drift(), Format.SARIF))
    text = log["runs"][0]["results"][0]["message"]["text"]
    assert "\\[x\\](javascript:alert(1))" in text


def test_audit_sarif_adds_a_drift_run() -> None:
    log = valid_sarif(render(audit(make_drift()), Format.SARIF))
    assert len(log["runs"]) == 2
    assert "automationDetails" not in log["runs"][0]
    assert log["runs"][1]["automationDetails"]["id"] == "posture-drift/"
    assert len(valid_sarif(render(audit(None), Format.SARIF))["runs"]) == 1


# --- codequality and csv (inside an audit) ----------------------------------------------


def test_codequality_lists_weakening_changes_as_issues() -> None:
    drift = make_drift()
    issues = json.loads(render(audit(drift), Format.CODEQUALITY))
    drift_issues = [i for i in issues if i["check_name"].startswith("drift/")]
    assert {i["fingerprint"] for i in drift_issues} == {c.id for c in drift.of(W)}
    for issue in issues:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= set(issue)
        assert issue["location"]["path"] == "posture-baseline.yaml"
    assert {i["severity"] for i in drift_issues} == {"major"}
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_csv_appends_one_row_per_change_in_the_same_columns() -> None:
    drift = make_drift(
        [change("=HYPERLINK(1)", item="=cmd"), *sample_changes()[1:3], change("n", N)]
    )
    rows = list(csv.reader(io.StringIO(render(audit(drift), Format.CSV))))
    assert tuple(rows[0]) == csv_report.COLUMNS
    assert rows[1][0] == "branches.force_push"
    drift_rows = [dict(zip(rows[0], r, strict=True)) for r in rows[2:]]
    assert [r["status"] for r in drift_rows] == ["weakening", "weakening", "weakening", "neutral"]
    assert all(r["rule_id"].startswith("drift/") for r in drift_rows)
    formula = next(r for r in drift_rows if r["item"] == "'=cmd")
    assert formula["message"].startswith("'=HYPERLINK(1)")
    assert {r["fingerprint"] for r in drift_rows} == {c.id for c in drift.changes}


# --- determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [f for f in DRIFT_FORMATS if f is not Format.JSON])
def test_output_does_not_depend_on_change_order(fmt: Format) -> None:
    """JSON keeps the engine's order; every other format orders changes itself."""
    changes = sample_changes()
    shuffled = changes[:]
    random.Random(4).shuffle(shuffled)
    assert render_drift(make_drift(changes), fmt) == render_drift(make_drift(shuffled), fmt)
    assert render_drift(make_drift(changes), fmt) == render_drift(make_drift(changes), fmt)


# --- the filter script in a real browser --------------------------------------------------


@pytest.mark.integration
def test_drift_page_filter_follows_the_url_fragment(tmp_path: Path) -> None:
    """drift.js runs under the page's CSP and hides what the fragment filters out."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed")
    page = tmp_path / "drift.html"
    page.write_text(render_drift(make_drift(), Format.HTML), encoding="utf-8")
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri() + "#classification=weakening&q=acme/app",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None
    assert 'data-drift-ready="1"' in body.group(1), body.group(1)
    shown = [a for a in re.findall(r"<article [^>]*>", dom) if " hidden" not in a]
    assert len(shown) == 2  # force push and the unmasked variable on acme/app
    assert all('data-classification="weakening"' in a for a in shown)
    assert "Showing 2 of 11 changes." in dom
