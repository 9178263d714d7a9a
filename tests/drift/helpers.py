"""Shared snapshot fixtures for drift tests: the demo snapshot and ways to change it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from posture.snapshot import Project, Snapshot, load

DEMO = Path(__file__).parents[1] / "golden" / "demo.snapshot.json"
LEDGER = "acme/platform/payments/ledger"


@cache
def _demo() -> Snapshot:
    return load(DEMO)


def demo() -> Snapshot:
    """A fresh, mutable copy of the golden demo snapshot (admin, Premium: every section ok)."""
    return _demo().model_copy(deep=True)


def project(snapshot: Snapshot, path: str = LEDGER) -> Project:
    return next(p for p in snapshot.projects if p.path_with_namespace == path)
