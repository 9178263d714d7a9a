from __future__ import annotations

from typing import Any

import pytest

from posture.rules import REGISTRY
from posture.rules.base import Verdict
from posture.rules.webhooks import AllowedHosts
from posture.snapshot import Webhook
from tests.rules.factories import (
    error,
    forbidden,
    group,
    ok,
    project,
    run,
    unavailable,
    verdicts,
)

SSL = REGISTRY["webhooks.ssl_verification"]
HTTP = REGISTRY["webhooks.plain_http"]
CREDENTIALS = REGISTRY["webhooks.credentials_in_url"]
HOSTS = REGISTRY["webhooks.allowed_hosts"]
ALL = [SSL, HTTP, CREDENTIALS, HOSTS]
UNCOLLECTED = [
    forbidden("group webhooks need GitLab Premium"),
    unavailable(),
    error(),
]
ACME = AllowedHosts(hosts=["*.acme.example", "chat.partner.example"])


def hook(hook_id: int = 1, **fields: Any) -> Webhook:
    """A verified https webhook with a clean URL, unless told otherwise."""
    base: dict[str, Any] = {
        "id": hook_id,
        "url": "https://hooks.acme.example/gitlab",
        "url_scheme": "https",
        "url_host": "hooks.acme.example",
        "enable_ssl_verification": True,
    }
    base.update(fields)
    return Webhook(**base)


def http_hook(hook_id: int = 1, **fields: Any) -> Webhook:
    return hook(hook_id, url="http://ci.acme.example/hook", url_scheme="http",
                url_host="ci.acme.example", **fields)  # fmt: skip


def with_hooks(*hooks: Webhook):
    return project(webhooks=ok(list(hooks)))


@pytest.mark.parametrize("rule", ALL, ids=lambda r: r.id)
@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_uncollected_webhooks_are_unknown_never_pass(rule, section) -> None:
    for subject in (project(webhooks=section), group(webhooks=section)):
        [outcome] = run(rule, subject, ACME if rule is HOSTS else None)
        assert outcome.verdict is Verdict.UNKNOWN
        assert "webhooks" in outcome.message


@pytest.mark.parametrize("rule", ALL, ids=lambda r: r.id)
def test_no_webhooks_is_not_applicable(rule) -> None:
    [outcome] = run(rule, project(), ACME if rule is HOSTS else None)
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert outcome.message == "no webhooks"


# -- webhooks.ssl_verification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("webhook", "verdict"),
    [
        (hook(enable_ssl_verification=True), Verdict.PASS),
        (hook(enable_ssl_verification=False), Verdict.FAIL),
        (hook(enable_ssl_verification=None), Verdict.UNKNOWN),
        # no certificate on plain http: webhooks.plain_http reports it
        (http_hook(enable_ssl_verification=False), Verdict.NOT_APPLICABLE),
        # the crawler could not parse the URL
        (hook(url="<unparseable URL>", url_scheme="", url_host=None), Verdict.UNKNOWN),
    ],
)
def test_ssl_verification(webhook: Webhook, verdict: Verdict) -> None:
    assert verdicts(run(SSL, with_hooks(webhook))) == [verdict]


def test_ssl_verification_judges_each_hook_of_a_group() -> None:
    subject = group(webhooks=ok([hook(1), hook(7, enable_ssl_verification=False)]))
    outcomes = run(SSL, subject)
    assert [(o.item, o.verdict) for o in outcomes] == [
        ("hook 1", Verdict.PASS),
        ("hook 7", Verdict.FAIL),
    ]
    assert "hooks.acme.example" in outcomes[1].message


# -- webhooks.plain_http ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("webhook", "verdict"),
    [
        (hook(), Verdict.PASS),
        (http_hook(), Verdict.FAIL),
        (hook(url="<unparseable URL>", url_scheme="", url_host=None), Verdict.UNKNOWN),
    ],
)
def test_plain_http(webhook: Webhook, verdict: Verdict) -> None:
    [outcome] = run(HTTP, with_hooks(webhook))
    assert outcome.verdict is verdict
    assert outcome.item == "hook 1"


# -- webhooks.credentials_in_url --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "verdict", "named"),
    [
        ({}, Verdict.PASS, None),
        ({"url_had_userinfo": True}, Verdict.FAIL, "user name or password"),
        ({"url_redacted_parts": ["sig", "token"]}, Verdict.FAIL, "query parameters sig, token"),
        ({"url_redacted_parts": ["path"]}, Verdict.FAIL, "path segment"),
        ({"url_redacted_parts": ["fragment"]}, Verdict.FAIL, "fragment"),
        ({"url_redacted_parts": ["url"]}, Verdict.UNKNOWN, "could not be parsed"),
    ],
)
def test_credentials_in_url(fields: dict[str, Any], verdict: Verdict, named: str | None) -> None:
    [outcome] = run(CREDENTIALS, with_hooks(hook(**fields)))
    assert outcome.verdict is verdict
    if named:
        assert named in outcome.message


def test_credentials_message_names_the_host_never_the_url() -> None:
    leaky = hook(
        url="https://hooks.acme.example/services/T0/B0/REDACTED?token=REDACTED",
        url_redacted_parts=["path", "token"],
    )
    [outcome] = run(CREDENTIALS, with_hooks(leaky))
    assert "hooks.acme.example" in outcome.message
    assert "/services" not in outcome.message
    assert "REDACTED" not in outcome.message
    assert outcome.actual == ["query parameter token", "a path segment"]


def test_masked_url_variables_are_the_right_way() -> None:
    masked = hook(url="https://hooks.acme.example/{secret_path}", url_variable_keys=["secret_path"])
    [outcome] = run(CREDENTIALS, with_hooks(masked))
    assert outcome.verdict is Verdict.PASS
    assert "secret_path" in outcome.message


# -- webhooks.allowed_hosts -------------------------------------------------------------------


def test_allowed_hosts_off_by_default() -> None:
    [outcome] = run(HOSTS, with_hooks(hook(url_host="evil.example")))
    assert outcome.verdict is Verdict.NOT_APPLICABLE
    assert outcome.message == "no allowed hosts configured"


@pytest.mark.parametrize("section", UNCOLLECTED, ids=lambda s: s.status.value)
def test_allowed_hosts_switched_off_adds_no_unknowns(section) -> None:
    # group webhooks are Premium: a rule nobody configured must not make the audit incomplete
    [outcome] = run(HOSTS, group(webhooks=section))
    assert outcome.verdict is Verdict.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("host", "verdict"),
    [
        ("hooks.acme.example", Verdict.PASS),
        ("deep.hooks.acme.example", Verdict.PASS),
        ("HOOKS.ACME.EXAMPLE", Verdict.PASS),
        ("chat.partner.example", Verdict.PASS),
        # a shell glob: "*." needs a subdomain
        ("acme.example", Verdict.FAIL),
        ("acme.example.evil.example", Verdict.FAIL),
        ("collector.evil.example", Verdict.FAIL),
        (None, Verdict.UNKNOWN),
        # the host itself is a masked URL variable
        ("{receiver}", Verdict.UNKNOWN),
    ],
)
def test_allowed_hosts(host: str | None, verdict: Verdict) -> None:
    [outcome] = run(HOSTS, with_hooks(hook(url_host=host)), ACME)
    assert outcome.verdict is verdict


def test_allowed_hosts_failure_names_the_host() -> None:
    [outcome] = run(HOSTS, with_hooks(hook(url_host="collector.evil.example")), ACME)
    assert "collector.evil.example" in outcome.message
    assert outcome.actual == "collector.evil.example"
    assert outcome.expected == ACME.hosts
