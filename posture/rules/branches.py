"""Rules of the branches family (being written)."""

from __future__ import annotations

from posture.rules.base import Rule

RULES: tuple[Rule, ...] = ()
