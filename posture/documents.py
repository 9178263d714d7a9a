"""Loading posture's own JSON documents (findings, drift): kind and version checked first.

One place, so every document refuses the same way: not JSON, not ours, a newer schema, or a
field that does not validate — each as one line naming the file.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from posture.errors import SnapshotFormatError

M = TypeVar("M", bound=BaseModel)


def load_document(text: str, source: str, *, kind: str, max_version: int, model: type[M]) -> M:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(
            f"{source}: not a {kind} file: invalid JSON at line {exc.lineno}"
        ) from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise SnapshotFormatError(f"{source}: not a posture {kind} file")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > max_version or version < 1:
        raise SnapshotFormatError(f"{source}: unsupported {kind} schema_version {version!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SnapshotFormatError(f"{source}: invalid {kind} at {where}: {first['msg']}") from None
