"""Resource names: every lab resource carries the prefix, and lab names cannot reach beyond it."""

import pytest

from netproof.errors import NetproofError
from netproof.lab.model.names import LabNames, state_root


def test_resources_are_named_after_lab_and_host():
    names = LabNames("seed")
    assert names.netns("docker1") == "netproof.seed.docker1"
    assert names.cgroup_parent("docker1") == "netproof.seed.docker1"
    assert names.holder_mark("docker1") == "netproof-host seed/docker1"
    assert names.node_dir("docker1") == state_root() / "seed" / "docker1"
    assert names.state_file == state_root() / "seed" / "state.json"


def test_one_lab_prefix_never_matches_another_lab():
    # Lab "seed" must not sweep up lab "seed-2" when it is brought down.
    assert not LabNames("seed-2").netns("docker1").startswith(LabNames("seed").prefix)


@pytest.mark.parametrize("bad", ["../etc", "a.b", "Seed", "", "x" * 25, "a/b"])
def test_names_that_could_escape_are_refused(bad):
    with pytest.raises(NetproofError, match="lab name"):
        LabNames(bad)
