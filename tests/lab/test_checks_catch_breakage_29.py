"""Checks promised only from 29.x are broken by hand on a 29.7 lab of their own (older engines do not promise them,
so they cannot fail there): BR-MULTI-002 (29.3) when the container's interface is given another MAC address than
the one it was connected with. The 28.5 lab (test_checks_catch_breakage_28) shows it not promised there."""

from __future__ import annotations

import pytest

from .test_checks_catch_breakage import assert_fails, checks_on, seed_lab

NAME = "t-break29"


@pytest.fixture(scope="module")
def lab():
    yield from seed_lab(NAME, engine="29.7")


def test_the_mac_address_check_passes_unbroken_and_fails_naming_the_address_the_wire_saw(lab, tmp_path):
    done = checks_on(NAME, "BR-MULTI-002 and docker1", tmp_path / "unbroken")
    assert done.outcomes == {"BR-MULTI-002[swarm-docker1]": "passed"}, done.why_failed()
    broken = checks_on(NAME, "BR-MULTI-002 and docker1", tmp_path / "broken", sabotage="macaddr")
    assert_fails(broken, "BR-MULTI-002", "once connected: its frames came from 02:00:00:00:0b:ad")
