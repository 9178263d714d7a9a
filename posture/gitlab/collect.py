"""GitLab JSON → snapshot models. The border where secret values are dropped.

Every function here is pure: it takes the JSON GitLab returned and builds models that keep
only the fields posture needs. Allow-listing fields (rather than copying and deleting) is
what guarantees that a value GitLab adds tomorrow — say a new token field — never reaches
a snapshot. CI variable values are read once, here, to compute signals, and then dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from posture.gitlab.redact import redact_url
from posture.gitlab.secrets import name_suggests_secret, value_signals
from posture.snapshot import (
    AccessLevel,
    AccessToken,
    ApprovalRule,
    ApprovalSettings,
    CiSettings,
    DefaultBranchProtection,
    DeployKey,
    DeployToken,
    ForkParent,
    GroupApprovalSettings,
    InstanceSettings,
    JobTokenScope,
    LockableSetting,
    ProtectedBranch,
    RunnerDetails,
    RunnerRef,
    SharedWithGroup,
    Variable,
    Webhook,
)

JSON = Mapping[str, Any]

#: Project keys GitLab only sends to users who can administer the project
#: (lib/api/entities/project.rb, ``with_options if: ... :admin_project``). Their absence
#: means "hidden from this token", never "false".
ADMIN_ONLY_CI_KEYS: tuple[str, ...] = (
    "ci_pipeline_variables_minimum_override_role",
    "restrict_user_defined_variables",
    "ci_job_token_scope_enabled",
    "ci_allow_fork_pipelines_to_run_in_parent_project",
    "group_runners_enabled",
)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return sorted({v for v in values if isinstance(v, str)})


def _date(value: Any) -> str | None:
    """ISO timestamp → YYYY-MM-DD, for fields whose exact time would churn every crawl."""
    text = _str(value)
    return text[:10] if text else None


# -- protected branches -----------------------------------------------------------------


def access_level(item: JSON) -> AccessLevel:
    return AccessLevel(
        access_level=_int(item.get("access_level")),
        access_level_description=_str(item.get("access_level_description")),
        user_id=_int(item.get("user_id")),
        group_id=_int(item.get("group_id")),
        deploy_key_id=_int(item.get("deploy_key_id")),
    )


def _levels(items: Any) -> list[AccessLevel]:
    levels = [access_level(i) for i in items or [] if isinstance(i, Mapping)]
    return sorted(levels, key=lambda lv: lv.model_dump_json())


def protected_branch(item: JSON) -> ProtectedBranch:
    unprotect = item.get("unprotect_access_levels")
    return ProtectedBranch(
        id=_int(item.get("id")),
        name=str(item.get("name", "")),
        push_access_levels=_levels(item.get("push_access_levels")),
        merge_access_levels=_levels(item.get("merge_access_levels")),
        unprotect_access_levels=_levels(unprotect) if isinstance(unprotect, list) else None,
        allow_force_push=_bool(item.get("allow_force_push")),
        code_owner_approval_required=_bool(item.get("code_owner_approval_required")),
        inherited=_bool(item.get("inherited")),
    )


def protected_branches(items: Iterable[JSON]) -> list[ProtectedBranch]:
    return sorted((protected_branch(i) for i in items), key=lambda b: (b.name, b.id or 0))


def branch_pattern_matches(pattern: str, branch: str) -> bool:
    """GitLab's protected-branch wildcard: ``*`` matches any run of characters, ``/`` included."""
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, branch, flags=re.DOTALL) is not None


def default_branch_protection(
    default_branch: str | None, branches: list[ProtectedBranch]
) -> DefaultBranchProtection:
    if not default_branch:
        return DefaultBranchProtection(default_branch=None, covered=False, matched_by=[])
    matched = sorted({b.name for b in branches if branch_pattern_matches(b.name, default_branch)})
    return DefaultBranchProtection(
        default_branch=default_branch, covered=bool(matched), matched_by=matched
    )


# -- approvals ---------------------------------------------------------------------------


def approval_settings(data: JSON) -> ApprovalSettings:
    reauth = data.get("require_reauthentication_to_approve")
    if reauth is None:  # renamed in 16.9; older instances send the old name
        reauth = data.get("require_password_to_approve")
    return ApprovalSettings(
        approvals_before_merge=_int(data.get("approvals_before_merge")),
        reset_approvals_on_push=_bool(data.get("reset_approvals_on_push")),
        selective_code_owner_removals=_bool(data.get("selective_code_owner_removals")),
        disable_overriding_approvers_per_merge_request=_bool(
            data.get("disable_overriding_approvers_per_merge_request")
        ),
        merge_requests_author_approval=_bool(data.get("merge_requests_author_approval")),
        merge_requests_disable_committers_approval=_bool(
            data.get("merge_requests_disable_committers_approval")
        ),
        require_reauthentication_to_approve=_bool(reauth),
    )


def approval_rule(item: JSON) -> ApprovalRule:
    branches = item.get("protected_branches") or []
    return ApprovalRule(
        id=int(item["id"]),
        name=str(item.get("name", "")),
        rule_type=_str(item.get("rule_type")),
        report_type=_str(item.get("report_type")),
        approvals_required=_int(item.get("approvals_required")) or 0,
        eligible_approvers_count=len(item.get("eligible_approvers") or []),
        users_count=len(item.get("users") or []),
        groups_count=len(item.get("groups") or []),
        contains_hidden_groups=bool(item.get("contains_hidden_groups")),
        applies_to_all_protected_branches=_bool(item.get("applies_to_all_protected_branches")),
        protected_branches=sorted(
            {str(b.get("name")) for b in branches if isinstance(b, Mapping) and b.get("name")}
        ),
    )


def approval_rules(items: Iterable[JSON]) -> list[ApprovalRule]:
    return sorted((approval_rule(i) for i in items), key=lambda r: r.id)


def _lockable(value: Any) -> LockableSetting | None:
    if not isinstance(value, Mapping):
        return None
    return LockableSetting(
        value=_bool(value.get("value")),
        locked=_bool(value.get("locked")),
        inherited_from=_str(value.get("inherited_from")),
    )


def group_approval_settings(data: JSON) -> GroupApprovalSettings:
    names = GroupApprovalSettings.model_fields
    return GroupApprovalSettings(**{name: _lockable(data.get(name)) for name in names})


# -- variables ---------------------------------------------------------------------------


def variable(item: JSON, *, scoped: bool = True) -> Variable:
    """Build a variable's metadata and signals; the value is read here and nowhere else.

    ``scoped`` is False for instance variables, which have neither environment scope nor
    a hidden flag; keeping those None avoids claiming "not hidden" where GitLab has no
    such notion.
    """
    value = item.get("value")
    variable_type = _str(item.get("variable_type")) or "env_var"
    signals = value_signals(
        value if isinstance(value, str) else None,
        variable_type,
        raw=_bool(item.get("raw")) is True,
    )
    key = str(item.get("key", ""))
    return Variable(
        key=key,
        variable_type=variable_type,
        protected=_bool(item.get("protected")),
        masked=_bool(item.get("masked")),
        hidden=_bool(item.get("hidden")) if scoped else None,
        raw=_bool(item.get("raw")),
        environment_scope=_str(item.get("environment_scope")) if scoped else None,
        description=_str(item.get("description")),
        value_available=signals.value_available,
        looks_like_secret=signals.looks_like_secret,
        secret_kinds=list(signals.secret_kinds),
        name_suggests_secret=name_suggests_secret(key),
        maskable=signals.maskable,
    )


def variables(items: Iterable[JSON], *, scoped: bool = True) -> list[Variable]:
    return sorted(
        (variable(i, scoped=scoped) for i in items),
        key=lambda v: (v.key, v.environment_scope or ""),
    )


# -- webhooks ----------------------------------------------------------------------------


def webhook(item: JSON) -> Webhook:
    redacted = redact_url(str(item.get("url", "")))
    try:
        parts = urlsplit(redacted.url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:
        scheme, host = "", None
    events = sorted(k for k, v in item.items() if k.endswith("_events") and v is True)
    url_variables = item.get("url_variables") or []
    headers = item.get("custom_headers") or []
    return Webhook(
        id=int(item["id"]),
        url=redacted.url,
        url_had_userinfo=redacted.had_userinfo,
        url_redacted_parts=list(redacted.redacted_parts),
        url_scheme=scheme,
        url_host=host,
        name=_str(item.get("name")),
        enable_ssl_verification=_bool(item.get("enable_ssl_verification")),
        events=events,
        push_events_branch_filter=_str(item.get("push_events_branch_filter")),
        branch_filter_strategy=_str(item.get("branch_filter_strategy")),
        url_variable_keys=sorted(
            {str(v["key"]) for v in url_variables if isinstance(v, Mapping) and "key" in v}
        ),
        custom_header_keys=sorted(
            {str(h["key"]) for h in headers if isinstance(h, Mapping) and "key" in h}
        ),
        alert_status=_str(item.get("alert_status")),
    )


def webhooks(items: Iterable[JSON]) -> list[Webhook]:
    return sorted((webhook(i) for i in items), key=lambda h: h.id)


# -- runners -----------------------------------------------------------------------------


def runner_ref(item: JSON) -> RunnerRef:
    return RunnerRef(
        id=int(item["id"]),
        runner_type=_str(item.get("runner_type")),
        is_shared=_bool(item.get("is_shared")),
    )


def runner_refs(items: Iterable[JSON]) -> list[RunnerRef]:
    unique = {ref.id: ref for ref in (runner_ref(i) for i in items)}
    return [unique[k] for k in sorted(unique)]


#: Runner types whose availability to a project can be derived (every other value: ask).
RUNNER_TYPES = frozenset({"instance_type", "group_type", "project_type"})


class RunnerAvailability:
    """What ``GET /projects/:id/runners`` answers for any project, worked out without asking.

    GitLab lists ``Ci::Runner.owned_or_instance_wide(project)`` (app/models/ci/runner.rb):
    the runners assigned to the project, the group runners of its group and of every
    ancestor when the project's ``group_runners_enabled`` is on, and every instance runner
    when its ``shared_runners_enabled`` is on. Built once from every runner on the instance
    (``GET /runners/all``, short records) and ``GET /runners/:id`` of each group and project
    runner, whose ``groups``/``projects`` say where it is assigned; indexed so that 50,000
    projects cost 50,000 dictionary look-ups, not 50,000 scans of the runners.
    """

    def __init__(self, runners: Iterable[JSON], details: Mapping[int, RunnerDetails]) -> None:
        self._instance: list[JSON] = []
        self._by_group: dict[int, list[JSON]] = {}
        self._by_project: dict[int, list[JSON]] = {}
        for item in runners:
            kind = item.get("runner_type")
            if kind == "instance_type":
                self._instance.append(item)
            elif kind == "group_type":
                for gid in details[int(item["id"])].group_ids:
                    self._by_group.setdefault(gid, []).append(item)
            elif kind == "project_type":
                for pid in details[int(item["id"])].project_ids:
                    self._by_project.setdefault(pid, []).append(item)
            else:
                raise ValueError(f"runner {item.get('id')}: unknown runner_type {kind!r}")

    def refs_for(
        self,
        project_id: int,
        group_chain: Iterable[int],
        *,
        shared_runners_enabled: bool,
        group_runners_enabled: bool,
    ) -> list[RunnerRef]:
        """The project's runner list; ``group_chain`` is its group and all ancestors."""
        chosen = list(self._by_project.get(project_id, []))
        if group_runners_enabled:
            for gid in group_chain:
                chosen.extend(self._by_group.get(gid, []))
        if shared_runners_enabled:
            chosen.extend(self._instance)
        return runner_refs(chosen)


def runner_paused(item: JSON) -> bool | None:
    """``paused`` replaced ``active`` (inverted); older instances send only ``active``."""
    paused = _bool(item.get("paused"))
    if paused is None and isinstance(item.get("active"), bool):
        paused = not item["active"]
    return paused


def runner_details(data: JSON) -> RunnerDetails:
    return RunnerDetails(
        run_untagged=_bool(data.get("run_untagged")),
        locked=_bool(data.get("locked")),
        access_level=_str(data.get("access_level")),
        tag_list=_strs(data.get("tag_list")),
        maximum_timeout=_int(data.get("maximum_timeout")),
        project_ids=sorted(
            {int(p["id"]) for p in data.get("projects") or [] if isinstance(p, Mapping)}
        ),
        group_ids=sorted(
            {int(g["id"]) for g in data.get("groups") or [] if isinstance(g, Mapping)}
        ),
    )


# -- access ------------------------------------------------------------------------------


def deploy_keys(items: Iterable[JSON]) -> list[DeployKey]:
    keys = [
        DeployKey(
            id=int(i["id"]),
            title=_str(i.get("title")),
            can_push=_bool(i.get("can_push")),
            expires_at=_str(i.get("expires_at")),
            created_at=_str(i.get("created_at")),
        )
        for i in items
    ]
    return sorted(keys, key=lambda k: k.id)


def deploy_tokens(items: Iterable[JSON]) -> list[DeployToken]:
    tokens = [
        DeployToken(
            id=int(i["id"]),
            name=_str(i.get("name")),
            username=_str(i.get("username")),
            scopes=_strs(i.get("scopes")),
            expires_at=_str(i.get("expires_at")),
            revoked=_bool(i.get("revoked")),
            expired=_bool(i.get("expired")),
        )
        for i in items
    ]
    return sorted(tokens, key=lambda t: t.id)


def access_tokens(items: Iterable[JSON]) -> list[AccessToken]:
    tokens = [
        AccessToken(
            id=int(i["id"]),
            name=_str(i.get("name")),
            scopes=_strs(i.get("scopes")),
            access_level=_int(i.get("access_level")),
            expires_at=_str(i.get("expires_at")),
            last_used_on=_date(i.get("last_used_at")),
            created_at=_str(i.get("created_at")),
            revoked=_bool(i.get("revoked")),
            active=_bool(i.get("active")),
        )
        for i in items
    ]
    return sorted(tokens, key=lambda t: t.id)


def job_token_scope(data: JSON) -> JobTokenScope:
    return JobTokenScope(
        inbound_enabled=_bool(data.get("inbound_enabled")),
        outbound_enabled=_bool(data.get("outbound_enabled")),
    )


# -- projects and instance ----------------------------------------------------------------


def has_ci_settings(project: JSON) -> bool:
    return any(key in project for key in ADMIN_ONLY_CI_KEYS)


def ci_settings(project: JSON) -> CiSettings:
    return CiSettings(
        ci_pipeline_variables_minimum_override_role=_str(
            project.get("ci_pipeline_variables_minimum_override_role")
        ),
        restrict_user_defined_variables=_bool(project.get("restrict_user_defined_variables")),
        ci_job_token_scope_enabled=_bool(project.get("ci_job_token_scope_enabled")),
        ci_allow_fork_pipelines_to_run_in_parent_project=_bool(
            project.get("ci_allow_fork_pipelines_to_run_in_parent_project")
        ),
        group_runners_enabled=_bool(project.get("group_runners_enabled")),
        ci_push_repository_for_job_token_allowed=_bool(
            project.get("ci_push_repository_for_job_token_allowed")
        ),
    )


def fork_parent(project: JSON) -> ForkParent | None:
    parent = project.get("forked_from_project")
    if not isinstance(parent, Mapping) or _int(parent.get("id")) is None:
        return None
    return ForkParent(
        id=int(parent["id"]),
        path_with_namespace=_str(parent.get("path_with_namespace")),
        web_url=_str(parent.get("web_url")),
    )


def shared_with_groups(project: JSON) -> list[SharedWithGroup]:
    links = [
        SharedWithGroup(
            group_id=int(link["group_id"]),
            group_full_path=_str(link.get("group_full_path")),
            group_access_level=_int(link.get("group_access_level")),
            expires_at=_str(link.get("expires_at")),
        )
        for link in project.get("shared_with_groups") or []
        if isinstance(link, Mapping) and _int(link.get("group_id")) is not None
    ]
    return sorted(links, key=lambda g: g.group_id)


def instance_settings(data: JSON) -> InstanceSettings:
    defaults = data.get("default_branch_protection_defaults")
    return InstanceSettings(
        default_project_visibility=_str(data.get("default_project_visibility")),
        default_group_visibility=_str(data.get("default_group_visibility")),
        default_snippet_visibility=_str(data.get("default_snippet_visibility")),
        restricted_visibility_levels=_strs(data.get("restricted_visibility_levels")),
        default_branch_protection_defaults=dict(defaults)
        if isinstance(defaults, Mapping)
        else None,
    )
