"""The findings document as JSON (schema: docs/findings.schema.json)."""

from __future__ import annotations

from posture.findings import AuditReport, dumps


def render(report: AuditReport) -> str:
    return dumps(report)
