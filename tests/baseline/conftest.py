"""Fixtures: the whole catalog (real rules plus stubs for missing ones) and file writing."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from posture.rules import REGISTRY
from tests.baseline.catalog import missing_rules, stub


@pytest.fixture
def full_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """REGISTRY with a stub for every catalog rule not implemented yet."""
    for rule_id in missing_rules():
        monkeypatch.setitem(REGISTRY, rule_id, stub(rule_id))
    return


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented YAML file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
