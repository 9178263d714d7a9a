"""docs/drift.md's classification table, generated from posture/drift/catalog.py.

``python -m posture.drift.docs --update docs/drift.md`` rewrites the block between the
markers; a test fails when the committed page differs, so the documented classification is
always the one the code applies.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from posture.drift.catalog import SPECS, SectionSpec
from posture.drift.judges import Judge
from posture.errors import ConfigError

MARK_START = "<!-- classification:start -->"
MARK_END = "<!-- classification:end -->"

_FAMILIES = (
    "visibility",
    "branches",
    "approvals",
    "variables",
    "pipelines",
    "webhooks",
    "runners",
    "access",
)
_WHERE = {"instance": "instance", "group": "group", "project": "project", "runner": "runner"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _where(spec: SectionSpec) -> str:
    section = f" `{spec.section}`" if spec.section else " (attributes)"
    return f"{_WHERE[spec.where]}{section}"


def _rules(rules: Sequence[str]) -> str:
    return ", ".join(f"[`{r}`](rules.md#{r.replace('.', '')})" for r in rules) or "—"


def _verdicts(judge: Judge) -> str:
    if not judge.directional:
        return f"weakening either way: {judge.weakening}"
    return f"weakening when {judge.weakening}; strengthening when {judge.strengthening}"


def _spec_rules(spec: SectionSpec) -> list[str]:
    return sorted({rule for f in spec.fields for rule in f.rules})


def table() -> str:
    """One section per rule family: every compared field, and added/removed items."""
    out: list[str] = []
    for family in _FAMILIES:
        rows = []
        for spec in SPECS:
            for field_spec in spec.fields:
                if (field_spec.family or spec.family) != family:
                    continue
                judge = field_spec.judge
                if judge.weakening == "—" and judge.strengthening == "—":
                    continue  # neutral fields are listed once per section below
                kind = ", each element" if judge.per_element else ""
                rows.append(
                    f"| {_where(spec)} | {_cell(spec.title)}: {_cell(field_spec.label)} "
                    f"(`{field_spec.name}`{kind}) | {_cell(_verdicts(judge))} | "
                    f"{_rules(field_spec.rules)} |"
                )
            if spec.family == family and spec.presence is not None:
                presence = spec.presence
                rows.append(
                    f"| {_where(spec)} | {_cell(spec.title)} added | "
                    f"{_cell(presence.added_doc)} | {_rules(_spec_rules(spec))} |"
                )
                rows.append(
                    f"| {_where(spec)} | {_cell(spec.title)} removed | "
                    f"{_cell(presence.removed_doc)} | {_rules(_spec_rules(spec))} |"
                )
        if not rows:
            continue
        out += [
            f"### {family}",
            "",
            "| Where | Change | Classification | Rules |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    out += ["### Neutral and ignored fields", "", "| Where | Neutral (reported) | Not compared |"]
    out.append("|---|---|---|")
    for spec in SPECS:
        neutral = [
            f"`{f.name}`"
            for f in spec.fields
            if f.judge.weakening == "—" and f.judge.strengthening == "—"
        ]
        ignored = [f"`{name}` ({_cell(why)})" for name, why in sorted(spec.ignored.items())]
        if neutral or ignored:
            out.append(
                f"| {_where(spec)}, {_cell(spec.title)} | {', '.join(neutral) or '—'} | "
                f"{'; '.join(ignored) or '—'} |"
            )
    out.append("")
    return "\n".join(out)


def render_docs(text: str) -> str:
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        raise ConfigError(f"docs/drift.md has no {MARK_START} … {MARK_END} block")
    return text[: start + len(MARK_START)] + "\n" + table() + text[end:]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m posture.drift.docs")
    parser.add_argument("--update", metavar="FILE", required=True)
    args = parser.parse_args(argv)
    path = Path(args.update)
    path.write_text(render_docs(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":  # python -m posture.drift.docs --update docs/drift.md
    main()
