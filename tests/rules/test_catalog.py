"""Meta-tests: the catalog's structure and documentation stay honest."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from posture.rules import FAMILIES, REGISTRY, RULES, catalog
from posture.rules.base import NoParams, Params

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "posture" / "rules"
SOC2 = re.compile(r"^CC\d\.\d$")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule) -> None:
    family = rule.id.split(".", 1)[0]
    module = next(f for f in FAMILIES if rule in f.RULES)
    assert re.fullmatch(r"[a-z]+\.[a-z_]+", rule.id)
    # ids are <family>.<name>, except the visibility family, which is keyed by target
    if module.__name__ != "posture.rules.visibility":
        assert family == module.__name__.rsplit(".", 1)[-1], f"{rule.id} is in {module.__name__}"
    assert rule.title
    assert rule.title[0].isupper()
    assert not rule.title.endswith(".")
    assert len(rule.rationale) > 40
    assert len(rule.remediation) > 40
    assert "API" in rule.remediation or "api" in rule.remediation, "name the API call"
    assert rule.references
    assert all(r.url.startswith("https://") for r in rule.references)
    assert any("docs.gitlab.com" in r.url for r in rule.references)
    assert rule.soc2
    assert all(SOC2.match(c) for c in rule.soc2), rule.soc2
    assert all(re.fullmatch(r"\d+(\.\d+)+", c) for c in rule.cis)
    assert rule.targets
    assert issubclass(rule.params, Params)
    rule.params()  # every parameter has a (strict) default


def test_ids_are_unique() -> None:
    assert len(REGISTRY) == len(RULES)


def test_rules_never_talk_to_gitlab() -> None:
    """Rules are pure functions of the snapshot: no HTTP client may be imported there."""
    banned = ("gitlab", "requests", "posture.gitlab", "urllib", "http", "socket")
    for path in RULES_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == b or name.startswith(b + ".") for b in banned), (
                    f"{path.name} imports {name}"
                )


def test_rules_doc_is_fresh() -> None:
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == catalog.render_markdown(), (
        "docs/rules.md is stale: run `posture rules --format markdown > docs/rules.md`"
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_a_section_in_the_docs(rule) -> None:
    doc = catalog.render_markdown()
    assert f"### {rule.id}\n" in doc
    assert rule.rationale in doc


def test_params_models_are_strict() -> None:
    for rule in RULES:
        if rule.params is NoParams:
            continue
        with pytest.raises(ValueError):
            rule.params(not_a_parameter=1)
