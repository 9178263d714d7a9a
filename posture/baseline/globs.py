"""Path globs for overrides and waivers, matched the way GitLab compares paths.

``*`` matches within one path segment, ``**`` matches any number of segments (zero
included, so ``acme-oss/**`` covers the group ``acme-oss`` itself and everything below it),
``?`` one character. GitLab treats paths case-insensitively, so matching ignores case.
"""

from __future__ import annotations

import re
from functools import lru_cache

WILDCARDS = ("*", "?")


def glob_problem(pattern: str) -> str | None:
    """Why a path glob is unusable, or None when it is fine."""
    if not pattern.strip():
        return "a path glob must not be empty"
    if pattern != pattern.strip():
        return f"path glob {pattern!r} has leading or trailing spaces"
    segments = pattern.strip("/").split("/")
    if any(segment == "" for segment in segments):
        return f"path glob {pattern!r} has an empty segment ('//')"
    for segment in segments:
        if "**" in segment and segment != "**":
            return f"path glob {pattern!r}: '**' must be a whole segment, like 'group/**'"
    return None


def literal_segments(pattern: str) -> int:
    """How many segments name something exactly: the measure of how specific a glob is."""
    return sum(
        1
        for segment in pattern.strip("/").split("/")
        if not any(char in segment for char in WILDCARDS)
    )


def _segment_regex(segment: str) -> str:
    return "".join(
        "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in segment
    )


@lru_cache(maxsize=4096)
def _path_regex(pattern: str) -> re.Pattern[str]:
    """One regex per glob: compiled once, so matching thousands of projects stays cheap."""
    segments = pattern.strip("/").split("/")
    if all(segment == "**" for segment in segments):
        return re.compile(".*", re.DOTALL)
    out = []
    after_segment = False  # whether a "/" is needed before the next literal segment
    for segment in segments:
        if segment == "**":
            out.append("(?:/[^/]+)*" if after_segment else "(?:[^/]+/)*")
        else:
            out.append(("/" if after_segment else "") + _segment_regex(segment))
            after_segment = True
    return re.compile("".join(out), re.IGNORECASE)


def path_matches(pattern: str, path: str) -> bool:
    """Whether a GitLab full path (or "instance", "runners/12") matches a path glob."""
    return bool(_path_regex(pattern).fullmatch(path.strip("/")))


@lru_cache(maxsize=4096)
def _item_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def item_matches(pattern: str, item: str | None) -> bool:
    """Whether an outcome's item ("hook 12", "main", "API_KEY@production") matches a glob.

    Items are not paths: ``*`` crosses ``/`` here (branch names like ``release/*``), and the
    comparison keeps case, since variable keys and branch names are case-sensitive in GitLab.
    """
    return bool(_item_regex(pattern).fullmatch(item or ""))
