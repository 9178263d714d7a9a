"""Every loader of a file a user hands posture refuses bad input with posture's own one-line
error — never another exception, never a traceback. Hypothesis feeds arbitrary text and
damaged copies of valid documents."""

from __future__ import annotations

import io
import json
import os
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture import findings as findings_io
from posture import snapshot as snapshot_io
from posture.drift import model as drift_io
from posture.errors import PostureError
from posture.evidence import verify_bundle

GOLDEN = Path(__file__).parents[1] / "golden"
#: FUZZ_EXAMPLES=600 for a longer hunt by hand; the suite runs 60 per loader.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def _valid(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _refuses_cleanly(load, text: str) -> None:  # type: ignore[no-untyped-def]
    try:
        load(text, "<fuzz>")
    except PostureError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith("<fuzz>")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _damage(document: dict[str, Any], path: list[str], value: Any) -> str:
    """The document with the value at a random existing path replaced."""
    node: Any = document
    copy = json.loads(json.dumps(document))
    node = copy
    for step in path[:-1]:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and node:
            node = node[0]
        else:
            break
    if isinstance(node, dict) and path:
        node[path[-1]] = value
    return json.dumps(copy)


paths = st.lists(
    st.sampled_from(
        ["meta", "run", "projects", "groups", "variables", "data", "status", "changes", "findings",
         "summary", "schema_version", "kind", "tool", "id", "visibility", "old", "new"]
    ),
    min_size=1,
    max_size=4,
)  # fmt: skip


@FUZZ
@given(st.text(max_size=300))
def test_snapshot_loader_text(text: str) -> None:
    _refuses_cleanly(snapshot_io.loads, text)


@FUZZ
@given(paths, json_values)
def test_snapshot_loader_damaged(path: list[str], value: Any) -> None:
    _refuses_cleanly(snapshot_io.loads, _damage(_valid("demo.snapshot.json"), path, value))


@FUZZ
@given(st.integers(0, 200_000))
def test_snapshot_loader_truncated(cut: int) -> None:
    text = (GOLDEN / "demo.snapshot.json").read_text(encoding="utf-8")
    _refuses_cleanly(snapshot_io.loads, text[: cut % len(text)])


@FUZZ
@given(paths, json_values)
def test_findings_loader_damaged(path: list[str], value: Any) -> None:
    _refuses_cleanly(findings_io.loads, _damage(_valid("demo-minimal.json"), path, value))


@FUZZ
@given(paths, json_values)
def test_drift_loader_damaged(path: list[str], value: Any) -> None:
    _refuses_cleanly(drift_io.loads, _damage(_valid("drift/demo.diff.json"), path, value))


@FUZZ
@given(st.text(max_size=200))
def test_findings_and_drift_loaders_text(text: str) -> None:
    _refuses_cleanly(findings_io.loads, text)
    _refuses_cleanly(drift_io.loads, text)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@FUZZ
@given(st.binary(max_size=400))
def test_evidence_verify_never_crashes_on_bytes(data: bytes) -> None:
    _verify_refuses(data)


def _verify_refuses(data: bytes) -> None:
    """Not a bundle: either a clean refusal to read it (exit 2) or a failed verification."""
    try:
        result = verify_bundle(data, key=None)
    except PostureError as exc:
        message = str(exc)
        assert "\n" not in message
        return
    assert not result.ok
    assert result.problems


@FUZZ
@given(st.dictionaries(st.text(min_size=1, max_size=30), st.binary(max_size=50), max_size=5))
def test_evidence_verify_never_crashes_on_zips(members: dict[str, bytes]) -> None:
    try:
        data = _zip(members)
    except (ValueError, UnicodeEncodeError, IndexError):
        return  # names zipfile itself cannot write
    _verify_refuses(data)
