"""Which snapshot sections a baseline needs: what a baseline-driven crawl asks GitLab for.

Every section costs one request per group or project, so a crawl for the ``minimal``
baseline should not fetch, say, approval rules nobody will judge. A rule declares the
sections it reads on its own target in ``requires``; the evaluator turns a non-``ok`` one
into ``unknown``. A few rules read more than they declare (a fallback, or a field derived
from another section): :data:`EXTRA_NEEDS` lists those reads, and runner details bring the
projects' runner lists they are found through (:data:`posture.snapshot.IMPLIED_SECTIONS`).
A test runs every rule on a snapshot holding only the sections named here, to prove that
nothing is missing.

Section keys are ``"<target kind>.<section>"``: ``"project.variables"``,
``"instance.settings"``, ``"runner.details"`` (:data:`posture.snapshot.SECTION_KEYS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from posture.rules import REGISTRY
from posture.rules.base import Rule
from posture.snapshot import SECTION_KEYS, close_sections

if TYPE_CHECKING:
    from posture.baseline import Baseline

#: Sections a rule reads beyond its ``requires``, by rule id.
EXTRA_NEEDS: dict[str, tuple[str, ...]] = {
    # Without an approval rule it falls back to the legacy approvals_before_merge of
    # /approvals, and a rule "for all protected branches" applies only if the default
    # branch is protected (default_branch_protection, derived from protected branches).
    "approvals.min_required": ("project.approval_settings", "project.protected_branches"),
}


def rule_sections(rule: Rule) -> frozenset[str]:
    """The sections one rule reads, on any of its targets."""
    keys = {
        f"{target.value}.{name}"
        for target in rule.targets
        for name in rule.requires
        if f"{target.value}.{name}" in SECTION_KEYS
    }
    keys.update(EXTRA_NEEDS.get(rule.id, ()))
    return close_sections(keys)


def sections_for(baseline: Baseline) -> frozenset[str]:
    """Every section some rule enabled anywhere in ``baseline`` (base or override) reads.

    Over-collecting is harmless; under-collecting would turn a finding into ``unknown``, so
    a rule enabled only by an override for one path still counts for the whole crawl.
    """
    needed: set[str] = set()
    for rule_id in baseline.enabled_rules():
        needed.update(rule_sections(REGISTRY[rule_id]))
    return frozenset(needed)


def missing_sections(baseline: Baseline, collected: Iterable[str] | None) -> frozenset[str]:
    """Sections ``baseline`` needs that a snapshot collected with ``collected`` lacks.

    ``collected`` is the snapshot's ``meta.sections`` (None: everything was collected).
    Non-empty means evaluating would report ``unknown`` for data never asked for: the
    caller should say which baseline to crawl with instead.
    """
    if collected is None:
        return frozenset()
    return sections_for(baseline) - frozenset(collected)
