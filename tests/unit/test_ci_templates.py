"""The GitLab CI templates we ship: valid YAML, commands posture accepts, no token in argv."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from posture.cli import build_parser

TEMPLATES = sorted((Path(__file__).parents[2] / "examples" / "ci").glob("*.gitlab-ci.yml"))
VALUES = {
    "POSTURE_GROUP": "acme",
    "POSTURE_BASELINE": "gitlab-hardening",
    "POSTURE_FAIL_ON": "high",
    "POSTURE_FAIL_ON_DRIFT": "weakening",
    "PREVIOUS": "--previous previous.snapshot.json --fail-on-drift weakening",
}


def _scripts(path: Path) -> list[str]:
    jobs = yaml.safe_load(path.read_text(encoding="utf-8"))
    lines: list[str] = []
    for job in jobs.values():
        if isinstance(job, dict):
            for key in ("before_script", "script", "after_script"):
                lines += job.get(key, [])
    return lines


def _expand(line: str) -> str:
    return re.sub(r'"?\$(\w+)"?', lambda m: VALUES.get(m.group(1), m.group(0)), line)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_posture_commands_parse_and_take_no_token(path: Path) -> None:
    commands = [line for line in _scripts(path) if line.lstrip().startswith("posture ")]
    assert commands
    for line in commands:
        argv = shlex.split(_expand(line))[1:]
        assert "--token" not in argv
        assert "--private-token" not in argv
        build_parser().parse_args(argv)  # raises SystemExit on an option posture lacks


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_embedded_python_compiles(path: Path) -> None:
    for line in _scripts(path):
        match = re.search(r"<<'PY'\n(.*?)\nPY", line, re.S)
        if match:
            compile(match.group(1), f"{path.name}:python", "exec")


def test_nightly_compares_with_last_night() -> None:
    text = (TEMPLATES[0].parent / "posture-nightly.gitlab-ci.yml").read_text(encoding="utf-8")
    assert "--previous previous.snapshot.json" in text
    assert "posture.snapshot.json" in text
