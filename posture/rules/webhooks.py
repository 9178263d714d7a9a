"""Webhooks: what GitLab sends out, where to, and how safely.

A webhook payload carries repository, merge request, pipeline and user data, and its secret
token travels in a header. The snapshot keeps webhook URLs redacted: userinfo and secret query
parameters or path segments are gone, and only the fact that they were there remains
(``url_had_userinfo``, ``url_redacted_parts``), so no rule here can print a credential.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from pydantic import Field

from posture.rules.base import (
    Context,
    Outcome,
    Params,
    Reference,
    Rule,
    Severity,
    Target,
    failed,
    not_applicable,
    passed,
    unknown,
    unknown_from,
)
from posture.snapshot import Group, Project, Webhook

WEBHOOKS_DOCS = "https://docs.gitlab.com/user/project/integrations/webhooks/"
WEBHOOKS = Reference("GitLab: webhooks", WEBHOOKS_DOCS)
MASK_URL = Reference(
    "GitLab: mask sensitive portions of webhook URLs",
    f"{WEBHOOKS_DOCS}#mask-sensitive-portions-of-webhook-urls",
)
PROJECT_API = Reference(
    "GitLab API: project webhooks", "https://docs.gitlab.com/api/project_webhooks/"
)
GROUP_API = Reference("GitLab API: group webhooks", "https://docs.gitlab.com/api/group_webhooks/")

Holder = Group | Project

#: What ``url_redacted_parts`` names, other than query parameter names, in words.
_PART_NAMES = {
    "query": "a query item",
    "fragment": "the fragment",
    "path": "a path segment",
}


def hook_item(hook: Webhook) -> str:
    return f"hook {hook.id}"


def _where(hook: Webhook) -> str:
    """The receiving host, never the URL: even redacted, a path can say too much."""
    return f" to {hook.url_host}" if hook.url_host else ""


def _receiver(hook: Webhook) -> str:
    return hook.url_host or "the receiver"


def _hooks(holder: Holder) -> list[Webhook]:
    return holder.webhooks.data or []


NO_WEBHOOKS = "no webhooks"


def _scheme(hook: Webhook) -> str:
    return (hook.url_scheme or "").lower()


# -- webhooks.ssl_verification ----------------------------------------------------------------


def check_ssl_verification(holder: Holder, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    hooks = _hooks(holder)
    if not hooks:
        yield not_applicable(NO_WEBHOOKS)
        return
    for hook in hooks:
        item = hook_item(hook)
        scheme = _scheme(hook)
        if scheme == "http":
            yield not_applicable(
                "plain http URL: there is no certificate to verify (webhooks.plain_http "
                "reports it)",
                item=item,
            )
        elif scheme != "https":
            yield unknown(
                "the webhook URL could not be read, so its scheme is unknown",
                item=item,
                expected=True,
            )
        elif hook.enable_ssl_verification is True:
            yield passed(
                f"the TLS certificate of {_receiver(hook)} is verified",
                item=item,
                expected=True,
                actual=True,
            )
        elif hook.enable_ssl_verification is None:
            yield unknown("GitLab did not report enable_ssl_verification", item=item, expected=True)
        else:
            yield failed(
                f"TLS certificate verification is off for {_receiver(hook)}: anyone on the "
                "network path can impersonate it and read payloads and the secret token",
                item=item,
                expected=True,
                actual=False,
            )


# -- webhooks.plain_http ----------------------------------------------------------------------


def check_plain_http(holder: Holder, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    hooks = _hooks(holder)
    if not hooks:
        yield not_applicable(NO_WEBHOOKS)
        return
    for hook in hooks:
        item = hook_item(hook)
        scheme = _scheme(hook)
        if scheme == "https":
            yield passed(
                f"sent over https{_where(hook)}", item=item, expected="https", actual=scheme
            )
        elif scheme == "http":
            yield failed(
                f"sent over plain http{_where(hook)}: payloads and the secret token cross the "
                "network unencrypted",
                item=item,
                expected="https",
                actual=scheme,
            )
        else:
            yield unknown(
                "the webhook URL could not be read, so its scheme is unknown",
                item=item,
                expected="https",
            )


# -- webhooks.credentials_in_url --------------------------------------------------------------


def _found(hook: Webhook) -> list[str]:
    """What was taken out of the URL, named by kind and parameter name only."""
    found: list[str] = []
    if hook.url_had_userinfo:
        found.append("a user name or password before the host")
    params = [p for p in hook.url_redacted_parts if p not in _PART_NAMES and p != "url"]
    if params:
        found.append(f"query parameter{'s' if len(params) > 1 else ''} {', '.join(params)}")
    found += [_PART_NAMES[p] for p in hook.url_redacted_parts if p in _PART_NAMES]
    return found


def check_credentials_in_url(holder: Holder, _params: Params, _ctx: Context) -> Iterator[Outcome]:
    hooks = _hooks(holder)
    if not hooks:
        yield not_applicable(NO_WEBHOOKS)
        return
    for hook in hooks:
        item = hook_item(hook)
        found = _found(hook)
        if found:
            yield failed(
                f"the URL{_where(hook)} carries credentials: {'; '.join(found)}. Every "
                "maintainer can read them in the webhook settings",
                item=item,
                expected=[],
                actual=found,
            )
        elif "url" in hook.url_redacted_parts:
            yield unknown(
                "the webhook URL could not be parsed, so posture withheld it; check it in GitLab",
                item=item,
                expected=[],
            )
        else:
            masked = (
                f" (secret parts in masked URL variables: {', '.join(hook.url_variable_keys)})"
                if hook.url_variable_keys
                else ""
            )
            yield passed(f"no credentials in the URL{masked}", item=item, expected=[], actual=[])


# -- webhooks.allowed_hosts -------------------------------------------------------------------


class AllowedHosts(Params):
    hosts: list[str] = Field(
        default_factory=list,
        description=(
            "host names webhooks may send to, as shell-style globs matched case-insensitively "
            '("*.acme.example" matches hooks.acme.example, not acme.example); empty: no check'
        ),
    )


def check_allowed_hosts(holder: Holder, params: AllowedHosts, _ctx: Context) -> Iterator[Outcome]:
    # Checked before the section, which is why this rule does not declare requires: with no
    # hosts listed the rule is switched off, and an uncollected section must not turn that
    # into an unknown (group webhooks are a Premium feature).
    if not params.hosts:
        yield not_applicable("no allowed hosts configured")
        return
    if not holder.webhooks.ok:
        yield unknown_from("webhooks", holder.webhooks)
        return
    hooks = _hooks(holder)
    if not hooks:
        yield not_applicable(NO_WEBHOOKS)
        return
    for hook in hooks:
        item = hook_item(hook)
        host = (hook.url_host or "").lower()
        if not host:
            yield unknown(
                "the webhook URL could not be read, so its host is unknown",
                item=item,
                expected=params.hosts,
            )
            continue
        if "{" in host:
            yield unknown(
                "the host is a masked URL variable, which GitLab does not reveal",
                item=item,
                expected=params.hosts,
            )
            continue
        match = next((p for p in params.hosts if fnmatch.fnmatchcase(host, p.lower())), None)
        if match is not None:
            yield passed(
                f"sends to {host} (allowed by {match})",
                item=item,
                expected=params.hosts,
                actual=host,
            )
        else:
            yield failed(
                f"sends to {host}, which is not an allowed host",
                item=item,
                expected=params.hosts,
                actual=host,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="webhooks.ssl_verification",
        title="Webhooks verify the receiver's TLS certificate",
        severity=Severity.HIGH,
        targets=(Target.GROUP, Target.PROJECT),
        rationale=(
            "With SSL verification off, GitLab sends the payload and the X-Gitlab-Token secret "
            "to whoever answers for the host, so a DNS or network attacker receives code, "
            "merge request and pipeline data and can forge the receiver's view of events."
        ),
        remediation=(
            "Settings > Webhooks (project or group): edit the webhook, tick Enable SSL "
            "verification and save; give the receiver a certificate GitLab trusts. API: PUT "
            "/projects/:id/hooks/:hook_id (PUT /groups/:id/hooks/:hook_id) with "
            "enable_ssl_verification=true and the url."
        ),
        references=(WEBHOOKS, PROJECT_API, GROUP_API),
        soc2=("CC6.7",),
        cis=("1.4.4", "2.1.10", "4.3.4"),
        check=check_ssl_verification,
        requires=("webhooks",),
    ),
    Rule(
        id="webhooks.plain_http",
        title="Webhooks are sent over HTTPS",
        severity=Severity.MEDIUM,
        targets=(Target.GROUP, Target.PROJECT),
        rationale=(
            "A webhook over plain http sends its payload (commits, issues, merge requests, "
            "user names and e-mails) and its secret token in clear text across every network "
            "between GitLab and the receiver."
        ),
        remediation=(
            "Serve the receiver over https, then Settings > Webhooks: edit the webhook, change "
            "the URL to https:// and enter the secret token again (changing the URL resets "
            "it). API: PUT /projects/:id/hooks/:hook_id (PUT /groups/:id/hooks/:hook_id) with "
            "url=https://… and token."
        ),
        references=(WEBHOOKS, PROJECT_API, GROUP_API),
        soc2=("CC6.7",),
        cis=("1.4.4", "2.1.10", "4.3.4"),
        check=check_plain_http,
        requires=("webhooks",),
    ),
    Rule(
        id="webhooks.credentials_in_url",
        title="Webhook URLs carry no credentials",
        severity=Severity.HIGH,
        targets=(Target.GROUP, Target.PROJECT),
        rationale=(
            "A password, token or signed path in a webhook URL is stored in clear, shown to "
            "every Maintainer in the webhook settings and copied into the hook's delivery "
            "logs. Masked URL variables, custom headers or the secret token keep it hidden."
        ),
        remediation=(
            "Rotate the exposed credential first. Then Settings > Webhooks: edit the webhook "
            "and move the secret part into a masked portion (Add URL masking), a custom header "
            "or the Secret token. API: PUT /projects/:id/hooks/:hook_id (PUT "
            "/groups/:id/hooks/:hook_id) with a url without the credential, then PUT "
            "/projects/:id/hooks/:hook_id/url_variables/:key or "
            "/projects/:id/hooks/:hook_id/custom_headers/:key with the value."
        ),
        references=(MASK_URL, PROJECT_API, GROUP_API),
        soc2=("CC6.1", "CC6.7"),
        check=check_credentials_in_url,
        requires=("webhooks",),
    ),
    Rule(
        id="webhooks.allowed_hosts",
        title="Webhooks send only to approved hosts",
        severity=Severity.MEDIUM,
        targets=(Target.GROUP, Target.PROJECT),
        rationale=(
            "Any Maintainer can add a webhook that copies every push, merge request and "
            "pipeline event to a host of their choosing. An allowlist of receivers makes "
            "data leaving the organisation a reviewed decision."
        ),
        remediation=(
            "Settings > Webhooks: delete webhooks to unapproved hosts, or add the host to the "
            "baseline's hosts list after review. API: DELETE /projects/:id/hooks/:hook_id "
            "(DELETE /groups/:id/hooks/:hook_id)."
        ),
        references=(WEBHOOKS, PROJECT_API, GROUP_API),
        soc2=("CC6.6", "CC6.7"),
        check=check_allowed_hosts,
        params=AllowedHosts,
        examples={"hosts": ["hooks.acme.example", "*.chat.acme.example"]},
    ),
)
