"""Audit events recorded by sandbox writes: GitLab's shape, routes, roles and secret hygiene."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import gitlab
import pytest
import requests

from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, load_instance

DEMO = load_instance(DEMO_INSTANCE_PATH)
FORBIDDEN = {"message": "403 Forbidden"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(DEMO.model_copy(deep=True)) as sandbox:
        yield sandbox


def call(
    sb: Sandbox, method: str, path: str, role: str | None = "admin", **kwargs: Any
) -> requests.Response:
    headers = {"PRIVATE-TOKEN": sb.token_for(role)} if role else {}
    return requests.request(method, f"{sb.url}/api/v4{path}", headers=headers, timeout=10, **kwargs)


def client(sb: Sandbox, role: str = "admin") -> gitlab.Gitlab:
    return gitlab.Gitlab(sb.url, private_token=sb.token_for(role), timeout=10)


def test_an_event_has_gitlabs_shape_author_and_time(sb: Sandbox) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    assert call(sb, "PUT", "/projects/20", role="owner_api", json={"visibility": "internal"}).ok
    (event,) = client(sb).projects.get(20).audit_events.list(all=True)
    body = event.attributes
    assert set(body) == {
        "id",
        "author_id",
        "entity_id",
        "entity_type",
        "event_name",
        "details",
        "created_at",
        "project_id",  # python-gitlab adds the parent's id
    }
    owner = sb.instance.users.owner
    assert (body["author_id"], body["entity_id"], body["entity_type"]) == (owner.id, 20, "Project")
    assert body["event_name"] == "project_visibility_level_updated"
    assert TIMESTAMP.match(body["created_at"])
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert start <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert body["details"] == {
        "change": "visibility_level",
        "from": "Public",
        "to": "Internal",
        "event_name": "project_visibility_level_updated",
        "author_name": owner.name,
        "author_class": "User",
        "author_email": f"{owner.username}@example.invalid",
        "target_id": 20,
        "target_type": "Project",
        "target_details": "acme-oss/cli-tool",
        "custom_message": "Changed visibility_level from Public to Internal",
        "ip_address": "127.0.0.1",
        "entity_path": "acme-oss/cli-tool",
    }


def test_routes_order_page_and_filter_like_gitlab(sb: Sandbox) -> None:
    for flag in (False, True, False, True, False):
        assert call(sb, "PUT", "/projects/20", json={"public_jobs": flag}).ok
    assert call(sb, "PUT", "/groups/acme-oss", json={"description": "Open source"}).ok
    gl = client(sb)
    project_events = gl.projects.get(20).audit_events.list(all=True, per_page=2)
    ids = [e.id for e in project_events]
    assert ids == [5, 4, 3, 2, 1]  # newest first, across pages
    page = call(sb, "GET", "/projects/20/audit_events?per_page=2&page=2")
    assert (page.headers["x-total"], page.headers["x-page"]) == ("5", "2")
    assert [e.event_name for e in gl.groups.get("acme-oss").audit_events.list(all=True)] == [
        "group_description_updated"
    ]
    everything = gl.audit_events.list(all=True)
    assert [e.id for e in everything] == [6, 5, 4, 3, 2, 1]
    only_group = call(sb, "GET", "/audit_events?entity_type=Group&entity_id=10").json()
    assert [e["id"] for e in only_group] == [6]

    third = sb.audit_events[2]["created_at"]
    after = call(sb, "GET", "/projects/20/audit_events", params={"created_after": third}).json()
    assert [e["id"] for e in after] == [5, 4, 3]
    before = call(sb, "GET", "/projects/20/audit_events", params={"created_before": third}).json()
    assert [e["id"] for e in before] == [3, 2, 1]
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert call(sb, "GET", f"/audit_events?created_after={future}").json() == []
    bad = call(sb, "GET", "/projects/20/audit_events?created_after=yesterday")
    assert (bad.status_code, bad.json()) == (400, {"error": "created_after is invalid"})
    kind = call(sb, "GET", "/audit_events?entity_type=Runner")
    assert kind.json() == {"error": "entity_type does not have a valid value"}


def test_sandbox_audit_events_lists_oldest_first_and_copies(sb: Sandbox) -> None:
    call(sb, "POST", "/projects/20/archive")
    call(sb, "POST", "/projects/20/unarchive")
    listed = sb.audit_events
    assert [e["event_name"] for e in listed] == ["project_archived", "project_unarchived"]
    listed[0]["details"]["custom_message"] = "tampered"
    assert sb.audit_events[0]["details"]["custom_message"] == "Project archived"


def test_who_may_read_which_events(sb: Sandbox) -> None:
    # alex.owner is Owner of acme-oss and Developer of acme/data.
    call(sb, "PUT", "/projects/14", json={"public_jobs": False})  # by the admin
    call(sb, "PUT", "/groups/acme%2Fdata", json={"description": "by admin"})
    assert call(sb, "GET", "/audit_events", role="owner_api").json() == FORBIDDEN
    assert call(sb, "GET", "/audit_events", role="owner_api").status_code == 403
    # Developers see their own events only; the admin's are not theirs.
    assert call(sb, "GET", "/projects/14/audit_events", role="owner_api").json() == []
    assert call(sb, "GET", "/groups/acme%2Fdata/audit_events", role="owner_api").json() == []
    # Owners (and Maintainers for projects) see everyone's.
    call(sb, "PUT", "/projects/20", json={"public_jobs": False})
    events = call(sb, "GET", "/projects/20/audit_events", role="owner").json()
    assert [e["author_id"] for e in events] == [sb.instance.users.admin.id]
    hidden = call(sb, "GET", "/projects/9/audit_events", role="owner")
    assert (hidden.status_code, hidden.json()) == (404, {"message": "404 Project Not Found"})
    scope = call(sb, "GET", "/projects/20/audit_events", role="read_user")
    assert (scope.status_code, scope.json()["error"]) == (403, "insufficient_scope")


def test_audit_routes_follow_the_licence() -> None:
    with Sandbox(DEMO.model_copy(deep=True), tier="free") as free:
        call(free, "PUT", "/projects/20", json={"public_jobs": False})
        assert free.audit_events == []
        for path in ("/audit_events", "/groups/acme/audit_events", "/projects/20/audit_events"):
            assert call(free, "GET", path).json() == FORBIDDEN
    with Sandbox(DEMO.model_copy(deep=True), tier="free", edition="ce") as ce:
        for path in ("/audit_events", "/groups/acme/audit_events", "/projects/20/audit_events"):
            response = call(ce, "GET", path)
            assert (response.status_code, response.json()) == (404, {"error": "404 Not Found"})


def test_unaudited_writes_can_record_nothing_as_in_gitlab() -> None:
    with Sandbox(DEMO.model_copy(deep=True), audit_untracked_writes=False) as sb:
        call(sb, "PUT", "/projects/20", json={"public_jobs": False, "visibility": "internal"})
        call(sb, "PUT", "/runners/1", json={"paused": True})
        assert [e["event_name"] for e in sb.audit_events] == ["project_visibility_level_updated"]
    with Sandbox(DEMO.model_copy(deep=True)) as sb:
        call(sb, "PUT", "/projects/20", json={"public_jobs": False})
        (event,) = sb.audit_events
        assert event["event_name"] == "sandbox_project_setting_updated"
        assert (event["details"]["change"], event["details"]["from"]) == ("public_jobs", "true")


def test_deleted_projects_keep_their_history_on_the_instance_route(sb: Sandbox) -> None:
    call(sb, "PUT", "/projects/20", json={"public_jobs": False})
    call(sb, "DELETE", "/projects/20")
    names = [e["event_name"] for e in call(sb, "GET", "/audit_events").json()]
    assert names == ["project_destroyed", "sandbox_project_setting_updated"]
    group = call(sb, "GET", "/groups/acme-oss/audit_events").json()
    assert [(e["event_name"], e["details"]["target_id"]) for e in group] == [
        ("project_destroyed", 20)
    ]


def test_no_secret_reaches_an_event_a_log_or_an_error() -> None:
    canaried, canaries = DEMO.with_canaries()
    fresh = ["CANARYNEW1", "CANARYNEW2", "CANARYNEW3", "CANARYNEW4", "CANARYNEW5"]
    with Sandbox(canaried) as sb:
        gl = client(sb)
        project = gl.projects.get(2)
        variable = project.variables.create({"key": "FRESH", "value": f"fake-{fresh[0]}"})
        variable.value = f"fake-{fresh[1]}"
        variable.masked = True
        variable.save()
        project.variables.update("AWS_SECRET_ACCESS_KEY", {"value": f"fake-{fresh[2]}-long"})
        hook = project.hooks.create(
            {
                "url": f"https://user:{fresh[3]}@hooks.example/in?token={fresh[3]}",
                "token": fresh[4],
                "custom_headers": [{"key": "X-Auth", "value": fresh[4]}],
            }
        )
        hook.url = f"https://hooks.example/new?secret={fresh[4]}"
        hook.token = f"{fresh[3]}-rotated"
        hook.save()
        project.hooks.delete(hook.id)
        project.variables.delete("FRESH")
        group_var = gl.groups.get("acme").variables.create({"key": "G", "value": fresh[0]})
        group_var.delete()
        rejected = call(
            sb,
            "POST",
            "/projects/2/variables",
            json={"key": "M", "value": f"{fresh[1]} has spaces", "masked": True},
        )
        logged = call(sb, "PUT", f"/projects/2/variables/AWS_ACCESS_KEY_ID?value={fresh[2]}")

        texts = [
            str(sb.audit_events),
            call(sb, "GET", "/audit_events?per_page=100").text,
            call(sb, "GET", "/projects/2/audit_events?per_page=100").text,
            call(sb, "GET", "/groups/acme/audit_events?per_page=100").text,
            str(sb.request_log),
            rejected.text,
        ]
        assert len(sb.audit_events) >= 10
        assert logged.status_code == 200
        for secret in [*fresh, *canaries]:
            for text in texts:
                assert secret not in text, f"{secret} leaked"
        assert any(e["details"].get("change") == "value(hidden)" for e in sb.audit_events)
