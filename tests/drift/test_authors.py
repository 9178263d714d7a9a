"""Who made a change: audit events read, matched, scrubbed, and their absence explained."""

from __future__ import annotations

import responses

from posture.drift.authors import attach_authors, describe, match, to_ref
from posture.drift.engine import diff_snapshots
from posture.drift.model import AuditEventRef, ChangeKind, Classification
from posture.gitlab.client import ClientConfig, GitLabClient
from posture.snapshot import Section, Status
from tests.drift.helpers import demo
from tests.drift.test_engine import branch, ledger

URL = "https://gitlab.demo.example"
EVENTS = f"{URL}/api/v4/projects/1/audit_events"


def _event(ident: int, name: str, details: dict, author: str = "Mallory") -> dict:
    return {
        "id": ident,
        "author_id": 7,
        "entity_id": 1,
        "entity_type": "Project",
        "event_name": name,
        "details": {
            "author_name": author,
            "author_email": "mallory@example.com",
            "ip_address": "203.0.113.9",
            "target_details": "acme/platform/payments/ledger",
            **details,
        },
        "created_at": f"2026-11-23T10:00:0{ident}Z",
    }


def _drift():  # type: ignore[no-untyped-def]
    old, new = demo(), demo()
    ledger(new).visibility = "public"
    branch(new).allow_force_push = True
    return diff_snapshots(old, new)


def _client() -> GitLabClient:
    return GitLabClient(ClientConfig(url=URL, token="glpat-test-only", max_attempts=1))


@responses.activate
def test_events_are_attached_to_the_changes_they_made() -> None:
    responses.get(
        EVENTS,
        json=[
            _event(
                1,
                "project_visibility_level_updated",
                {"change": "visibility", "from": "Private", "to": "Public"},
            ),
            _event(
                2,
                "protected_branch_updated",
                {
                    "change": "allow_force_push",
                    "from": "false",
                    "to": "true",
                    "target_details": "main",
                },
            ),
        ],
    )
    report = attach_authors(_drift(), _client())
    by_field = {c.field: c for c in report.changes}
    assert [e.id for e in by_field["visibility"].events] == [1]
    assert [e.id for e in by_field["allow_force_push"].events] == [2]
    assert by_field["visibility"].events[0].author_name == "Mallory"
    assert report.authors.status == "ok"
    assert report.authors.events_read == 2
    query = responses.calls[0].request.url
    assert "created_after=" in query
    assert "created_before=" in query


@responses.activate
def test_free_tier_says_why_authors_are_unknown() -> None:
    responses.get(EVENTS, status=403, json={"message": "403 Forbidden"})
    report = attach_authors(_drift(), _client())
    assert report.authors.status == "forbidden"
    assert "Premium" in (report.authors.message or "")
    assert all(not c.events for c in report.changes)


@responses.activate
def test_community_edition_is_unavailable() -> None:
    responses.get(EVENTS, status=404, json={"error": "404 Not Found"})
    report = attach_authors(_drift(), _client())
    assert report.authors.status == "unavailable"


def test_no_ip_no_email_no_secret_in_what_is_kept() -> None:
    ref = to_ref(
        _event(
            3,
            "ci_variable_updated",
            {"change": "value", "from": "glpat-AbCdEfGhIjKlMnOpQrSt", "to": "https://u:p@host/x"},
        )
    )
    assert ref is not None
    text = ref.model_dump_json()
    for leak in ("203.0.113.9", "mallory@example.com", "glpat-AbCdEfGhIjKlMnOpQrSt", "u:p@"):
        assert leak not in text
    assert "[redacted]" in ref.description


def test_describe_reads_each_details_shape() -> None:
    assert (
        describe({"add": "protected branch", "target_details": "main"})
        == "add protected branch (main)"
    )
    assert describe({"remove": "hook"}) == "remove hook"
    assert describe({"custom_message": "Project archived"}) == "Project archived"
    assert describe({"change": "visibility", "from": "Private", "to": "Public"}) == (
        "change visibility from Private to Public"
    )


def test_matching_narrows_by_item_and_section() -> None:
    report = _drift()
    force = next(c for c in report.changes if c.field == "allow_force_push")
    events = [
        AuditEventRef(id=1, created_at="t1", description="change visibility from a to b"),
        AuditEventRef(
            id=2,
            created_at="t2",
            event_name="protected_branch_updated",
            description="change allow_force_push (release/*)",
        ),
        AuditEventRef(
            id=3,
            created_at="t3",
            event_name="protected_branch_updated",
            description="change allow_force_push (main)",
        ),
    ]
    assert [e.id for e in match(force, events)] == [3]
    assert match(force, events[:1]) == []  # nothing about protected branches: no guess


@responses.activate
def test_a_deleted_project_is_looked_up_on_its_parent_group() -> None:
    old, new = demo(), demo()
    new.projects = [p for p in new.projects if p.id != 1]
    report = diff_snapshots(old, new)
    assert report.changes[0].kind is ChangeKind.DELETED
    parent = next(p for p in old.projects if p.id == 1).namespace_id
    responses.get(
        f"{URL}/api/v4/groups/{parent}/audit_events",
        json=[
            _event(4, "project_destroyed", {"custom_message": "Project destroyed"}),
            _event(5, "group_visibility_level_updated", {"change": "visibility"}),
        ],
    )
    result = attach_authors(report, _client())
    assert [e.id for e in result.changes[0].events] == [4]
    assert result.authors.status == "ok"


def test_unknown_changes_are_not_looked_up() -> None:
    old, new = demo(), demo()
    ledger(new).webhooks = Section(status=Status.FORBIDDEN, http_status=403)
    report = diff_snapshots(old, new)
    result = attach_authors(report, _client())  # no HTTP registered: nothing may be asked
    assert result.authors.status == "ok"
    assert result.changes[0].classification is Classification.UNKNOWN


@responses.activate
def test_keyset_first_then_offset_on_a_gitlab_without_it() -> None:
    from responses import matchers

    responses.get(
        EVENTS,
        status=405,
        json={"error": "Keyset pagination is not yet available for this type of request"},
        match=[matchers.query_param_matcher({"pagination": "keyset"}, strict_match=False)],
    )
    responses.get(
        EVENTS, json=[_event(1, "project_visibility_level_updated", {"change": "visibility"})]
    )
    report = attach_authors(_drift(), _client())
    assert report.authors.status == "ok"
    assert "pagination=keyset" in responses.calls[0].request.url
    assert "pagination=keyset" not in responses.calls[1].request.url
