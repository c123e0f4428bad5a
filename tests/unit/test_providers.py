"""Providers declare what they can do; one place judges a topology against it."""

from __future__ import annotations

import pytest

from netproof.lab.model.loader import parse
from netproof.lab.model.names import LabNames
from netproof.lab.model.topology import TopologyError
from netproof.lab.providers import _CLASSES, provider_class
from netproof.lab.providers.base import EngineControl
from netproof.progress import QUIET

DUAL_STACK_MTU = """
name: caps
control_plane: swarm
engine: "28.5"
subnets:
  dc1: {cidr: 10.10.10.0/24, cidr6: "2001:db8:10::/64", mtu: 1400}
hosts:
  docker1: {subnet: dc1, address: 10.10.10.101}
"""


@pytest.mark.parametrize("name", sorted(_CLASSES))
def test_a_provider_that_says_it_controls_engines_can(name):
    cls = provider_class(name)
    assert ("engine-control" in cls.capabilities) == issubclass(cls, EngineControl), name


def test_what_a_provider_cannot_do_is_refused_naming_the_keys_and_why():
    topology = parse(DUAL_STACK_MTU, "labs/caps.yml")
    provider_class("netns")(LabNames("caps"), QUIET).refuse_what_it_cannot(topology)  # netns does all of it
    vagrant = provider_class("vagrant")(LabNames("caps"), QUIET)
    with pytest.raises(TopologyError, match=r"labs/caps.yml: subnets.dc1.mtu: provider vagrant does not shape"):
        vagrant.refuse_what_it_cannot(topology)
    ssh = provider_class("ssh")(LabNames("caps"), QUIET)
    with pytest.raises(TopologyError, match=r"provider ssh uses the network the hosts are on, and changes nothing"):
        ssh.refuse_what_it_cannot(topology)
    assert not ssh.owns_hosts and vagrant.owns_hosts
