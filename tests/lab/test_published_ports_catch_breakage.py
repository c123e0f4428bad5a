"""PUB-002 and PUB-003 hold from Docker 28.0 (on older engines they are not promised), so they are broken
by hand on a 28.5 lab of their own: each fails, pointing at the cause, when Docker's drops in the raw
table are gone.
PUB-001 (all engines) is broken on the 20.10 lab in test_checks_catch_breakage."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ChecksRun
from .test_checks_catch_breakage import assert_fails, checks_on, seed_lab

NAME = "t-break28"


@pytest.fixture(scope="module")
def lab():
    yield from seed_lab(NAME, engine="28.5")


def checks(select: str, report: Path, sabotage: str | None = None) -> ChecksRun:
    return checks_on(NAME, select, report, sabotage)


def test_published_port_checks_pass_unbroken(lab, tmp_path):
    done = checks("PUB-002 and docker1 or PUB-003 and docker1", tmp_path)
    assert done.outcomes == {"PUB-002[swarm-docker1]": "passed", "PUB-003[swarm-docker1]": "passed"}, done.output[
        -3000:
    ]


def test_localhost_publication_check_fails_when_a_neighbour_gets_through(lab, tmp_path):
    done = checks("PUB-003 and docker1", tmp_path, sabotage="raw")
    assert_fails(
        done, "PUB-003", "nothing from docker2 reaches", "packet(s) arrived at", "route_localnet=1", "no raw PREROUTING"
    )


def test_direct_routing_check_fails_when_the_raw_drops_are_gone(lab, tmp_path):
    done = checks("PUB-002 and docker3", tmp_path, sabotage="raw")
    assert_fails(done, "PUB-002", "no connection to", "got through: GET http://", "(published as 192.168.50.101:")
