"""The baseline file format (pydantic) and the pieces a loaded baseline is made of.

The file models are flat on purpose: each one is validated on its own (top level, one
override, one ``match``, one waiver), so an error knows which keys were possible there and
can suggest the one that was meant. Rule settings are validated against each rule's own
``Params`` model, which lives with the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from posture.baseline.globs import literal_segments, path_matches
from posture.baseline.waivers import Waiver
from posture.rules.base import Params, Severity

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
VISIBILITIES = ("private", "internal", "public")
SETTING_KEYS = ("enabled", "severity")  # beside a rule's own parameters

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FileModel(_Strict):
    """Top level of a baseline file."""

    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    description: str | None = None
    extends: NonEmpty | None = None
    settings: dict[str, Any] | None = None
    overrides: list[Any] | None = None
    waivers: list[Any] | None = None


class OverrideModel(_Strict):
    """One entry of ``overrides``: which targets, and the settings that apply to them."""

    match: dict[str, Any]
    inherit: bool = True
    settings: dict[str, Any] | None = None


class MatchModel(_Strict):
    """The criteria of an override; every one given must hold."""

    path: str | list[str] | None = None
    topics: list[NonEmpty] | None = Field(default=None, min_length=1)
    visibility: list[Literal["private", "internal", "public"]] | None = Field(
        default=None, min_length=1
    )
    archived: bool | None = None


class WaiverModel(_Strict):
    """One entry of ``waivers``."""

    rule: NonEmpty
    target: NonEmpty
    item: NonEmpty | None = None
    reason: NonEmpty
    owner: NonEmpty
    expires: date


@dataclass(frozen=True)
class LayerSetting:
    """One rule as one settings block writes it (a file's base, or an override).

    Listing a rule switches it on unless it says ``enabled: false`` (or is just ``false``).
    ``params`` holds only the fields written, normalised, so layers merge field by field.
    """

    rule_id: str
    enabled: bool
    severity: Severity | None
    params: dict[str, Any]
    source: str  # "file:line"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": self.enabled, "params": dict(sorted(self.params.items()))}
        if self.severity is not None:
            out["severity"] = self.severity.value
        return out


@dataclass(frozen=True)
class Match:
    """Override criteria, normalised: globs as a tuple, lists as tuples."""

    paths: tuple[str, ...] | None = None
    topics: tuple[str, ...] | None = None
    visibility: tuple[str, ...] | None = None
    archived: bool | None = None

    @property
    def criteria(self) -> int:
        return sum(
            value is not None for value in (self.paths, self.topics, self.visibility, self.archived)
        )

    def specificity(
        self,
        path: str | None,
        topics: tuple[str, ...],
        visibility: str | None,
        archived: bool | None,
    ) -> tuple[int, int] | None:
        """(literal segments of the best matching glob, criteria given), or None if no match.

        A criterion the target cannot answer (a group has no topics and is never archived)
        does not hold: an override about archived projects never touches a group.
        """
        literal = 0
        if self.paths is not None:
            if path is None:
                return None
            matching = [glob for glob in self.paths if path_matches(glob, path)]
            if not matching:
                return None
            literal = max(literal_segments(glob) for glob in matching)
        if self.topics is not None:
            wanted = {topic.lower() for topic in self.topics}
            if not wanted.intersection(topic.lower() for topic in topics):
                return None
        if self.visibility is not None and visibility not in self.visibility:
            return None
        if self.archived is not None and archived is not self.archived:
            return None
        return (literal, self.criteria)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.paths is not None:
            out["path"] = list(self.paths)
        if self.topics is not None:
            out["topics"] = list(self.topics)
        if self.visibility is not None:
            out["visibility"] = list(self.visibility)
        if self.archived is not None:
            out["archived"] = self.archived
        return out


@dataclass(frozen=True)
class Override:
    """Settings for the group and project targets a :class:`Match` selects."""

    index: int  # position across the extends chain, parent's first: later wins ties
    match: Match
    inherit: bool
    settings: dict[str, LayerSetting]
    source: str


@dataclass(frozen=True, kw_only=True)
class RuleSetting:
    """What the evaluator runs for one rule on one target."""

    rule_id: str
    enabled: bool = True
    severity: Severity
    params: Params  # an instance of the rule's own params model
    source: str  # "file:line" of the most specific setting that applied


@dataclass
class FileSpec:
    """One validated file of an extends chain, before merging."""

    name: str
    description: str | None
    extends: str | None
    display: str  # the file as named in messages and setting sources
    source: str = ""  # the file as listed in Baseline.sources ("minimal (shipped)")
    settings: dict[str, LayerSetting] = field(default_factory=dict)
    overrides: list[tuple[Match, bool, dict[str, LayerSetting], str]] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
