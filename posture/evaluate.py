"""Snapshot × baseline → findings. Offline, deterministic, and the only place verdicts are made.

Waivers are judged as of the day the snapshot was taken, so evaluating the same snapshot
tomorrow gives the same bytes, and evidence describes the state on the day it was observed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from posture import __version__
from posture.baseline import Baseline, Waiver, WaiverStatus
from posture.findings import (
    AuditReport,
    BaselineRef,
    Finding,
    SnapshotRef,
    StaleWaiver,
    Status,
    WaiverInfo,
    summarise,
)
from posture.rules import REGISTRY
from posture.rules.base import Context, Outcome, Subject, Target, Verdict
from posture.snapshot import Snapshot

_VERDICT_STATUS = {
    Verdict.PASS: Status.PASS,
    Verdict.FAIL: Status.FAIL,
    Verdict.UNKNOWN: Status.UNKNOWN,
    Verdict.NOT_APPLICABLE: Status.NOT_APPLICABLE,
}
_KIND_ORDER = {Target.INSTANCE: 0, Target.GROUP: 1, Target.PROJECT: 2, Target.RUNNER: 3}


@dataclass(frozen=True)
class _Target:
    kind: Target
    subject: Subject
    path: str
    id: int | None
    url: str | None
    criteria: dict[str, Any]


def _targets(snapshot: Snapshot) -> Iterator[_Target]:
    base = snapshot.meta.gitlab_url.rstrip("/")
    yield _Target(
        Target.INSTANCE,
        snapshot.instance,
        "instance",
        None,
        f"{base}/admin/application_settings/general",
        {},
    )
    for group in snapshot.groups:
        yield _Target(
            Target.GROUP,
            group,
            group.full_path,
            group.id,
            group.web_url,
            {"visibility": group.visibility},
        )
    for project in snapshot.projects:
        yield _Target(
            Target.PROJECT,
            project,
            project.path_with_namespace,
            project.id,
            project.web_url,
            {
                "topics": project.topics,
                "visibility": project.visibility,
                "archived": project.archived,
            },
        )
    for runner in snapshot.runners:
        url = f"{base}/admin/runners/{runner.id}" if runner.runner_type == "instance_type" else None
        yield _Target(Target.RUNNER, runner, f"runners/{runner.id}", runner.id, url, {})


def _finding(target: _Target, rule_id: str, severity: str, outcome: Outcome) -> Finding:
    rule = REGISTRY[rule_id]
    return Finding(
        rule_id=rule_id,
        title=rule.title,
        family=rule.family,
        severity=severity,
        status=_VERDICT_STATUS[outcome.verdict],
        target_kind=target.kind.value,
        target_id=target.id,
        target_path=target.path,
        target_url=target.url,
        item=outcome.item,
        message=outcome.message,
        expected=outcome.expected,
        actual=outcome.actual,
        fingerprint=Finding.make_fingerprint(
            rule_id, target.kind.value, target.id, target.path, outcome.item
        ),
    )


def _apply_waivers(
    findings: list[Finding], waivers: list[Waiver], today: date
) -> tuple[list[Finding], list[StaleWaiver], int]:
    """Waive failing findings under an active waiver; an expired one stops waiving and says so."""
    used: set[int] = set()
    expired_seen: set[int] = set()
    out: list[Finding] = []
    for finding in findings:
        if finding.status is not Status.FAIL:
            out.append(finding)
            continue
        match = next(
            (
                (index, waiver)
                for index, waiver in enumerate(waivers)
                if waiver.matches(finding.rule_id, finding.target_path, finding.item)
            ),
            None,
        )
        if match is None:
            out.append(finding)
            continue
        index, waiver = match
        used.add(index)
        status = waiver.status(today)
        info = WaiverInfo(
            reason=waiver.reason,
            owner=waiver.owner,
            expires=waiver.expires.isoformat(),
            status="active" if status is WaiverStatus.ACTIVE else "expired",
            source=waiver.source,
        )
        if status is WaiverStatus.ACTIVE:
            out.append(finding.model_copy(update={"status": Status.WAIVED, "waiver": info}))
        else:
            expired_seen.add(index)
            message = f"[waiver expired {info.expires}, no longer waived] {finding.message}"
            out.append(finding.model_copy(update={"waiver": info, "message": message}))
    stale = [
        StaleWaiver(
            rule=w.rule,
            target=w.target,
            item=w.item,
            owner=w.owner,
            expires=w.expires.isoformat(),
            source=w.source,
        )
        for index, w in enumerate(waivers)
        if index not in used
    ]
    return out, stale, len(expired_seen)


def evaluate(snapshot: Snapshot, baseline: Baseline) -> AuditReport:
    """Judge every enabled rule on every target it applies to; passes are kept as evidence."""
    today = snapshot.meta.run.started_at.date()
    context = Context(snapshot)
    findings: list[Finding] = []
    for target in _targets(snapshot):
        settings = baseline.settings_for(
            target.kind,
            target.path if target.kind in (Target.GROUP, Target.PROJECT) else None,
            **target.criteria,
        )
        for rule_id in sorted(settings):
            setting = settings[rule_id]
            rule = REGISTRY[rule_id]
            for outcome in rule.evaluate(target.subject, setting.params, context):
                findings.append(_finding(target, rule_id, setting.severity.value, outcome))

    findings.sort(
        key=lambda f: (
            _KIND_ORDER[Target(f.target_kind)],
            f.target_path.lower(),
            f.rule_id,
            f.item or "",
        )
    )
    findings, stale, expired = _apply_waivers(findings, list(baseline.waivers), today)
    meta = snapshot.meta
    return AuditReport(
        tool_version=__version__,
        evaluated_on=today.isoformat(),
        baseline=BaselineRef(name=baseline.name, digest=baseline.digest, sources=baseline.sources),
        snapshot=SnapshotRef(
            gitlab_url=meta.gitlab_url,
            gitlab_version=meta.gitlab_version,
            username=meta.token.username,
            is_admin=meta.token.is_admin,
            scope=meta.scope.groups,
            all_groups=meta.scope.all_groups,
            complete=meta.complete,
            started_at=meta.run.started_at,
            finished_at=meta.run.finished_at,
        ),
        summary=summarise(findings, stale, expired),
        findings=findings,
        stale_waivers=stale,
    )
