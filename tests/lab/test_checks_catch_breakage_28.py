"""Checks promised only by newer engines are broken by hand on a 28.5 lab of their own (on older engines they
are not promised, so they cannot fail there): PUB-002 and PUB-003 (from 28.0) fail, pointing at the cause,
when Docker's drops in the raw table are gone; IPV6-003 (from 27.0) when an ACCEPT goes ahead of Docker's
IPv6 isolation rules, and is a broken lab when a host's IPv6 underlay is; DNS-005 (from 24.0.1) when queries no
longer reach the embedded DNS; GW-MODE-001 (from 28.0) when a routed network is masqueraded by hand.
The checks every engine promises are broken on the 20.10 lab in test_checks_catch_breakage."""

from __future__ import annotations

from pathlib import Path

import pytest

from netproof.kit import probes

from .conftest import ChecksRun
from .test_checks_catch_breakage import assert_fails, changed, checks_on, seed_lab

NAME = "t-break28"


@pytest.fixture(scope="module")
def lab():
    yield from seed_lab(NAME, engine="28.5")


def checks(select: str, report: Path, sabotage: str | None = None) -> ChecksRun:
    return checks_on(NAME, select, report, sabotage)


def test_the_checks_pass_unbroken(lab, tmp_path):
    chosen = ("PUB-002", "PUB-003", "PUB-005", "PUB-006", "IPV6-003", "BR-MULTI-001")
    done = checks(f"docker1 and ({' or '.join(chosen)})", tmp_path)
    passed = {f"{c}[swarm-docker1]": "passed" for c in chosen}
    assert done.outcomes == passed, done.why_failed()


def test_a_mac_address_asked_on_connect_is_not_promised_before_29_3_and_28_5_drops_it(lab, tmp_path):
    done = checks("BR-MULTI-002 and docker1", tmp_path)
    assert done.outcomes == {"BR-MULTI-002[swarm-docker1]": "not-promised"}, done.why_failed()
    seen = next(c for c in done.results().checks if c.id == "BR-MULTI-002")
    assert "once connected: its frames came from" in seen.message, seen.message


def test_localhost_publication_check_fails_when_a_neighbour_gets_through(lab, tmp_path):
    done = checks("PUB-003 and docker1", tmp_path, sabotage="raw")
    assert_fails(
        done, "PUB-003", "nothing from docker2 reaches", "packet(s) arrived at", "route_localnet=1", "no raw PREROUTING"
    )


def test_direct_routing_check_fails_when_the_raw_drops_are_gone(lab, tmp_path):
    done = checks("PUB-002 and docker3", tmp_path, sabotage="raw")
    assert_fails(done, "PUB-002", "no connection to", "got through: GET http://", "(published as 192.168.50.101:")


def test_internal_ipv6_check_fails_when_an_accept_goes_ahead_of_dockers_ipv6_rules(lab, tmp_path):
    accept = ["DOCKER-USER", "-j", "ACCEPT"]  # evaluated before Docker's isolation chains, in ip6tables as in iptables
    with changed(lab.host("docker2"), ["ip6tables", "-I", *accept], ["ip6tables", "-D", *accept]):
        done = checks("IPV6-003 and docker2", tmp_path)
    assert_fails(
        done, "IPV6-003", "every IPv6 probe between", "got through:", "ping 2001:db8:100::10: 3 sent, 3 received"
    )


def test_internal_ipv6_check_on_a_host_without_its_ipv6_underlay_is_a_broken_lab(lab, tmp_path):
    route = ["default", "via", str(lab.topology.hosts["docker3"].subnet.gateway6)]
    with changed(lab.host("docker3"), ["ip", "-6", "route", "del", *route], ["ip", "-6", "route", "add", *route]):
        done = checks("IPV6-003 and docker3", tmp_path)
    assert done.outcomes == {"IPV6-003[swarm-docker3]": "error"}, done.why_failed()
    broken = "LAB BROKEN, not a Docker failure: docker3 does not reach outside's page at 2001:db8:100::10 by itself"
    assert broken in done.output, done.output[-3000:]


def test_published_udp_check_fails_when_a_port_stops_delivering_after_the_restart(lab, tmp_path):
    """PUB-004 broken by hand: the user's firewall drops what reaches one of the forms' host port."""
    drop = ["DOCKER-USER", "-p", "udp", "-m", "conntrack", "--ctorigdstport", "17102", "-j", "DROP"]
    with changed(lab.host("docker1"), ["iptables", "-I", *drop], ["iptables", "-D", *drop]):
        done = checks("PUB-004 and docker1", tmp_path)
    assert_fails(done, "PUB-004", "another host port (-p 17102:7102/udp): none", "each port delivers to the container")


def test_published_port_truth_table_fails_in_the_cell_the_users_firewall_closes_and_names_its_rule(lab, tmp_path):
    """PUB-005 broken by hand (issue 37): the user's DOCKER-USER drops the outside host's requests to the published
    port (the container's, after DNAT): that one cell of six is wrong, and the trace names the user's rule."""
    drop = ["DOCKER-USER", "-s", "198.51.100.10", "-p", "tcp", "--dport", str(probes.HTTP_PORT), "-j", "DROP"]
    with changed(lab.host("docker1"), ["iptables", "-I", *drop], ["iptables", "-D", *drop]):
        done = checks("PUB-005 and docker1", tmp_path)
    assert_fails(
        done,
        "PUB-005",
        "1 of 6 wrong: the outside host: GET http://10.10.10.101:",
        "Packet: dropped at docker1: ip filter DOCKER-USER",
    )


def test_trusted_interface_check_fails_when_dockers_accept_for_it_is_gone_and_names_the_drop(lab, tmp_path):
    """PUB-006 broken by hand (issue 37): Docker's raw accept of what the trusted interface sends to the container's
    own address deleted: the published port is no longer reached there, and the trace names Docker's raw drop."""
    done = checks("PUB-006 and docker1", tmp_path, sabotage="untrust")
    assert_fails(
        done,
        "PUB-006",
        "outside reaches the published port at 10.",
        "Packet: dropped at docker1: ip raw PREROUTING",
    )


def test_ipv6_egress_check_fails_when_dockers_ipv6_masquerade_is_gone(lab, tmp_path):
    """IPV6-004 broken by hand (issue 37): Docker's ip6tables MASQUERADE for the network's subnet deleted as the
    network is made: under gateway mode nat the container's connection then leaves as its own address."""
    done = checks("IPV6-004 and nat- and docker2", tmp_path, sabotage="masq6")
    assert_fails(done, "IPV6-004", "from 2001:db8:", "(masqueraded as the docker host)", "it arrived from fd")


def test_gateway_priority_check_fails_when_the_default_route_goes_back_to_the_other_network(lab, tmp_path):
    """BR-MULTI-001 broken by hand (issue 37): once connected with its gw-priority, the container's default route is
    pointed back at the first network's gateway: its request crosses the first bridge, which the check names."""
    done = checks("BR-MULTI-001 and docker3", tmp_path, sabotage="gwroute")
    assert_fails(done, "BR-MULTI-001", "with both networks: crossed the first network, not the second network")


def test_nxdomain_check_fails_when_queries_no_longer_reach_the_embedded_dns(lab, tmp_path):
    done = checks("DNS-005 and docker1", tmp_path, sabotage="dns")
    assert_fails(done, "DNS-005", "the first server", "asked for service.upstream.test", "(nxdomain): not asked")


def test_gateway_mode_check_fails_when_a_routed_network_is_masqueraded_by_hand(lab, tmp_path):
    # A MASQUERADE for everything leaving docker1's underlay, ahead of Docker's rules: a routed network's
    # containers then arrive at the outside host as docker1, which routed mode promises they do not.
    docker1 = lab.host("docker1")
    rule = ["POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"]
    with changed(docker1, ["iptables", "-t", "nat", "-I", *rule], ["iptables", "-t", "nat", "-D", *rule]):
        done = checks("GW-MODE-001 and routed and docker1", tmp_path)
    assert_fails(done, "GW-MODE-001", "the container's own address, not masqueraded", "it arrived from 10.10.10.101")


def test_localhost_publication_check_fails_when_the_port_does_not_answer_where_it_is_published(lab, tmp_path):
    # Its control: with the port's forwarding gone (nat DOCKER flushed, docker-proxy stopped), a neighbour's SYNs
    # arriving nowhere would prove nothing; the check fails on the host's own 127.0.0.1 instead of passing.
    done = checks("PUB-003 and docker1", tmp_path, sabotage="published")
    assert_fails(done, "PUB-003", "docker1 reaches the published port at 127.0.0.1:", "docker1 itself -> 127.0.0.1:")


def test_a_lost_egress_reply_names_the_rule_that_dropped_it_and_what_dockers_chain_lacks(lab, tmp_path):
    # Issue 36: with DOCKER-FORWARD no longer jumping to DOCKER-CT, the reply from the outside host is dropped.
    jump = ["DOCKER-FORWARD", "-j", "DOCKER-CT"]
    with changed(lab.host("docker1"), ["iptables", "-D", *jump], ["iptables", "-I", "DOCKER-FORWARD", "1", *jump[1:]]):
        done = checks("BR-EGRESS-001 and docker1", tmp_path)
    assert_fails(
        done,
        "BR-EGRESS-001",
        'Packet: dropped at docker1: ip filter DOCKER rule `iifname != "docker0" oifname "docker0" drop` '
        "(Docker's); the reply 198.51.100.10:80 -> 172.17.",
        "docker1 ip filter DOCKER-FORWARD lacks `jump DOCKER-CT`, which a healthy peer's has",
        "(request seen at docker1, router, outside; reply seen at outside, router, docker1)",
    )


def test_a_published_port_without_dockers_accept_names_the_drop_its_request_met(lab, tmp_path):
    done = checks("PUB-001 and docker3", tmp_path, sabotage="pubaccept")
    assert_fails(
        done,
        "PUB-001",
        'Packet: dropped at docker3: ip filter DOCKER rule `iifname != "br-',
        "(Docker's); the request 198.51.100.10:",
    )
    assert "no docker-proxy" not in done.output  # ps read with no width limit (it was cut to pytest's COLUMNS)


def test_a_drop_appended_to_forward_check_fails_naming_the_drop_once_dockers_jump_is_gone(lab, tmp_path):
    # FW-OTHER-001 holds because Docker's jumps head FORWARD; with the jump to DOCKER-FORWARD deleted, the appended
    # DROP is met first and the trace names it, the host's own rule.
    docker1 = lab.host("docker1")
    try:
        done = checks("FW-OTHER-001 and docker1", tmp_path, sabotage="fwdjump")
    finally:
        docker1.run(["sh", "-c", "iptables -C FORWARD -j DOCKER-FORWARD || iptables -I FORWARD 2 -j DOCKER-FORWARD"])
    assert_fails(
        done,
        "FW-OTHER-001",
        "the published port: GET http://10.10.10.101:",
        "dropped at docker1: ip filter FORWARD rule `ip daddr",
        "(the host's own, not Docker's)",
        "lacks `jump DOCKER-FORWARD`",
    )
