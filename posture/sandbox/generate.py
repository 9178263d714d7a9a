"""Synthetic instances at scale, for benchmarks and large-listing tests.

Why generated and not a big YAML file: benchmarks need 5,000 projects in different shapes;
a seeded generator gives the same instance on every run, in well under two seconds, with a
realistic mix: nesting up to four deep, project runners shared by many projects, and a share
of planted misconfigurations. Every secret value is plainly fake (`EXAMPLE-...`).
"""

from __future__ import annotations

import gc
import random
from typing import Any

from posture.sandbox.instance import Instance, parse_instance

MAX_DEPTH = 4


def generate_instance(groups: int = 20, projects: int = 200, seed: int = 1) -> Instance:
    """A deterministic instance with `groups` groups and `projects` projects."""
    if groups < 1:
        raise ValueError("generate_instance needs at least one group")
    if projects < 0:
        raise ValueError("generate_instance needs a non-negative number of projects")
    rng = random.Random(seed)  # noqa: S311 - reproducible fixtures, not cryptography
    builder = _Builder(rng)
    was_enabled = gc.isenabled()
    gc.disable()  # many small containers: cyclic GC passes would dominate the run time
    try:
        data = builder.build(groups, projects)
        return parse_instance(data, source=f"<generated seed={seed}>")
    finally:
        if was_enabled:
            gc.enable()


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def fake(self, kind: str) -> str:
        self.n += 1
        return f"EXAMPLE-{kind}-{self.n:06d}-not-a-secret"

    def build(self, group_count: int, project_count: int) -> dict[str, Any]:
        rng = self.rng
        tops = max(1, group_count // 8)
        nodes: list[dict[str, Any]] = []
        depth: list[int] = []
        roots: list[dict[str, Any]] = []
        for i in range(group_count):
            group = self.group(i, top=i < tops)
            if i < tops:
                roots.append(group)
                depth.append(1)
            else:
                eligible = [j for j in range(len(nodes)) if depth[j] < MAX_DEPTH]
                parent = rng.choice(eligible)
                nodes[parent]["subgroups"].append(group)
                depth.append(depth[parent] + 1)
            nodes.append(group)

        pool = [f"project-runner-{i:03d}" for i in range(max(1, project_count // 25))]
        used: set[str] = set()
        paths: list[str] = []
        full_paths = self._full_paths(roots)
        for i in range(project_count):
            g = rng.randrange(len(nodes))
            project = self.project(i, paths, full_paths, pool, used)
            nodes[g]["projects"].append(project)
            paths.append(f"{full_paths[id(nodes[g])]}/{project['path']}")

        runners: list[dict[str, Any]] = [
            {"name": "shared-docker", "tag_list": ["docker"], "run_untagged": True},
            {"name": "shared-large", "tag_list": ["docker", "large"], "run_untagged": False},
            {
                "name": "shared-legacy",
                "run_untagged": True,
                "online": False,
                "access_level": "not_protected",
            },
        ]
        for root_index, root in enumerate(roots):
            if root_index % 2 == 0:
                name = f"group-runner-{root_index:03d}"
                root["runners"].append(name)
                runners.append(
                    {
                        "name": name,
                        "tag_list": ["group"],
                        "access_level": "ref_protected" if rng.random() < 0.5 else "not_protected",
                        "token": self.fake("runner-token"),
                    }
                )
        for name in pool:
            if name in used:
                runners.append(
                    {
                        "name": name,
                        "locked": rng.random() < 0.6,
                        "run_untagged": rng.random() < 0.5,
                        "access_level": "ref_protected" if rng.random() < 0.4 else "not_protected",
                        "tag_list": rng.sample(["linux", "arm64", "gpu", "deploy", "build"], 2),
                        "token": self.fake("runner-token"),
                    }
                )
        return {
            "version": "17.11.1",
            "settings": {"default_project_visibility": "private"},
            "variables": [
                {"key": "GLOBAL_REGISTRY_MIRROR", "value": "https://mirror.example.invalid"},
                {"key": "GLOBAL_DEPLOY_SECRET", "value": self.fake("instance-secret")},
            ],
            "runners": runners,
            "groups": roots,
        }

    @staticmethod
    def _full_paths(roots: list[dict[str, Any]]) -> dict[int, str]:
        out: dict[int, str] = {}

        def visit(group: dict[str, Any], prefix: str) -> None:
            full = f"{prefix}/{group['path']}" if prefix else group["path"]
            out[id(group)] = full
            for sub in group["subgroups"]:
                visit(sub, full)

        for root in roots:
            visit(root, "")
        return out

    def group(self, i: int, *, top: bool) -> dict[str, Any]:
        rng = self.rng
        group: dict[str, Any] = {
            "path": f"group-{i:04d}",
            "visibility": rng.choices(["private", "internal", "public"], [75, 20, 5])[0],
            "subgroups": [],
            "projects": [],
            "runners": [],
        }
        if top:
            group["variables"] = [
                {"key": "GROUP_API_TOKEN", "value": self.fake("group-var"), "masked": True},
            ]
            if rng.random() < 0.3:
                group["settings"] = {"require_two_factor_authentication": False}
            if rng.random() < 0.5:
                group["hooks"] = [
                    {
                        "url": f"https://hooks.example.invalid/group/{i}",
                        "token": self.fake("hook-token"),
                        "enable_ssl_verification": rng.random() < 0.8,
                    }
                ]
            if rng.random() < 0.4:
                group["protected_branches"] = [{"name": "main", "allow_force_push": False}]
            if rng.random() < 0.5:
                group["approval_settings"] = {"allow_author_approval": rng.random() < 0.5}
            group["deploy_tokens"] = [
                {
                    "name": f"registry-pull-{i}",
                    "scopes": ["read_registry"],
                    "token": self.fake("dt"),
                }
            ]
            group["access_tokens"] = [
                {
                    "name": f"automation-{i}",
                    "scopes": rng.choice([["api"], ["read_api"]]),
                    "expires_at": rng.choice([None, "2027-06-30"]),
                    "token": self.fake("gat"),
                }
            ]
        elif rng.random() < 0.05:
            group["member_role"] = rng.choice(["developer", "none"])
        return group

    def project(
        self,
        i: int,
        earlier: list[str],
        full_paths: dict[int, str],
        pool: list[str],
        used: set[str],
    ) -> dict[str, Any]:
        rng = self.rng
        r = rng.random
        project: dict[str, Any] = {
            "path": f"project-{i:05d}",
            "description": f"Synthetic project {i}",
            "visibility": rng.choices(["private", "internal", "public"], [70, 20, 10])[0],
            "public_jobs": r() < 0.5,
            "topics": rng.sample(["backend", "frontend", "infra", "data", "mobile"], 1),
            "ci_pipeline_variables_minimum_override_role": rng.choice(
                ["developer", "maintainer", "no_one_allowed"]
            ),
            "job_token_scope": {"inbound_enabled": r() < 0.8},
            "shared_runners_enabled": r() < 0.7,
            "archived": r() < 0.03,
            "approvals": {
                "merge_requests_author_approval": r() < 0.3,
                "merge_requests_disable_committers_approval": r() < 0.5,
                "reset_approvals_on_push": r() < 0.7,
                "disable_overriding_approvers_per_merge_request": r() < 0.5,
            },
        }
        shape = r()
        if shape < 0.1:
            project["protected_branches"] = []  # default branch unprotected
        elif shape < 0.3:
            project["protected_branches"] = [
                {
                    "name": "main",
                    "push": ["developer"],
                    "merge": ["developer"],
                    "allow_force_push": r() < 0.5,
                }
            ]
        else:
            project["protected_branches"] = [
                {"name": "main", "code_owner_approval_required": r() < 0.5},
                {"name": "release/*", "push": ["no_one"]},
            ]
        if r() < 0.6:
            project["approval_rules"] = [
                {"name": "default", "approvals_required": rng.choice([0, 1, 2])}
            ]
        project["variables"] = [
            {
                "key": f"VAR_{k}",
                "value": self.fake("var"),
                "masked": r() < 0.6,
                "protected": r() < 0.5,
            }
            for k in range(rng.randrange(0, 4))
        ]
        if r() < 0.1:
            project["variables"].append(
                {"key": "AWS_SECRET_ACCESS_KEY", "value": self.fake("aws"), "masked": False}
            )
        hooks = []
        for k in range(rng.randrange(0, 3)):
            scheme = "http" if r() < 0.15 else "https"
            hooks.append(
                {
                    "url": f"{scheme}://ci.example.invalid/hooks/{i}/{k}",
                    "token": self.fake("hook-token"),
                    "enable_ssl_verification": r() < 0.85,
                    "events": ["push", "merge_requests"],
                }
            )
        project["hooks"] = hooks
        if r() < 0.3:
            runner = rng.choice(pool)
            used.add(runner)
            project["runners"] = [runner]
        if r() < 0.3:
            project["deploy_keys"] = [{"title": f"deploy-{i}", "can_push": r() < 0.3}]
        if r() < 0.2:
            project["deploy_tokens"] = [
                {
                    "name": f"ci-pull-{i}",
                    "scopes": ["read_repository", "read_registry"],
                    "expires_at": rng.choice([None, "2027-01-31"]),
                    "token": self.fake("dt"),
                }
            ]
        if r() < 0.2:
            project["access_tokens"] = [
                {
                    "name": f"bot-{i}",
                    "scopes": rng.choice([["api"], ["read_repository"]]),
                    "expires_at": rng.choice([None, "2026-12-31"]),
                    "token": self.fake("pat"),
                }
            ]
        if r() < 0.05:
            project["member_role"] = rng.choice(["developer", "reporter", "none"])
        if earlier and r() < 0.02:
            project["forked_from"] = rng.choice(earlier)
        if r() < 0.03:
            tops = [p for p in full_paths.values() if "/" not in p]
            if tops:
                project["shared_with_groups"] = [{"group": rng.choice(tops), "access_level": 30}]
        return project
