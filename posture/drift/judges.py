"""Judges: how a change of one value is classified, as small reusable functions.

A judge takes the old and the new value of one field and answers weakening, strengthening or
neutral. Each carries the sentences docs/drift.md prints for it, so the documentation is the
code. ``None`` on either side means GitLab did not send the field (another version, tier or
role): appearing or disappearing fields are neutral, never guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from posture.drift.model import Classification

W, S, N, U = (
    Classification.WEAKENING,
    Classification.STRENGTHENING,
    Classification.NEUTRAL,
    Classification.UNKNOWN,
)


@dataclass(frozen=True)
class Judge:
    """Classifies one field's change. ``directional`` judges mirror: A→B weakening ⇔ B→A
    strengthening. Symmetric ones (a webhook's host changing) classify the same both ways."""

    decide: Callable[[Any, Any], Classification]
    weakening: str  # when the change weakens, for the docs table
    strengthening: str
    directional: bool = True
    per_element: bool = False  # set-valued: each added / removed element is its own change
    none_is_value: bool = False  # None means something (an expiry of "never"), not "not sent"

    def __call__(self, old: Any, new: Any) -> Classification:
        """Classify a change of a scalar. A security-relevant value that GitLab sent on one side
        only cannot be compared: unknown, never neutral (fail closed)."""
        if not self.none_is_value and (old is None or new is None):
            return U
        return self.decide(old, new)

    def element(self, added: bool) -> Classification:
        """Classify one element added to (or removed from) a set-valued field."""
        return self.decide(None, added)


def true_weakens(weakening: str, strengthening: str) -> Judge:
    """A flag whose True is the weaker setting (allow_force_push, public_jobs)."""
    return Judge(lambda old, new: W if new and not old else S, weakening, strengthening)


def false_weakens(weakening: str, strengthening: str) -> Judge:
    """A flag whose False is the weaker setting (masked, protected, enable_ssl_verification)."""
    return Judge(lambda old, new: W if old and not new else S, weakening, strengthening)


def lower_weakens(weakening: str, strengthening: str) -> Judge:
    """A number where less is weaker (approvals required)."""
    return Judge(lambda old, new: W if new < old else S, weakening, strengthening)


def ranked(order: Sequence[Any], weakening: str, strengthening: str) -> Judge:
    """Values ordered from strongest to weakest; unknown values are neutral."""
    rank = {value: index for index, value in enumerate(order)}

    def decide(old: Any, new: Any) -> Classification:
        if old not in rank or new not in rank:
            return N
        return W if rank[new] > rank[old] else S if rank[new] < rank[old] else N

    return Judge(decide, weakening, strengthening)


def grows_weakens(weakening: str, strengthening: str) -> Judge:
    """A set where each added element widens exposure (webhook events, token scopes).

    Set judges decide per element: ``decide(None, added)``."""
    return Judge(lambda old, new: W if new else S, weakening, strengthening, per_element=True)


def shrinks_weakens(weakening: str, strengthening: str) -> Judge:
    """A set where each removed element lowers protection (restricted visibility levels)."""
    return Judge(lambda old, new: S if new else W, weakening, strengthening, per_element=True)


def always(classification: Classification, text: str) -> Judge:
    """Any change has the same meaning both ways."""
    weakening = text if classification is W else "—"
    strengthening = text if classification is S else "—"
    return Judge(lambda old, new: classification, weakening, strengthening, directional=False)


def neutral() -> Judge:
    """Reported, but neither weakens nor strengthens (a name, a description)."""
    return Judge(lambda old, new: N, "—", "—", directional=False, none_is_value=True)


def neutral_set() -> Judge:
    return Judge(
        lambda old, new: N, "—", "—", directional=False, per_element=True, none_is_value=True
    )


def expiry(weakening: str, strengthening: str) -> Judge:
    """An expiry date: later or removed is weaker; None means "never expires"."""

    def decide(old: Any, new: Any) -> Classification:
        if new is None:
            return W
        if old is None:
            return S
        return W if str(new) > str(old) else S

    return Judge(decide, weakening, strengthening, none_is_value=True)


def higher_weakens(weakening: str, strengthening: str) -> Judge:
    """A number where more is weaker (an access level granted)."""
    return Judge(lambda old, new: W if new > old else S, weakening, strengthening)


#: Visibility, strongest first.
VISIBILITY = ("private", "internal", "public")

#: Protected-branch roles from "No one" (strongest) to Developers (weakest allowed).
BRANCH_ROLES = ("No one", "Administrators", "Maintainers", "Developers + Maintainers")

#: Who may run pipelines with pipeline variables, strongest first.
OVERRIDE_ROLES = ("no_one_allowed", "owner", "maintainer", "developer")
