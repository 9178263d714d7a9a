"""Tier and edition differences: Premium, EE without a licence (free), and CE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from posture.errors import ConfigError
from posture.sandbox import DEMO_INSTANCE_PATH, Instance, Sandbox, load_instance

PREMIUM_ENDPOINTS = [
    "/projects/acme%2Fplatform%2Fpayments%2Fledger/approvals",
    "/projects/acme%2Fplatform%2Fpayments%2Fledger/approval_rules",
    "/projects/acme%2Fplatform%2Fpayments%2Fledger/merge_request_approval_setting",
    "/groups/acme/hooks",
    "/groups/acme/merge_request_approval_setting",
    "/groups/acme-oss/protected_branches",
]
STOREFRONT = "/projects/acme%2Fweb%2Fstorefront/protected_branches"
LEDGER = "/projects/acme%2Fplatform%2Fpayments%2Fledger/protected_branches"


@pytest.fixture(scope="module")
def demo() -> Instance:
    return load_instance(DEMO_INSTANCE_PATH)


@pytest.fixture(scope="module")
def servers(demo: Instance) -> Iterator[dict[str, Sandbox]]:
    sandboxes = {
        "premium": Sandbox(demo, tier="premium", edition="ee").start(),
        "free": Sandbox(demo, tier="free", edition="ee").start(),
        "ce": Sandbox(demo, tier="free", edition="ce").start(),
    }
    yield sandboxes
    for sandbox in sandboxes.values():
        sandbox.stop()


def get(sb: Sandbox, path: str) -> requests.Response:
    return requests.get(
        f"{sb.url}/api/v4{path}", headers={"PRIVATE-TOKEN": sb.token_for("admin")}, timeout=10
    )


@pytest.mark.parametrize("path", PREMIUM_ENDPOINTS)
def test_premium_endpoints_per_tier(servers: dict[str, Sandbox], path: str) -> None:
    assert get(servers["premium"], path).status_code == 200
    free = get(servers["free"], path)
    assert (free.status_code, free.json()) == (403, {"message": "403 Forbidden"})
    ce = get(servers["ce"], path)
    assert (ce.status_code, ce.json()) == (404, {"error": "404 Not Found"})


def test_metadata_reports_the_edition(servers: dict[str, Sandbox]) -> None:
    premium = get(servers["premium"], "/metadata").json()
    ce = get(servers["ce"], "/metadata").json()
    assert premium["enterprise"] is True
    assert premium["version"].endswith("-ee")
    assert ce["enterprise"] is False
    assert not ce["version"].endswith("-ee")


def test_premium_keeps_user_and_group_entries_and_code_owner_approval(
    servers: dict[str, Sandbox],
) -> None:
    merge = get(servers["premium"], STOREFRONT).json()[0]["merge_access_levels"]
    assert any(e["user_id"] is not None and e["access_level"] is None for e in merge)
    ledger = get(servers["premium"], LEDGER).json()
    assert all(b["code_owner_approval_required"] for b in ledger)


def test_free_strips_premium_data_but_keeps_ee_keys(servers: dict[str, Sandbox]) -> None:
    branch = get(servers["free"], STOREFRONT).json()[0]
    assert all(
        e["user_id"] is None and e["group_id"] is None for e in branch["merge_access_levels"]
    )
    assert [e["access_level"] for e in branch["merge_access_levels"]] == [30]
    ledger = get(servers["free"], LEDGER).json()
    assert all(b["code_owner_approval_required"] is False for b in ledger)
    assert "unprotect_access_levels" in branch
    assert "inherited" in branch


def test_ce_omits_ee_only_keys(servers: dict[str, Sandbox]) -> None:
    branch = get(servers["ce"], STOREFRONT).json()[0]
    for key in ("unprotect_access_levels", "code_owner_approval_required", "inherited"):
        assert key not in branch
    for entry in branch["push_access_levels"] + branch["merge_access_levels"]:
        assert "user_id" not in entry
        assert "group_id" not in entry


def test_premium_projects_inherit_top_level_group_branches(servers: dict[str, Sandbox]) -> None:
    path = "/projects/acme-oss%2Fcli-tool/protected_branches"
    premium = get(servers["premium"], path).json()
    assert [(b["name"], b["inherited"]) for b in premium] == [("main", True), ("main", False)]
    assert [b["inherited"] for b in get(servers["free"], path).json()] == [False]


def test_group_variable_scopes_are_premium(servers: dict[str, Sandbox], demo: Instance) -> None:
    # Only the premium build reports a non-* environment scope for a group variable.
    scoped = demo.model_copy(deep=True)
    scoped.groups[0].variables[0].environment_scope = "production"
    with Sandbox(scoped, tier="premium") as premium, Sandbox(scoped, tier="free") as free:
        assert get(premium, "/groups/acme/variables").json()[0]["environment_scope"] == "production"
        assert get(free, "/groups/acme/variables").json()[0]["environment_scope"] == "*"


def test_ce_cannot_be_premium(demo: Instance) -> None:
    with pytest.raises(ConfigError, match="no Premium"):
        Sandbox(demo, tier="premium", edition="ce")
    with pytest.raises(ConfigError):
        Sandbox(demo, tier="gold")
