"""`netproof upgrade`'s path: --from/--to or --path, refused in one line when it makes no sense."""

from __future__ import annotations

import argparse

import pytest

from netproof.cli.run_commands import upgrade_path
from netproof.errors import NetproofError


def args(old=None, new=None, path=None) -> argparse.Namespace:
    return argparse.Namespace(old=old, new=new, path=path)


def test_from_and_to_or_a_path():
    assert upgrade_path(args("20.10", "28.5")) == ["20.10", "28.5"]
    assert upgrade_path(args("28.5", "26.1")) == ["28.5", "26.1"]  # a rollback is a path too
    assert upgrade_path(args(path="20.10, 26.1,28.5")) == ["20.10", "26.1", "28.5"]


@pytest.mark.parametrize(
    "given, says",
    [
        (args("20.10", "28.5", "20.10,28.5"), "either --path or --from and --to"),
        (args(), "--from A --to B, or --path A,B,C"),
        (args("20.10"), "--from A --to B, or --path A,B,C"),
        (args(path="20.10"), "at least two engines"),
        (args(path="20.10,27.0"), "27.0: not an engine"),
        (args(path="20.10,26.1,26.1"), "26.1 follows itself"),
        (args("28.5", "28.5"), "28.5 follows itself"),
    ],
)
def test_a_path_that_makes_no_sense_is_refused_naming_why(given, says):
    with pytest.raises(NetproofError, match=says):
        upgrade_path(given)
