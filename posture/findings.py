"""Findings: one result per rule × target (× item), passes included, and their summary.

This is what every report is made from. Reports format findings; they never decide what is
a violation. The JSON form (``posture audit --format json``) is documented by the JSON Schema
``docs/findings.schema.json`` generated from these models.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from posture.documents import load_document
from posture.drift.model import DriftReport

FINDINGS_SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a result, not a password
    FAIL = "fail"
    WAIVED = "waived"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


#: The order statuses are listed in, worst first.
STATUS_ORDER = (Status.FAIL, Status.UNKNOWN, Status.WAIVED, Status.PASS, Status.NOT_APPLICABLE)
SEVERITIES = ("critical", "high", "medium", "low", "info")


class WaiverInfo(_Model):
    """The accepted risk behind a waived finding, or an expired one that no longer waives."""

    reason: str
    owner: str
    expires: str
    status: Literal["active", "expired"]
    source: str


class Finding(_Model):
    rule_id: str
    title: str
    family: str
    severity: str
    status: Status
    target_kind: str
    target_id: int | None = None
    target_path: str  # project/group full path, "instance", or "runners/<id>"
    target_url: str | None = None
    item: str | None = None
    message: str
    expected: Any = None
    actual: Any = None
    waiver: WaiverInfo | None = None
    fingerprint: str

    @staticmethod
    def make_fingerprint(
        rule_id: str, target_kind: str, target_id: int | None, target_path: str, item: str | None
    ) -> str:
        """Stable across runs and renames: rule + target id (path only when there is no id)."""
        ident = str(target_id) if target_id is not None else target_path
        raw = f"{rule_id}\x1f{target_kind}\x1f{ident}\x1f{item or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class StaleWaiver(_Model):
    rule: str
    target: str
    item: str | None = None
    owner: str
    expires: str
    source: str


class Summary(_Model):
    total: int
    by_status: dict[str, int]
    failing_by_severity: dict[str, int]
    unknown_by_reason: dict[str, int] = Field(default_factory=dict)
    expired_waivers: int = 0
    stale_waivers: int = 0


class BaselineRef(_Model):
    name: str
    digest: str
    sources: list[str]


class SnapshotRef(_Model):
    gitlab_url: str
    gitlab_version: str | None = None
    username: str | None = None
    is_admin: bool = False
    scope: list[str]
    all_groups: bool = False
    complete: bool
    started_at: datetime
    finished_at: datetime


class AuditReport(_Model):
    """The findings document: what was checked, against which baseline, with what result."""

    tool: Literal["posture"] = "posture"
    kind: Literal["findings"] = "findings"
    schema_version: int = FINDINGS_SCHEMA_VERSION
    tool_version: str
    evaluated_on: str  # the date waivers were judged against (ISO)
    baseline: BaselineRef
    snapshot: SnapshotRef
    summary: Summary
    findings: list[Finding]
    stale_waivers: list[StaleWaiver] = Field(default_factory=list)
    #: Present when the audit was run with ``--previous``: what changed since that snapshot.
    drift: DriftReport | None = None

    def failing(self, at_or_above: str) -> list[Finding]:
        """Failing findings at or above a severity (waived ones do not fail)."""
        threshold = SEVERITIES.index(at_or_above)
        return [
            f
            for f in self.findings
            if f.status is Status.FAIL and SEVERITIES.index(f.severity) <= threshold
        ]


def summarise(findings: list[Finding], stale: list[StaleWaiver], expired_waivers: int) -> Summary:
    by_status = Counter(f.status.value for f in findings)
    failing = Counter(f.severity for f in findings if f.status is Status.FAIL)
    unknown = Counter(f.message for f in findings if f.status is Status.UNKNOWN)
    return Summary(
        total=len(findings),
        by_status={s.value: by_status.get(s.value, 0) for s in STATUS_ORDER},
        failing_by_severity={s: failing.get(s, 0) for s in SEVERITIES},
        unknown_by_reason=dict(sorted(unknown.items())),
        expired_waivers=expired_waivers,
        stale_waivers=len(stale),
    )


def dumps(report: AuditReport) -> str:
    data = report.model_dump(mode="json")
    if data.get("drift") is None:
        data.pop("drift", None)  # audits without --previous keep their established shape
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def loads(text: str, source: str = "<findings>") -> AuditReport:
    return load_document(
        text, source, kind="findings", max_version=FINDINGS_SCHEMA_VERSION, model=AuditReport
    )


def json_schema() -> dict[str, Any]:
    schema = AuditReport.model_json_schema(mode="serialization")
    schema["title"] = f"posture findings (schema_version {FINDINGS_SCHEMA_VERSION})"
    return schema


if __name__ == "__main__":  # python -m posture.findings > docs/findings.schema.json
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
