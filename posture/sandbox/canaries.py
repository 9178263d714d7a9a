"""Canaries: unique markers planted in every secret-bearing value of an instance.

Why: "no secrets at rest" is only testable if each secret is recognisable wherever it lands.
A test crawls a canaried sandbox and searches logs, snapshots and reports for the markers; one
hit names exactly which secret escaped.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from posture.sandbox.instance import Group, Instance, Project, Webhook

# Query parameter names that carry credentials in webhook URLs. The crawler strips the same
# family; keep the two lists in step.
SECRET_QUERY_PARAM = re.compile(
    r"(token|secret|passw|pwd|key|auth|sig|credential|session|code)", re.IGNORECASE
)


class _Planter:
    """Hands out canaries `CANARY<n>X<hash>`: letters and digits only, safe in any URL."""

    def __init__(self) -> None:
        self.planted: list[str] = []

    def new(self) -> str:
        n = len(self.planted) + 1
        digest = hashlib.sha256(f"posture-canary-{n}".encode()).hexdigest()[:10]
        canary = f"CANARY{n:05d}X{digest}"
        self.planted.append(canary)
        return canary

    def mark(self, value: str | None) -> str:
        """Keep the original shape visible (useful in demos) and append the canary."""
        return f"{value or 'secret'}-{self.new()}"


def plant_canaries(instance: Instance) -> tuple[Instance, list[str]]:
    """Copy `instance` and put a unique canary into every secret-bearing value."""
    copy = instance.model_copy(deep=True)
    planter = _Planter()
    for var in copy.variables:
        var.value = planter.mark(var.value)
    for runner in copy.runners:
        runner.token = planter.mark(runner.token or "fake-runner-token")
    for group, _parent, _full in copy.walk_groups():
        _plant_owner(group, planter)
        for project in group.projects:
            _plant_owner(project, planter)
    return copy, planter.planted


def _plant_owner(owner: Group | Project, planter: _Planter) -> None:
    for var in owner.variables:
        var.value = planter.mark(var.value)
    for hook in owner.hooks:
        _plant_hook(hook, planter)
    for token in owner.deploy_tokens:
        token.token = planter.mark(token.token or "fake-deploy-token")
    for token in owner.access_tokens:
        token.token = planter.mark(token.token or "fake-access-token")
    owner.runners_token = planter.mark(owner.runners_token or "fake-runners-token")


def _plant_hook(hook: Webhook, planter: _Planter) -> None:
    hook.token = planter.mark(hook.token)
    hook.url = _plant_url(hook.url, planter)
    hook.url_variables = {k: planter.mark(v) for k, v in hook.url_variables.items()}
    hook.custom_headers = {k: planter.mark(v) for k, v in hook.custom_headers.items()}


def _plant_url(url: str, planter: _Planter) -> str:
    """Plant in URL userinfo and secret query parameters; a URL without them is left alone."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, _sep, password = userinfo.partition(":")
        if password:
            userinfo = f"{user}:{quote(planter.mark(password), safe='')}"
        else:
            userinfo = quote(planter.mark(user), safe="")
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        planted = [(k, planter.mark(v) if SECRET_QUERY_PARAM.search(k) else v) for k, v in pairs]
        query = urlencode(planted)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
