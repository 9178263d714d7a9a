"""The drift demo: change the demo GitLab the way people do in a hurry, through its API.

``posture demo --drift`` crawls the sandbox, runs :func:`apply_demo_changes` (python-gitlab
calls, as two different people, exactly as one would against a real GitLab), crawls again and
shows the drift with the audit-event authors. Each step says what it is meant to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gitlab

from posture.errors import ConfigError

LEDGER = "acme/platform/payments/ledger"
GATEWAY = "acme/platform/payments/payment-gateway"
K8S = "acme/platform/infra/k8s-manifests"
SANDBOX_GROUP = "acme-sandbox"
PLAYGROUND = "acme-sandbox/playground"
HACKATHON = "acme-sandbox/hackathon-cli"
LOAD_TESTS = "acme-sandbox/load-tests"
#: A public key is not a secret; this one is well formed but made up (its "key" is a hash of
#: a sentence), so no private key exists for it.
DEMO_DEPLOY_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILWnwg2Df8CPX6XSTw0ClzYGD4UlBGkdcpHHAQ5Zrnta demo@posture"
)


@dataclass(frozen=True)
class Step:
    actor: str  # which sandbox token makes the change: "admin" or "owner"
    intent: str  # what a reader should see in the drift report
    run: Callable[[gitlab.Gitlab], None]


def _sandbox_group_public(gl: gitlab.Gitlab) -> None:
    group = gl.groups.get(SANDBOX_GROUP)
    group.visibility = "public"
    group.save()


def _playground_public(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(PLAYGROUND)
    project.visibility = "public"
    project.save()


def _ledger_author_approval(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(LEDGER, lazy=True)
    project.approvals.update(None, {"merge_requests_author_approval": True})


def _ledger_force_push(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(LEDGER, lazy=True)
    project.protectedbranches.update("main", {"allow_force_push": True})


def _ledger_one_approval(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(LEDGER, lazy=True)
    rule = next(r for r in project.approvalrules.list(all=True) if r.name == "Payments reviewers")
    project.approvalrules.update(rule.id, {"approvals_required": 1})


def _ledger_unprotect_variable(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(LEDGER, lazy=True)
    project.variables.update(
        "LEDGER_DB_PASSWORD",
        {"protected": False},
        filter={"environment_scope": "production"},
    )


def _ledger_new_webhook(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(LEDGER, lazy=True)
    project.hooks.create(
        {
            "url": "https://ingest.partner-analytics.example/gitlab",
            "push_events": True,
            "job_events": True,
            "enable_ssl_verification": True,
        }
    )


def _ledger_write_deploy_key(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(LEDGER, lazy=True)
    project.keys.create({"title": "hotfix-laptop", "key": DEMO_DEPLOY_KEY, "can_push": True})


def _protect_k8s_main(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(K8S, lazy=True)
    project.protectedbranches.create(
        {"name": "main", "push_access_level": 40, "merge_access_level": 40}
    )


def _gateway_two_approvals(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(GATEWAY, lazy=True)
    rule = next(r for r in project.approvalrules.list(all=True) if r.name == "Any reviewer")
    project.approvalrules.update(rule.id, {"approvals_required": 2})


def _rename_hackathon(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(HACKATHON)
    project.path = "hackathon-cli-2026"
    project.name = "Hackathon CLI 2026"
    project.save()


def _delete_load_tests(gl: gitlab.Gitlab) -> None:
    gl.projects.delete(LOAD_TESTS)


STEPS: tuple[Step, ...] = (
    Step("admin", "weakening: the acme-sandbox group becomes public", _sandbox_group_public),
    Step("owner", "weakening: acme-sandbox/playground becomes public", _playground_public),
    Step("admin", "weakening: force push allowed on the ledger's main", _ledger_force_push),
    Step("owner", "weakening: the ledger needs one approval instead of two", _ledger_one_approval),
    Step("owner", "weakening: ledger authors may approve their own MRs", _ledger_author_approval),
    Step("admin", "weakening: the ledger's DB password is unprotected", _ledger_unprotect_variable),
    Step("owner", "weakening: a webhook to a new host", _ledger_new_webhook),
    Step("admin", "weakening: a deploy key that can push", _ledger_write_deploy_key),
    Step("owner", "strengthening: k8s-manifests protects main", _protect_k8s_main),
    Step("owner", "strengthening: the gateway needs two approvals", _gateway_two_approvals),
    Step("owner", "neutral: a sandbox project renamed", _rename_hackathon),
    Step("admin", "neutral: a sandbox project deleted", _delete_load_tests),
)


def apply_demo_changes(url: str, tokens: dict[str, str]) -> list[str]:
    """Run every step against the sandbox at ``url``; returns the intents, in order."""
    clients = {
        actor: gitlab.Gitlab(url, private_token=token, timeout=10, retry_transient_errors=False)
        for actor, token in tokens.items()
    }
    try:
        for step in STEPS:
            try:
                step.run(clients[step.actor])
            except gitlab.exceptions.GitlabError as exc:
                raise ConfigError(
                    f"demo change failed ({step.intent}): {exc.response_code} {exc.error_message}"
                ) from None
    finally:
        for client in clients.values():
            client.session.close()
    return [step.intent for step in STEPS]
