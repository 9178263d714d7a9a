"""The findings document as JSON (schema: docs/findings.schema.json), and drift as its own
document (schema: docs/drift.schema.json). An audit run with ``--previous`` carries its drift
in the findings document's ``drift`` field."""

from __future__ import annotations

from posture.drift.model import DriftReport
from posture.drift.model import dumps as drift_dumps
from posture.findings import AuditReport, dumps


def render(report: AuditReport) -> str:
    return dumps(report)


def render_drift(drift: DriftReport) -> str:
    """Byte-stable: sorted keys, the engine's change order."""
    return drift_dumps(drift)
