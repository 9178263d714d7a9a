"""Output formats. Each module turns an AuditReport into text; none decides a verdict."""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def render(report, fmt: Format, *, color: bool = False, fail_on: str | None = "high") -> str:  # type: ignore[no-untyped-def]
    """The one dispatch point: a test fails when a Format member has no renderer."""
    from posture.report import json as json_report
    from posture.report import table

    if fmt is Format.TABLE:
        return table.render(report, color=color, fail_on=fail_on)
    if fmt is Format.JSON:
        return json_report.render(report)
    raise ValueError(f"no renderer for {fmt}")  # pragma: no cover - guarded by a test
