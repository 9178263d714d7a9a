"""Waivers: accepted risks, each one owned, explained and expiring.

A waiver turns a failing finding into a waived one while it is active. After its expiry date
it stops waiving and the report says it expired, so an accepted risk is reviewed again
instead of being forgotten. Whether a waiver matched nothing ("stale") is the evaluator's
call: only it sees the findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from posture.baseline.globs import item_matches, path_matches


class WaiverStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Waiver:
    """One accepted risk: a rule on the targets matching a path glob (and items, optionally)."""

    rule: str  # exact rule id
    target: str  # path glob: group/project full path, "instance", or "runners/<id>"
    item: str | None  # glob on the outcome's item; None waives every item
    reason: str
    owner: str
    expires: date  # last day the waiver applies
    source: str  # "file:line" of the waiver

    def matches(self, rule_id: str, target_path: str, item: str | None) -> bool:
        """Whether this waiver covers one outcome (paths ignore case, as GitLab's do)."""
        if rule_id != self.rule or not path_matches(self.target, target_path):
            return False
        return self.item is None or item_matches(self.item, item)

    def status(self, today: date) -> WaiverStatus:
        """Active through its expiry date; ``today`` is injected so evaluation is reproducible."""
        return WaiverStatus.ACTIVE if today <= self.expires else WaiverStatus.EXPIRED

    def to_dict(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "target": self.target,
            "item": self.item,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
        }
