"""The baselines that ship inside the package, found by name.

The canonical copies live in the repository's ``baselines/`` directory; identical copies are
packaged under ``posture/baselines/`` so an installed posture finds them (a test fails when
the two differ).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_BASELINE = "gitlab-hardening"


def shipped_dir() -> Path:
    return Path(str(resources.files("posture").joinpath("baselines")))


def shipped_baselines() -> dict[str, Path]:
    """``{"gitlab-hardening": Path, "minimal": Path}``: every shipped baseline by name."""
    directory = shipped_dir()
    return {path.stem: path for path in sorted(directory.glob("*.yaml"))}


def shipped_display(name: str) -> str:
    """How a shipped file is named in messages and setting sources: the same on every machine."""
    return f"baselines/{name}.yaml"


def shipped_source(name: str) -> str:
    return f"{name} (shipped)"
