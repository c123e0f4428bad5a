"""The lab keeps Docker's address pools off its own subnets (issue 36): a rolling upgrade 20.10 -> 28.5 on the seed lab
saw docker1 take 192.168.48.0/20 for a bridge, over dc2 (192.168.50.0/24), which it reaches through its gateway."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from netproof.facts.docker import ADDRESS_POOLS_KEY
from netproof.lab.model import loader
from netproof.lab.model.engine_start import engine_start, pools_apart
from netproof.lab.model.topology import Subnet

SEED = loader.load(Path(__file__).parents[2] / "labs" / "seed.yml")


def subnets_of(pools: list[dict]) -> list[ipaddress.IPv4Network]:
    return [s for p in pools for s in ipaddress.IPv4Network(p["base"]).subnets(new_prefix=p["size"])]


def test_the_seed_labs_hosts_never_get_a_bridge_over_dc2():
    configs = engine_start(SEED).configs
    assert set(configs) == {"docker1", "docker2", "docker3", "docker4"}
    pools = configs["docker1"][ADDRESS_POOLS_KEY]
    handed = subnets_of(pools)
    assert not any(s.overlaps(ipaddress.IPv4Network("192.168.50.0/24")) for s in handed)
    assert ipaddress.IPv4Network("192.168.48.0/20") not in handed
    # everything else Docker would hand out, in its order: 15 /16s of 172.16/12, then 15 of the 16 /20s of 192.168
    assert len(handed) == 15 + 15 and handed[0] == ipaddress.IPv4Network("172.17.0.0/16")
    assert pools[0] == {"base": "172.17.0.0/16", "size": 16}  # pools without overlap are Docker's own words


def test_a_lab_clear_of_dockers_pools_keeps_dockers_defaults_and_a_users_pools_are_kept():
    clear = dataclasses.replace(SEED, subnets={n: _moved(s) for n, s in SEED.subnets.items()})
    assert pools_apart({}, clear) == {}
    own = {ADDRESS_POOLS_KEY: [{"base": "10.201.0.0/16", "size": 24}], "live-restore": True}
    assert pools_apart(own, SEED) == own


def test_a_lab_subnet_inside_a_wider_pool_takes_only_its_own_piece_out():
    lab = dataclasses.replace(SEED, subnets={"x": _moved(SEED.subnets["dc1"], "172.21.7.0/24")})
    handed = subnets_of(pools_apart({}, lab)[ADDRESS_POOLS_KEY])
    assert ipaddress.IPv4Network("172.21.0.0/16") not in handed
    assert {ipaddress.IPv4Network(f"172.{i}.0.0/16") for i in (20, 22, 23)} <= set(handed)


def _moved(subnet: Subnet, to: str = "") -> Subnet:
    network = ipaddress.IPv4Network(to or f"10.{100 + int(subnet.network.network_address.packed[2]) % 100}.0.0/24")
    return dataclasses.replace(subnet, network=network)


class _Host:
    """A docker host whose `ip -j route show` is what docker1 printed in the rolling upgrade 20.10 -> 28.5."""

    name = "docker1"
    ROUTES = (
        '[{"dst":"default","gateway":"10.10.10.1","dev":"eth0","flags":[]},'
        '{"dst":"10.10.10.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.10.10.101","flags":[]},'
        '{"dst":"172.17.0.0/16","dev":"docker0","protocol":"kernel","scope":"link","prefsrc":"172.17.0.1",'
        '"flags":["linkdown"]},'
        '{"dst":"192.168.48.0/20","dev":"br-15ea29cb432a","protocol":"kernel","scope":"link",'
        '"prefsrc":"192.168.48.1","flags":["linkdown"]}]'
    )

    def __init__(self, routes: str = ROUTES):
        self.routes = routes

    def run(self, argv, timeout=None):
        from netproof.system import CommandResult

        return CommandResult(argv, 0, self.routes, "", self.name)


def test_the_doctor_names_a_docker_network_over_the_lab_and_its_remedy():
    from netproof.doctor.surroundings import docker_networks_over_the_lab

    lab = {str(h.name): str(h.address) for h in SEED.hosts.values()}
    ok, observed, cause = docker_networks_over_the_lab(_Host(), lab)
    assert (
        ok is False
        and "br-15ea29cb432a at 192.168.48.0/20 covers docker3 192.168.50.101, docker4 192.168.50.102" in cause
    )
    assert ADDRESS_POOLS_KEY in cause and "not Docker's failure" in cause
    clear = _Host(_Host.ROUTES.replace("192.168.48.0/20", "192.168.64.0/20"))
    assert docker_networks_over_the_lab(clear, lab) == (True, "clear of the lab", None)
