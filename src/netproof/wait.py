"""The one way netproof waits for something: ask again until it holds or a deadline passes.

`poll` returns the last answer either way (a check wants to show what it last saw); `until`
raises, naming what was awaited, when time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from netproof import timeline
from netproof.errors import NetproofError

T = TypeVar("T")


class WaitTimeout(NetproofError):
    """What was awaited did not happen in time."""


def poll(
    ask: Callable[[], T],
    *,
    timeout: float,
    holds: Callable[[T], bool] = bool,
    interval: float = 0.1,
    max_interval: float | None = None,
) -> tuple[T, bool]:
    """Ask until holds(answer), at most `timeout` seconds (asked at least once); the last answer and whether it held.
    With max_interval, the interval grows by half each time up to it (cheap first looks, calmer later ones)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = ask()
        if holds(answer):
            return answer, True
        if time.monotonic() >= deadline:
            return answer, False
        time.sleep(interval)
        timeline.record("sleep between a wait's looks", interval)
        if max_interval:
            interval = min(interval * 1.5, max_interval)


def until(
    ask: Callable[[], T],
    *,
    timeout: float,
    what: str,
    holds: Callable[[T], bool] = bool,
    interval: float = 0.1,
    max_interval: float | None = None,
    hint: Callable[[], str] | None = None,
) -> T:
    """Ask until holds(answer) and return that answer; after `timeout` seconds raise WaitTimeout naming `what`
    (and, from hint(), where to look)."""
    answer, held = poll(ask, timeout=timeout, holds=holds, interval=interval, max_interval=max_interval)
    if not held:
        extra = hint() if hint else ""
        raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}" + (f"; {extra}" if extra else ""))
    return answer
