"""What a rule is: metadata beside a pure check of snapshot data.

A rule never talks to GitLab. It receives one target (the instance, a group, a project or
a runner) from the snapshot, its validated parameters, and a read-only :class:`Context` for
cross-references (a project's runners, a group's projects), and yields :class:`Outcome`s.

Missing data is not the rule's problem to guess about: the evaluator checks the sections a
rule declares in ``requires`` before calling it, and turns a non-``ok`` section into an
``unknown`` result with the collection status as the reason. A rule that reaches into a
section it did not declare (for example each runner's details) must yield
:func:`unknown_from` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from posture.snapshot import Group, Instance, Project, Runner, Section, Snapshot


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


class Target(StrEnum):
    """What a rule looks at; one result per rule × target (× item)."""

    INSTANCE = "instance"
    GROUP = "group"
    PROJECT = "project"
    RUNNER = "runner"


class Verdict(StrEnum):
    """What a check says about one target or item. Waivers are applied later."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


class Params(BaseModel):
    """Base for a rule's parameters: strict, so a typo in a baseline is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """For rules whose only settings are ``enabled`` and ``severity``."""


@dataclass(frozen=True)
class Reference:
    title: str
    url: str


@dataclass(frozen=True)
class Outcome:
    """One judgement. ``item`` names the thing inside the target (a branch, a variable key,
    a webhook id) when a rule judges items one by one; None when it judges the target."""

    verdict: Verdict
    message: str
    item: str | None = None
    expected: Any = None
    actual: Any = None


def passed(message: str, *, item: str | None = None, expected: Any = None, actual: Any = None):
    return Outcome(Verdict.PASS, message, item, expected, actual)


def failed(message: str, *, item: str | None = None, expected: Any = None, actual: Any = None):
    return Outcome(Verdict.FAIL, message, item, expected, actual)


def not_applicable(message: str, *, item: str | None = None) -> Outcome:
    return Outcome(Verdict.NOT_APPLICABLE, message, item)


def unknown(message: str, *, item: str | None = None, expected: Any = None) -> Outcome:
    return Outcome(Verdict.UNKNOWN, message, item, expected)


def unknown_from(name: str, section: Section[Any], *, item: str | None = None) -> Outcome:
    """``unknown`` carrying why a section could not be read: never a silent pass."""
    detail = f": {section.message}" if section.message else ""
    return Outcome(Verdict.UNKNOWN, f"{name} {section.status.value}{detail}", item)


Subject = Instance | Group | Project | Runner
P = TypeVar("P", bound=Params)


class Context:
    """Read-only cross-references into the snapshot, built once per evaluation."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    @cached_property
    def runners_by_id(self) -> dict[int, Runner]:
        return {r.id: r for r in self.snapshot.runners}

    @cached_property
    def groups_by_id(self) -> dict[int, Group]:
        return {g.id: g for g in self.snapshot.groups}

    @cached_property
    def projects_by_id(self) -> dict[int, Project]:
        return {p.id: p for p in self.snapshot.projects}

    def projects_under(self, group: Group) -> list[Project]:
        """Projects in the group or any of its subgroups (by path, as GitLab inherits)."""
        prefix = group.full_path + "/"
        return [p for p in self.snapshot.projects if p.path_with_namespace.startswith(prefix)]

    def runner(self, runner_id: int) -> Runner | None:
        return self.runners_by_id.get(runner_id)


Check = Callable[[Any, Any, Context], Iterable[Outcome]]


@dataclass(frozen=True)
class Rule(Generic[P]):
    """A rule: stable id, the text a person needs, and a pure check."""

    id: str  # "<family>.<name>", stable forever: baselines and waivers refer to it
    title: str
    severity: Severity
    targets: tuple[Target, ...]
    rationale: str
    remediation: str  # where to click in GitLab, and the API call that fixes it
    references: tuple[Reference, ...]
    soc2: tuple[str, ...]  # SOC 2 Trust Services Criteria, e.g. ("CC8.1",)
    check: Check
    params: type[Params] = NoParams
    requires: tuple[str, ...] = ()  # section attribute names on the target, e.g. ("variables",)
    cis: tuple[str, ...] = ()  # CIS GitLab Benchmark v1.0.1 recommendation ids
    premium: bool = False  # needs GitLab Premium data to be anything but unknown
    default_enabled: bool = True  # off by default (opt-in) when False
    examples: dict[str, Any] = field(default_factory=dict)  # parameter examples for docs

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def evaluate(self, subject: Subject, params: Params, context: Context) -> Iterator[Outcome]:
        """Run the check after confirming the data it needs was collected."""
        blocked = [
            unknown_from(name, section)
            for name in self.requires
            if isinstance(section := getattr(subject, name, None), Section) and not section.ok
        ]
        if blocked:
            yield blocked[0]
            return
        yield from self.check(subject, params, context)


ROLE_LEVELS: dict[str, int] = {
    "no_one": 0,
    "developer": 30,
    "maintainer": 40,
    "owner": 50,
    "admin": 60,
}
LEVEL_NAMES = {0: "no one", 30: "developer", 40: "maintainer", 50: "owner", 60: "admin"}
