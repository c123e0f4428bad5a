"""The one wait helper: it asks again until the answer holds, returns the last answer either way
(poll), or raises naming what was awaited (until)."""

from __future__ import annotations

import itertools
import time

import pytest

from netproof import wait


def test_poll_returns_the_first_answer_that_holds():
    answers = iter([0, 0, 3, 4])
    assert wait.poll(lambda: next(answers), timeout=5, interval=0) == (3, True)


def test_poll_returns_the_last_answer_when_time_runs_out():
    counter = itertools.count()
    answer, held = wait.poll(lambda: next(counter), holds=lambda n: n < 0, timeout=0.05, interval=0.01)
    assert not held and answer >= 1  # asked more than once, and the last answer is what it saw


def test_poll_asks_at_least_once_even_with_no_time():
    assert wait.poll(lambda: "here", timeout=0) == ("here", True)


def test_until_names_what_it_waited_for_and_where_to_look():
    with pytest.raises(wait.WaitTimeout, match=r"timed out after 0 s waiting for dockerd on docker1; see its log"):
        wait.until(lambda: False, timeout=0.01, interval=0.005, what="dockerd on docker1", hint=lambda: "see its log")


def test_intervals_grow_up_to_the_cap():
    stamps = []
    wait.poll(
        lambda: stamps.append(time.monotonic()),
        holds=lambda _: len(stamps) >= 6,
        timeout=5,
        interval=0.01,
        max_interval=0.02,
    )
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert gaps[-1] >= 0.019 and all(g < 0.2 for g in gaps)
