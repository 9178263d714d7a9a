"""Safe YAML reading that remembers where every key and value came from.

A baseline is reviewed in merge requests and read in CI, so errors must point at a line.
PyYAML's node tree keeps marks; this module walks it (never constructing arbitrary objects:
only the plain YAML types below are accepted) and returns plain data plus a line table.

Hostile input is refused up front, not survived: files over :data:`MAX_BYTES`, anchors and
aliases (the "billion laughs" expansion needs them), custom tags such as
``!!python/object``, nesting deeper than :data:`MAX_DEPTH`, and duplicate keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from posture.baseline.errors import BaselineError, shown

MAX_BYTES = 1_000_000
MAX_DEPTH = 32

#: Plain YAML scalar tags; anything else (``!!python/...``, ``!!binary``, ``!custom``) is refused.
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

Loc = tuple[str | int, ...]


class _Refused(yaml.MarkedYAMLError):
    """Raised from inside the composer so the marks of the offending event are known."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases and deep nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(
                "YAML anchors and aliases are not supported in a baseline: write values out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass
class Document:
    """Plain data from one YAML file, with the line of every key and value in it."""

    name: str  # how the file is named in messages: the path as given, or "baselines/x.yaml"
    data: Any
    value_lines: dict[Loc, int] = field(default_factory=dict)
    key_lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """Line of the value at ``loc``, or of the nearest enclosing value that has one."""
        for end in range(len(loc), -1, -1):
            line = self.value_lines.get(loc[:end])
            if line is not None:
                return line
        return 1

    def key_line(self, loc: Loc) -> int:
        """Line of the key naming ``loc`` (where a typo in a key is), else of its value."""
        return self.key_lines.get(loc) or self.line(loc)

    def error(self, message: str, line: int) -> BaselineError:
        return BaselineError(message, file=self.name, line=line)


def read_text(path: Path, name: str) -> str:
    """The file's text, refusing huge and non-UTF-8 files before YAML ever sees them."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise BaselineError(f"cannot read baseline: {reason}", file=name) from None
    if len(raw) > MAX_BYTES:
        raise BaselineError(f"file is larger than {MAX_BYTES:,} bytes", file=name)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BaselineError(f"not UTF-8 text (byte {exc.start})", file=name) from None


def parse(text: str, name: str) -> Document:
    """Compose ``text`` safely and convert it to plain data with line numbers."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BaselineError(f"file is larger than {MAX_BYTES:,} bytes", file=name)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader checks characters here already
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        character = exc.character if isinstance(exc.character, int) else 0
        raise BaselineError(
            f"character #x{character:04x} is not allowed in YAML", file=name, line=line
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        prefix = "" if isinstance(exc, _Refused) else "YAML syntax error: "
        raise BaselineError(prefix + problem, file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise BaselineError(f"YAML error: {exc}", file=name) from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops this first
        raise BaselineError("nesting too deep", file=name) from None
    finally:
        if loader is not None:
            loader.dispose()
    doc = Document(name=name, data=None)
    if node is None:
        raise BaselineError("the file is empty: a baseline needs at least a name", file=name)
    assert loader is not None
    doc.data = _convert(node, (), doc, loader)
    return doc


def _tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _convert(node: Node, loc: Loc, doc: Document, loader: _Loader) -> Any:
    doc.value_lines[loc] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        if node.tag != _MAP_TAG:
            raise doc.error(
                f"unsupported YAML tag {shown(_tag(node.tag))}", node.start_mark.line + 1
            )
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                raise doc.error("mapping keys must be plain names", line)
            key = str(key_node.value)  # the text as written: `on:` stays "on", not True
            if key in out:
                first = doc.key_lines[(*loc, key)]
                raise doc.error(f"duplicate key {shown(key)} (first at line {first})", line)
            doc.key_lines[(*loc, key)] = line
            out[key] = _convert(value_node, (*loc, key), doc, loader)
        return out
    if isinstance(node, SequenceNode):
        if node.tag != _SEQ_TAG:
            raise doc.error(
                f"unsupported YAML tag {shown(_tag(node.tag))}", node.start_mark.line + 1
            )
        return [_convert(child, (*loc, i), doc, loader) for i, child in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    line = node.start_mark.line + 1
    if node.tag not in _SCALAR_TAGS:
        raise doc.error(f"unsupported YAML tag {shown(_tag(node.tag))}", line)
    if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
        return node.value  # YAML 1.2 reading: `on`, `yes`, `no` are words, not booleans
    try:
        value = loader.construct_object(node)
    except (ValueError, TypeError, OverflowError, yaml.YAMLError):
        if node.tag == "tag:yaml.org,2002:timestamp":
            raise doc.error(
                f"invalid date {shown(node.value)} (expected YYYY-MM-DD)", line
            ) from None
        raise doc.error(f"invalid value {shown(node.value)}", line) from None
    if isinstance(value, date | datetime):
        return value.isoformat()  # JSON-ready; a date field rejects a time part later
    return value
