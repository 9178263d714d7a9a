"""Progress feedback for long crawls, on stderr so stdout stays clean for reports.

Three display modes:

* ``bar`` (a terminal): one line redrawn in place with ``\\r`` and clear-to-end-of-line, at
  most about ten times a second, cut to the terminal's width so it never wraps.
* ``lines`` (CI logs, pipes): a plain line every ``interval`` seconds and never more often, so
  a long audit shows it is alive without flooding the job log.
* ``off`` (``--quiet``): nothing at all.

``auto`` picks ``bar`` when the stream is a terminal and ``lines`` otherwise. Crawler workers
call :meth:`Progress.advance` from many threads; every method is thread-safe. A display
problem (a closed or broken stream) switches progress off instead of failing the audit.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from posture.errors import ConfigError

__all__ = ["MODES", "Progress"]

MODES = ("auto", "bar", "lines", "off")

_BAR_MIN_INTERVAL = 0.1  # seconds between bar redraws: about ten a second at most
_BAR_CELLS = 18
_CLEAR_EOL = "\x1b[K"
_ORDER = ("groups", "projects")  # known kinds first, others alphabetically after


def _percent(done: int, total: int) -> int:
    if total <= 0:
        return 100
    return max(0, min(100, done * 100 // total))


def _clock_time(seconds: float) -> str:
    """0:42, 12:05, 1:02:03: elapsed time as a terminal clock shows it."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _duration(seconds: float) -> str:
    """42s, 3m05s, 1h02m: a duration that reads well in a log line."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Thread-safe crawl progress: counts per kind, request statistics, elapsed time."""

    def __init__(
        self,
        stream: TextIO = sys.stderr,
        *,
        mode: str = "auto",
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown progress mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode == "auto":
            mode = "bar" if _isatty(stream) else "lines"
        self._stream = stream
        self._mode = mode
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._requests = 0
        self._waited = 0.0
        self._last_draw: float | None = None  # bar: last redraw; lines: last line written
        self._drawn = False
        self._closed = mode == "off"

    @property
    def mode(self) -> str:
        """The resolved mode: ``bar``, ``lines`` or ``off`` (never ``auto``)."""
        return self._mode

    # -- updates ---------------------------------------------------------------------------

    def set_total(self, kind: str, total: int) -> None:
        """Declare how many items of ``kind`` the crawl will visit, once it is known."""
        with self._lock:
            self._totals[kind] = total
            self._done.setdefault(kind, 0)
            self._update()

    def advance(self, kind: str, n: int = 1) -> None:
        """Count ``n`` more finished items of ``kind``; called from worker threads."""
        with self._lock:
            self._done[kind] = self._done.get(kind, 0) + n
            self._update()

    def set_stats(self, requests: int, rate_limit_wait: float) -> None:
        """Record totals so far: requests issued and seconds spent waiting on rate limits."""
        with self._lock:
            self._requests = requests
            self._waited = rate_limit_wait
            self._update()

    def close(self) -> None:
        """Stop displaying; in bar mode clear the bar line. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._mode == "bar" and self._drawn:
                self._write("\r" + _CLEAR_EOL)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- rendering (called with the lock held) ---------------------------------------------

    def _update(self) -> None:
        if self._closed:
            return
        now = self._clock()
        if self._mode == "bar":
            if self._last_draw is not None and now - self._last_draw < _BAR_MIN_INTERVAL:
                return
            self._last_draw = now
            line = self._bar_line(now)
            width = _terminal_columns() - 1  # the last column would wrap on some terminals
            self._write("\r" + line[: max(0, width)] + _CLEAR_EOL)
            self._drawn = True
        else:
            since = self._start if self._last_draw is None else self._last_draw
            if now - since < self._interval:
                return
            self._last_draw = now
            self._write(self._log_line(now) + "\n")

    def _kinds(self) -> list[str]:
        known = [kind for kind in _ORDER if kind in self._done]
        return known + sorted(kind for kind in self._done if kind not in _ORDER)

    def _bar_line(self, now: float) -> str:
        fields: list[str] = []
        for kind in self._kinds():
            done, total = self._done[kind], self._totals.get(kind)
            if total is None:
                fields.append(f"{kind} {done:,}")
                continue
            text = f"{kind} {done:,}/{total:,}"
            if kind == self._bar_kind():
                percent = _percent(done, total)
                filled = _BAR_CELLS * percent // 100
                text += f" [{'#' * filled}{'-' * (_BAR_CELLS - filled)}] {percent}%"
            fields.append(text)
        fields.append(f"{self._requests:,} requests")
        fields.append(f"waited {_duration(self._waited)}")
        fields.append(_clock_time(now - self._start))
        return " · ".join(fields)

    def _bar_kind(self) -> str | None:
        """The kind the bar and percentage follow: projects (the bulk of the work) once their
        total is known, groups before that."""
        for kind in ("projects", "groups"):
            if kind in self._totals:
                return kind
        return None

    def _log_line(self, now: float) -> str:
        lead = self._bar_kind()
        fields: list[str] = []
        for kind in sorted(self._kinds(), key=lambda k: k != lead):
            done, total = self._done[kind], self._totals.get(kind)
            if total is None:
                fields.append(f"{kind} {done}")
            elif kind == lead:
                fields.append(f"{kind} {done}/{total} ({_percent(done, total)}%)")
            else:
                fields.append(f"{kind} {done}/{total}")
        fields.append(f"{self._requests} requests")
        if self._waited >= 1:
            fields.append(f"waited {_duration(self._waited)} for rate limits")
        fields.append(f"{_duration(now - self._start)} elapsed")
        return "posture: " + ", ".join(fields)

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # closed or broken stream: stop showing, keep auditing
            self._closed = True


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _terminal_columns() -> int:
    return shutil.get_terminal_size(fallback=(80, 24)).columns
