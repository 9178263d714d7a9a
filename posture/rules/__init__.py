"""The rule catalog: every rule, registered explicitly, one module per family.

A meta-test checks that each rule here has complete metadata, a section in docs/rules.md
and passing and failing test cases. Nothing under ``posture.rules`` may import ``gitlab``,
``requests`` or ``posture.gitlab``: rules are pure functions of the snapshot.
"""

from __future__ import annotations

from posture.rules import (
    access,
    approvals,
    branches,
    pipelines,
    runners,
    variables,
    visibility,
    webhooks,
)
from posture.rules.base import Rule

#: Families in the order reports list them.
FAMILIES = (visibility, branches, approvals, variables, pipelines, webhooks, runners, access)

RULES: tuple[Rule, ...] = tuple(rule for family in FAMILIES for rule in family.RULES)
REGISTRY: dict[str, Rule] = {rule.id: rule for rule in RULES}

if len(REGISTRY) != len(RULES):  # pragma: no cover - caught by the meta-test too
    raise RuntimeError("duplicate rule id in the catalog")
