"""Golden files for drift: `posture diff` in each format, and an audit with --previous in all
eight. Rewrite with `pytest --update-golden` and review the diff."""

from __future__ import annotations

import pytest

from posture.baseline import load_baseline
from posture.drift.authors import attach_authors
from posture.drift.engine import diff_snapshots
from posture.evaluate import evaluate
from posture.report import DRIFT_FORMATS, Format, render, render_drift
from tests.drift.helpers import CannedClient, changed_demo, demo


def _drift():  # type: ignore[no-untyped-def]
    return attach_authors(diff_snapshots(demo(), changed_demo()), CannedClient())  # type: ignore[arg-type]


def test_golden_drift_has_what_a_reader_needs() -> None:
    drift = _drift()
    counts = drift.summary.by_classification
    assert counts["weakening"] == 6
    assert counts["strengthening"] == 1
    assert counts["unknown"] == 1
    assert drift.authors.status == "ok"
    authored = {c.field: c.events[0].author_name for c in drift.changes if c.events}
    assert authored == {"visibility": "Alex Owner", "allow_force_push": "Administrator"}


@pytest.mark.parametrize("fmt", DRIFT_FORMATS, ids=lambda f: f.value)
def test_diff_golden(fmt: Format, golden) -> None:  # type: ignore[no-untyped-def]
    golden(f"drift/demo.diff.{fmt.value}", render_drift(_drift(), fmt))


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.value)
def test_audit_with_previous_golden(fmt: Format, golden) -> None:  # type: ignore[no-untyped-def]
    report = evaluate(changed_demo(), load_baseline("minimal"))
    report = report.model_copy(update={"drift": _drift()})
    golden(f"drift/demo-minimal-previous.{fmt.value}", render(report, fmt))
