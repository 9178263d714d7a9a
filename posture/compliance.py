"""Compliance mappings: which rules support which SOC 2 criterion or CIS recommendation.

The mapping lives in data files (``posture/data/soc2.yaml``, ``cis.yaml``), apart from the
rules, so one rule can serve many requirements and a requirement posture cannot check stays
listed as *manual* instead of silently missing. Each rule's ``soc2``/``cis`` tuple must agree
with its data file; :func:`disagreements` names every difference and a test keeps it empty.

:func:`controls` rolls an :class:`~posture.findings.AuditReport` up per requirement for the
evidence bundle's ``controls.csv``. It formats results; it never decides what is a violation.

``python -m posture.compliance`` prints the mapping tables for docs/soc2.md;
``python -m posture.compliance --update docs/soc2.md`` rewrites them in place.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from posture.errors import ConfigError
from posture.findings import AuditReport, Status
from posture.report.csv import neutralise
from posture.rules import REGISTRY, RULES

#: Frameworks shipped in ``posture/data``; the name is also the Rule attribute that must agree.
FRAMEWORKS = ("soc2", "cis")

#: Control statuses, worst first. ``unmapped`` is the extra row for rules no requirement names.
CONTROL_STATUSES = (
    "fail",
    "unknown",
    "not_evaluated",
    "pass_with_exceptions",
    "pass",
    "manual",
    "unmapped",
)
#: The result counts in a control row, in column order.
COUNTED = (Status.PASS, Status.FAIL, Status.WAIVED, Status.UNKNOWN, Status.NOT_APPLICABLE)
UNMAPPED_ID = "(unmapped)"

CSV_COLUMNS = (
    "framework",
    "requirement",
    "title",
    "automated",
    "status",
    "rules",
    "evaluated_rules",
    "not_evaluated_rules",
    *(s.value for s in COUNTED),
    "note",
)

MARK_START = "<!-- mapping:start -->"
MARK_END = "<!-- mapping:end -->"

_LABELS = {"soc2": ("Criterion", "Criteria"), "cis": ("Recommendation", "Recommendations")}


@dataclass(frozen=True)
class Requirement:
    """One criterion or recommendation and the rules that give evidence for it."""

    id: str
    title: str
    automated: bool
    rules: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Framework:
    name: str  # "soc2" | "cis": also the Rule attribute holding its ids
    title: str
    version: str
    requirements: list[Requirement]
    source: str = ""

    def requirement(self, requirement_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == requirement_id:
                return req
        raise KeyError(requirement_id)


@dataclass(frozen=True)
class ControlRow:
    """A requirement rolled up over the findings of its rules, for controls.csv."""

    framework: str
    id: str
    title: str
    automated: bool
    status: str  # one of CONTROL_STATUSES
    rules: tuple[str, ...]
    evaluated_rules: tuple[str, ...]  # rules with at least one finding in the report
    not_evaluated_rules: tuple[str, ...]  # disabled in the baseline, or nothing to look at
    counts: dict[str, int] = field(default_factory=dict)  # Status value -> findings
    note: str = ""


# --- loading -------------------------------------------------------------------------------


class _RequirementDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str
    title: str
    automated: bool
    rules: list[str]
    note: str = ""


class _FrameworkDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    framework: str
    title: str
    version: str
    requirements: list[_RequirementDoc]


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, REGISTRY, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_framework(text: str, source: str = "<framework>") -> Framework:
    """Validate a framework file: its shape, unique ids, and rules that exist, once each."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    try:
        doc = _FrameworkDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ConfigError(f"{source}: invalid framework at {where}: {first['msg']}") from None
    seen: set[str] = set()
    requirements = []
    for req in doc.requirements:
        if req.id in seen:
            raise ConfigError(f"{source}: requirement {req.id} is listed twice")
        seen.add(req.id)
        dupes = sorted(r for r, n in Counter(req.rules).items() if n > 1)
        if dupes:
            raise ConfigError(f"{source}: {req.id} lists {', '.join(dupes)} more than once")
        for rule_id in req.rules:
            if rule_id not in REGISTRY:
                raise ConfigError(
                    f"{source}: {req.id} names unknown rule {rule_id}{_did_you_mean(rule_id)}"
                )
        if not req.automated and not req.note.strip():
            raise ConfigError(f"{source}: {req.id} is manual: add a note saying why")
        requirements.append(
            Requirement(req.id, req.title, req.automated, tuple(req.rules), req.note.strip())
        )
    return Framework(doc.framework, doc.title, doc.version, requirements, source)


def load_framework(name: str) -> Framework:
    """A shipped framework by name ("soc2" or "cis")."""
    if name not in FRAMEWORKS:
        raise ConfigError(f"unknown framework {name!r}: choose one of {', '.join(FRAMEWORKS)}")
    resource = resources.files("posture") / "data" / f"{name}.yaml"
    framework = parse_framework(resource.read_text(encoding="utf-8"), f"posture/data/{name}.yaml")
    if framework.name != name:
        raise ConfigError(f"posture/data/{name}.yaml declares framework {framework.name!r}")
    return framework


# --- consistency with the rules' own tuples ------------------------------------------------


def disagreements(framework: Framework) -> list[str]:
    """Every place a rule's ``soc2``/``cis`` tuple and the data file differ (both directions)."""
    listed: dict[str, set[str]] = {rule.id: set() for rule in RULES}
    for req in framework.requirements:
        for rule_id in req.rules:
            listed[rule_id].add(req.id)
    where = framework.source or framework.name
    problems = []
    for rule in RULES:
        declared = set(getattr(rule, framework.name, ()))
        problems += [
            f"{rule.id}: its {framework.name} tuple names {req_id}, "
            f"but {where} does not list the rule under {req_id}"
            for req_id in sorted(declared - listed[rule.id])
        ]
        problems += [
            f"{rule.id}: {where} lists it under {req_id}, "
            f"but the rule's {framework.name} tuple does not name {req_id}"
            for req_id in sorted(listed[rule.id] - declared)
        ]
    return problems


def unmapped_rules(framework: Framework) -> list[str]:
    """Rules in the registry that no requirement of the framework names, in catalog order."""
    named = {rule_id for req in framework.requirements for rule_id in req.rules}
    return [rule.id for rule in RULES if rule.id not in named]


def requirements_without_rules(framework: Framework) -> list[Requirement]:
    return [req for req in framework.requirements if not req.rules]


# --- roll-up over a report -----------------------------------------------------------------


def _status(automated: bool, evaluated: tuple[str, ...], counts: dict[str, int]) -> str:
    if not automated:
        return "manual"
    if not evaluated:
        return "not_evaluated"
    if counts[Status.FAIL.value]:
        return "fail"
    if counts[Status.UNKNOWN.value]:
        return "unknown"
    if counts[Status.WAIVED.value]:
        return "pass_with_exceptions"
    return "pass"


def _row(
    framework: Framework,
    by_rule: dict[str, Counter[str]],
    req: Requirement,
    status: str | None = None,
) -> ControlRow:
    evaluated = tuple(r for r in req.rules if r in by_rule)
    total: Counter[str] = Counter()
    for rule_id in evaluated:
        total.update(by_rule[rule_id])
    counts = {s.value: total.get(s.value, 0) for s in COUNTED}
    return ControlRow(
        framework=framework.name,
        id=req.id,
        title=req.title,
        automated=req.automated,
        status=status or _status(req.automated, evaluated, counts),
        rules=req.rules,
        evaluated_rules=evaluated,
        not_evaluated_rules=tuple(r for r in req.rules if r not in by_rule),
        counts=counts,
        note=req.note,
    )


def controls(report: AuditReport, framework: Framework) -> list[ControlRow]:
    """One row per requirement, plus an ``unmapped`` row when some rules map to nothing.

    A rule counts as evaluated when the report has a finding for it: a rule the baseline
    disabled, or one with nothing to look at, gave no evidence and is listed as not evaluated.
    """
    by_rule: dict[str, Counter[str]] = {}
    for finding in report.findings:
        by_rule.setdefault(finding.rule_id, Counter())[finding.status.value] += 1
    rows = [_row(framework, by_rule, req) for req in framework.requirements]
    unmapped = unmapped_rules(framework)
    if unmapped:
        orphan = Requirement(
            UNMAPPED_ID,
            f"Rules that no {framework.name} requirement names",
            True,
            tuple(unmapped),
            "Their results are evidence for no requirement of this framework.",
        )
        rows.append(_row(framework, by_rule, orphan, status="unmapped"))
    return rows


def controls_csv(report: AuditReport, framework: Framework) -> str:
    """controls.csv: RFC 4180 with CRLF; every cell neutralised against formula injection."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for row in controls(report, framework):
        cells = [
            row.framework,
            row.id,
            row.title,
            "yes" if row.automated else "no",
            row.status,
            " ".join(row.rules),
            " ".join(row.evaluated_rules),
            " ".join(row.not_evaluated_rules),
            *(str(row.counts[s.value]) for s in COUNTED),
            row.note,
        ]
        writer.writerow([neutralise(c) for c in cells])
    return out.getvalue()


# --- documentation -------------------------------------------------------------------------


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rule_links(rule_ids: Iterable[str]) -> str:
    from posture.rules.catalog import anchor

    return ", ".join(f"[`{r}`](rules.md#{anchor(r)})" for r in rule_ids)


def mapping_markdown(framework: Framework) -> str:
    """The mapping table for docs/soc2.md, then the gaps in both directions."""
    label, plural = _LABELS.get(framework.name, ("Requirement", "Requirements"))
    lines = [
        f"{framework.title} {framework.version}, from `{framework.source}`.",
        "",
        f"| {label} | Title | Checked | Rules | Note |",
        "|---|---|---|---|---|",
    ]
    for req in framework.requirements:
        checked = "automated" if req.automated else "manual"
        rules = _rule_links(req.rules) or "—"
        lines.append(f"| {req.id} | {_md(req.title)} | {checked} | {rules} | {_md(req.note)} |")
    unmapped = unmapped_rules(framework)
    empty = requirements_without_rules(framework)
    lines += [
        "",
        f"Rules with no {label.lower()}: " + (_rule_links(unmapped) or "none") + ".",
        "",
        f"{plural} with no rule: "
        + (
            ", ".join(f"{r.id} ({'automated' if r.automated else 'manual'})" for r in empty)
            or "none"
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def docs_block() -> str:
    """Everything between the mapping markers in docs/soc2.md, generated."""
    parts = []
    for name, heading in (("soc2", "SOC 2 criteria"), ("cis", "CIS GitLab Benchmark")):
        parts.append(f"### {heading}\n\n{mapping_markdown(load_framework(name))}")
    return "\n".join(parts)


def render_docs(text: str) -> str:
    """``text`` with the block between the mapping markers regenerated."""
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        raise ConfigError(f"the document needs {MARK_START} and {MARK_END}, in that order")
    head = text[: start + len(MARK_START)]
    return f"{head}\n{docs_block()}{text[end:]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m posture.compliance")
    parser.add_argument("--update", type=Path, metavar="DOC", help="rewrite the block in DOC")
    args = parser.parse_args(argv)
    if args.update is None:
        print(docs_block(), end="")
        return
    text = args.update.read_text(encoding="utf-8")
    args.update.write_text(render_docs(text), encoding="utf-8")


if __name__ == "__main__":  # python -m posture.compliance --update docs/soc2.md
    main()
