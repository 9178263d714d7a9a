"""Output formats. Each module turns an AuditReport into text; none decides a verdict."""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posture.findings import AuditReport


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    SARIF = "sarif"
    CODEQUALITY = "codequality"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"


#: Format → module under posture.report that has ``render(report, **options) -> str``.
MODULES = {
    Format.TABLE: "table",
    Format.JSON: "json",
    Format.JUNIT: "junit",
    Format.SARIF: "sarif",
    Format.CODEQUALITY: "codequality",
    Format.CSV: "csv",
    Format.MARKDOWN: "markdown",
    Format.HTML: "html",
}


def render(
    report: AuditReport, fmt: Format, *, color: bool = False, fail_on: str | None = "high"
) -> str:
    """The one dispatch point: a test fails when a Format member has no renderer."""
    module = importlib.import_module(f"posture.report.{MODULES[fmt]}")
    if fmt is Format.TABLE:
        return module.render(report, color=color, fail_on=fail_on)
    return module.render(report)
