"""JSON Schema of the baseline format, so editors complete rule ids and parameters.

Built from the rule registry: each rule id is a property of ``settings`` with the rule's own
parameters beside ``enabled`` and ``severity``. ``docs/baseline.schema.json`` is this output;
a test fails when it is stale. Regenerate it with::

    python -m posture.baseline.schema > docs/baseline.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from posture.baseline.model import NAME_PATTERN, VISIBILITIES
from posture.rules import REGISTRY
from posture.rules.base import Rule, Severity

SCHEMA_ID = (
    "https://raw.githubusercontent.com/posture-dev/gitlab-posture/main/docs/baseline.schema.json"
)


def _rewrite_refs(node: Any, prefix: str) -> Any:
    """Point a rule's ``$ref``s at its definitions once they are moved under a prefix."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/$defs/{prefix}{value[len('#/$defs/') :]}"
            else:
                out[key] = _rewrite_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


def _rule_schema(rule: Rule, defs: dict[str, Any]) -> dict[str, Any]:
    params = rule.params.model_json_schema(by_alias=True, mode="validation")
    prefix = f"{rule.id}."
    for name, definition in params.get("$defs", {}).items():
        defs[prefix + name] = _rewrite_refs(definition, prefix)
    properties = {
        "enabled": {
            "type": "boolean",
            "default": True,
            "description": "false switches the rule off; listing it switches it on",
        },
        "severity": {
            "$ref": "#/$defs/severity",
            "description": f"overrides the default severity ({rule.severity.value})",
        },
        **_rewrite_refs(params.get("properties", {}), prefix),
    }
    targets = ", ".join(target.value for target in rule.targets)
    description = f"{rule.title}. Targets: {targets}. Default severity: {rule.severity.value}."
    if not rule.default_enabled:
        description += " Off by default (opt-in)."
    return {
        "description": description,
        "anyOf": [
            {"type": "boolean", "description": "true: on with default parameters; false: off"},
            {"type": "object", "properties": properties, "additionalProperties": False},
        ],
    }


def baseline_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a baseline file, for the rules registered now."""
    defs: dict[str, Any] = {}
    rules = {rule_id: _rule_schema(REGISTRY[rule_id], defs) for rule_id in sorted(REGISTRY)}
    defs["severity"] = {"enum": [level.value for level in Severity]}
    defs["settings"] = {
        "type": "object",
        "description": "Rule settings keyed by rule id (posture rules lists them).",
        "properties": rules,
        "additionalProperties": False,
    }
    string_list = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
    defs["match"] = {
        "type": "object",
        "description": "Which groups and projects an override applies to; all criteria given "
        "must hold.",
        "properties": {
            "path": {
                "description": "path glob (or list): * one segment, ** any depth; ignores case",
                "anyOf": [{"type": "string", "minLength": 1}, string_list],
            },
            "topics": {**string_list, "description": "projects with any of these topics"},
            "visibility": {
                "type": "array",
                "items": {"enum": list(VISIBILITIES)},
                "minItems": 1,
            },
            "archived": {"type": "boolean"},
        },
        "additionalProperties": False,
        "minProperties": 1,
    }
    defs["override"] = {
        "type": "object",
        "properties": {
            "match": {"$ref": "#/$defs/match"},
            "inherit": {
                "type": "boolean",
                "default": True,
                "description": "false: start from nothing; only the settings here apply",
            },
            "settings": {"$ref": "#/$defs/settings"},
        },
        "required": ["match"],
        "additionalProperties": False,
    }
    defs["waiver"] = {
        "type": "object",
        "properties": {
            "rule": {"enum": sorted(REGISTRY)},
            "target": {
                "type": "string",
                "minLength": 1,
                "description": 'path glob: group or project path, "instance" or "runners/<id>"',
            },
            "item": {"type": "string", "minLength": 1, "description": "glob on the item"},
            "reason": {"type": "string", "minLength": 1},
            "owner": {"type": "string", "minLength": 1},
            "expires": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
        },
        "required": ["rule", "target", "reason", "owner", "expires"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "posture baseline",
        "description": "A GitLab configuration baseline for posture (docs/baseline.md).",
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN},
            "description": {"type": "string"},
            "extends": {
                "type": "string",
                "description": "a shipped baseline (gitlab-hardening, minimal) or a path "
                "relative to this file",
            },
            "settings": {"$ref": "#/$defs/settings"},
            "overrides": {"type": "array", "items": {"$ref": "#/$defs/override"}},
            "waivers": {"type": "array", "items": {"$ref": "#/$defs/waiver"}},
        },
        "required": ["name"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    """The schema as committed in docs/baseline.schema.json: stable bytes."""
    return json.dumps(baseline_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
