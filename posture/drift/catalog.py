"""The drift classification table: for each place in a snapshot, which changes weaken security.

Organised by the same families as the rules (posture/rules/): a family's settings are judged
here the way its rules judge them, and each field names the rules that check it. docs/drift.md
is generated from this table (``python -m posture.drift.docs``); a test fails when it is stale,
and another when a snapshot field is neither judged nor listed as ignored here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from posture.drift import judges as j
from posture.drift.model import Classification

W, S, N = Classification.WEAKENING, Classification.STRENGTHENING, Classification.NEUTRAL

Where = Literal["instance", "group", "project", "runner"]
Flat = dict[str, Any]


@dataclass(frozen=True)
class FieldSpec:
    name: str  # key in the flattened item
    label: str  # how a person calls it
    judge: j.Judge
    rules: tuple[str, ...] = ()
    family: str | None = None  # when it differs from its section's family


@dataclass(frozen=True)
class Presence:
    """How an added or removed item is classified. ``others`` are the items on the other side
    (for an added item, the old items), so "a webhook to a new host" can be told apart."""

    added: Callable[[Flat, Sequence[Flat]], Classification]
    removed: Callable[[Flat, Sequence[Flat]], Classification]
    added_doc: str
    removed_doc: str


@dataclass(frozen=True)
class SectionSpec:
    family: str
    where: Where
    section: str | None  # attribute of the entity; None: the entity's own attributes
    title: str  # "protected branch", "approval settings"
    fields: tuple[FieldSpec, ...]
    #: Model fields deliberately not compared, with why (printed in docs/drift.md).
    ignored: dict[str, str] = field(default_factory=dict)
    #: List sections: the item's identity, a fallback to pair leftovers (a variable whose
    #: environment scope changed), its label, and how presence changes are classified.
    key: Callable[[Flat], str] | None = None
    fallback_key: Callable[[Flat], str] | None = None
    label: Callable[[Flat], str] | None = None
    presence: Presence | None = None
    flatten: Callable[[Any], Flat] | None = None  # default: the model's own fields
    #: The model fields a custom ``flatten`` reads (for the coverage test).
    covers: tuple[str, ...] = ()
    #: Not a ``Section`` (always collected), e.g. a project's shared groups.
    plain: bool = False

    @property
    def is_list(self) -> bool:
        return self.key is not None

    def field_named(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


# --- helpers ----------------------------------------------------------------------------


def _presence_fixed(
    added: Classification, removed: Classification, added_doc: str, removed_doc: str
) -> Presence:
    return Presence(
        lambda item, others: added, lambda item, others: removed, added_doc, removed_doc
    )


def _presence_if(
    test: Callable[[Flat], bool], added_doc: str, removed_doc: str, weak_when_added: bool = True
) -> Presence:
    """Adding an item that passes ``test`` weakens (removing it strengthens); else neutral."""
    if weak_when_added:
        return Presence(
            lambda item, others: W if test(item) else N,
            lambda item, others: S if test(item) else N,
            added_doc,
            removed_doc,
        )
    return Presence(
        lambda item, others: S if test(item) else N,
        lambda item, others: W if test(item) else N,
        added_doc,
        removed_doc,
    )


def _by_id(item: Flat) -> str:
    return str(item["id"])


# --- protected branches -----------------------------------------------------------------

_ROLE_OF_LEVEL = {
    0: "No one",
    60: "Administrators",
    40: "Maintainers",
    30: "Developers + Maintainers",
}


def _weakest_role(levels: list[Any] | None) -> str | None:
    """The most permissive role an access list lets in ("No one" when only named principals)."""
    if levels is None:
        return None
    roles = [entry.access_level for entry in levels if entry.access_level is not None]
    permissive = [j.BRANCH_ROLES.index(_ROLE_OF_LEVEL.get(r, "No one")) for r in roles]
    return j.BRANCH_ROLES[max(permissive, default=0)]


def _principals(levels: list[Any] | None) -> list[str] | None:
    if levels is None:
        return None
    out = []
    for entry in levels:
        for kind in ("user_id", "group_id", "deploy_key_id"):
            value = getattr(entry, kind)
            if value is not None:
                out.append(f"{kind.removesuffix('_id')}:{value}")
    return sorted(set(out))


def _flatten_branch(branch: Any) -> Flat:
    return {
        "name": branch.name,
        "push.role": _weakest_role(branch.push_access_levels),
        "push.principals": _principals(branch.push_access_levels),
        "merge.role": _weakest_role(branch.merge_access_levels),
        "merge.principals": _principals(branch.merge_access_levels),
        "unprotect.role": _weakest_role(branch.unprotect_access_levels),
        "unprotect.principals": _principals(branch.unprotect_access_levels),
        "allow_force_push": branch.allow_force_push,
        "code_owner_approval_required": branch.code_owner_approval_required,
        "inherited": branch.inherited,
    }


def _branch_fields() -> tuple[FieldSpec, ...]:
    out = []
    for action, rule in (
        ("push", "branches.push_access"),
        ("merge", "branches.merge_access"),
        ("unprotect", "branches.unprotect_access"),
    ):
        out.append(
            FieldSpec(
                f"{action}.role",
                f"allowed to {action}",
                j.ranked(
                    j.BRANCH_ROLES,
                    f"a less trusted role may {action} (Maintainers → Developers)",
                    f"only a more trusted role may {action}",
                ),
                (rule,),
            )
        )
        out.append(
            FieldSpec(
                f"{action}.principals",
                f"users/groups/deploy keys allowed to {action}",
                j.grows_weakens(
                    f"a user, group or deploy key is newly allowed to {action}",
                    f"a user, group or deploy key may no longer {action}",
                ),
                (rule,),
            )
        )
    out.append(
        FieldSpec(
            "allow_force_push",
            "force push",
            j.true_weakens("force push allowed", "force push denied"),
            ("branches.force_push",),
        )
    )
    out.append(
        FieldSpec(
            "code_owner_approval_required",
            "code owner approval",
            j.false_weakens(
                "code owner approval no longer required", "code owner approval required"
            ),
            ("branches.code_owner_approval",),
        )
    )
    out.append(FieldSpec("inherited", "inherited from the group", j.neutral()))
    return tuple(out)


def _branch_spec(where: Where) -> SectionSpec:
    return SectionSpec(
        family="branches",
        where=where,
        section="protected_branches",
        title="protected branch",
        fields=_branch_fields(),
        ignored={"id": "GitLab's row id; branches are matched by name", "name": "the identity"},
        key=lambda b: b["name"],
        label=lambda b: b["name"],
        presence=_presence_fixed(
            S, W, "strengthening: a branch is newly protected", "weakening: protection removed"
        ),
        flatten=_flatten_branch,
        covers=(
            "id",
            "name",
            "push_access_levels",
            "merge_access_levels",
            "unprotect_access_levels",
            "allow_force_push",
            "code_owner_approval_required",
            "inherited",
        ),
    )


# --- variables --------------------------------------------------------------------------


def _variable_key(v: Flat) -> str:
    return f"{v['key']}\x1f{v.get('environment_scope')}"


def _variable_label(v: Flat) -> str:
    scope = v.get("environment_scope")
    return v["key"] if scope in (None, "*") else f"{v['key']} ({scope})"


def _exposed_secret(v: Flat) -> bool:
    return bool(v.get("looks_like_secret")) and (
        v.get("masked") is False or v.get("protected") is False
    )


def _scope_judge() -> j.Judge:
    def decide(old: Any, new: Any) -> Classification:
        if new == "*" and old != "*":
            return W
        if old == "*" and new != "*":
            return S
        return N

    return j.Judge(
        decide,
        "the variable is now available to every environment (scope `*`)",
        "the variable is narrowed from every environment to one scope",
    )


def _variable_spec(where: Where) -> SectionSpec:
    return SectionSpec(
        family="variables",
        where=where,
        section="variables",
        title="CI/CD variable",
        fields=(
            FieldSpec(
                "masked",
                "masked",
                j.false_weakens("unmasked: the value can appear in job logs", "masked again"),
                ("variables.secret_like_unmasked",),
            ),
            FieldSpec(
                "protected",
                "protected",
                j.false_weakens("unprotected: pipelines on any branch can read it", "protected"),
                ("variables.unprotected",),
            ),
            FieldSpec(
                "hidden",
                "hidden",
                j.false_weakens("no longer hidden", "hidden"),
                ("variables.prefer_hidden",),
            ),
            FieldSpec(
                "environment_scope",
                "environment scope",
                _scope_judge(),
                ("variables.broad_scope_secret",),
            ),
            FieldSpec(
                "looks_like_secret",
                "value looks like a secret",
                j.true_weakens("the value now looks like a secret", "the value no longer does"),
                ("variables.secret_like_unmasked", "variables.unprotected"),
            ),
            FieldSpec("variable_type", "type", j.neutral()),
            FieldSpec("raw", "raw (not expanded)", j.neutral()),
            FieldSpec("description", "description", j.neutral()),
            FieldSpec("secret_kinds", "kinds of secret seen in the value", j.neutral_set()),
            FieldSpec("maskable", "value could be masked", j.neutral()),
        ),
        ignored={
            "key": "the identity (with the environment scope)",
            "value_available": "whether GitLab sent the value; follows `hidden`",
            "name_suggests_secret": "follows from the key, which is the identity",
        },
        key=_variable_key,
        fallback_key=lambda v: v["key"],
        label=_variable_label,
        presence=_presence_if(
            _exposed_secret,
            "weakening when its value looks like a secret and it is unmasked or unprotected; "
            "otherwise neutral",
            "strengthening when it was such an exposed secret; otherwise neutral",
        ),
    )


# --- webhooks ---------------------------------------------------------------------------


def _host(url: Any) -> str | None:
    try:
        return urlsplit(str(url)).hostname
    except ValueError:
        return None


def _hook_host_is_new(item: Flat, others: Sequence[Flat]) -> bool:
    return item.get("url_host") not in {o.get("url_host") for o in others}


def _url_judge() -> j.Judge:
    return j.Judge(
        lambda old, new: W if _host(old) != _host(new) else N,
        "the webhook now sends to another host",
        "—",
        directional=False,
    )


def _webhook_spec(where: Where) -> SectionSpec:
    return SectionSpec(
        family="webhooks",
        where=where,
        section="webhooks",
        title="webhook",
        fields=(
            FieldSpec(
                "url",
                "URL",
                _url_judge(),
                ("webhooks.allowed_hosts",),
            ),
            FieldSpec(
                "url_scheme",
                "URL scheme",
                j.ranked(("https", "http"), "HTTPS → plain HTTP", "plain HTTP → HTTPS"),
                ("webhooks.plain_http",),
            ),
            FieldSpec(
                "enable_ssl_verification",
                "TLS verification",
                j.false_weakens("TLS certificate verification turned off", "turned on"),
                ("webhooks.ssl_verification",),
            ),
            FieldSpec(
                "url_had_userinfo",
                "credentials in the URL",
                j.true_weakens("credentials put into the URL", "credentials taken out of the URL"),
                ("webhooks.credentials_in_url",),
            ),
            FieldSpec(
                "url_redacted_parts",
                "secret parts of the URL",
                j.grows_weakens(
                    "a secret (token parameter, chat webhook path) is now part of the URL",
                    "a secret part left the URL",
                ),
                ("webhooks.credentials_in_url",),
            ),
            FieldSpec(
                "events",
                "events",
                j.grows_weakens(
                    "an event type is newly sent (more data leaves GitLab)",
                    "an event type is no longer sent",
                ),
            ),
            FieldSpec("name", "name", j.neutral()),
            FieldSpec("push_events_branch_filter", "push branch filter", j.neutral()),
            FieldSpec("branch_filter_strategy", "branch filter strategy", j.neutral()),
            FieldSpec("url_variable_keys", "URL variables", j.neutral_set()),
            FieldSpec("custom_header_keys", "custom headers", j.neutral_set()),
            FieldSpec("alert_status", "alert status", j.neutral()),
        ),
        ignored={
            "id": "the identity",
            "url_host": "judged through `url` (a host change is one change, not two)",
        },
        key=_by_id,
        label=lambda h: f"{h['id']} → {h.get('url_host') or h.get('url')}",
        presence=Presence(
            lambda item, others: W if _hook_host_is_new(item, others) else N,
            lambda item, others: S if _hook_host_is_new(item, others) else N,
            "weakening when it sends to a host no other webhook of the group/project sent to; "
            "otherwise neutral",
            "strengthening when no remaining webhook sends to its host; otherwise neutral",
        ),
    )


# --- tokens and keys --------------------------------------------------------------------

_WRITE_SCOPES = frozenset(
    {
        "api",
        "write_repository",
        "write_registry",
        "write_package_registry",
        "write_virtual_registry",
        "sudo",
        "admin_mode",
        "create_runner",
        "manage_runner",
        "k8s_proxy",
        "ai_features",
    }
)


def _powerful(token: Flat) -> bool:
    return not token.get("revoked") and bool(_WRITE_SCOPES & set(token.get("scopes") or []))


_SCOPES = FieldSpec(
    "scopes",
    "scopes",
    j.grows_weakens("a scope is added", "a scope is removed"),
    ("access.token_scopes",),
)
_EXPIRY = FieldSpec(
    "expires_at",
    "expiry",
    j.expiry("expires later, or never", "expires sooner"),
    ("access.token_expiry",),
)
_REVOKED = FieldSpec(
    "revoked", "revoked", j.false_weakens("un-revoked", "revoked"), ("access.token_scopes",)
)
_TOKEN_PRESENCE = _presence_if(
    _powerful,
    "weakening when it has a write or API scope and is not revoked; otherwise neutral",
    "strengthening when it had such a scope; otherwise neutral",
)


def _deploy_token_spec(where: Where) -> SectionSpec:
    return SectionSpec(
        family="access",
        where=where,
        section="deploy_tokens",
        title="deploy token",
        fields=(
            _SCOPES,
            _EXPIRY,
            _REVOKED,
            FieldSpec("name", "name", j.neutral()),
            FieldSpec("username", "username", j.neutral()),
        ),
        ignored={"id": "the identity", "expired": "follows from time passing and `expires_at`"},
        key=_by_id,
        label=lambda t: f"{t['id']} ({t.get('name')})",
        presence=_TOKEN_PRESENCE,
    )


def _access_token_spec(where: Where) -> SectionSpec:
    return SectionSpec(
        family="access",
        where=where,
        section="access_tokens",
        title="access token",
        fields=(
            _SCOPES,
            _EXPIRY,
            _REVOKED,
            FieldSpec(
                "access_level",
                "role",
                j.higher_weakens("the token's role is raised", "the token's role is lowered"),
                ("access.token_scopes",),
            ),
            FieldSpec("name", "name", j.neutral()),
        ),
        ignored={
            "id": "the identity",
            "last_used_on": "changes whenever the token is used",
            "created_at": "fixed at creation",
            "active": "follows from revocation (compared) and expiry (compared)",
        },
        key=_by_id,
        label=lambda t: f"{t['id']} ({t.get('name')})",
        presence=_TOKEN_PRESENCE,
    )


# --- the table --------------------------------------------------------------------------

_GROUP_LOCKABLE = (
    ("allow_author_approval", "authors may approve", True, "approvals.author_can_approve"),
    ("allow_committer_approval", "committers may approve", True, "approvals.committer_can_approve"),
    (
        "allow_overrides_to_approver_list_per_merge_request",
        "approvers editable per merge request",
        True,
        "approvals.override_approvers",
    ),
    ("retain_approvals_on_push", "approvals kept on push", True, "approvals.reset_on_push"),
    (
        "selective_code_owner_removals",
        "only code owner approvals reset",
        True,
        "approvals.reset_on_push",
    ),
    (
        "require_reauthentication_to_approve",
        "re-authentication to approve",
        False,
        "approvals.reauthentication",
    ),
)


def _flatten_group_approvals(settings: Any) -> Flat:
    out: Flat = {}
    for name, *_ in _GROUP_LOCKABLE:
        value = getattr(settings, name)
        out[f"{name}.value"] = None if value is None else value.value
        out[f"{name}.locked"] = None if value is None else value.locked
        out[f"{name}.inherited_from"] = None if value is None else value.inherited_from
    return out


def _group_approval_fields() -> tuple[FieldSpec, ...]:
    out = []
    for name, label, true_is_weak, rule in _GROUP_LOCKABLE:
        make = j.true_weakens if true_is_weak else j.false_weakens
        out.append(
            FieldSpec(
                f"{name}.value",
                label,
                make(f"{label}: weaker value", "the stronger value"),
                (rule,),
            )
        )
        out.append(
            FieldSpec(
                f"{name}.locked",
                f"{label} (locked for projects)",
                j.false_weakens("unlocked: projects may override it", "locked for projects"),
                (rule,),
            )
        )
        out.append(FieldSpec(f"{name}.inherited_from", f"{label} (inherited from)", j.neutral()))
    return tuple(out)


def _default_branch_protection(settings: Any) -> Flat:
    defaults = settings.default_branch_protection_defaults
    if defaults is None:
        return dict.fromkeys(
            (
                "dbp.push.role",
                "dbp.merge.role",
                "dbp.allow_force_push",
                "dbp.developer_can_initial_push",
            )
        )

    def role(key: str) -> str | None:
        entries = defaults.get(key)
        if not isinstance(entries, list):
            return None
        levels = [e.get("access_level") for e in entries if isinstance(e, dict)]
        ranks = [j.BRANCH_ROLES.index(_ROLE_OF_LEVEL.get(lvl, "No one")) for lvl in levels]
        return j.BRANCH_ROLES[max(ranks, default=0)]

    return {
        "dbp.push.role": role("allowed_to_push"),
        "dbp.merge.role": role("allowed_to_merge"),
        "dbp.allow_force_push": defaults.get("allow_force_push"),
        "dbp.developer_can_initial_push": defaults.get("developer_can_initial_push"),
    }


def _flatten_instance_settings(settings: Any) -> Flat:
    return {
        "default_project_visibility": settings.default_project_visibility,
        "default_group_visibility": settings.default_group_visibility,
        "default_snippet_visibility": settings.default_snippet_visibility,
        "restricted_visibility_levels": sorted(settings.restricted_visibility_levels),
        **_default_branch_protection(settings),
    }


def _visibility(label: str, rules: tuple[str, ...]) -> FieldSpec:
    return FieldSpec(
        "visibility",
        label,
        j.ranked(j.VISIBILITY, "more visible (private → internal → public)", "less visible"),
        rules,
    )


def _flatten_project(project: Any) -> Flat:
    protection = project.default_branch_protection
    return {
        "visibility": project.visibility,
        "public_jobs": project.public_jobs,
        "shared_runners_enabled": project.shared_runners_enabled,
        "approvals_before_merge": project.approvals_before_merge,
        "default_branch": project.default_branch,
        "default_branch_protected": None if protection is None else protection.covered,
        "archived": project.archived,
        "topics": sorted(project.topics),
        "forked_from": None if project.forked_from is None else project.forked_from.id,
        "name": project.name,
        "empty_repo": project.empty_repo,
    }


SPECS: tuple[SectionSpec, ...] = (
    # --- visibility ---
    SectionSpec(
        family="visibility",
        where="instance",
        section="settings",
        title="instance settings",
        fields=(
            FieldSpec(
                "default_project_visibility",
                "default project visibility",
                j.ranked(j.VISIBILITY, "new projects default to more visible", "less visible"),
                ("instance.default_visibility",),
            ),
            FieldSpec(
                "default_group_visibility",
                "default group visibility",
                j.ranked(j.VISIBILITY, "new groups default to more visible", "less visible"),
                ("instance.default_visibility",),
            ),
            FieldSpec(
                "default_snippet_visibility",
                "default snippet visibility",
                j.ranked(j.VISIBILITY, "new snippets default to more visible", "less visible"),
                ("instance.default_visibility",),
            ),
            FieldSpec(
                "restricted_visibility_levels",
                "visibility levels restricted to administrators",
                j.shrinks_weakens(
                    "a level is no longer restricted (e.g. anyone may create public projects)",
                    "a level is newly restricted",
                ),
                ("instance.restricted_visibility",),
            ),
            FieldSpec(
                "dbp.push.role",
                "default branch protection: allowed to push",
                j.ranked(
                    j.BRANCH_ROLES,
                    "new projects let a less trusted role push",
                    "new projects need a more trusted role to push",
                ),
                ("branches.push_access",),
                family="branches",
            ),
            FieldSpec(
                "dbp.merge.role",
                "default branch protection: allowed to merge",
                j.ranked(
                    j.BRANCH_ROLES,
                    "new projects let a less trusted role merge",
                    "new projects need a more trusted role to merge",
                ),
                ("branches.merge_access",),
                family="branches",
            ),
            FieldSpec(
                "dbp.allow_force_push",
                "default branch protection: force push",
                j.true_weakens("new projects allow force push", "new projects deny force push"),
                ("branches.force_push",),
                family="branches",
            ),
            FieldSpec(
                "dbp.developer_can_initial_push",
                "default branch protection: developers may push the initial commit",
                j.true_weakens("developers may push the first commit", "they may not (again)"),
                family="branches",
            ),
        ),
        flatten=_flatten_instance_settings,
        covers=(
            "default_project_visibility",
            "default_group_visibility",
            "default_snippet_visibility",
            "restricted_visibility_levels",
            "default_branch_protection_defaults",
        ),
    ),
    SectionSpec(
        family="visibility",
        where="group",
        section=None,
        title="group",
        fields=(
            _visibility("visibility", ("group.visibility",)),
            FieldSpec("name", "name", j.neutral()),
        ),
        ignored={
            "id": "the identity",
            "full_path": "reported as a rename or transfer",
            "parent_id": "reported as a transfer",
            "web_url": "follows the path",
        },
        covers=("visibility", "name"),
        flatten=lambda g: {"visibility": g.visibility, "name": g.name},
    ),
    SectionSpec(
        family="visibility",
        where="project",
        section=None,
        title="project",
        fields=(
            _visibility("visibility", ("project.visibility",)),
            FieldSpec(
                "public_jobs",
                "public pipelines (job logs and artifacts)",
                j.true_weakens(
                    "job logs and artifacts become public", "job logs and artifacts are private"
                ),
                ("pipelines.public_jobs",),
                family="pipelines",
            ),
            FieldSpec(
                "shared_runners_enabled",
                "instance runners",
                j.true_weakens("instance runners enabled", "instance runners disabled"),
                ("runners.instance_runners_enabled",),
                family="runners",
            ),
            FieldSpec(
                "approvals_before_merge",
                "approvals required (legacy project setting)",
                j.lower_weakens("fewer approvals required", "more approvals required"),
                ("approvals.min_required",),
                family="approvals",
            ),
            FieldSpec(
                "default_branch_protected",
                "default branch protected",
                j.false_weakens(
                    "the default branch is no longer protected",
                    "the default branch is protected again",
                ),
                ("branches.default_protected",),
                family="branches",
            ),
            FieldSpec("default_branch", "default branch", j.neutral(), family="branches"),
            FieldSpec("archived", "archived", j.neutral()),
            FieldSpec("topics", "topics", j.neutral_set()),
            FieldSpec("forked_from", "forked from project", j.neutral()),
            FieldSpec("name", "name", j.neutral()),
            FieldSpec("empty_repo", "empty repository", j.neutral()),
        ),
        ignored={
            "id": "the identity",
            "path_with_namespace": "reported as a rename or transfer",
            "namespace_id": "reported as a transfer",
            "namespace_full_path": "reported as a transfer",
            "namespace_kind": "follows the namespace",
            "web_url": "follows the path",
        },
        flatten=_flatten_project,
        covers=(
            "visibility",
            "public_jobs",
            "shared_runners_enabled",
            "approvals_before_merge",
            "default_branch_protection",
            "default_branch",
            "archived",
            "topics",
            "forked_from",
            "name",
            "empty_repo",
        ),
    ),
    # --- branches ---
    _branch_spec("group"),
    _branch_spec("project"),
    # --- approvals ---
    SectionSpec(
        family="approvals",
        where="project",
        section="approval_settings",
        title="merge request approval settings",
        fields=(
            FieldSpec(
                "approvals_before_merge",
                "approvals required (legacy)",
                j.lower_weakens("fewer approvals required", "more approvals required"),
                ("approvals.min_required",),
            ),
            FieldSpec(
                "reset_approvals_on_push",
                "remove approvals on push",
                j.false_weakens("approvals survive new commits", "approvals reset on push"),
                ("approvals.reset_on_push",),
            ),
            FieldSpec(
                "selective_code_owner_removals",
                "reset only code owner approvals",
                j.true_weakens("fewer approvals reset on push", "all approvals reset on push"),
                ("approvals.reset_on_push",),
            ),
            FieldSpec(
                "disable_overriding_approvers_per_merge_request",
                "approvers locked per merge request",
                j.false_weakens(
                    "approvers can be edited in a merge request", "approvers are locked"
                ),
                ("approvals.override_approvers",),
            ),
            FieldSpec(
                "merge_requests_author_approval",
                "authors may approve",
                j.true_weakens(
                    "authors may approve their own merge requests", "they may not (again)"
                ),
                ("approvals.author_can_approve",),
            ),
            FieldSpec(
                "merge_requests_disable_committers_approval",
                "committers barred from approving",
                j.false_weakens("committers may approve", "committers may not approve"),
                ("approvals.committer_can_approve",),
            ),
            FieldSpec(
                "require_reauthentication_to_approve",
                "re-authentication to approve",
                j.false_weakens(
                    "approving no longer needs re-authentication",
                    "approving needs re-authentication",
                ),
                ("approvals.reauthentication",),
            ),
        ),
    ),
    SectionSpec(
        family="approvals",
        where="project",
        section="approval_rules",
        title="approval rule",
        fields=(
            FieldSpec(
                "approvals_required",
                "approvals required",
                j.lower_weakens("fewer approvals required (2 → 1)", "more approvals required"),
                ("approvals.min_required",),
            ),
            FieldSpec(
                "eligible_approvers_count",
                "eligible approvers",
                j.Judge(
                    lambda old, new: W if new == 0 < old else S if old == 0 < new else N,
                    "no eligible approver left (GitLab then treats the rule as optional)",
                    "eligible approvers again",
                ),
                ("approvals.min_required",),
            ),
            FieldSpec(
                "applies_to_all_protected_branches",
                "applies to all protected branches",
                j.false_weakens(
                    "no longer applies to every protected branch",
                    "it applies to every protected branch again",
                ),
                ("approvals.min_required",),
            ),
            FieldSpec(
                "protected_branches",
                "branches it applies to",
                j.shrinks_weakens("a branch is no longer covered", "a branch is newly covered"),
                ("approvals.min_required",),
            ),
            FieldSpec("name", "name", j.neutral()),
            FieldSpec("rule_type", "rule type", j.neutral()),
            FieldSpec("report_type", "report type", j.neutral()),
            FieldSpec("users_count", "users", j.neutral()),
            FieldSpec("groups_count", "groups", j.neutral()),
            FieldSpec("contains_hidden_groups", "hidden groups", j.neutral()),
        ),
        ignored={"id": "the identity"},
        key=_by_id,
        fallback_key=lambda r: r["name"],
        label=lambda r: r["name"],
        presence=_presence_if(
            lambda r: (r.get("approvals_required") or 0) > 0,
            "strengthening when it requires approvals; otherwise neutral",
            "weakening when it required approvals; otherwise neutral",
            weak_when_added=False,
        ),
    ),
    SectionSpec(
        family="approvals",
        where="group",
        section="approval_settings",
        title="group merge request approval settings",
        fields=_group_approval_fields(),
        flatten=_flatten_group_approvals,
        covers=tuple(name for name, *_ in _GROUP_LOCKABLE),
    ),
    # --- variables ---
    _variable_spec("instance"),
    _variable_spec("group"),
    _variable_spec("project"),
    # --- pipelines ---
    SectionSpec(
        family="pipelines",
        where="project",
        section="ci_settings",
        title="CI/CD settings",
        fields=(
            FieldSpec(
                "ci_pipeline_variables_minimum_override_role",
                "minimum role to use pipeline variables",
                j.ranked(
                    j.OVERRIDE_ROLES,
                    "a less trusted role may run pipelines with variables",
                    "a more trusted role is needed",
                ),
                ("pipelines.variable_override_role",),
            ),
            FieldSpec(
                "restrict_user_defined_variables",
                "pipeline variables restricted",
                j.false_weakens(
                    "anyone who runs pipelines may set variables",
                    "pipeline variables are restricted",
                ),
                ("pipelines.variable_override_role",),
            ),
            FieldSpec(
                "ci_job_token_scope_enabled",
                "job token outbound scope (deprecated)",
                j.false_weakens("the job token may reach any project", "its reach is limited"),
                ("pipelines.job_token_scope",),
            ),
            FieldSpec(
                "ci_allow_fork_pipelines_to_run_in_parent_project",
                "fork pipelines run in the parent project",
                j.true_weakens(
                    "fork code runs with the parent's CI/CD settings",
                    "fork pipelines run in the fork",
                ),
            ),
            FieldSpec(
                "group_runners_enabled",
                "group runners",
                j.true_weakens("group runners enabled", "group runners disabled"),
                family="runners",
            ),
            FieldSpec(
                "ci_push_repository_for_job_token_allowed",
                "job token may push to the repository",
                j.true_weakens("jobs may push to the repository", "they may not (again)"),
            ),
        ),
    ),
    SectionSpec(
        family="pipelines",
        where="project",
        section="job_token_scope",
        title="job token scope",
        fields=(
            FieldSpec(
                "inbound_enabled",
                "inbound allowlist enforced",
                j.false_weakens(
                    "job tokens of any project may access this one",
                    "only allowlisted projects' job tokens may access it",
                ),
                ("pipelines.job_token_scope",),
            ),
            FieldSpec(
                "outbound_enabled",
                "outbound scope (deprecated)",
                j.false_weakens(
                    "this project's job token may reach any project", "its reach is limited"
                ),
                ("pipelines.job_token_scope",),
            ),
        ),
    ),
    # --- webhooks ---
    _webhook_spec("group"),
    _webhook_spec("project"),
    # --- runners ---
    SectionSpec(
        family="runners",
        where="project",
        section="runners",
        title="available runner",
        fields=(
            FieldSpec("runner_type", "runner type", j.neutral()),
            FieldSpec("is_shared", "shared", j.neutral()),
        ),
        ignored={"id": "the identity"},
        key=_by_id,
        label=lambda r: f"runner {r['id']} ({r.get('runner_type')})",
        presence=_presence_fixed(
            N,
            N,
            "neutral (instance runners are judged by the project's setting; runner settings on "
            "the runner)",
            "neutral",
        ),
    ),
    SectionSpec(
        family="runners",
        where="runner",
        section=None,
        title="runner",
        fields=(
            FieldSpec(
                "is_shared",
                "shared with every project",
                j.true_weakens("the runner is now shared", "no longer shared"),
            ),
            FieldSpec("runner_type", "runner type", j.neutral()),
            FieldSpec("paused", "paused", j.neutral()),
            FieldSpec("description", "description", j.neutral()),
            FieldSpec("name", "name", j.neutral()),
        ),
        ignored={"id": "the identity", "details": "compared as the `details` section"},
        flatten=lambda r: {
            "is_shared": r.is_shared,
            "runner_type": r.runner_type,
            "paused": r.paused,
            "description": r.description,
            "name": r.name,
        },
        covers=("is_shared", "runner_type", "paused", "description", "name"),
    ),
    SectionSpec(
        family="runners",
        where="runner",
        section="details",
        title="runner settings",
        fields=(
            FieldSpec(
                "run_untagged",
                "runs untagged jobs",
                j.true_weakens("takes any job, not only tagged ones", "only tagged jobs"),
                ("runners.run_untagged",),
            ),
            FieldSpec(
                "locked",
                "locked to its projects",
                j.false_weakens("can be enabled for other projects", "locked to its projects"),
                ("runners.unlocked",),
            ),
            FieldSpec(
                "access_level",
                "protected refs only",
                j.ranked(
                    ("ref_protected", "not_protected"),
                    "runs jobs from unprotected branches",
                    "protected branches and tags only",
                ),
                ("runners.protected_refs_only",),
            ),
            FieldSpec("tag_list", "tags", j.neutral_set()),
            FieldSpec("maximum_timeout", "maximum timeout", j.neutral()),
            FieldSpec("project_ids", "projects", j.neutral_set()),
            FieldSpec("group_ids", "groups", j.neutral_set()),
        ),
    ),
    # --- access ---
    SectionSpec(
        family="access",
        where="project",
        section="deploy_keys",
        title="deploy key",
        fields=(
            FieldSpec(
                "can_push",
                "write access",
                j.true_weakens("the deploy key may push", "read-only"),
                ("access.deploy_key_write",),
            ),
            _EXPIRY,
            FieldSpec("title", "title", j.neutral()),
        ),
        ignored={"id": "the identity", "created_at": "fixed at creation"},
        key=_by_id,
        label=lambda k: f"{k['id']} ({k.get('title')})",
        presence=_presence_if(
            lambda k: bool(k.get("can_push")),
            "weakening when it has write access; otherwise neutral",
            "strengthening when it had write access; otherwise neutral",
        ),
    ),
    _deploy_token_spec("group"),
    _deploy_token_spec("project"),
    _access_token_spec("group"),
    _access_token_spec("project"),
    SectionSpec(
        family="access",
        where="project",
        section="shared_with_groups",
        title="shared with group",
        fields=(
            FieldSpec(
                "group_access_level",
                "role granted",
                j.higher_weakens("the group is granted a higher role", "a lower role"),
            ),
            FieldSpec(
                "expires_at",
                "share expiry",
                j.expiry("the share expires later, or never", "it expires sooner"),
            ),
            FieldSpec("group_full_path", "group path", j.neutral()),
        ),
        ignored={"group_id": "the identity"},
        key=lambda s: str(s["group_id"]),
        label=lambda s: str(s.get("group_full_path") or s["group_id"]),
        presence=_presence_fixed(
            W, S, "weakening: another group's members gain access", "strengthening"
        ),
        plain=True,
    ),
)


def specs_for(where: Where) -> list[SectionSpec]:
    return [spec for spec in SPECS if spec.where == where]
