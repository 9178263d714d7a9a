"""One builder for AuditReport objects in report and mapping tests: only what varies is named."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from posture import findings as F

MOMENT = datetime(2026, 11, 1, tzinfo=UTC)


def make_report(
    items: Iterable[F.Finding],
    *,
    name: str = "b",
    digest: str = "sha256:00",
    sources: Iterable[str] = ("b.yaml",),
    gitlab_url: str = "https://gitlab.example",
    username: str | None = None,
    moment: datetime = MOMENT,
    tool_version: str = "0.0.0",
    expired_waivers: int = 0,
) -> F.AuditReport:
    findings = list(items)
    return F.AuditReport(
        tool_version=tool_version,
        evaluated_on="2026-11-01",
        baseline=F.BaselineRef(name=name, digest=digest, sources=list(sources)),
        snapshot=F.SnapshotRef(
            gitlab_url=gitlab_url,
            username=username,
            scope=["acme"],
            complete=True,
            started_at=moment,
            finished_at=moment,
        ),
        summary=F.summarise(findings, [], expired_waivers),
        findings=findings,
    )
