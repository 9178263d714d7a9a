"""Fuzzing the loader: whatever the input, the only exception is BaselineError."""

from __future__ import annotations

import contextlib
import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture.baseline import BaselineError, load_baseline, load_baseline_text
from posture.rules import REGISTRY

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

YAML_BITS = st.sampled_from(
    [
        "name: x\n", "settings:\n", "  project.visibility: ", "{allowed: [", "]}\n", "&a ", "*a",
        "!!python/object:os.system ", "- ", "? ", ": ", "'", '"', "\t", "#", "---\n", "...\n",
        "%YAML 1.1\n", "<<: ", "2027-02-30", "true", "~", "[", "{", "}", "]", "\n", "  ",
        "extends: ", "overrides:\n  - match: {path: ", "waivers:\n  - ", "\x00", "\ufeff",
    ]
)  # fmt: skip


def _load(text: str, directory: Path) -> None:
    message = ""
    try:
        load_baseline_text(text, directory=directory)
    except BaselineError as err:
        message = str(err)
    assert "\n" not in message  # one line, whatever went wrong


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text(tmp_path, text: str) -> None:
    _load(text, tmp_path)


@FUZZ
@given(parts=st.lists(YAML_BITS | st.text(string.printable, max_size=8), max_size=40))
def test_yaml_shaped_text(tmp_path, parts: list[str]) -> None:
    _load("".join(parts), tmp_path)


@FUZZ
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_in_a_file(tmp_path, data: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    with contextlib.suppress(BaselineError):
        load_baseline(path)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(["private", "public", "critical", "a/**", "2027-03-31", "gitlab-hardening"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.sampled_from(["allowed", "enabled"]), inner,
                      max_size=4),
    max_leaves=12,
)  # fmt: skip
RULE_IDS = st.sampled_from(sorted(REGISTRY)) | st.text(max_size=20)
SETTINGS = st.dictionaries(RULE_IDS, st.booleans() | VALUES, max_size=4)
MATCH = st.fixed_dictionaries(
    {},
    optional={
        "path": st.sampled_from(["a/**", "*", "A/b", "", "a//b", "**/x"]) | VALUES,
        "topics": VALUES,
        "visibility": st.lists(st.sampled_from(["private", "public", "secret"]), max_size=3),
        "archived": VALUES,
    },
)
OVERRIDE = st.fixed_dictionaries(
    {"match": MATCH | VALUES}, optional={"inherit": VALUES, "settings": SETTINGS | VALUES}
)
WAIVER = st.fixed_dictionaries(
    {},
    optional={
        "rule": RULE_IDS,
        "target": st.text(max_size=10),
        "item": VALUES,
        "reason": st.text(max_size=10),
        "owner": st.text(max_size=10),
        "expires": st.dates() | st.text(max_size=12) | VALUES,
    },
)
DOCUMENT = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["acme", "Bad Name", ""]) | VALUES,
        "description": VALUES,
        "extends": st.sampled_from(["minimal", "missing.yaml", "../x", "\x00"]) | VALUES,
        "settings": SETTINGS | VALUES,
        "overrides": st.lists(OVERRIDE | VALUES, max_size=3) | VALUES,
        "waivers": st.lists(WAIVER | VALUES, max_size=3) | VALUES,
        "unknown": VALUES,
    },
)


@FUZZ
@given(document=DOCUMENT | VALUES)
def test_structured_documents(tmp_path, document) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True), tmp_path)
