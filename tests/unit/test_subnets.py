"""A check's random subnet that Docker says overlaps a pool it holds is drawn again; any other refusal, or a
subnet the check chose itself, stands."""

import docker.errors
import pytest

from netproof.kit import refusals, routes
from netproof.kit.refusals import POOL_DRAWS
from netproof.kit.workspace import Workspace
from netproof.lab.model.topology import Host
from netproof.lab.providers.base import LabHost

# Docker 20.10's answer (kv store) in the CI run of 2026-11-29, ISO-INT-002.
OVERLAP = "Pool overlaps with other one on this address space"


class NoHost(LabHost):
    def __init__(self):
        super().__init__(Host("docker1", "docker", None, None, "20.10"))

    def run(self, cmd, *, timeout=60, check=False):
        raise AssertionError("no command is run")

    def interactive_argv(self, cmd):
        return list(cmd)

    docker_url = "unix:///nowhere"


def refusing(times: int, why: str):
    asked = []

    def create(subnet):
        asked.append(subnet)
        if len(asked) <= times:
            raise docker.errors.APIError("403 Client Error", explanation=why)
        return f"network on {subnet}"

    return create, asked


def test_random_subnets_are_recognised():
    assert all(routes.is_random_subnet(routes.random_subnet()) for _ in range(200))
    assert not routes.is_random_subnet("10.198.1.0/24") and not routes.is_random_subnet("10.200.1.0/25")


def test_an_overlapping_random_subnet_is_drawn_again_and_said():
    host = NoHost()
    space = Workspace("kv", host, [host])
    create, asked = refusing(1, OVERLAP)
    first = routes.random_subnet()
    made = refusals.drawing_again(space, host, first, create)
    assert asked[0] == first and len(asked) == 2 and routes.is_random_subnet(asked[1])
    assert made == f"network on {asked[1]}"
    assert space.retries == [f"docker1: subnet {first} refused ({OVERLAP}); drew another"]


def test_the_refusal_stands_after_the_last_draw_for_a_chosen_subnet_or_for_another_reason():
    host = NoHost()
    create, asked = refusing(POOL_DRAWS, OVERLAP)
    with pytest.raises(docker.errors.APIError):
        refusals.drawing_again(Workspace("kv", host, [host]), host, routes.random_subnet(), create)
    assert len(asked) == POOL_DRAWS
    for subnet, why in (("10.198.1.0/24", OVERLAP), (routes.random_subnet(), "invalid pool request")):
        create, asked = refusing(1, why)
        with pytest.raises(docker.errors.APIError):
            refusals.drawing_again(Workspace("kv", host, [host]), host, subnet, create)
        assert asked == [subnet]


def test_a_workspace_on_a_lab_takes_its_control_plane_manager_hosts_and_patience():
    class Lab:  # what Workspace.on reads of netproof.lab.lab.Lab
        topology = type("T", (), {"control_plane": "kv"})()
        manager = "docker1"
        docker_hosts = ["docker1", "docker2"]
        patience = 4.0

    space = Workspace.on(Lab(), retry_known_defects=True)
    assert (space.control_plane, space.manager, space.docker_hosts) == ("kv", "docker1", ["docker1", "docker2"])
    assert space.budget(10) == 40 and space.retry_known_defects
