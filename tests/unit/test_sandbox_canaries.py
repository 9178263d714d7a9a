"""No secret leaves the sandbox except where GitLab itself returns it.

A canaried demo instance is crawled over every route, as admin and as the member user; every
canary found in a response must sit in a field GitLab really returns (a CI variable's `value`,
a webhook's `url` as stored, a `runners_token` for those who administer it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from posture.sandbox import DEMO_INSTANCE_PATH, Instance, Sandbox, load_instance

ALLOWED_KEYS = {"value", "url", "runners_token"}


def never_returned(inst: Instance) -> list[str]:
    """Secret values GitLab never sends back: tokens, header and URL-variable values."""
    values = [r.token or "" for r in inst.runners]
    owners = [g for g, _p, _f in inst.walk_groups()] + [p for p, _g, _f in inst.walk_projects()]
    for owner in owners:
        values += [t.token or "" for t in owner.deploy_tokens]
        values += [t.token or "" for t in owner.access_tokens]
        for hook in owner.hooks:
            values += [hook.token or "", *hook.url_variables.values()]
            values += hook.custom_headers.values()
    return values


def paths(inst: Instance, sb: Sandbox) -> list[str]:
    out = [
        "/metadata", "/version", "/user", "/personal_access_tokens/self", "/application/settings",
        "/admin/ci/variables", "/groups?per_page=100", "/projects?per_page=100", "/runners",
        "/runners/all",
    ]  # fmt: skip
    for group, _parent, _full in inst.walk_groups():
        base = f"/groups/{group.id}"
        out += [base] + [
            f"{base}/{s}?per_page=100"
            for s in ("subgroups", "descendant_groups", "projects", "variables", "hooks",
                      "protected_branches", "merge_request_approval_setting", "deploy_tokens",
                      "access_tokens", "runners")
        ]  # fmt: skip
    for project, _group, _full in inst.walk_projects():
        base = f"/projects/{project.id}"
        out += [base] + [
            f"{base}/{s}?per_page=100"
            for s in ("protected_branches", "approvals", "approval_rules",
                      "merge_request_approval_setting", "variables", "hooks", "runners",
                      "deploy_keys", "deploy_tokens", "access_tokens", "job_token_scope")
        ]  # fmt: skip
    out += [f"/runners/{r.id}" for r in inst.runners]
    return out


def leaves(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item, key)
    elif isinstance(node, str):
        yield key, node


@pytest.fixture(scope="module")
def crawl() -> tuple[Instance, list[str], list[tuple[str, requests.Response]]]:
    inst, canaries = load_instance(DEMO_INSTANCE_PATH).with_canaries()
    answers = []
    with Sandbox(inst) as sb, requests.Session() as session:
        for role in ("admin", "owner"):
            session.headers["PRIVATE-TOKEN"] = sb.token_for(role)
            for path in paths(inst, sb):
                answers.append((path, session.get(f"{sb.url}/api/v4{path}", timeout=10)))
        log_text = "\n".join(str(e) for e in sb.request_log)
    assert not any(c in log_text for c in canaries)
    return inst, canaries, answers


def test_the_crawl_reached_every_route(crawl: Any) -> None:
    _inst, _canaries, answers = crawl
    assert sum(r.status_code == 200 for _p, r in answers) > 500


def test_canaries_appear_only_where_gitlab_returns_the_value(crawl: Any) -> None:
    _inst, canaries, answers = crawl
    for path, response in answers:
        assert not any(c in json.dumps(dict(response.headers)) for c in canaries)
        for key, text in leaves(response.json()):
            if any(c in text for c in canaries):
                assert key in ALLOWED_KEYS, f"{path}: canary in {key!r}"
                if key == "value":
                    assert "/variables" in path
                if key == "url":
                    assert path.split("?")[0].endswith("/hooks")


def test_secrets_gitlab_never_returns_never_appear(crawl: Any) -> None:
    inst, canaries, answers = crawl
    hidden = [c for c in canaries if any(c in v for v in never_returned(inst))]
    assert len(hidden) > 15
    bodies = "\n".join(r.text for _p, r in answers)
    assert [c for c in hidden if c in bodies] == []


def test_returned_secrets_are_really_returned(crawl: Any) -> None:
    # The allowed fields do carry canaries: the test above would catch a leak, not a gap.
    _inst, canaries, answers = crawl
    bodies = "\n".join(r.text for _p, r in answers)
    returned = [c for c in canaries if c in bodies]
    assert len(returned) > 20
