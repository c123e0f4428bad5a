"""A failing check's evidence carries the dockerd log lines of its own time window; a dockerd no longer running is
known by how it ended, from its log's last words."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from netproof.lab.providers.base import last_words, log_lines_between

LOG = """\
time="2026-11-28T14:55:09.473105234Z" level=info msg="Starting up"
time="2026-11-28T14:55:10.000000001Z" level=warning msg="attaching to network failed"
goroutine 12 [running]:
  a stack line without a stamp
time="2026-11-28T14:55:12.5Z" level=info msg="Container started"
time="2026-11-28T14:55:20+00:00" level=info msg="later"
"""


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_only_the_lines_of_the_window_and_their_unstamped_continuations():
    window = log_lines_between(LOG, epoch("2026-11-28T14:55:10+00:00"), epoch("2026-11-28T14:55:13+00:00"))
    assert window.splitlines() == [
        'time="2026-11-28T14:55:10.000000001Z" level=warning msg="attaching to network failed"',
        "goroutine 12 [running]:",
        "  a stack line without a stamp",
        'time="2026-11-28T14:55:12.5Z" level=info msg="Container started"',
    ]


def test_an_empty_window_gives_nothing():
    assert log_lines_between(LOG, epoch("2026-11-28T15:00:00+00:00"), epoch("2026-11-28T15:01:00+00:00")) == ""


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_dockerd_that_crashed_is_known_by_its_runtimes_last_words():
    # docker4's dockerd (28.5) sent SIGABRT in the lab: Go's dump after the last stamped line
    log = (FIXTURES / "dockerd-log-sigabrt-28.5.txt").read_text()
    assert last_words(log) == ("crashed", "SIGABRT: abort")


def test_a_panic_is_its_first_line_and_a_fatal_error_its_message():
    assert last_words(LOG + "panic: runtime error: invalid memory address\ngoroutine 1 [running]:\n") == (
        "crashed",
        "panic: runtime error: invalid memory address",
    )
    fatal = LOG + 'time="2026-11-28T14:56:00Z" level=fatal msg="failed to start daemon: pid file found"\n'
    assert last_words(fatal) == ("fatal", "failed to start daemon: pid file found")


def test_a_dockerd_that_was_stopped_is_not_called_crashed():
    # docker4's dockerd (28.5) stopped with SIGTERM in the lab: errors of its shutdown are not its end
    log = (FIXTURES / "dockerd-log-stopped-28.5.txt").read_text()
    assert last_words(log) == ("stopped", "it shut down as asked (Daemon shutdown complete)")


def test_otherwise_its_last_error():
    assert last_words(LOG) == ("ended", 'time="2026-11-28T14:55:20+00:00" level=info msg="later"')
    errored = LOG + 'time="2026-11-28T14:56:00Z" level=error msg="attach failed"\n'
    assert last_words(errored) == ("ended", "attach failed")
