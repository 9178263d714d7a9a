"""Shared snapshot fixtures for drift tests: the demo snapshot and ways to change it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

from posture.snapshot import Project, Snapshot, load

DEMO = Path(__file__).parents[1] / "golden" / "demo.snapshot.json"
LEDGER = "acme/platform/payments/ledger"


@cache
def _demo() -> Snapshot:
    return load(DEMO)


def demo() -> Snapshot:
    """A fresh, mutable copy of the golden demo snapshot (admin, Premium: every section ok)."""
    return _demo().model_copy(deep=True)


def project(snapshot: Snapshot, path: str = LEDGER) -> Project:
    return next(p for p in snapshot.projects if p.path_with_namespace == path)


def changed_demo() -> Snapshot:
    """The demo after a night of typical changes: the pair behind the drift golden files.

    Kept separate from the table-driven tests so adding a test case never rewrites goldens.
    """
    from posture.snapshot import DeployKey, Section, Status, Webhook

    s = demo()
    s.meta.run = s.meta.run.model_copy(update={"started_at": s.meta.run.started_at.replace(day=3)})
    s.meta.run.finished_at = s.meta.run.finished_at.replace(day=3)
    led = next(p for p in s.projects if p.id == 1)
    led.visibility = "internal"
    main = next(b for b in led.protected_branches.data if b.name == "main")
    main.allow_force_push = True
    led.approval_rules.data[0].approvals_required = 1
    led.variables.data[0].protected = False
    led.webhooks.data.append(
        Webhook(
            id=31,
            url="https://ingest.partner-analytics.example/gitlab",
            url_scheme="https",
            url_host="ingest.partner-analytics.example",
            enable_ssl_verification=True,
            events=["job_events", "push_events"],
        )
    )
    led.deploy_keys.data.append(DeployKey(id=9, title="hotfix-laptop", can_push=True))
    gateway = next(p for p in s.projects if p.path_with_namespace.endswith("payment-gateway"))
    gateway.approval_rules.data[0].approvals_required = 2
    sandbox_project = next(p for p in s.projects if p.path_with_namespace.endswith("hackathon-cli"))
    sandbox_project.path_with_namespace += "-2026"
    s.projects = [p for p in s.projects if not p.path_with_namespace.endswith("load-tests")]
    web = next(p for p in s.projects if p.path_with_namespace == "acme/web/storefront")
    web.approval_rules = Section(status=Status.FORBIDDEN, http_status=403, message="403 Forbidden")
    return s


#: Audit events as GitLab would send them for changed_demo(), per entity endpoint.
CANNED_EVENTS: dict[str, list[dict]] = {
    "/projects/1/audit_events": [
        {
            "id": 101,
            "author_id": 2,
            "entity_id": 1,
            "entity_type": "Project",
            "event_name": "project_visibility_level_updated",
            "details": {
                "change": "visibility",
                "from": "Private",
                "to": "Internal",
                "author_name": "Alex Owner",
                "ip_address": "198.51.100.7",
                "target_details": LEDGER,
            },
            "created_at": "2026-11-02T14:02:11.000Z",
        },
        {
            "id": 102,
            "author_id": 1,
            "entity_id": 1,
            "entity_type": "Project",
            "event_name": "protected_branch_updated",
            "details": {
                "change": "allow_force_push",
                "from": "false",
                "to": "true",
                "author_name": "Administrator",
                "target_details": "main",
            },
            "created_at": "2026-11-02T14:05:00.000Z",
        },
    ],
}


class CannedClient:
    """Stands in for GitLabClient in attach_authors: serves CANNED_EVENTS, nothing elsewhere."""

    def iter_list(self, path: str, params: object = None) -> Iterator[dict]:
        del params
        return iter(CANNED_EVENTS.get(path, []))
