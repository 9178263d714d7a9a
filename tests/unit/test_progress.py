"""Progress display: what a user sees on a terminal and in a CI log, driven by a fake clock."""

from __future__ import annotations

import io
import os
import threading

import pytest

from posture.errors import ConfigError
from posture.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "posture.progress.shutil.get_terminal_size",
        lambda fallback=(80, 24): os.terminal_size((200, 24)),
    )


def last_bar(stream: io.StringIO) -> str:
    """The text of the most recent redraw, as the terminal would show it."""
    frame = stream.getvalue().rsplit("\r", 1)[-1]
    return frame.removesuffix("\x1b[K")


# ----------------------------------------------------------------------------------------------
# Mode selection
# ----------------------------------------------------------------------------------------------


def test_auto_is_bar_on_a_terminal_and_lines_elsewhere(clock: FakeClock) -> None:
    assert Progress(TtyStream(), clock=clock).mode == "bar"
    assert Progress(io.StringIO(), clock=clock).mode == "lines"


def test_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="progress mode"):
        Progress(io.StringIO(), mode="fancy")


def test_off_writes_nothing(clock: FakeClock) -> None:
    stream = TtyStream()
    with Progress(stream, mode="off", clock=clock) as progress:
        progress.set_total("projects", 10)
        for _ in range(10):
            clock.tick(30)
            progress.advance("projects")
        progress.set_stats(100, 5.0)
    assert stream.getvalue() == ""


# ----------------------------------------------------------------------------------------------
# Bar mode
# ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("wide_terminal")
def test_bar_shows_counts_bar_requests_wait_and_elapsed(clock: FakeClock) -> None:
    stream = TtyStream()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.set_total("groups", 12)
    progress.advance("groups", 12)
    progress.set_total("projects", 1200)
    progress.advance("projects", 339)
    progress.set_stats(3456, 0.0)
    clock.tick(42)
    progress.advance("projects")
    assert last_bar(stream) == (
        "groups 12/12 · projects 340/1,200 [#####-------------] 28% · 3,456 requests"
        " · waited 0s · 0:42"
    )


@pytest.mark.usefixtures("wide_terminal")
def test_bar_redraws_in_place(clock: FakeClock) -> None:
    stream = TtyStream()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.set_total("projects", 3)
    for _ in range(3):
        clock.tick(1)
        progress.advance("projects")
    output = stream.getvalue()
    assert "\n" not in output
    frames = [frame for frame in output.split("\r") if frame]
    assert len(frames) == 4
    assert all(frame.endswith("\x1b[K") for frame in frames)


@pytest.mark.usefixtures("wide_terminal")
def test_bar_updates_at_most_ten_times_a_second(clock: FakeClock) -> None:
    stream = TtyStream()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.set_total("projects", 10_000)
    for _ in range(1000):  # 1,000 updates over one second
        clock.tick(0.001)
        progress.advance("projects")
    assert stream.getvalue().count("\r") <= 11


@pytest.mark.usefixtures("wide_terminal")
def test_bar_with_unknown_totals_shows_counts_only(clock: FakeClock) -> None:
    stream = TtyStream()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.advance("groups", 3)
    clock.tick(1)
    progress.advance("projects", 1234)
    bar = last_bar(stream)
    assert bar.startswith("groups 3 · projects 1,234 · 0 requests")
    assert "[" not in bar
    assert "%" not in bar


def test_bar_is_cut_to_the_terminal_width(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "posture.progress.shutil.get_terminal_size",
        lambda fallback=(80, 24): os.terminal_size((40, 24)),
    )
    stream = TtyStream()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.set_total("projects", 1200)
    clock.tick(1)
    progress.advance("projects", 340)
    bar = last_bar(stream)
    assert len(bar) == 39  # one column spare so the line never wraps
    assert bar.startswith("projects 340/1,200 [")


@pytest.mark.usefixtures("wide_terminal")
def test_close_clears_the_bar_once(clock: FakeClock) -> None:
    stream = TtyStream()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.set_total("projects", 5)
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    size = len(stream.getvalue())
    progress.close()
    progress.advance("projects")  # after close nothing more is drawn
    assert len(stream.getvalue()) == size


def test_close_without_drawing_writes_nothing(clock: FakeClock) -> None:
    stream = TtyStream()
    Progress(stream, mode="bar", clock=clock).close()
    assert stream.getvalue() == ""


@pytest.mark.usefixtures("wide_terminal")
def test_context_manager_closes_on_error(clock: FakeClock) -> None:
    stream = TtyStream()

    def crawl() -> None:
        with Progress(stream, mode="bar", clock=clock) as progress:
            progress.set_total("projects", 5)
            raise RuntimeError("crawl failed")

    with pytest.raises(RuntimeError):
        crawl()
    assert stream.getvalue().endswith("\r\x1b[K")


# ----------------------------------------------------------------------------------------------
# Lines mode
# ----------------------------------------------------------------------------------------------


def test_lines_mode_writes_plain_lines_on_the_interval(clock: FakeClock) -> None:
    stream = io.StringIO()
    progress = Progress(stream, mode="lines", interval=10.0, clock=clock)
    progress.set_total("groups", 12)
    progress.advance("groups", 12)
    progress.set_total("projects", 1200)
    progress.advance("projects", 339)
    progress.set_stats(3456, 0.0)
    assert stream.getvalue() == ""  # nothing before the first interval has passed
    clock.tick(42)
    progress.advance("projects")
    assert stream.getvalue() == (
        "posture: projects 340/1200 (28%), groups 12/12, 3456 requests, 42s elapsed\n"
    )


def test_lines_mode_never_writes_more_often_than_the_interval(clock: FakeClock) -> None:
    stream = io.StringIO()
    progress = Progress(stream, mode="lines", interval=10.0, clock=clock)
    progress.set_total("projects", 10_000)
    for _ in range(600):  # one update a second for ten minutes
        clock.tick(1)
        progress.advance("projects")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 60
    assert "\r" not in stream.getvalue()
    assert "\x1b" not in stream.getvalue()
    assert lines[-1].endswith("10m00s elapsed")


def test_lines_mode_reports_rate_limit_waits_and_unknown_totals(clock: FakeClock) -> None:
    stream = io.StringIO()
    progress = Progress(stream, mode="lines", interval=5.0, clock=clock)
    progress.advance("projects", 7)
    clock.tick(65)
    progress.set_stats(120, 61.5)
    assert stream.getvalue() == (
        "posture: projects 7, 120 requests, waited 1m01s for rate limits, 1m05s elapsed\n"
    )


def test_close_in_lines_mode_writes_nothing(clock: FakeClock) -> None:
    stream = io.StringIO()
    progress = Progress(stream, mode="lines", clock=clock)
    progress.advance("projects")
    progress.close()
    assert stream.getvalue() == ""


# ----------------------------------------------------------------------------------------------
# Robustness
# ----------------------------------------------------------------------------------------------


def test_concurrent_advances_are_all_counted(clock: FakeClock) -> None:
    stream = io.StringIO()
    progress = Progress(stream, mode="lines", interval=0.0, clock=clock)
    progress.set_total("projects", 8000)

    def worker() -> None:
        for _ in range(1000):
            progress.advance("projects")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    # interval 0 writes a line per update: every line is whole and the last one saw every item
    assert len(lines) == 8001
    assert all(line.startswith("posture: projects ") for line in lines)
    assert lines[-1].startswith("posture: projects 8000/8000 (100%)")


def test_a_broken_stream_switches_progress_off(clock: FakeClock) -> None:
    stream = TtyStream()
    stream.close()
    progress = Progress(stream, mode="bar", clock=clock)
    progress.set_total("projects", 3)  # writing to a closed stream must not raise
    progress.advance("projects")
    progress.close()
