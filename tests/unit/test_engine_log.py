"""A failing check's evidence carries the dockerd log lines of its own time window."""

from __future__ import annotations

from datetime import datetime

from netproof.lab.providers.base import log_lines_between

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
