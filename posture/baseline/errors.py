"""The one error a baseline can raise: a single line naming the file and line to fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from posture.errors import ConfigError


class BaselineError(ConfigError):
    """A baseline file is unreadable, malformed or inconsistent.

    The message is ``"<file>:<line>: <problem>"`` when a line is known, so an editor or a CI
    log viewer can jump to it. ``file`` and ``line`` are kept for callers that want them.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        self.problem = message
        if file is not None and line is not None:
            text = f"{file}:{line}: {message}"
        elif file is not None:
            text = f"{file}: {message}"
        else:
            text = message
        super().__init__(" ".join(text.split("\n")))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing: typos are the usual cause."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def shown(value: object, limit: int = 60) -> str:
    """A short repr of a value from the file for a message; long values are cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
