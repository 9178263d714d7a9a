"""Route behaviour and JSON shapes: the fields a crawler reads, as GitLab names them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, load_instance
from posture.sandbox.routes import ROUTES


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(load_instance(DEMO_INSTANCE_PATH), path_prefix="/gitlab/") as sandbox:
        yield sandbox


def get(sb: Sandbox, path: str, role: str = "admin") -> requests.Response:
    return requests.get(
        f"{sb.url}/api/v4{path}", headers={"PRIVATE-TOKEN": sb.token_for(role)}, timeout=10
    )


def project_id(sb: Sandbox, path: str) -> int:
    return get(sb, "/projects/" + path.replace("/", "%2F")).json()["id"]


def test_every_route_names_its_doc_page() -> None:
    assert all(r.doc.startswith("doc/") and r.doc.endswith(".md") for r in ROUTES)


def test_path_prefix_moves_the_whole_api(sb: Sandbox) -> None:
    assert sb.url.endswith("/gitlab")
    assert get(sb, "/metadata").status_code == 200
    root = sb.url.removesuffix("/gitlab")
    bare = requests.get(f"{root}/api/v4/metadata", timeout=10)
    assert (bare.status_code, bare.json()) == (404, {"error": "404 Not Found"})
    project = get(sb, "/projects/1").json()
    assert project["web_url"].startswith(f"{sb.url}/acme/")
    assert project["_links"]["self"] == f"{sb.url}/api/v4/projects/1"


def test_ids_and_url_encoded_paths_reach_the_same_resource(sb: Sandbox) -> None:
    by_path = get(sb, "/projects/acme%2Fweb%2Fstorefront").json()
    by_id = get(sb, f"/projects/{by_path['id']}").json()
    by_case = get(sb, "/projects/ACME%2Fweb%2FStorefront").json()
    assert by_path == by_id == by_case
    assert get(sb, "/groups/acme%2Fplatform%2Fpayments").json()["full_path"] == (
        "acme/platform/payments"
    )
    raw_slash = get(sb, "/projects/acme/web/storefront")
    assert (raw_slash.status_code, raw_slash.json()) == (404, {"error": "404 Not Found"})


def test_unknown_routes_and_writes(sb: Sandbox) -> None:
    missing = get(sb, "/projects/1/push_mirrors_of_doom")
    assert (missing.status_code, missing.json()) == (404, {"error": "404 Not Found"})
    post = requests.post(
        f"{sb.url}/api/v4/projects",
        headers={"PRIVATE-TOKEN": sb.token_for("admin")},
        json={"name": "x"},
        timeout=10,
    )
    assert post.status_code == 405


def test_group_details_embed_projects_unless_asked_not_to(sb: Sandbox) -> None:
    full = get(sb, "/groups/acme%2Fweb").json()
    assert {p["path"] for p in full["projects"]} == {
        "storefront",
        "marketing-site",
        "design-system",
        "admin-portal",
    }
    assert [p["path"] for p in full["shared_projects"]] == ["auth-service"]
    assert full["runners_token"] is not None
    lean = get(sb, "/groups/acme%2Fweb?with_projects=false").json()
    assert "projects" not in lean
    assert "shared_projects" not in lean


def test_group_projects_filters(sb: Sandbox) -> None:
    def paths(query: str) -> set[str]:
        return {p["path"] for p in get(sb, f"/groups/acme%2Fweb/projects?{query}").json()}

    assert "auth-service" in paths("per_page=100")
    assert "auth-service" not in paths("with_shared=false")
    top = {p["path"] for p in get(sb, "/groups/acme/projects?per_page=100").json()}
    assert top == set()
    deep = {
        p["path"]
        for p in get(sb, "/groups/acme/projects?include_subgroups=true&per_page=100").json()
    }
    assert {"ledger", "storefront", "billing-v1"} <= deep
    archived = get(sb, "/groups/acme/projects?include_subgroups=true&archived=true").json()
    assert [p["path"] for p in archived] == ["billing-v1"]
    simple = get(sb, "/groups/acme%2Fweb/projects?simple=true").json()[0]
    assert "namespace" in simple
    assert "public_jobs" not in simple


def test_groups_listing_filters(sb: Sandbox) -> None:
    tops = get(sb, "/groups?top_level_only=true").json()
    assert sorted(g["full_path"] for g in tops) == ["acme", "acme-oss", "acme-sandbox"]
    found = get(sb, "/groups?search=pay").json()
    assert [g["full_path"] for g in found] == ["acme/platform/payments"]
    subgroups = get(sb, "/groups/acme/subgroups").json()
    assert all(g["parent_id"] == 1 for g in subgroups)
    descendants = get(sb, "/groups/acme/descendant_groups?per_page=100").json()
    assert len(descendants) > len(subgroups)


def test_member_user_sees_its_groups_and_all_available(sb: Sandbox) -> None:
    mine = {g["full_path"] for g in get(sb, "/groups?per_page=100", role="owner").json()}
    assert "acme/data" in mine
    owned = get(sb, "/groups?owned=true&per_page=100", role="owner").json()
    assert "acme/data" not in {g["full_path"] for g in owned}, "only Developer in acme/data"


def test_project_fields_use_current_names(sb: Sandbox) -> None:
    project = get(sb, "/projects/acme%2Fweb%2Fstorefront").json()
    assert "public_jobs" in project
    assert "public_builds" not in project
    assert project["ci_pipeline_variables_minimum_override_role"] == "developer"
    assert project["restrict_user_defined_variables"] is False
    assert project["permissions"] == {"project_access": None, "group_access": None}
    fork = get(sb, "/projects/acme-sandbox%2Fhackathon-cli").json()
    assert fork["forked_from_project"]["path_with_namespace"] == "acme-oss/cli-tool"
    shared = get(sb, "/projects/acme%2Fplatform%2Fidentity%2Fauth-service").json()
    assert shared["shared_with_groups"][0]["group_full_path"] == "acme/web"
    assert shared["shared_with_groups"][0]["group_access_level"] == 30


def test_variables_hide_hidden_values(sb: Sandbox) -> None:
    ledger = get(sb, "/projects/acme%2Fplatform%2Fpayments%2Fledger/variables").json()
    assert ledger[0]["hidden"] is True
    assert ledger[0]["value"] is None
    gateway = get(sb, "/projects/acme%2Fplatform%2Fpayments%2Fpayment-gateway/variables").json()
    keys = {
        "variable_type",
        "key",
        "value",
        "hidden",
        "protected",
        "masked",
        "raw",
        "environment_scope",
        "description",
    }
    assert all(set(v) == keys for v in gateway)
    instance = get(sb, "/admin/ci/variables").json()
    assert all("environment_scope" not in v and "hidden" not in v for v in instance)


def test_webhooks_never_return_secrets(sb: Sandbox) -> None:
    hooks = get(sb, "/projects/acme%2Fplatform%2Finfra%2Fci-templates/hooks").json()
    assert all("token" not in h for h in hooks)
    spec = load_instance(DEMO_INSTANCE_PATH).model_copy(deep=True)
    hook = spec.groups[0].hooks[0]
    hook.url_variables = {"team": "fake-url-variable-EXAMPLE"}
    hook.custom_headers = {"Authorization": "Bearer fake-header-EXAMPLE"}
    with Sandbox(spec) as other:
        body = get(other, "/groups/acme/hooks")
        listed = body.json()[0]
        assert listed["url_variables"] == [{"key": "team"}]
        assert listed["custom_headers"] == [{"key": "Authorization"}]
        assert "EXAMPLE" not in body.text.replace(listed["url"], "")


def test_project_runners_follow_the_enable_flags(sb: Sandbox) -> None:
    def names(path: str) -> set[str]:
        pid = path.replace("/", "%2F")
        return {r["name"] for r in get(sb, f"/projects/{pid}/runners").json()}

    assert names("acme/platform/infra/terraform-live") == {
        "infra-deployer",
        "platform-runner",
        "shared-docker",
        "shared-large",
    }
    assert names("acme/platform/payments/ledger") == {"ledger-runner"}
    only_instance = get(sb, "/projects/1/runners?type=instance_type").json()
    assert only_instance == []


def test_runner_details_are_complete_and_tokenless(sb: Sandbox) -> None:
    listed = get(sb, "/runners/all").json()
    assert {"paused", "active", "runner_type", "is_shared", "status"} <= set(listed[0])
    assert "tag_list" not in listed[0]
    deployer = next(r for r in listed if r["name"] == "infra-deployer")
    detail = get(sb, f"/runners/{deployer['id']}").json()
    assert detail["locked"] is False
    assert detail["run_untagged"] is False
    assert detail["access_level"] == "not_protected"
    assert {"tag_list", "maximum_timeout", "projects", "groups"} <= set(detail)
    assert len(detail["projects"]) == 2
    assert "token" not in detail
    missing = get(sb, "/runners/9999")
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Runner Not Found"})
    owner = get(sb, f"/runners/{deployer['id']}", role="owner")
    assert owner.status_code == 200


def test_approval_settings_are_locked_by_the_group(sb: Sandbox) -> None:
    pid = "acme%2Fplatform%2Fpayments%2Fpayment-gateway"
    setting = get(sb, f"/projects/{pid}/merge_request_approval_setting").json()
    assert setting["require_reauthentication_to_approve"] == {
        "value": True,
        "locked": True,
        "inherited_from": "group",
    }
    assert setting["allow_author_approval"]["value"] is True
    approvals = get(sb, f"/projects/{pid}/approvals").json()
    assert approvals["merge_requests_author_approval"] is True
    assert approvals["reset_approvals_on_push"] is True
    rules = get(sb, "/projects/acme%2Fplatform%2Fpayments%2Fledger/approval_rules").json()
    assert rules[0]["approvals_required"] == 2
    assert [b["name"] for b in rules[0]["protected_branches"]] == ["main"]
    assert rules[0]["applies_to_all_protected_branches"] is False
    assert {u["username"] for u in rules[0]["eligible_approvers"]} >= {"jo.payments"}


def test_tokens_and_keys(sb: Sandbox) -> None:
    tokens = get(sb, "/projects/acme%2Flegacy%2Fbilling-v1/access_tokens").json()
    assert tokens[0]["active"] is False
    assert "token" not in tokens[0]
    active = get(sb, "/projects/acme%2Flegacy%2Fbilling-v1/access_tokens?state=active").json()
    assert active == []
    keys = get(sb, "/projects/acme%2Fplatform%2Finfra%2Fterraform-live/deploy_keys").json()
    assert keys[0]["can_push"] is True
    assert keys[0]["key"].startswith("ssh-ed25519 ")
    deploy = get(sb, "/projects/acme%2Fplatform%2Finfra%2Fk8s-manifests/deploy_tokens").json()
    assert deploy[0]["expires_at"] is None
    assert "token" not in deploy[0]
    scope = get(sb, "/projects/acme%2Fplatform%2Finfra%2Fterraform-live/job_token_scope").json()
    assert scope == {"inbound_enabled": False, "outbound_enabled": False}


def test_json_content_type_everywhere(sb: Sandbox) -> None:
    for path in ("/metadata", "/projects", "/groups/999", "/nope"):
        assert get(sb, path).headers["Content-Type"] == "application/json"
