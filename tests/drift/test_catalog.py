"""The classification table is complete, documented and consistent with the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posture import snapshot as snap
from posture.drift import docs
from posture.drift.catalog import SPECS
from posture.drift.model import json_schema
from posture.rules import REGISTRY

ROOT = Path(__file__).parents[2]

#: Which snapshot model each catalog entry reads, to prove no field is forgotten.
MODELS = {
    ("instance", "settings"): snap.InstanceSettings,
    ("instance", "variables"): snap.Variable,
    ("group", None): snap.Group,
    ("group", "variables"): snap.Variable,
    ("group", "webhooks"): snap.Webhook,
    ("group", "protected_branches"): snap.ProtectedBranch,
    ("group", "approval_settings"): snap.GroupApprovalSettings,
    ("group", "deploy_tokens"): snap.DeployToken,
    ("group", "access_tokens"): snap.AccessToken,
    ("project", None): snap.Project,
    ("project", "ci_settings"): snap.CiSettings,
    ("project", "protected_branches"): snap.ProtectedBranch,
    ("project", "approval_settings"): snap.ApprovalSettings,
    ("project", "approval_rules"): snap.ApprovalRule,
    ("project", "variables"): snap.Variable,
    ("project", "webhooks"): snap.Webhook,
    ("project", "runners"): snap.RunnerRef,
    ("project", "deploy_keys"): snap.DeployKey,
    ("project", "deploy_tokens"): snap.DeployToken,
    ("project", "access_tokens"): snap.AccessToken,
    ("project", "job_token_scope"): snap.JobTokenScope,
    ("project", "shared_with_groups"): snap.SharedWithGroup,
    ("runner", None): snap.Runner,
    ("runner", "details"): snap.RunnerDetails,
}


def test_every_snapshot_section_has_a_catalog_entry() -> None:
    entries = {(spec.where, spec.section) for spec in SPECS}
    assert entries == set(MODELS)
    for name in snap.PROJECT_SECTIONS:
        assert ("project", name) in entries
    for name in snap.GROUP_SECTIONS:
        assert ("group", name) in entries


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.where}.{s.section}")
def test_every_model_field_is_judged_or_ignored_with_a_reason(spec) -> None:  # type: ignore[no-untyped-def]
    model = MODELS[(spec.where, spec.section)]
    judged = {f.name for f in spec.fields}
    read = set(spec.covers) if spec.flatten is not None else judged
    sections = set(snap.PROJECT_SECTIONS if spec.where == "project" else ())
    sections |= set(snap.GROUP_SECTIONS if spec.where == "group" else ())
    if spec.section is None:  # entity attributes: sections are compared by their own entries
        sections |= {"shared_with_groups", "details"}
    unaccounted = set(model.model_fields) - read - set(spec.ignored) - sections
    assert not unaccounted, f"{spec.where}.{spec.section}: decide how to diff {unaccounted}"
    assert all(reason.strip() for reason in spec.ignored.values())
    if spec.flatten is None:
        assert judged <= set(model.model_fields), judged - set(model.model_fields)


def test_every_field_cites_only_real_rules() -> None:
    for spec in SPECS:
        for field in spec.fields:
            for rule in field.rules:
                assert rule in REGISTRY, f"{spec.title}.{field.name} cites unknown rule {rule}"


def test_security_fields_explain_both_directions() -> None:
    for spec in SPECS:
        for field in spec.fields:
            judge = field.judge
            if judge.weakening != "—" and judge.directional:
                assert judge.strengthening not in ("", "—"), field.name


def test_docs_table_is_fresh() -> None:
    committed = (ROOT / "docs" / "drift.md").read_text(encoding="utf-8")
    assert docs.render_docs(committed) == committed, (
        "docs/drift.md is stale: run python -m posture.drift.docs --update docs/drift.md"
    )


def test_update_rewrites_only_the_block(tmp_path: Path) -> None:
    page = tmp_path / "drift.md"
    page.write_text(f"intro\n{docs.MARK_START}\nold\n{docs.MARK_END}\noutro\n", encoding="utf-8")
    docs.main(["--update", str(page)])
    text = page.read_text(encoding="utf-8")
    assert "old" not in text
    assert text.startswith(f"intro\n{docs.MARK_START}\n### visibility")
    assert text.endswith(f"{docs.MARK_END}\noutro\n")


def test_drift_schema_is_fresh() -> None:
    committed = json.loads((ROOT / "docs" / "drift.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "docs/drift.schema.json is stale: python -m posture.drift.model > docs/drift.schema.json"
    )
