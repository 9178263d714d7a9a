"""Changing the sandbox through GitLab's write endpoints, mostly with python-gitlab itself.

Each test starts a fresh sandbox: writes change state, and tests must not see each other's.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from posture.sandbox import DEMO_INSTANCE_PATH, Fault, Sandbox, access, load_instance
from posture.sandbox.instance import parse_instance
from posture.sandbox.pagination import RequestURL
from posture.sandbox.routes import Request
from posture.sandbox.writes import WRITE_ROUTES

DEMO = load_instance(DEMO_INSTANCE_PATH)
FORBIDDEN = {"message": "403 Forbidden"}
ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ci@example"
)
# A member with every role the permission tests need (the "owner_api" token acts as alex.owner).
ROLES = {
    "users": {"others": [{"username": "sam.security", "name": "Sam Security"}]},
    "runners": [
        {"name": "shared"},
        {"name": "team-runner", "tag_list": ["team"]},
        {"name": "dev-runner", "tag_list": ["dev"]},
    ],
    "groups": [
        {
            "path": "team",
            "visibility": "internal",
            "projects": [
                {"path": "owned", "visibility": "internal", "runners": ["team-runner"]},
                {"path": "maintained", "member_role": "maintainer"},
                {"path": "developed", "member_role": "developer", "runners": ["dev-runner"]},
                {"path": "hidden", "member_role": "none"},
            ],
        },
        {"path": "other", "member_role": "developer", "visibility": "internal"},
    ],
}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(DEMO.model_copy(deep=True)) as sandbox:
        yield sandbox


@pytest.fixture
def roles() -> Iterator[Sandbox]:
    with Sandbox(parse_instance(ROLES)) as sandbox:
        yield sandbox


def client(sb: Sandbox, role: str = "admin") -> gitlab.Gitlab:
    return gitlab.Gitlab(sb.url, private_token=sb.token_for(role), timeout=10)


def call(
    sb: Sandbox, method: str, path: str, role: str | None = "admin", **kwargs: Any
) -> requests.Response:
    headers = {"PRIVATE-TOKEN": sb.token_for(role)} if role else {}
    return requests.request(method, f"{sb.url}/api/v4{path}", headers=headers, timeout=10, **kwargs)


def events(sb: Sandbox) -> list[str]:
    return [e["event_name"] for e in sb.audit_events]


# --- projects ---------------------------------------------------------------------------


def test_python_gitlab_saves_project_settings_and_gets_them_back(sb: Sandbox) -> None:
    gl = client(sb)
    project = gl.projects.get("acme-oss/cli-tool")
    project.visibility = "internal"
    project.public_jobs = False
    project.shared_runners_enabled = False
    project.group_runners_enabled = False
    project.ci_pipeline_variables_minimum_override_role = "no_one_allowed"
    project.ci_allow_fork_pipelines_to_run_in_parent_project = False
    project.save()

    again = gl.projects.get(project.id)
    assert again.visibility == "internal"
    assert again.public_jobs is False
    assert again.shared_runners_enabled is False
    assert again.group_runners_enabled is False
    assert again.ci_pipeline_variables_minimum_override_role == "no_one_allowed"
    assert again.restrict_user_defined_variables is True
    assert again.ci_allow_fork_pipelines_to_run_in_parent_project is False
    # The crawler's list view agrees with the single view: no stale cached answer.
    listed = next(p for p in gl.projects.list(iterator=True) if p.id == project.id)
    assert listed.visibility == "internal"
    assert events(sb)[0] == "project_visibility_level_updated"
    assert set(events(sb)[1:]) == {"sandbox_project_setting_updated"}
    again.visibility = "public"
    again.save()
    assert gl.projects.get(project.id).visibility == "public"


def test_every_write_route_names_a_documented_doc_page() -> None:
    text = (Path(__file__).parents[2] / "docs" / "sandbox.md").read_text(encoding="utf-8")
    for route in WRITE_ROUTES:
        assert re.fullmatch(r"doc/api/[a-z_]+\.md", route.doc), route
        assert route.doc in text, route.doc
        # Item routes are listed beside their collection: "`POST /x`, `PUT`/`DELETE .../:key`".
        collection = re.sub(r"/:[a-z_]+$", "", route.template)
        listed = f"`{route.method} {route.template}`" in text or (
            f"{collection}`" in text
            and (f"`{route.method}`" in text or f"`{route.method} .../:" in text)
        )
        assert listed, route


def test_restrict_user_defined_variables_drives_the_override_role(sb: Sandbox) -> None:
    pid = 2  # payment-gateway: role "developer", so not restricted
    response = call(sb, "PUT", f"/projects/{pid}", json={"restrict_user_defined_variables": True})
    assert response.status_code == 200
    assert response.json()["ci_pipeline_variables_minimum_override_role"] == "maintainer"
    response = call(sb, "PUT", f"/projects/{pid}", data={"restrict_user_defined_variables": "0"})
    assert response.json()["restrict_user_defined_variables"] is False
    assert response.json()["ci_pipeline_variables_minimum_override_role"] == "developer"


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        ({"visibility": "secret"}, 400, {"error": "visibility does not have a valid value"}),
        ({"public_jobs": "maybe"}, 400, {"error": "public_jobs is invalid"}),
        (
            {"ci_pipeline_variables_minimum_override_role": "guest"},
            400,
            {"error": "ci_pipeline_variables_minimum_override_role does not have a valid value"},
        ),
        (
            {"visibility": "internal"},
            400,
            {"message": {"visibility_level": ["internal is not allowed in a private group."]}},
        ),
        ({"path": "payment-gateway"}, 400, {"message": {"path": ["has already been taken"]}}),
        (
            {"path": "-bad"},
            400,
            {
                "message": {
                    "path": [
                        "can contain only letters, digits, '_', '-' and '.'. Cannot start with "
                        "'-', end in '.git' or end in '.atom'"
                    ]
                }
            },
        ),
    ],
)
def test_invalid_project_updates_answer_gitlabs_errors_and_change_nothing(
    sb: Sandbox, body: dict[str, Any], status: int, answer: dict[str, Any]
) -> None:
    before = call(sb, "GET", "/projects/1").json()
    response = call(sb, "PUT", "/projects/1", json=body)
    assert (response.status_code, response.json()) == (status, answer)
    assert call(sb, "GET", "/projects/1").json() == before
    assert sb.audit_events == []


def test_a_put_without_any_known_attribute_is_refused(sb: Sandbox) -> None:
    response = call(sb, "PUT", "/projects/1", json={"unknown": 1})
    assert response.status_code == 400
    assert response.json()["error"].endswith("are missing, at least one parameter must be provided")


def test_transfer_moves_the_project_and_references_follow_it(sb: Sandbox) -> None:
    gl = client(sb)
    source = gl.projects.get("acme-oss/cli-tool")
    source.transfer("acme-sandbox")
    moved = gl.projects.get(source.id)
    assert moved.path_with_namespace == "acme-sandbox/cli-tool"
    # The group is internal: a public project moving in becomes internal, as in GitLab.
    assert moved.visibility == "internal"
    fork = gl.projects.get("acme-sandbox/hackathon-cli")
    assert fork.forked_from_project["path_with_namespace"] == "acme-sandbox/cli-tool"
    assert call(sb, "GET", "/projects/acme-oss%2Fcli-tool").status_code == 404
    assert events(sb) == ["project_namespace_updated", "project_visibility_level_updated"]
    details = sb.audit_events[0]["details"]
    assert (details["change"], details["from"], details["to"]) == (
        "namespace",
        "acme-oss/cli-tool",
        "acme-sandbox/cli-tool",
    )
    again = call(sb, "PUT", f"/projects/{source.id}/transfer", json={"namespace": "acme-sandbox"})
    assert again.status_code == 400
    assert "Project is already in this namespace." in again.json()["message"]
    unknown = call(sb, "PUT", f"/projects/{source.id}/transfer", json={"namespace": "nope"})
    assert (unknown.status_code, unknown.json()) == (404, {"message": "404 Namespace Not Found"})


def test_delete_removes_the_project_its_fork_link_and_its_only_runner(sb: Sandbox) -> None:
    gl = client(sb)
    assert call(sb, "DELETE", "/projects/acme-oss%2Fcli-tool").json() == {"message": "202 Accepted"}
    assert call(sb, "GET", "/projects/acme-oss%2Fcli-tool").status_code == 404
    assert "forked_from_project" not in call(sb, "GET", "/projects/24").json()
    gl.projects.delete(1)  # the ledger, the only user of ledger-runner
    assert call(sb, "GET", "/projects/1").status_code == 404
    runners = {r["name"] for r in call(sb, "GET", "/runners/all?per_page=100").json()}
    assert "ledger-runner" not in runners
    assert "infra-deployer" in runners
    deleted = sb.audit_events[-1]
    assert deleted["event_name"] == "project_destroyed"
    assert (deleted["entity_type"], deleted["entity_id"]) == ("Group", 3)
    assert deleted["details"]["target_details"] == "acme/platform/payments/ledger"


def test_archive_and_unarchive(sb: Sandbox) -> None:
    gl = client(sb)
    project = gl.projects.get(20)
    project.archive()
    assert project.archived is True
    assert gl.projects.get(20).archived is True
    project.unarchive()
    assert gl.projects.get(20).archived is False
    assert events(sb) == ["project_archived", "project_unarchived"]
    assert call(sb, "POST", "/projects/20/archive").status_code == 201


# --- groups -----------------------------------------------------------------------------


def test_group_rename_moves_everything_below_it(sb: Sandbox) -> None:
    gl = client(sb)
    group = gl.groups.get("acme-oss")
    group.path = "acme-open"
    group.name = "ACME Open"
    group.save()
    assert gl.projects.get(20).path_with_namespace == "acme-open/cli-tool"
    fork = gl.projects.get("acme-sandbox/hackathon-cli")
    assert fork.forked_from_project["path_with_namespace"] == "acme-open/cli-tool"
    assert call(sb, "GET", "/groups/acme-oss").status_code == 404
    assert set(events(sb)) == {"group_name_updated", "group_path_updated"}


def test_group_visibility_is_checked_against_parent_and_children(sb: Sandbox) -> None:
    lower = call(sb, "PUT", "/groups/acme-sandbox", json={"visibility": "private"})
    assert lower.status_code == 400
    assert lower.json() == {
        "message": {
            "visibility_level": [
                "private is not allowed since this group contains projects with higher visibility."
            ]
        }
    }
    child = call(sb, "PUT", "/groups/acme%2Fweb", json={"visibility": "public"})
    assert child.json()["message"]["visibility_level"] == [
        "public is not allowed since the parent group has a private visibility."
    ]
    ok = call(sb, "PUT", "/groups/acme-sandbox", json={"visibility": "public"})
    assert (ok.status_code, ok.json()["visibility"]) == (200, "public")
    assert sb.audit_events[-1]["details"]["from"] == "Internal"
    assert sb.audit_events[-1]["details"]["to"] == "Public"


# --- permissions ------------------------------------------------------------------------


def test_only_api_tokens_may_write(sb: Sandbox) -> None:
    for role in ("owner", "read_user"):
        response = call(sb, "PUT", "/projects/20", role=role, json={"public_jobs": False})
        assert response.status_code == 403
        assert response.json()["error"] == "insufficient_scope"
        assert response.json()["scope"] == "api"
    expired = call(sb, "PUT", "/projects/20", role="expired", json={"public_jobs": False})
    assert (expired.status_code, expired.json()["error"]) == (401, "invalid_token")
    anonymous = call(sb, "PUT", "/projects/20", role=None, json={"public_jobs": False})
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})
    assert call(sb, "GET", "/projects/20").json()["public_jobs"] is True


def test_roles_decide_as_gitlab_documents(roles: Sandbox) -> None:
    def put(path: str, body: dict[str, Any]) -> requests.Response:
        return call(roles, "PUT", f"/projects/team%2F{path}", role="owner_api", json=body)

    assert put("owned", {"visibility": "private"}).status_code == 200
    assert put("maintained", {"public_jobs": False}).status_code == 200
    # Visibility and name need Owner (`change_visibility_level`, `rename_project`).
    assert put("maintained", {"visibility": "private"}).json() == FORBIDDEN
    assert put("maintained", {"name": "M"}).status_code == 403
    assert put("developed", {"public_jobs": False}).json() == FORBIDDEN
    hidden = put("hidden", {"public_jobs": False})
    assert (hidden.status_code, hidden.json()) == (404, {"message": "404 Project Not Found"})
    # Deleting and transferring need Owner of the project, transferring Maintainer there.
    assert call(roles, "DELETE", "/projects/team%2Fmaintained", role="owner_api").status_code == 403
    refused = call(
        roles,
        "PUT",
        "/projects/team%2Fowned/transfer",
        role="owner_api",
        json={"namespace": "other"},
    )
    assert refused.status_code == 400
    assert "You don't have permission" in refused.json()["message"]
    group = call(roles, "PUT", "/groups/other", role="owner_api", json={"description": "x"})
    assert group.json() == FORBIDDEN
    assert roles.audit_events[0]["author_id"] == roles.instance.users.owner.id


def test_runner_updates_follow_runner_ownership(roles: Sandbox) -> None:
    gl = client(roles, "owner_api")
    ids = {r["name"]: r["id"] for r in call(roles, "GET", "/runners/all").json()}
    runner = gl.runners.update(ids["team-runner"], {"tag_list": ["team", "linux"], "paused": True})
    assert runner["tag_list"] == ["team", "linux"]
    assert runner["paused"] is True
    for name in ("shared", "dev-runner"):
        response = call(
            roles, "PUT", f"/runners/{ids[name]}", role="owner_api", json={"paused": True}
        )
        assert response.json() == FORBIDDEN
    event = roles.audit_events[0]
    assert (event["entity_type"], event["details"]["entity_path"]) == ("Project", "team/owned")
    admin_edit = call(roles, "PUT", f"/runners/{ids['shared']}", json={"locked": True})
    assert admin_edit.status_code == 200
    assert roles.audit_events[-1]["entity_type"] == "Gitlab::Audit::InstanceScope"


def test_runner_validation(sb: Sandbox) -> None:
    untagged = call(sb, "PUT", "/runners/1", json={"tag_list": [], "run_untagged": False})
    assert untagged.status_code == 400
    assert "tags_list" in untagged.json()["message"]
    short = call(sb, "PUT", "/runners/1", json={"maximum_timeout": 300})
    assert short.json() == {"message": {"maximum_timeout": ["needs to be at least 10 minutes"]}}
    level = call(sb, "PUT", "/runners/1", json={"access_level": "everyone"})
    assert level.json() == {"error": "access_level does not have a valid value"}
    missing = call(sb, "PUT", "/runners/999", json={"paused": True})
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Runner Not Found"})


# --- protected branches and approvals ---------------------------------------------------


def test_protected_branch_lifecycle(sb: Sandbox) -> None:
    project = client(sb).projects.get(2)
    created = project.protectedbranches.create({"name": "release/*", "push_access_level": 0})
    assert created.push_access_levels[0]["access_level"] == 0
    assert created.merge_access_levels[0]["access_level"] == 40
    twice = call(sb, "POST", "/projects/2/protected_branches", json={"name": "release/*"})
    assert (twice.status_code, twice.json()) == (
        409,
        {"message": "Protected branch 'release/*' already exists"},
    )
    patched = call(
        sb,
        "PATCH",
        "/projects/2/protected_branches/release%2F*",
        json={"allow_force_push": True, "allowed_to_push": [{"access_level": 40}]},
    ).json()
    assert patched["allow_force_push"] is True
    assert [e["access_level"] for e in patched["push_access_levels"]] == [0, 40]
    first = patched["push_access_levels"][0]["id"]
    destroyed = call(
        sb,
        "PATCH",
        "/projects/2/protected_branches/release%2F*",
        json={"allowed_to_push": [{"id": first, "_destroy": True}]},
    ).json()
    assert [e["access_level"] for e in destroyed["push_access_levels"]] == [40]
    project.protectedbranches.delete("release/*")
    names = [b["name"] for b in call(sb, "GET", "/projects/2/protected_branches").json()]
    assert "release/*" not in names
    missing = call(sb, "DELETE", "/projects/2/protected_branches/nope")
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Not found"})
    assert events(sb) == [
        "protected_branch_created",
        "protected_branch_allow_force_push_updated",
        "protected_branch_updated",
        "protected_branch_updated",
        "protected_branch_removed",
    ]
    updated = sb.audit_events[2]["details"]
    assert (updated["change"], updated["from"], updated["to"]) == (
        "allowed to push",
        '["No one"]',
        '["No one", "Maintainers"]',
    )


def test_unprotecting_a_branch_drops_it_from_approval_rules(sb: Sandbox) -> None:
    rule = call(sb, "GET", "/projects/1/approval_rules").json()[0]
    assert [b["name"] for b in rule["protected_branches"]] == ["main"]
    assert call(sb, "DELETE", "/projects/1/protected_branches/main").status_code == 204
    rule = call(sb, "GET", "/projects/1/approval_rules").json()[0]
    assert rule["protected_branches"] == []


def test_approval_settings_and_rules(sb: Sandbox) -> None:
    project = client(sb).projects.get(2)
    project.approvals.update(merge_requests_author_approval=False, reset_approvals_on_push=False)
    settings = project.approvals.get()
    assert settings.merge_requests_author_approval is False
    assert settings.reset_approvals_on_push is False
    author = sb.audit_events[0]
    assert author["event_name"] == "project_merge_requests_author_approval_updated"
    # GitLab words it "prevent merge request approval from authors": the values invert.
    assert (author["details"]["from"], author["details"]["to"]) == ("false", "true")

    rule = project.approvalrules.create(
        {"name": "Security", "approvals_required": 2, "usernames": ["sam.security"]}
    )
    assert [u["username"] for u in rule.users] == ["sam.security"]
    rule.approvals_required = 3
    rule.save()
    listed = {r["name"]: r for r in call(sb, "GET", "/projects/2/approval_rules").json()}
    assert listed["Security"]["approvals_required"] == 3
    taken = call(
        sb, "POST", "/projects/2/approval_rules", json={"name": "Security", "approvals_required": 1}
    )
    assert taken.json() == {"message": {"name": ["has already been taken"]}}
    missing = call(sb, "POST", "/projects/2/approval_rules", json={"approvals_required": 1})
    assert missing.json() == {"error": "name is missing"}
    project.approvalrules.delete(rule.id)
    assert "Security" not in {
        r["name"] for r in call(sb, "GET", "/projects/2/approval_rules").json()
    }
    assert events(sb)[-4:] == [
        "approval_rule_created",
        "approval_rule_created",
        "update_approval_rules",
        "approval_rule_deleted",
    ]


def test_premium_writes_follow_the_tier_and_edition() -> None:
    body = {"name": "r", "approvals_required": 1}
    with Sandbox(DEMO.model_copy(deep=True), tier="free") as free:
        response = call(free, "POST", "/projects/2/approval_rules", json=body)
        assert (response.status_code, response.json()) == (403, FORBIDDEN)
        assert call(free, "PUT", "/projects/20", json={"public_jobs": False}).status_code == 200
        assert free.audit_events == []  # no audit events without a licence
    with Sandbox(DEMO.model_copy(deep=True), tier="free", edition="ce") as ce:
        response = call(ce, "POST", "/projects/2/approvals", json={"reset_approvals_on_push": 1})
        assert (response.status_code, response.json()) == (404, {"error": "404 Not Found"})


# --- variables, hooks, keys, job tokens -------------------------------------------------


def test_project_variables_with_environment_scopes(sb: Sandbox) -> None:
    project = client(sb).projects.get(2)
    project.variables.create(
        {"key": "DEPLOY_TARGET", "value": "staging-1", "environment_scope": "staging"}
    )
    project.variables.create(
        {"key": "DEPLOY_TARGET", "value": "prod-1", "environment_scope": "production"}
    )
    ambiguous = call(sb, "PUT", "/projects/2/variables/DEPLOY_TARGET", json={"value": "x"})
    assert ambiguous.status_code == 409
    project.variables.update(
        "DEPLOY_TARGET", {"protected": True}, filter={"environment_scope": "production"}
    )
    listed = {
        (v["key"], v["environment_scope"]): v
        for v in call(sb, "GET", "/projects/2/variables").json()
    }
    assert listed[("DEPLOY_TARGET", "production")]["protected"] is True
    assert listed[("DEPLOY_TARGET", "staging")]["protected"] is False
    project.variables.delete("DEPLOY_TARGET", filter={"environment_scope": "staging"})
    keys = [
        (v["key"], v["environment_scope"]) for v in call(sb, "GET", "/projects/2/variables").json()
    ]
    assert ("DEPLOY_TARGET", "staging") not in keys
    assert ("DEPLOY_TARGET", "production") in keys
    duplicate = call(
        sb,
        "POST",
        "/projects/2/variables",
        json={"key": "DEPLOY_TARGET", "value": "y", "environment_scope": "production"},
    )
    assert duplicate.json() == {"message": {"key": ["(DEPLOY_TARGET) has already been taken"]}}
    missing = call(sb, "DELETE", "/projects/2/variables/NOPE")
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Variable Not Found"})
    protection = sb.audit_events[2]["details"]
    assert (protection["change"], protection["from"], protection["to"]) == (
        "variable protection",
        "false",
        "true",
    )


def test_variable_validation_never_echoes_the_value(sb: Sandbox) -> None:
    secret = "short"
    masked = call(
        sb, "POST", "/projects/2/variables", json={"key": "K", "value": secret, "masked": True}
    )
    assert masked.json() == {"message": {"value": ["is invalid"]}}
    bad_key = call(sb, "POST", "/projects/2/variables", data={"key": "BAD-KEY", "value": "v"})
    assert bad_key.json() == {"message": {"key": ["can contain only letters, digits and '_'."]}}
    missing = call(sb, "POST", "/projects/2/variables", json={})
    assert missing.json() == {"error": "key is missing, value is missing"}
    assert secret not in masked.text


def test_group_variables_scope_is_premium() -> None:
    body = {"key": "SCOPED", "value": "v", "environment_scope": "production"}
    with Sandbox(DEMO.model_copy(deep=True)) as premium:
        created = call(premium, "POST", "/groups/acme/variables", json=body).json()
        assert created["environment_scope"] == "production"
        assert premium.audit_events[0]["event_name"] == "ci_group_variable_created"
    with Sandbox(DEMO.model_copy(deep=True), tier="free") as free:
        created = call(free, "POST", "/groups/acme/variables", json=body).json()
        assert created["environment_scope"] == "*"


def test_hooks_are_created_updated_and_deleted_without_showing_the_token(sb: Sandbox) -> None:
    project = client(sb).projects.get(2)
    hook = project.hooks.create(
        {
            "url": "https://hooks.example/in",
            "token": "fake-hook-token",
            "merge_requests_events": True,
        }
    )
    assert "token" not in hook.attributes
    assert hook.push_events is True
    assert hook.merge_requests_events is True
    hook.enable_ssl_verification = False
    hook.save()
    listed = {h["id"]: h for h in call(sb, "GET", "/projects/2/hooks").json()}
    assert listed[hook.id]["enable_ssl_verification"] is False
    project.hooks.delete(hook.id)
    assert hook.id not in {h["id"] for h in call(sb, "GET", "/projects/2/hooks").json()}
    again = project.hooks.create({"url": "https://hooks.example/again"})
    assert again.id > hook.id  # ids are never reused
    bad = call(sb, "POST", "/projects/2/hooks", json={"url": "ftp://hooks.example/x"})
    assert bad.status_code == 422
    assert bad.json() == {"message": {"url": ["is blocked: Only allowed schemes are http, https"]}}
    assert events(sb) == [
        "webhook_created",
        "sandbox_webhook_updated",
        "webhook_destroyed",
        "webhook_created",
    ]


def test_deploy_keys_and_branch_access_that_names_them(sb: Sandbox) -> None:
    project = client(sb).projects.get(4)  # terraform-ci key, used by nothing yet
    key = project.keys.create({"title": "pusher", "key": ED25519, "can_push": True})
    assert key.fingerprint_sha256.startswith("SHA256:")
    branch = call(
        sb,
        "PATCH",
        "/projects/4/protected_branches/main",
        json={"allowed_to_push": [{"deploy_key_id": key.id}]},
    ).json()
    assert branch["push_access_levels"][-1]["deploy_key_id"] == key.id
    project.keys.update(key.id, {"title": "renamed"})
    branch = next(
        b for b in call(sb, "GET", "/projects/4/protected_branches").json() if b["name"] == "main"
    )
    assert branch["push_access_levels"][-1]["access_level_description"] == "renamed"
    project.keys.delete(key.id)
    branch = next(
        b for b in call(sb, "GET", "/projects/4/protected_branches").json() if b["name"] == "main"
    )
    assert all(e.get("deploy_key_id") != key.id for e in branch["push_access_levels"])
    invalid = call(
        sb, "POST", "/projects/4/deploy_keys", json={"title": "x", "key": "ssh-rsa nope"}
    )
    assert invalid.json() == {
        "message": {"key": ["is invalid"], "fingerprint_sha256": ["cannot be generated"]}
    }


def test_job_token_scope_patch(sb: Sandbox) -> None:
    response = call(sb, "PATCH", "/projects/2/job_token_scope", json={"enabled": False})
    assert (response.status_code, response.content) == (204, b"")
    assert call(sb, "GET", "/projects/2/job_token_scope").json()["inbound_enabled"] is False
    assert events(sb) == ["secure_ci_job_token_inbound_disabled"]
    missing = call(sb, "PATCH", "/projects/2/job_token_scope", json={})
    assert missing.json() == {"error": "enabled is missing"}


# --- the server around the writes -------------------------------------------------------


def test_writes_are_logged_with_their_method_and_secret_parameters_redacted(sb: Sandbox) -> None:
    call(sb, "POST", "/projects/2/variables?key=FROM_QUERY&value=fake-secret-in-query")
    entry = sb.request_log[-1]
    assert (entry.method, entry.status) == ("POST", 201)
    assert entry.query == "key=FROM_QUERY&value=[FILTERED]"
    assert sb.requests_by_endpoint() == {"POST /projects/:id/variables": 1}


def test_other_methods_on_write_paths_are_405(sb: Sandbox) -> None:
    assert call(sb, "PATCH", "/projects/1").status_code == 405
    assert call(sb, "PUT", "/projects/1/protected_branches/main").status_code == 405
    assert call(sb, "POST", "/projects").status_code == 405
    assert call(sb, "POST", "/projects/1/nothing_here").json() == {"error": "404 Not Found"}


def test_an_injected_fault_fails_a_write_before_it_applies() -> None:
    fault = Fault("PUT /projects/:id", 500, times=1)
    with Sandbox(DEMO.model_copy(deep=True), faults=[fault]) as sb:
        failed = call(sb, "PUT", "/projects/20", json={"public_jobs": False})
        assert failed.status_code == 500
        assert call(sb, "GET", "/projects/20").json()["public_jobs"] is True
        assert call(sb, "PUT", "/projects/20", json={"public_jobs": False}).status_code == 200
        assert call(sb, "GET", "/projects/20").json()["public_jobs"] is False


def test_a_write_never_touches_the_state_earlier_requests_are_reading(sb: Sandbox) -> None:
    """A request keeps the router it started with: after a write, that old generation must
    still answer exactly as before (the write copied what it changed)."""
    old_router, old_dump = sb.router, sb.instance.model_dump()
    before = call(sb, "GET", "/projects/20").json()
    call(sb, "PUT", "/projects/20", json={"visibility": "internal", "name": "Renamed"})
    call(sb, "PUT", "/groups/acme-oss", json={"path": "acme-open"})
    call(sb, "POST", "/projects/20/variables", json={"key": "NEW", "value": "fake"})
    identity = access.identities(DEMO.users.admin, DEMO.users.owner)[sb.token_for("admin")]
    url = RequestURL("http", "sandbox.test", "/api/v4/projects/20", "")
    answer, _endpoint = old_router.handle(Request("GET", ("projects", "20"), {}, url, identity))
    assert json.loads(answer.body) == before
    assert old_router.catalog.instance.model_dump() == old_dump
    assert call(sb, "GET", "/projects/20").json()["path_with_namespace"] == "acme-open/cli-tool"


def test_concurrent_gets_during_writes_never_fail_or_mix(sb: Sandbox) -> None:
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        session = requests.Session()
        headers = {"PRIVATE-TOKEN": sb.token_for("admin")}
        while not stop.is_set():
            for path in ("/projects/20", "/projects/20/variables", "/groups/acme-oss/projects"):
                response = session.get(f"{sb.url}/api/v4{path}", headers=headers, timeout=10)
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code}")
                    continue
                if path == "/projects/20":
                    body = response.json()
                    # Written together, so a reader sees both or neither.
                    flags = (body["public_jobs"], body["shared_runners_enabled"])
                    if flags not in ((True, True), (False, False)):
                        failures.append(f"mixed state {flags}")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for i in range(30):
            on = i % 2 == 1
            response = call(
                sb, "PUT", "/projects/20", json={"public_jobs": on, "shared_runners_enabled": on}
            )
            assert response.status_code == 200
            call(sb, "POST", "/projects/20/variables", json={"key": f"V{i}", "value": "fake"})
    finally:
        stop.set()
        for thread in readers:
            thread.join(10)
    assert failures == []
    assert len(call(sb, "GET", "/projects/20/variables?per_page=100").json()) == 30
