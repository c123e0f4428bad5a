"""The lab tests' harness, a pytest plugin (loaded by tests/lab/conftest.py, or with
`-p tests.lab.harness`): every lab a test brings up goes down when the test ends, whatever
happens in it, and a session whose labs left anything behind fails, naming what.

A test names each lab it uses with `claim(name)` (`bring_up` does it for the labs it brings up;
a test that has a subprocess bring one up claims its name itself). At the end of the session the
same discovery `netproof lab clean` uses looks for leftovers of every claimed lab; what it finds
is removed, and the session gets an error that lists it. A leak is a failure, never silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from netproof.lab import leftovers
from netproof.lab.lab import Lab
from netproof.lab.model.names import LabNames
from netproof.lab.model.topology import Topology

# The labs this session used, and those it must not sweep: up (or left over) before it claimed them.
_claimed: set[str] = set()
_not_ours: set[str] = set()


def claim(name: str) -> str:
    """This session will use a lab of this name: sweep it at the end (unless it was there before)."""
    if name not in _claimed:
        _claimed.add(name)
        if leftovers.find(name):
            _not_ours.add(name)
    return name


def take_down(name: str) -> None:
    """Bring a lab down if it is up, and remove whatever of it is left, state file or not."""
    if LabNames(name).state_file.exists():
        try:
            Lab.attach(name).down()
            return
        except Exception:  # noqa: BLE001 - a half-made or broken lab: the sweep below removes it
            pass
    leftovers.remove(name)


@pytest.fixture
def bring_up() -> Iterator[Callable[..., Lab]]:
    """`bring_up(topology, **Lab.up options)`: a lab for this test, down when the test ends, passed or failed."""
    made: list[str] = []

    def up(topology: Topology, **options) -> Lab:
        claim(topology.name)
        made.append(topology.name)
        return Lab.up(topology, **options)

    yield up
    for name in reversed(made):
        take_down(name)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_by_the_session() -> Iterator[None]:
    yield
    leaked = {}
    for name in sorted(_claimed - _not_ours):
        found = leftovers.find(name)
        if found:
            leaked[name] = found.describe()
            leftovers.remove(name)
    if leaked:
        listing = "\n".join(f"  lab {name}: {line}" for name, lines in leaked.items() for line in lines)
        pytest.fail(
            f"this session's labs left things behind (removed now; a test or teardown has a leak):\n{listing}",
            pytrace=False,
        )
