"""Compliance mappings: data-file integrity, agreement with the rules, roll-up, CSV, docs."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from posture import compliance as C
from posture import findings as F
from posture.baseline import load_baseline
from posture.errors import ConfigError
from posture.evaluate import evaluate
from posture.rules import REGISTRY, RULES
from posture.snapshot import load
from tests.reporting import make_report

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "soc2.md"

S = F.Status
R1, R2 = "branches.force_push", "approvals.min_required"


def finding(status: F.Status, rule: str = R1, target_id: int = 1) -> F.Finding:
    return F.Finding(
        rule_id=rule,
        title="t",
        family=rule.split(".", 1)[0],
        severity="high",
        status=status,
        target_kind="project",
        target_id=target_id,
        target_path=f"acme/p{target_id}",
        message="m",
        fingerprint=F.Finding.make_fingerprint(rule, "project", target_id, "acme/p", None),
    )


def report(*items: F.Finding) -> F.AuditReport:
    return make_report(items)


def framework(*requirements: C.Requirement, name: str = "soc2") -> C.Framework:
    return C.Framework(name, "Test", "1", list(requirements), "test.yaml")


@pytest.fixture(scope="module")
def demo_report() -> F.AuditReport:
    snapshot = load(ROOT / "tests" / "golden" / "demo.snapshot.json")
    return evaluate(snapshot, load_baseline(str(ROOT / "examples" / "acme-baseline.yaml")))


# --- integrity of the shipped data files ------------------------------------------------


@pytest.mark.parametrize("name", C.FRAMEWORKS)
def test_shipped_frameworks_are_sound(name: str) -> None:
    fw = C.load_framework(name)
    ids = [r.id for r in fw.requirements]
    assert fw.name == name
    assert len(ids) == len(set(ids)), "duplicate requirement id"
    for req in fw.requirements:
        assert req.title
        assert all(rule in REGISTRY for rule in req.rules), req.id
        assert len(req.rules) == len(set(req.rules)), f"{req.id} lists a rule twice"
        assert req.automated or req.note, f"{req.id} is manual without a reason"


def test_soc2_covers_the_criteria_gitlab_configuration_touches() -> None:
    fw = C.load_framework("soc2")
    ids = {r.id for r in fw.requirements}
    assert {"CC6.1", "CC6.2", "CC6.3", "CC6.6", "CC6.7", "CC6.8", "CC7.1", "CC7.2", "CC8.1"} <= ids
    manual = [r for r in fw.requirements if not r.automated]
    assert any(r.id.startswith("CC1.") for r in manual)
    assert any(r.id.startswith("CC9.") for r in manual)


def test_unknown_framework_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="soc2, cis"):
        C.load_framework("iso27001")


GOOD = """
framework: soc2
title: T
version: "1"
requirements:
  - id: CC6.1
    title: x
    automated: true
    rules: [branches.force_push]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("branches.force_push", "branches.force_pushh"), "did you mean"),
        (
            GOOD.replace("[branches.force_push]", "[branches.force_push, branches.force_push]"),
            "more than once",
        ),
        (GOOD + GOOD[GOOD.index("  - id") :], "listed twice"),
        (GOOD.replace("automated: true", "automated: false"), "add a note"),
        (GOOD.replace("automated: true", "automated: 'yes'"), "automated"),
        (GOOD.replace("title: x", "title: x\n    ttile: y"), "ttile"),
        ("framework: [", "not valid YAML"),
    ],
    ids=[
        "unknown-rule",
        "rule-twice",
        "id-twice",
        "manual-no-note",
        "bad-type",
        "extra-key",
        "yaml",
    ],
)
def test_parse_rejects_broken_files(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        C.parse_framework(text, "x.yaml")
    C.parse_framework(GOOD, "x.yaml")  # the unbroken file is fine


# --- the data files and the rules' own tuples agree -------------------------------------


@pytest.mark.parametrize("name", C.FRAMEWORKS)
def test_data_file_agrees_with_rule_tuples(name: str) -> None:
    fw = C.load_framework(name)
    assert C.disagreements(fw) == []
    for rule in RULES:  # the same statement, spelled out per rule
        listed = {req.id for req in fw.requirements if rule.id in req.rules}
        assert listed == set(getattr(rule, name)), rule.id


def test_disagreements_are_reported_in_both_directions() -> None:
    fw = C.load_framework("soc2")
    changed = [
        replace(req, rules=tuple(r for r in req.rules if r != R1))  # drop from CC8.1
        if req.id == "CC8.1"
        else replace(req, rules=(*req.rules, R2))  # add where the rule does not say so
        if req.id == "CC6.8"
        else req
        for req in fw.requirements
    ]
    problems = C.disagreements(replace(fw, requirements=changed))
    assert any(p.startswith(R1) and "names CC8.1" in p for p in problems), problems
    assert any(p.startswith(R2) and "under CC6.8" in p for p in problems), problems
    assert len(problems) == 2


def test_unmapped_rules() -> None:
    assert C.unmapped_rules(C.load_framework("soc2")) == []
    assert C.unmapped_rules(C.load_framework("cis")) == [r.id for r in RULES if not r.cis]
    only = framework(C.Requirement("CC8.1", "x", True, (R1,)))
    assert C.unmapped_rules(only) == [r.id for r in RULES if r.id != R1]


# --- status logic -------------------------------------------------------------------------

PAIR = C.Requirement("CC8.1", "change", True, (R1, R2))


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "not_evaluated"),
        ([S.PASS, S.PASS], "pass"),
        ([S.PASS, S.NOT_APPLICABLE], "pass"),
        ([S.NOT_APPLICABLE], "pass"),
        ([S.PASS, S.WAIVED], "pass_with_exceptions"),
        ([S.PASS, S.WAIVED, S.UNKNOWN], "unknown"),
        ([S.PASS, S.UNKNOWN, S.WAIVED, S.FAIL], "fail"),
    ],
)
def test_status(statuses: list[F.Status], expected: str) -> None:
    items = [finding(s, rule=(R1, R2)[i % 2], target_id=i) for i, s in enumerate(statuses)]
    row = C.controls(report(*items), framework(PAIR))[0]
    assert row.status == expected
    assert sum(row.counts.values()) == len(statuses)


def test_manual_requirement_is_manual_whatever_its_rules_say() -> None:
    manual = replace(PAIR, automated=False, note="a person checks this")
    row = C.controls(report(finding(S.FAIL)), framework(manual))[0]
    assert row.status == "manual"
    assert row.counts["fail"] == 1  # still shown


def test_only_evaluated_rules_count_and_the_others_are_listed() -> None:
    other = "webhooks.plain_http"
    rows = C.controls(report(finding(S.PASS, R1), finding(S.FAIL, other)), framework(PAIR))
    row = rows[0]
    assert row.status == "pass"  # the other rule's failure is not this requirement's
    assert row.evaluated_rules == (R1,)
    assert row.not_evaluated_rules == (R2,)
    assert row.counts == {"pass": 1, "fail": 0, "waived": 0, "unknown": 0, "not_applicable": 0}
    unmapped = rows[-1]
    assert (unmapped.id, unmapped.status) == (C.UNMAPPED_ID, "unmapped")
    assert other in unmapped.evaluated_rules
    assert unmapped.counts["fail"] == 1


def test_controls_over_the_demo(demo_report: F.AuditReport) -> None:
    rows = {r.id: r for r in C.controls(demo_report, C.load_framework("soc2"))}
    assert C.UNMAPPED_ID not in rows  # every rule maps to a SOC 2 criterion
    assert rows["CC1.1"].status == "manual"
    assert rows["CC7.2"].status == "not_evaluated"  # a criterion with no rule stays visible
    assert rows["CC8.1"].status == "fail"
    # variables.prefer_hidden is opt-in and the acme baseline leaves it off
    assert "variables.prefer_hidden" in rows["CC6.1"].not_evaluated_rules
    webhooks = set(rows["CC6.7"].rules)
    for status in S:
        expected = sum(
            1 for f in demo_report.findings if f.rule_id in webhooks and f.status is status
        )
        assert rows["CC6.7"].counts[status.value] == expected


# --- CSV ----------------------------------------------------------------------------------


def test_csv_shape(demo_report: F.AuditReport) -> None:
    fw = C.load_framework("cis")
    text = C.controls_csv(demo_report, fw)
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == C.CSV_COLUMNS
    assert all(len(r) == len(C.CSV_COLUMNS) for r in rows)
    body = [dict(zip(C.CSV_COLUMNS, r, strict=True)) for r in rows[1:]]
    assert [b["requirement"] for b in body] == [r.id for r in fw.requirements] + [C.UNMAPPED_ID]
    by_id = {b["requirement"]: b for b in body}
    assert by_id["1.1.12"]["automated"] == "no"
    assert by_id["1.1.12"]["status"] == "manual"
    assert by_id["1.1.15"]["rules"] == "branches.push_access branches.merge_access"
    assert int(by_id["1.1.16"]["fail"]) >= 1
    assert by_id["1.1.16"]["status"] == "fail"


def test_csv_cells_cannot_run_as_formulas() -> None:
    evil = C.Requirement("=1+1", '=HYPERLINK("https://evil.example","x")', False, (), "@SUM(A1)")
    text = C.controls_csv(report(), framework(evil))
    row = list(csv.reader(io.StringIO(text, newline="")))[1]
    cells = dict(zip(C.CSV_COLUMNS, row, strict=True))
    assert cells["requirement"] == "'=1+1"
    assert cells["title"].startswith("'=HYPERLINK")
    assert cells["note"] == "'@SUM(A1)"
    assert not any(c.startswith(("=", "+", "-", "@")) for c in row)


# --- docs ---------------------------------------------------------------------------------


def test_markdown_shows_gaps_both_ways() -> None:
    soc2 = C.mapping_markdown(C.load_framework("soc2"))
    assert "Rules with no criterion: none." in soc2
    assert "CC7.2 (automated)" in soc2
    assert "CC9.2 (manual)" in soc2
    assert "[`branches.force_push`](rules.md#branchesforce_push)" in soc2
    cis = C.mapping_markdown(C.load_framework("cis"))
    assert "[`access.token_expiry`](rules.md#accesstoken_expiry)" in cis.split("Rules with no")[1]
    piped = C.mapping_markdown(framework(C.Requirement("X", "a | b", True, ())))
    assert "a \\| b" in piped


def test_docs_mapping_is_fresh() -> None:
    committed = DOCS.read_text(encoding="utf-8")
    assert C.render_docs(committed) == committed, (
        "docs/soc2.md is stale: run python -m posture.compliance --update docs/soc2.md"
    )
    for req in C.load_framework("soc2").requirements:
        assert f"| {req.id} |" in committed


def test_update_rewrites_only_the_block(tmp_path: Path) -> None:
    doc = tmp_path / "soc2.md"
    doc.write_text(f"intro\n{C.MARK_START}\nold table\n{C.MARK_END}\noutro\n", encoding="utf-8")
    C.main(["--update", str(doc)])
    text = doc.read_text(encoding="utf-8")
    assert "old table" not in text
    assert text.startswith(f"intro\n{C.MARK_START}\n### SOC 2")
    assert text.endswith(f"{C.MARK_END}\noutro\n")
    with pytest.raises(ConfigError, match="mapping:start"):
        C.render_docs("no markers here")
