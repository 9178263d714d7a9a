"""Loading a baseline: read each file of the extends chain, validate it strictly, merge.

Every problem is a :class:`BaselineError` with the file and line to fix and, for a typo, the
name that was probably meant. Validation is complete at load time (rule ids, parameter
names and types, severities, dates), so a bad baseline fails before a long crawl starts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError

from posture.baseline.document import Document, Loc, parse, read_text
from posture.baseline.errors import BaselineError, did_you_mean, shown
from posture.baseline.globs import glob_problem
from posture.baseline.model import (
    SETTING_KEYS,
    FileModel,
    FileSpec,
    LayerSetting,
    Match,
    MatchModel,
    OverrideModel,
    WaiverModel,
)
from posture.baseline.resolve import Baseline, build
from posture.baseline.shipped import (
    shipped_baselines,
    shipped_display,
    shipped_source,
)
from posture.baseline.waivers import Waiver
from posture.rules import REGISTRY
from posture.rules.base import Rule, Severity, Target

MAX_CHAIN = 16
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Ref:
    """A file to read: where it is, and how to name it to a person."""

    path: Path
    display: str  # in messages and setting sources
    source: str  # in Baseline.sources
    shipped: bool = False
    display_dir: str | None = None  # what relative extends are joined to in messages

    @property
    def relative_to(self) -> str:
        return self.display_dir if self.display_dir is not None else os.path.dirname(self.display)


def load_baseline(ref: str | Path) -> Baseline:
    """Load a shipped baseline by name, or a baseline file by path, with its extends chain."""
    return _load(_top_ref(ref))


def load_baseline_text(
    text: str, *, name: str = "<text>", directory: Path | None = None
) -> Baseline:
    """Load a baseline from text (stdin, tests); ``extends`` paths are relative to ``directory``."""
    base = directory if directory is not None else Path.cwd()
    ref = _Ref(base / "<text>", name, name, display_dir=str(directory) if directory else "")
    return _load(ref, text=text)


def _top_ref(ref: str | Path) -> _Ref:
    shipped = shipped_baselines()
    if isinstance(ref, str) and ref in shipped:
        return _Ref(shipped[ref], shipped_display(ref), shipped_source(ref), shipped=True)
    display = str(ref)
    path = Path(ref)
    if not _is_file(path):
        names = ", ".join(shipped)
        hint = did_you_mean(display, shipped) if isinstance(ref, str) else ""
        raise BaselineError(
            f"no such baseline: not a shipped baseline ({names}) and not a file{hint}",
            file=display,
        )
    return _Ref(path, display, display)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL byte in it
        return False


def _extends_ref(value: str, child: _Ref, doc: Document) -> _Ref:
    line = doc.line(("extends",))
    shipped = shipped_baselines()
    if value in shipped:
        return _Ref(shipped[value], shipped_display(value), shipped_source(value), shipped=True)
    path = child.path.parent / value
    if child.shipped:
        display = shipped_display(os.path.splitext(value)[0])
    elif os.path.isabs(value):
        display = value
    else:
        display = os.path.normpath(os.path.join(child.relative_to, value))
    if not _is_file(path):
        raise doc.error(
            f"extends {shown(value)}: no shipped baseline of that name "
            f"({', '.join(shipped)}) and no such file relative to this one"
            f"{did_you_mean(value, shipped)}",
            line,
        )
    return _Ref(path, display, display)


def _key(path: Path) -> Path:
    """The file's identity for cycle detection: symlinks and ``..`` resolved."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path


def _load(top: _Ref, *, text: str | None = None) -> Baseline:
    chain: list[FileSpec] = []
    seen: list[tuple[Path, str]] = []
    ref = top
    while True:
        if text is not None and ref is top:
            doc = parse(text, ref.display)
        else:
            doc = parse(read_text(ref.path, ref.display), ref.display)
        spec = validate_document(doc)
        spec.source = ref.source
        chain.append(spec)
        seen.append((_key(ref.path), ref.display))
        if spec.extends is None:
            break
        parent = _extends_ref(spec.extends, ref, doc)
        if any(_key(parent.path) == path for path, _ in seen):
            cycle = " -> ".join([*(display for _, display in seen), parent.display])
            raise doc.error(f"extends cycle: {cycle}", doc.line(("extends",)))
        if len(seen) >= MAX_CHAIN:
            raise doc.error(f"extends chain longer than {MAX_CHAIN} files", doc.line(("extends",)))
        ref = parent
    chain.reverse()
    return build(chain, [spec.source for spec in chain])


# --------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------

_WHAT = {
    FileModel: "top-level key",
    OverrideModel: "key in override",
    MatchModel: "match criterion",
    WaiverModel: "key in waiver",
}


def validate_document(doc: Document) -> FileSpec:
    """Validate one file on its own: structure, rule ids, parameters, globs, waivers."""
    if not isinstance(doc.data, dict):
        raise doc.error(
            "a baseline is a mapping with at least a name (name, settings, overrides, waivers)",
            doc.line(()),
        )
    top = _validated(FileModel, doc.data, doc, ())
    spec = FileSpec(
        name=top.name, description=top.description, extends=top.extends, display=doc.name
    )
    spec.settings = _layer(top.settings or {}, doc, ("settings",), in_override=False)
    globs: dict[str, tuple[str, int]] = {}
    for index, raw in enumerate(top.overrides or []):
        spec.overrides.append(_override(raw, doc, ("overrides", index), globs))
    for index, raw in enumerate(top.waivers or []):
        spec.waivers.append(_waiver(raw, doc, ("waivers", index)))
    return spec


def _override(
    raw: Any, doc: Document, loc: Loc, globs: dict[str, tuple[str, int]]
) -> tuple[Match, bool, dict[str, LayerSetting], str]:
    if not isinstance(raw, dict):
        raise doc.error("each override is a mapping with match and settings", doc.line(loc))
    model = _validated(OverrideModel, raw, doc, loc)
    match_loc = (*loc, "match")
    criteria = _validated(MatchModel, model.match, doc, match_loc)
    paths: tuple[str, ...] | None = None
    if criteria.path is not None:
        listed = [criteria.path] if isinstance(criteria.path, str) else criteria.path
        if not listed:
            raise doc.error("match path: give at least one glob", doc.line((*match_loc, "path")))
        single = isinstance(criteria.path, str)
        for index, glob in enumerate(listed):
            glob_loc = (*match_loc, "path") if single else (*match_loc, "path", index)
            line = doc.line(glob_loc)
            problem = glob_problem(glob)
            if problem:
                raise doc.error(problem, line)
            first = globs.get(glob.lower())
            if first is not None and first[0] != glob:
                raise doc.error(
                    f"override path {shown(glob)} differs only in case from {shown(first[0])} "
                    f"(line {first[1]}); GitLab paths are case-insensitive, so merge them",
                    line,
                )
            globs.setdefault(glob.lower(), (glob, line))
        paths = tuple(listed)
    match = Match(
        paths=paths,
        topics=tuple(criteria.topics) if criteria.topics is not None else None,
        visibility=tuple(criteria.visibility) if criteria.visibility is not None else None,
        archived=criteria.archived,
    )
    if match.criteria == 0:
        raise doc.error(
            "an override's match needs at least one of: path, topics, visibility, archived",
            doc.line(match_loc),
        )
    settings = _layer(model.settings or {}, doc, (*loc, "settings"), in_override=True)
    return match, model.inherit, settings, f"{doc.name}:{doc.line(loc)}"


def _waiver(raw: Any, doc: Document, loc: Loc) -> Waiver:
    if not isinstance(raw, dict):
        raise doc.error(
            "each waiver is a mapping with rule, target, reason, owner and expires", doc.line(loc)
        )
    model = _validated(WaiverModel, raw, doc, loc)
    if model.rule not in REGISTRY:
        raise doc.error(_unknown_rule(model.rule), doc.line((*loc, "rule")))
    problem = glob_problem(model.target)
    if problem:
        raise doc.error(problem, doc.line((*loc, "target")))
    return Waiver(
        rule=model.rule,
        target=model.target,
        item=model.item,
        reason=model.reason,
        owner=model.owner,
        expires=model.expires,
        source=f"{doc.name}:{doc.line(loc)}",
    )


def _unknown_rule(rule_id: str) -> str:
    return f"unknown rule id {shown(rule_id)}{did_you_mean(rule_id, REGISTRY)}"


# --------------------------------------------------------------------------------------
# Settings blocks
# --------------------------------------------------------------------------------------

_OVERRIDE_KINDS = {Target.GROUP, Target.PROJECT}


def _layer(
    settings: dict[str, Any], doc: Document, loc: Loc, *, in_override: bool
) -> dict[str, LayerSetting]:
    """One ``settings`` block: rule id → what this block says about the rule."""
    out: dict[str, LayerSetting] = {}
    for rule_id, value in settings.items():
        key_loc = (*loc, rule_id)
        line = doc.key_line(key_loc)
        rule = REGISTRY.get(rule_id)
        if rule is None:
            raise doc.error(_unknown_rule(rule_id), line)
        if in_override and not _OVERRIDE_KINDS.intersection(rule.targets):
            kinds = ", ".join(target.value for target in rule.targets)
            raise doc.error(
                f"rule {rule_id!r} judges {kinds} targets; overrides apply to groups and "
                "projects only, so set it in the top-level settings",
                line,
            )
        source = f"{doc.name}:{line}"
        if isinstance(value, bool):
            out[rule_id] = LayerSetting(rule_id, value, None, {}, source)
        elif isinstance(value, dict):
            out[rule_id] = _mapping_setting(rule, value, doc, key_loc, source)
        else:
            raise doc.error(
                f"setting for rule {rule_id!r} must be true, false or a mapping of parameters "
                f"(got {shown(value)}); write `true` to enable it with default parameters",
                doc.line(key_loc),
            )
    return out


def _mapping_setting(
    rule: Rule, value: dict[str, Any], doc: Document, loc: Loc, source: str
) -> LayerSetting:
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise doc.error(
            f"rule {rule.id!r}: enabled must be true or false (got {shown(enabled)})",
            doc.line((*loc, "enabled")),
        )
    severity: Severity | None = None
    if "severity" in value:
        raw = value["severity"]
        choices = [level.value for level in Severity]
        if not isinstance(raw, str) or raw not in choices:
            hint = did_you_mean(raw, choices) if isinstance(raw, str) else ""
            raise doc.error(
                f"rule {rule.id!r}: bad severity {shown(raw)} (one of {', '.join(choices)}){hint}",
                doc.line((*loc, "severity")),
            )
        severity = Severity(raw)
    params = {key: val for key, val in value.items() if key not in SETTING_KEYS}
    normalised = validate_params(rule, params, doc, loc)
    return LayerSetting(rule.id, enabled, severity, normalised, source)


def validate_params(rule: Rule, params: dict[str, Any], doc: Document, loc: Loc) -> dict[str, Any]:
    """Check parameters against the rule's model; return only the fields given, normalised."""
    try:
        instance = rule.params.model_validate_json(json.dumps(params), strict=True)
    except ValidationError as err:
        error = err.errors()[0]
        err_loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            name = str(err_loc[-1])
            fields = [*_field_names(rule.params), *SETTING_KEYS]
            raise doc.error(
                f"unknown parameter {shown(name)} for rule {rule.id!r}{did_you_mean(name, fields)}",
                doc.key_line((*loc, *err_loc)),
            ) from None
        label = _dotted(err_loc) or "parameters"
        raise doc.error(
            f"rule {rule.id!r} parameter {label}: {_message(error)}",
            doc.line((*loc, *err_loc)),
        ) from None
    except (ValueError, TypeError) as err:  # a params validator that raised outside pydantic
        message = f"rule {rule.id!r}: invalid parameters ({type(err).__name__})"
        raise doc.error(message, doc.line(loc)) from None
    return instance.model_dump(mode="json", by_alias=True, include=set(instance.model_fields_set))


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


# --------------------------------------------------------------------------------------
# Pydantic errors → one line
# --------------------------------------------------------------------------------------


def _validated(model: type[M], data: Any, doc: Document, loc: Loc) -> M:
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as err:
        _raise(err, model, doc, loc)


def _raise(err: ValidationError, model: type[BaseModel], doc: Document, loc: Loc) -> NoReturn:
    errors = err.errors()
    error = errors[0]
    err_loc = tuple(error["loc"])
    what = _WHAT.get(model, "key")
    if error["type"] == "extra_forbidden":
        name = str(err_loc[-1])
        raise doc.error(
            f"unknown {what} {shown(name)}{did_you_mean(name, _field_names(model))}",
            doc.key_line((*loc, *err_loc)),
        ) from None
    if error["type"] == "missing":
        owner = {FileModel: "the baseline", OverrideModel: "override", WaiverModel: "waiver"}
        raise doc.error(
            f"{owner.get(model, 'mapping')} is missing required key {shown(err_loc[-1])}",
            doc.line((*loc, *err_loc[:-1])),
        ) from None
    # keep the part of the location that exists in the file (drop union member tags)
    real = _existing(doc, loc, err_loc)
    label = _dotted((*loc, *real)) or "baseline"
    alternatives = [e for e in errors if _existing(doc, loc, tuple(e["loc"])) == real]
    if str(error["type"]).startswith("date") and real[-1:] == ("expires",):
        message = f"must be an ISO date like 2027-03-31 (got {shown(error['input'])})"
    elif len(alternatives) > 1:
        message = f"wrong type (got {shown(error['input'])})"
    else:
        message = _message(error)
    raise doc.error(f"{label}: {message}", doc.line((*loc, *real))) from None


def _existing(doc: Document, loc: Loc, err_loc: tuple[Any, ...]) -> Loc:
    real: Loc = ()
    for part in err_loc:
        if (*loc, *real, part) in doc.value_lines:
            real = (*real, part)
        else:
            break
    return real


def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_YAML_WORDS = (
    ("a valid array", "a list"),
    ("a valid list", "a list"),
    ("a valid dictionary", "a mapping"),
    ("a valid object", "a mapping"),
    ("be an object", "be a mapping"),
    ("be an array", "be a list"),
)


def _message(error: Any) -> str:
    msg = str(error["msg"])
    if error["type"] == "string_too_short":
        msg = "must not be empty"
    elif error["type"] == "string_pattern_mismatch":
        msg = "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    for pydantic_word, yaml_word in _YAML_WORDS:
        msg = msg.replace(pydantic_word, yaml_word)
    msg = msg[:1].lower() + msg[1:]
    value = error.get("input")
    if not isinstance(value, dict | list):
        msg += f" (got {shown(value)})"
    return msg
