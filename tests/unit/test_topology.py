"""Topology files: the reference lab loads, and each kind of bad input is one clear error naming file and key."""

from pathlib import Path

import pytest

from netproof.lab import engines
from netproof.lab.model import loader, topology
from netproof.lab.model.topology import TopologyError

SEED = Path(__file__).parents[2] / "labs" / "seed.yml"

GOOD = """
name: t
subnets:
  a: {cidr: 10.1.0.0/24}
  b: {cidr: 10.2.0.0/24}
hosts:
  h1: {subnet: a, address: 10.1.0.11}
  h2: {subnet: b, address: 10.2.0.12}
"""


def parse(text: str) -> topology.Topology:
    return loader.parse(text, "labs/bad.yml")


def error_of(text: str) -> str:
    with pytest.raises(TopologyError) as e:
        parse(text)
    message = str(e.value)
    assert message.startswith("labs/bad.yml: "), message
    assert "\n" not in message
    return message


def test_seed_lab_is_the_reference_lab():
    seed = loader.load(SEED)
    assert seed.name == "seed" and seed.control_plane == "swarm"
    addresses = {h.name: (h.subnet.name, str(h.address)) for h in seed.hosts.values()}
    assert addresses["docker1"] == ("dc1", "10.10.10.101")
    assert addresses["docker2"] == ("dc1", "10.10.10.102")
    assert addresses["docker3"] == ("dc2", "192.168.50.101")
    assert addresses["docker4"] == ("dc2", "192.168.50.102")
    assert seed.role("kv").name == "kv1" and seed.role("outside").name == "outside"
    assert seed.role("outside").subnet.name not in {"dc1", "dc2"}
    assert [h.name for h in seed.docker_hosts] == ["docker1", "docker2", "docker3", "docker4"]
    assert {str(s.gateway) for s in seed.subnets.values()} == {"10.10.10.1", "192.168.50.1", "198.51.100.1"}


def test_a_good_file_gets_defaults():
    t = parse(GOOD)
    assert t.control_plane == "swarm"
    assert [h.engine for h in t.docker_hosts] == ["29.7", "29.7"]  # the newest netproof knows, and said so
    assert t.engine_note.endswith("names no engine: Docker 29.7, the newest netproof knows (engine: to choose)")
    assert parse(GOOD.replace("name: t\n", 'name: t\nengine: "28.5"\n')).engine_note is None
    assert t.text == GOOD


def test_malformed_yaml_names_the_line():
    message = error_of("name: t\nsubnets: {a: [\n")
    assert "not valid YAML at line" in message


def test_overlapping_subnets():
    message = error_of(GOOD.replace("10.2.0.0/24", "10.1.0.0/16"))
    assert "subnets.b.cidr" in message and "overlaps subnets.a" in message


def test_duplicate_addresses():
    message = error_of(GOOD.replace("h2: {subnet: b, address: 10.2.0.12}", "h2: {subnet: a, address: 10.1.0.11}"))
    assert "hosts.h2.address" in message and "already taken by hosts.h1" in message


def test_address_of_the_router_is_taken():
    message = error_of(GOOD.replace("10.1.0.11", "10.1.0.1"))
    assert "hosts.h1.address" in message and "router" in message


def test_host_on_no_subnet():
    message = error_of(GOOD.replace("h1: {subnet: a, address: 10.1.0.11}", "h1: {address: 10.1.0.11}"))
    assert "hosts.h1.subnet" in message and "missing" in message


def test_host_on_an_unknown_subnet():
    message = error_of(GOOD.replace("h1: {subnet: a,", "h1: {subnet: zz,"))
    assert "hosts.h1.subnet" in message and "'zz'" in message and "known: a, b" in message


def test_address_outside_its_subnet():
    message = error_of(GOOD.replace("10.1.0.11", "10.9.0.11"))
    assert "hosts.h1.address" in message and "not a host address of 10.1.0.0/24" in message


def test_name_longer_than_the_interface_name_limit():
    long_name = "averyveryverylonghost"  # 21 characters; the router names an interface after it
    message = error_of(GOOD.replace("h1:", f"{long_name}:"))
    assert f"hosts.{long_name}" in message and "Linux limits to 15" in message


def test_subnet_name_longer_than_its_bridge_name_allows():
    message = error_of(GOOD.replace("  a: {", "  subnetnamelong: {").replace("subnet: a,", "subnet: subnetnamelong,"))
    assert "subnets.subnetnamelong" in message and "limits to 12" in message


def test_unknown_key_lists_the_known_ones():
    message = error_of(GOOD.replace("h1: {subnet: a,", "h1: {subnett: a, subnet: a,"))
    assert "hosts.h1.subnett" in message and "known keys: subnet, address, role, engine" in message


def test_unknown_engine_lists_the_known_ones(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path)  # nothing imported
    message = error_of(GOOD.replace("h1: {subnet: a,", "h1: {engine: '19.03', subnet: a,"))
    assert "hosts.h1.engine" in message and "20.10, 26.1, 28.5, 29.7, system" in message


def test_kv_control_plane_needs_a_kv_host():
    message = error_of("control_plane: kv\n" + GOOD)
    assert "control_plane" in message and "role: kv" in message


def test_kv_control_plane_with_an_engine_that_removed_it():
    text = "control_plane: kv\nengine: '20.10'\n" + GOOD + "  kv: {subnet: a, address: 10.1.0.5, role: kv}\n"
    message = error_of(text.replace("h2: {subnet: b,", "h2: {engine: '28.5', subnet: b,"))
    assert "hosts.h2.engine" in message and "removed it in 23.0" in message


def test_command_line_engine_is_checked_against_the_control_plane():
    seed = loader.load(SEED)
    with pytest.raises(TopologyError, match=r"--engine: engine 28.5 .* removed it in 23.0"):
        seed.with_overrides(engine="28.5", control_plane="kv")
    assert {h.engine for h in seed.with_overrides(engine="28.5").docker_hosts} == {"28.5"}


def test_the_router_name_is_reserved():
    message = error_of(GOOD.replace("h1:", "router:"))
    assert "hosts.router" in message and "built-in router" in message


def test_lab_name_with_a_dot_is_refused():
    message = error_of(GOOD.replace("name: t", "name: a.b"))
    assert "name" in message and "'a.b'" in message


def test_empty_file():
    assert "empty" in error_of("")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(TopologyError, match=r"nope\.yml: no such topology file \(the labs netproof comes with: .*seed"):
        loader.load(tmp_path / "nope.yml")


def test_a_lab_that_comes_with_netproof_is_found_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no labs/ here: the package's
    for name in ("labs/seed.yml", "seed.yml", "seed"):
        assert loader.load(name).name == "seed"


def test_spanning_pairs_cover_every_host_and_both_kinds_of_path():
    pairs = [(a.name, b.name) for a, b in loader.load(SEED).host_pairs()]
    assert pairs == [("docker1", "docker2"), ("docker3", "docker4"), ("docker1", "docker4"), ("docker2", "docker3")]
    assert len(loader.load(SEED).host_pairs("all")) == 6


def test_spanning_pairs_of_a_single_subnet_lab():
    pairs = [
        (a.name, b.name)
        for a, b in parse(GOOD.replace("subnet: b, address: 10.2.0.12", "subnet: a, address: 10.1.0.12")).host_pairs()
    ]
    assert pairs == [("h1", "h2")]


def test_an_ssh_inventory_logs_in_at_underlay_addresses_unless_told_otherwise(tmp_path):
    key = tmp_path / "id"
    key.write_text("key")
    inv = parse(
        GOOD.replace(
            "name: t", f"name: t\nprovider: ssh\nssh: {{user: ops, identity: {key}, router: 10.1.0.1}}"
        ).replace("address: 10.2.0.12}", "address: 10.2.0.12, ssh: 172.16.0.12}")
    )
    assert inv.provider == "ssh" and inv.ssh.user == "ops" and inv.ssh.identity == str(key)
    assert inv.ssh.addresses == {"h1": "10.1.0.11", "h2": "172.16.0.12", "router": "10.1.0.1"}
    assert loader.parse(GOOD).provider == "netns" and loader.parse(GOOD).ssh is None


def test_unknown_provider_lists_the_known_ones():
    assert "provider: 'docker-machine' is not one of netns, vagrant, ssh" in error_of(
        GOOD.replace("name: t", "name: t\nprovider: docker-machine")
    )


def test_ssh_logins_outside_an_ssh_lab_are_refused():
    assert "ssh: SSH logins are for provider: ssh" in error_of(
        GOOD.replace("address: 10.1.0.11}", "address: 10.1.0.11, ssh: 1.2.3.4}")
    )


def test_ssh_key_file_must_exist():
    assert "ssh.identity: /nonexistent/key: no such key file" in error_of(
        GOOD.replace("name: t", "name: t\nprovider: ssh\nssh: {identity: /nonexistent/key}")
    )


def test_ssh_unknown_key_is_named():
    assert "ssh.password: unknown key" in error_of(
        GOOD.replace("name: t", "name: t\nprovider: ssh\nssh: {password: x}")
    )


def test_a_subnet_may_carry_a_smaller_mtu_and_the_router_may_drop_fragments():
    t = parse(
        GOOD.replace("b: {cidr: 10.2.0.0/24}", "b: {cidr: 10.2.0.0/24, mtu: 1400}") + "router: {drop_fragments: true}\n"
    )
    assert (t.subnets["a"].mtu, t.subnets["b"].mtu) == (1500, 1400)
    assert t.drop_fragments and not parse(GOOD).drop_fragments
    assert t.document()["subnets"]["b"]["mtu"] == 1400 and t.document()["router"] == {"drop_fragments": True}


@pytest.mark.parametrize("mtu", ["575", "9001", "'big'", "true"])
def test_an_mtu_out_of_range_names_its_key(mtu):
    message = error_of(GOOD.replace("b: {cidr: 10.2.0.0/24}", f"b: {{cidr: 10.2.0.0/24, mtu: {mtu}}}"))
    assert "subnets.b.mtu: " in message and "is not an MTU from 576 to 9000 bytes" in message


def test_router_options_are_checked():
    assert "router.drop_fragments: 'yes' is not true or false" in error_of(GOOD + "router: {drop_fragments: 'yes'}\n")
    assert "router.nat: unknown key; known keys: drop_fragments" in error_of(GOOD + "router: {nat: true}\n")


def test_only_a_provider_that_builds_the_underlay_takes_its_options():
    shaped = parse(
        GOOD.replace("b: {cidr: 10.2.0.0/24}", "b: {cidr: 10.2.0.0/24, mtu: 1400}") + "router: {drop_fragments: true}\n"
    )
    assert shaped.underlay_options() == ["subnets.b.mtu", "router.drop_fragments"]
    with pytest.raises(TopologyError, match=r"^labs/bad.yml: subnets.b.mtu, router.drop_fragments: provider vagrant"):
        shaped.refuse_underlay_options("vagrant", "does not shape its libvirt networks yet")
    parse(GOOD).refuse_underlay_options("vagrant", "does not shape its libvirt networks yet")  # nothing to refuse


def test_a_dual_stack_subnet_numbers_its_hosts_as_their_ipv4_addresses_read():
    t = parse(GOOD.replace("a: {cidr: 10.1.0.0/24}", 'a: {cidr: 10.1.0.0/24, cidr6: "2001:db8:1::/64"}'))
    h1, h2 = t.hosts["h1"], t.hosts["h2"]
    assert (str(t.subnets["a"].gateway6), str(h1.address6), h1.cidr6) == (
        "2001:db8:1::1",
        "2001:db8:1::11",
        "2001:db8:1::11/64",
    )
    assert h2.address6 is None and t.subnets["b"].gateway6 is None  # b is IPv4 only
    assert t.document()["subnets"]["a"]["cidr6"] == "2001:db8:1::/64" and "cidr6" not in t.document()["subnets"]["b"]
    seed = loader.load(SEED)
    assert (
        str(seed.role("outside").address6) == "2001:db8:100::10"
        and str(seed.hosts["docker3"].address6) == "2001:db8:50::101"
    )


@pytest.mark.parametrize(
    ("cidr6", "says"),
    [
        ("10.1.0.0/24", "not an IPv6 network"),
        ('"2001:db8:1::1/64"', "not an IPv6 network"),  # host bits set
        ('"2001:db8:1::/120"', "too small to number the hosts of 10.2.0.0/24"),
        ('"2001:db8:2::/64"', "overlaps subnets.a.cidr6"),
    ],
)
def test_a_bad_cidr6_names_its_key(cidr6, says):
    text = GOOD.replace("a: {cidr: 10.1.0.0/24}", 'a: {cidr: 10.1.0.0/24, cidr6: "2001:db8:2::/64"}')
    message = error_of(text.replace("b: {cidr: 10.2.0.0/24}", f"b: {{cidr: 10.2.0.0/24, cidr6: {cidr6}}}"))
    assert "subnets.b.cidr6: " in message and says in message, message


def test_a_provider_that_cannot_number_hosts_in_ipv6_refuses_cidr6():
    dual = parse(GOOD.replace("a: {cidr: 10.1.0.0/24}", 'a: {cidr: 10.1.0.0/24, cidr6: "2001:db8:1::/64"}'))
    with pytest.raises(TopologyError, match=r"^labs/bad.yml: subnets.a.cidr6: provider vagrant gives"):
        dual.refuse_ipv6_underlay("vagrant", "gives its VMs IPv4 addresses only")
    parse(GOOD).refuse_ipv6_underlay("vagrant", "gives its VMs IPv4 addresses only")  # nothing to refuse


def test_daemon_settings_at_the_top_apply_to_every_docker_host_and_a_hosts_own_win():
    topo = parse(
        GOOD.replace("hosts:\n", "daemon: {firewall-backend: nftables, mtu: 1400}\nhosts:\n").replace(
            "h2: {subnet: b,", "h2: {daemon: {mtu: 1450}, subnet: b,"
        )
    )
    assert topo.hosts["h1"].daemon == {"firewall-backend": "nftables", "mtu": 1400}
    assert topo.hosts["h2"].daemon == {"firewall-backend": "nftables", "mtu": 1450}
    assert topo.document()["hosts"]["h2"]["daemon"] == {"firewall-backend": "nftables", "mtu": 1450}


def test_a_daemon_setting_netproof_gives_as_a_flag_is_refused_by_name():
    message = error_of(GOOD.replace("hosts:\n", "daemon: {data-root: /srv/docker}\nhosts:\n"))
    assert "daemon.data-root: netproof sets this for the lab (dockerd takes it as a flag); remove it" in message
    message = error_of(GOOD.replace("h1: {subnet: a,", "h1: {daemon: {hosts: [tcp://0.0.0.0:2375]}, subnet: a,"))
    assert "hosts.h1.daemon.hosts: netproof sets this for the lab" in message


def test_daemon_settings_on_a_host_that_runs_no_engine_are_refused():
    text = GOOD + "  kv1: {subnet: a, address: 10.1.0.10, role: kv, daemon: {mtu: 1400}}\n"
    assert "hosts.kv1.daemon: only docker hosts run an engine; this host's role is kv" in error_of(text)


def test_a_lab_without_a_control_plane_is_a_choice_and_an_unknown_one_lists_them():
    assert parse("control_plane: none\n" + GOOD).control_plane == "none"
    assert "control_plane: 'k8s' is not one of swarm, kv, none" in error_of("control_plane: k8s\n" + GOOD)


def test_providers_that_cannot_apply_daemon_settings_refuse_them_by_name():
    topo = parse(GOOD.replace("hosts:\n", "daemon: {firewall-backend: nftables}\nhosts:\n"))
    with pytest.raises(
        TopologyError,
        match=r"daemon: provider ssh uses each host's own Docker configuration .* "
        r"\(set for h1, h2\); remove it, or use provider netns",
    ):
        topo.refuse_daemon_settings("ssh", "uses each host's own Docker configuration and changes none of it")


def test_swarm_settings_are_given_to_docker_swarm_init_and_written_back_as_set():
    topo = parse(
        GOOD.replace(
            "hosts:\n",
            "swarm: {data_path_port: 4790, default_addr_pool: [10.60.0.0/16], subnet_size: 26, advertise: eth0}\n"
            "hosts:\n",
        )
    )
    assert topo.swarm.init_options() == {
        "data_path_port": 4790,
        "subnet_size": 26,
        "default_addr_pool": ["10.60.0.0/16"],
    }
    assert topo.swarm.advertise == "eth0"
    assert topo.document()["swarm"] == {
        "data_path_port": 4790,
        "default_addr_pool": ["10.60.0.0/16"],
        "subnet_size": 26,
        "advertise": "eth0",
    }
    assert "swarm" not in parse(GOOD).document() and parse(GOOD).swarm.init_options() == {}


@pytest.mark.parametrize(
    "swarm, says",
    [
        ("{data_path_port: 80}", "swarm.data_path_port: 80 is not a UDP port from 1024 to 49151"),
        ("{data_path_port: '4790'}", "swarm.data_path_port: '4790' is not a UDP port"),
        ("{data_path_port: 7946}", "swarm.data_path_port: 7946 is the swarm's own port; choose another"),
        ("{default_addr_pool: [10.60.0.0/33]}", "swarm.default_addr_pool[0]: not an IPv4 network"),
        (
            "{default_addr_pool: [10.1.0.0/16]}",
            "swarm.default_addr_pool[0]: 10.1.0.0/16 overlaps the underlay's subnets.a",
        ),
        ("{default_addr_pool: {a: 1}}", "swarm.default_addr_pool: expected a list of IPv4 networks, found dict"),
        (
            "{default_addr_pool: [10.60.0.0/24], subnet_size: 20}",
            "swarm.subnet_size: 20 is not a prefix length from 24",
        ),
        ("{subnet_size: 30}", "swarm.subnet_size: 30 is not a prefix length from 8 (the pool's) to 29"),
        ("{advertise: 'eth 0'}", "swarm.advertise: 'eth 0' is not a network interface's name"),
        ("{data_path: 4790}", "swarm.data_path: unknown key; known keys: data_path_port,"),
    ],
)
def test_a_bad_swarm_setting_names_its_key(swarm, says):
    assert says in error_of(GOOD.replace("hosts:\n", f"swarm: {swarm}\nhosts:\n"))


def test_swarm_settings_need_the_swarm_control_plane():
    text = "control_plane: none\n" + GOOD.replace("hosts:\n", "swarm: {data_path_port: 4790}\nhosts:\n")
    assert (
        "swarm: data_path_port: swarm settings, but the control plane is none; remove them, or use control_plane: swarm"
        in error_of(text)
    )
    topo = parse(GOOD.replace("hosts:\n", "swarm: {data_path_port: 4790}\nhosts:\n"))
    with pytest.raises(TopologyError, match="the control plane is none"):
        topo.with_overrides(control_plane="none")


def test_free_slices_of_a_subnet_hold_no_lab_address_and_not_the_broadcast():
    topo = parse(GOOD.replace("address: 10.1.0.11", "address: 10.1.0.230"))
    slices = [str(s) for s in topo.free_slices("a", 28)]
    assert slices[:2] == ["10.1.0.208/28", "10.1.0.192/28"]  # 10.1.0.224/28 holds h1, 10.1.0.240/28 the broadcast
    assert "10.1.0.0/28" not in slices  # the router's 10.1.0.1
    assert topo.free_slices("a", 24) == []


def test_the_key_value_store_lab_is_one_flag_away():
    """labs/seed.yml runs 28.5, which has no key-value store: --control-plane kv alone runs it on 20.10, the newest
    engine with one; asking for both kv and an engine without it is refused naming the engine."""
    seed = loader.load(SEED)
    assert {h.engine for h in seed.docker_hosts} == {"28.5"}
    kv = seed.with_overrides(control_plane="kv")
    assert kv.control_plane == "kv" and {h.engine for h in kv.docker_hosts} == {"20.10"}
    with pytest.raises(TopologyError, match="--engine: engine 28.5 on docker1 has no key-value store"):
        seed.with_overrides(control_plane="kv", engine="28.5")
