"""Output formats. Each module turns an AuditReport into text; none decides a verdict.

Six of them also render drift on its own (``posture diff``): each of those modules has
``render_drift(drift, **options) -> str``. Every format shows an audit's drift (``--previous``)
inside ``render`` when ``report.drift`` is set.
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import TYPE_CHECKING

from posture.errors import ConfigError

if TYPE_CHECKING:
    from posture.drift.model import DriftReport
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

#: Formats ``posture diff`` writes; each module has ``render_drift(drift, **options) -> str``.
#: CSV and Code Quality show drift only inside an audit's report.
DRIFT_FORMATS = (
    Format.TABLE,
    Format.JSON,
    Format.MARKDOWN,
    Format.HTML,
    Format.JUNIT,
    Format.SARIF,
)


def render(
    report: AuditReport, fmt: Format, *, color: bool = False, fail_on: str | None = "high"
) -> str:
    """The one dispatch point: a test fails when a Format member has no renderer."""
    module = importlib.import_module(f"posture.report.{MODULES[fmt]}")
    if fmt is Format.TABLE:
        return module.render(report, color=color, fail_on=fail_on)
    return module.render(report)


def render_drift(
    drift: DriftReport,
    fmt: Format,
    *,
    color: bool = False,
    fail_on: str = "weakening",
    strict: bool = False,
) -> str:
    """Drift alone, for ``posture diff``. ``fail_on`` (weakening, any or none) and ``strict``
    (unknowns fail too) are stated by the formats people read (table, markdown, html), as
    ``DriftReport.failing`` decides them; they never change what a change is."""
    from posture.report.drift_common import check_fail_on

    if fmt not in DRIFT_FORMATS:
        raise ConfigError(
            f"drift has no {fmt.value} format; use one of: "
            + ", ".join(f.value for f in DRIFT_FORMATS)
        )
    check_fail_on(fail_on)
    module = importlib.import_module(f"posture.report.{MODULES[fmt]}")
    if fmt is Format.TABLE:
        return module.render_drift(drift, color=color, fail_on=fail_on, strict=strict)
    if fmt in (Format.MARKDOWN, Format.HTML):
        return module.render_drift(drift, fail_on=fail_on, strict=strict)
    return module.render_drift(drift)
