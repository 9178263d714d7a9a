"""From validated files to the settings that apply to one target.

Layers merge per rule: a mapping merges field by field over what came before, a bool only
switches the rule on or off. The extends chain is merged root first; then, for a group or
project, every matching override is applied from the least to the most specific, so the
narrowest scope wins; ``inherit: false`` starts that target from nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from posture.baseline.errors import BaselineError
from posture.baseline.model import FileSpec, LayerSetting, Override, RuleSetting
from posture.baseline.waivers import Waiver
from posture.rules import REGISTRY
from posture.rules.base import Params, Severity, Target

_OVERRIDABLE = (Target.GROUP, Target.PROJECT)


@dataclass(frozen=True)
class _State:
    """A rule as resolved so far for some target."""

    enabled: bool
    severity: Severity | None
    params: Mapping[str, Any]
    source: str


def _apply(state: dict[str, _State], layer: Mapping[str, LayerSetting]) -> None:
    for rule_id, setting in layer.items():
        before = state.get(rule_id)
        params = {**before.params, **setting.params} if before else dict(setting.params)
        severity = setting.severity or (before.severity if before else None)
        state[rule_id] = _State(setting.enabled, severity, params, setting.source)


def _params(rule_id: str, state: _State) -> Params:
    """The rule's params model for merged fields (each layer was checked when loaded)."""
    try:
        return REGISTRY[rule_id].params.model_validate_json(json.dumps(state.params), strict=True)
    except (ValidationError, ValueError, TypeError) as err:
        raise BaselineError(
            f"{state.source}: parameters of rule {rule_id!r} are inconsistent once merged "
            f"({type(err).__name__})"
        ) from None


def _setting(rule_id: str, state: _State) -> RuleSetting:
    return RuleSetting(
        rule_id=rule_id,
        enabled=state.enabled,
        severity=state.severity or REGISTRY[rule_id].severity,
        params=_params(rule_id, state),
        source=state.source,
    )


class Baseline:
    """A loaded, validated baseline: what to check, with which parameters, for which target."""

    def __init__(
        self,
        *,
        name: str,
        description: str | None,
        sources: list[str],
        base: dict[str, _State],
        overrides: list[Override],
        waivers: list[Waiver],
    ) -> None:
        self.name = name
        self.description = description
        self.sources = sources
        self.waivers = waivers
        self._base = base
        self._overrides = overrides
        self._cache: dict[tuple[Target, tuple[int, ...]], dict[str, RuleSetting]] = {}
        self._base_settings = {rule_id: _setting(rule_id, s) for rule_id, s in base.items()}
        for override in overrides:  # surface merge problems at load time, not mid-audit
            self._resolve(Target.PROJECT, (override.index,))
        self.digest = "sha256:" + hashlib.sha256(_canonical(self._content())).hexdigest()

    # -- what the evaluator asks --------------------------------------------------------

    def enabled_rules(self) -> list[str]:
        """Rule ids enabled anywhere: in the base settings or in any override."""
        enabled = {rule_id for rule_id, state in self._base.items() if state.enabled}
        for override in self._overrides:
            enabled.update(rule_id for rule_id, s in override.settings.items() if s.enabled)
        return sorted(enabled)

    def settings_for(
        self,
        kind: Target | str,
        path: str | None = None,
        *,
        topics: Iterable[str] = (),
        visibility: str | None = None,
        archived: bool | None = None,
    ) -> dict[str, RuleSetting]:
        """The enabled rules for one target, with their parameters and severity.

        Overrides apply to groups and projects; the instance and runners use the base
        settings. Only rules that judge ``kind`` are returned.
        """
        kind = Target(kind)
        applied: tuple[int, ...] = ()
        if kind in _OVERRIDABLE and self._overrides:
            topic_tuple = tuple(topics)
            ranked = []
            for override in self._overrides:
                rank = override.match.specificity(path, topic_tuple, visibility, archived)
                if rank is not None:
                    ranked.append((rank, override.index))
            applied = tuple(index for _, index in sorted(ranked))
        return dict(self._resolve(kind, applied))

    def _resolve(self, kind: Target, applied: tuple[int, ...]) -> dict[str, RuleSetting]:
        key = (kind, applied)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if applied:
            state = dict(self._base)
            for index in applied:
                override = self._overrides[index]
                if not override.inherit:
                    state = {}
                _apply(state, override.settings)
            settings = {
                rule_id: self._base_settings[rule_id]
                if self._base.get(rule_id) == s
                else _setting(rule_id, s)
                for rule_id, s in state.items()
                if s.enabled
            }
        else:
            settings = {r: s for r, s in self._base_settings.items() if s.enabled}
        result = {
            rule_id: setting
            for rule_id, setting in sorted(settings.items())
            if kind in REGISTRY[rule_id].targets
        }
        self._cache[key] = result
        return result

    # -- what people read ----------------------------------------------------------------

    def _content(self) -> dict[str, Any]:
        """The resolved baseline without where it came from: what the digest covers."""
        return {
            "name": self.name,
            "description": self.description,
            "settings": {
                rule_id: {
                    "enabled": setting.enabled,
                    "severity": setting.severity.value,
                    "params": setting.params.model_dump(mode="json", by_alias=True),
                }
                for rule_id, setting in sorted(self._base_settings.items())
            },
            "overrides": [
                {
                    "match": override.match.to_dict(),
                    "inherit": override.inherit,
                    "settings": {
                        rule_id: layer.to_dict()
                        for rule_id, layer in sorted(override.settings.items())
                    },
                }
                for override in self._overrides
            ],
            "waivers": [waiver.to_dict() for waiver in self.waivers],
        }

    def resolved(self) -> dict[str, Any]:
        """JSON-ready resolved baseline for ``posture baseline show``, with sources."""
        content = self._content()
        for rule_id, entry in content["settings"].items():
            entry["source"] = self._base_settings[rule_id].source
        for entry, override in zip(content["overrides"], self._overrides, strict=True):
            entry["source"] = override.source
            for rule_id, layer in entry["settings"].items():
                layer["source"] = override.settings[rule_id].source
        for entry, waiver in zip(content["waivers"], self.waivers, strict=True):
            entry["source"] = waiver.source
        return _sorted({"digest": self.digest, "sources": list(self.sources), **content})

    def to_yaml(self) -> str:
        """The resolved baseline as a loadable YAML file, a comment saying where each part came
        from. Loading it gives the same digest (extends already applied)."""
        lines = [
            f"# Resolved baseline {self.name!r}: extends applied, every parameter written out.",
            f"# Loading this file gives the same digest: {self.digest}",
            "# sources, most general first:",
            *(f"#   - {source}" for source in self.sources),
            f"name: {_scalar(self.name)}",
        ]
        if self.description is not None:
            lines.append(f"description: {_scalar(self.description)}")
        lines.append("settings:" if self._base_settings else "settings: {}")
        for rule_id, setting in sorted(self._base_settings.items()):
            value = {
                "enabled": setting.enabled,
                "severity": setting.severity.value,
                **setting.params.model_dump(mode="json", by_alias=True),
            }
            lines.append(f"  {rule_id}: {_flow(value)}  # {setting.source}")
        lines.append("overrides:" if self._overrides else "overrides: []")
        for override in self._overrides:
            lines.append(f"  # {override.source}")
            lines.append(f"  - match: {_flow(override.match.to_dict())}")
            lines.append(f"    inherit: {_flow(override.inherit)}")
            lines.append("    settings:" if override.settings else "    settings: {}")
            for rule_id, layer in sorted(override.settings.items()):
                value = {"enabled": layer.enabled, **layer.params}
                if layer.severity is not None:
                    value["severity"] = layer.severity.value
                lines.append(f"      {rule_id}: {_flow(value)}  # {layer.source}")
        lines.append("waivers:" if self.waivers else "waivers: []")
        for waiver in self.waivers:
            lines.append(f"  # {waiver.source}")
            entry = waiver.to_dict()
            first = True
            for key in ("rule", "target", "item", "reason", "owner", "expires"):
                if entry[key] is None:
                    continue
                text = entry[key] if key == "expires" else _scalar(entry[key])
                lines.append(f"  {'- ' if first else '  '}{key}: {text}")
                first = False
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"Baseline(name={self.name!r}, digest={self.digest!r})"


def build(chain: list[FileSpec], sources: list[str]) -> Baseline:
    """Merge an extends chain, root first: settings per rule, overrides and waivers appended."""
    base: dict[str, _State] = {}
    overrides: list[Override] = []
    waivers: list[Waiver] = []
    for spec in chain:
        _apply(base, spec.settings)
        for match, inherit, settings, source in spec.overrides:
            overrides.append(Override(len(overrides), match, inherit, settings, source))
        waivers.extend(spec.waivers)
    top = chain[-1]
    return Baseline(
        name=top.name,
        description=top.description,
        sources=sources,
        base=base,
        overrides=overrides,
        waivers=waivers,
    )


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _flow(value: Any) -> str:
    return (
        yaml.safe_dump(
            value, default_flow_style=True, sort_keys=True, width=10**9, allow_unicode=True
        )
        .strip()
        .removesuffix("\n...")
        .removesuffix("...")
        .strip()
    )
