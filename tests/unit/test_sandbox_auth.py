"""Authentication, token scopes and role-based answers, over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, load_instance
from posture.sandbox.defaults import PROJECT_ADMIN_ONLY_KEYS
from posture.sandbox.instance import parse_instance

UNAUTHORIZED = {"message": "401 Unauthorized"}
EXPIRED = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
INSUFFICIENT = {
    "error": "insufficient_scope",
    "error_description": (
        "The request requires higher privileges than provided by the access token."
    ),
    "scope": "api read_api",
}
FORBIDDEN = {"message": "403 Forbidden"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(load_instance(DEMO_INSTANCE_PATH)) as sandbox:
        yield sandbox


def get(sb: Sandbox, path: str, role: str | None = "admin", **headers: str) -> requests.Response:
    if role is not None and not headers:
        headers = {"PRIVATE-TOKEN": sb.token_for(role)}
    return requests.get(f"{sb.url}/api/v4{path}", headers=headers, timeout=10)


def pid(path: str) -> str:
    return path.replace("/", "%2F")


def test_both_token_forms_authenticate(sb: Sandbox) -> None:
    token = sb.token_for("owner")
    by_header = get(sb, "/user", **{"PRIVATE-TOKEN": token})
    by_bearer = get(sb, "/user", Authorization=f"Bearer {token}")
    assert by_header.status_code == by_bearer.status_code == 200
    assert by_header.json()["username"] == by_bearer.json()["username"] == "alex.owner"


@pytest.mark.parametrize(
    "headers",
    [{}, {"PRIVATE-TOKEN": "not-a-sandbox-token"}, {"Authorization": "Bearer nope"}],
)
def test_missing_or_unknown_token_is_401(sb: Sandbox, headers: dict[str, str]) -> None:
    response = get(sb, "/projects", role=None, **headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("form", ["PRIVATE-TOKEN", "Authorization"])
def test_expired_token_is_401_invalid_token(sb: Sandbox, form: str) -> None:
    token = sb.token_for("expired")
    value = token if form == "PRIVATE-TOKEN" else f"Bearer {token}"
    response = get(sb, "/projects", **{form: value})
    assert response.status_code == 401
    assert response.json() == EXPIRED


def test_read_user_token_reads_the_user_but_not_the_api(sb: Sandbox) -> None:
    assert get(sb, "/user", role="read_user").status_code == 200
    me = get(sb, "/personal_access_tokens/self", role="read_user").json()
    assert me["scopes"] == ["read_user"]
    assert "token" not in me
    for path in ("/projects", "/groups/1", "/metadata"):
        response = get(sb, path, role="read_user")
        assert response.status_code == 403
        assert response.json() == INSUFFICIENT


def test_admin_is_admin_and_owner_is_not(sb: Sandbox) -> None:
    assert get(sb, "/user").json()["is_admin"] is True
    assert "is_admin" not in get(sb, "/user", role="owner").json()


@pytest.mark.parametrize("path", ["/application/settings", "/admin/ci/variables", "/runners/all"])
def test_admin_only_endpoints_forbid_other_users(sb: Sandbox, path: str) -> None:
    assert get(sb, path).status_code == 200
    response = get(sb, path, role="owner")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


def test_developer_sees_project_without_admin_only_ci_keys(sb: Sandbox) -> None:
    path = f"/projects/{pid('acme/data/warehouse-etl')}"
    as_admin = get(sb, path).json()
    as_dev = get(sb, path, role="owner").json()
    assert as_admin["id"] == as_dev["id"]
    assert as_dev["public_jobs"] is as_admin["public_jobs"]
    present = [k for k in PROJECT_ADMIN_ONLY_KEYS if k in as_dev]
    assert present == [], "a Developer must not see admin-only CI settings"
    assert "ci_pipeline_variables_minimum_override_role" in as_admin
    assert "ci_job_token_scope_enabled" in as_admin
    assert as_dev["permissions"]["group_access"]["access_level"] == 30


@pytest.mark.parametrize(
    "suffix",
    [
        "variables",
        "hooks",
        "protected_branches",
        "deploy_keys",
        "deploy_tokens",
        "access_tokens",
        "runners",
        "job_token_scope",
        "approvals",
        "approval_rules",
        "merge_request_approval_setting",
    ],
)
def test_project_settings_need_maintainer(sb: Sandbox, suffix: str) -> None:
    path = f"/projects/{pid('acme/data/warehouse-etl')}/{suffix}"
    assert get(sb, path).status_code == 200
    response = get(sb, path, role="owner")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


@pytest.mark.parametrize(
    ("suffix", "maintainer_status"),
    [
        ("variables", 403),
        ("access_tokens", 403),
        ("runners", 403),
        ("hooks", 403),
        ("merge_request_approval_setting", 403),
        ("deploy_tokens", 200),
        ("subgroups", 200),
    ],
)
def test_group_settings_by_role(suffix: str, maintainer_status: int) -> None:
    inst = parse_instance({"groups": [{"path": "g", "member_role": "maintainer"}]})
    with Sandbox(inst) as sandbox:
        assert get(sandbox, f"/groups/g/{suffix}", role="owner").status_code == maintainer_status
        assert get(sandbox, f"/groups/g/{suffix}").status_code == 200


def test_owner_reads_settings_where_owner(sb: Sandbox) -> None:
    assert get(sb, f"/groups/{pid('acme')}/variables", role="owner").status_code == 200
    path = f"/projects/{pid('acme/platform/payments/payment-gateway')}/variables"
    assert get(sb, path, role="owner").status_code == 200


def test_invisible_project_is_404_for_the_member_but_not_for_admin(sb: Sandbox) -> None:
    path = f"/projects/{pid('acme/platform/identity/user-directory')}"
    response = get(sb, path, role="owner")
    assert response.status_code == 404
    assert response.json() == {"message": "404 Project Not Found"}
    assert get(sb, f"{path}/variables", role="owner").status_code == 404
    assert get(sb, path).status_code == 200
    listed = get(sb, "/projects?per_page=100&search=directory", role="owner").json()
    assert listed == []


def test_unknown_group_is_404_group_not_found(sb: Sandbox) -> None:
    response = get(sb, "/groups/no-such-group")
    assert response.status_code == 404
    assert response.json() == {"message": "404 Group Not Found"}


def test_public_and_internal_projects_are_visible_to_non_members(sb: Sandbox) -> None:
    # user-directory is private and hidden; the public/internal ones stay listed.
    listed = get(sb, "/projects?per_page=100", role="owner").json()
    paths = {p["path_with_namespace"] for p in listed}
    assert "acme-oss/cli-tool" in paths
    assert "acme/platform/identity/user-directory" not in paths
    admin_paths = {p["path_with_namespace"] for p in get(sb, "/projects?per_page=100").json()}
    assert admin_paths - paths == {"acme/platform/identity/user-directory"}


def test_the_log_records_roles_and_never_a_token(sb: Sandbox) -> None:
    sb.reset_log()
    get(sb, "/metadata", role="owner")
    get(sb, "/metadata", role=None)
    requests.get(f"{sb.url}/api/v4/metadata?private_token={sb.token_for('admin')}&x=1", timeout=10)
    log = sb.request_log
    assert [(e.status, e.role) for e in log] == [(200, "owner"), (401, None), (200, "admin")]
    assert log[2].query == "private_token=[FILTERED]&x=1"
    assert all(sb.token_for("admin") not in f"{e}" for e in log)
