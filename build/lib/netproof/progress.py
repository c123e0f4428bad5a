"""Progress lines for long steps: what is being done, then how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = sys.stderr):
        self.stream = stream

    def say(self, text: str) -> None:
        if self.stream:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        started = time.monotonic()
        if self.stream:
            print(f"  {text} ...", end="", file=self.stream, flush=True)
        try:
            yield
        except BaseException:
            if self.stream:
                print(" failed", file=self.stream, flush=True)
            raise
        if self.stream:
            print(f" {time.monotonic() - started:.1f}s", file=self.stream, flush=True)


QUIET = Progress(stream=None)
