"""PUB-001, PUB-002: published ports answer where they are published, and nowhere else.

PUB-001: a port published with -p answers the outside host on the docker host's underlay address;
one published on 127.0.0.1 only is not reached by a neighbour on the same segment that sends to
127.0.0.1 with the docker host's MAC address (the method of moby/moby#41872; Docker drops such
packets since 28.0, moby/moby#49325). The neighbour's packet is crafted with scapy in the neighbour's
namespace (the netns provider: this machine's scapy), and looked for at the container.

PUB-002: direct routing. With the router told that a bridge network's subnet is behind the docker
host, the outside host reaches neither a container's unpublished port nor its published port at the
container's own address (since 28.0: moby/moby#48724, #49325, #49829), while the published port still
answers on the host's address.
"""

from __future__ import annotations

import secrets
import sys

import pytest

from netproof.catalogue import check
from netproof.proof import probes, wire
from netproof.proof.routes import random_subnet, route_on_router

SINCE_28 = "28.0"
CRAFT = """
import sys
from scapy.all import Ether, IP, TCP, conf, sendp
conf.verb = 0
mac, src, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
frame = Ether(dst=mac) / IP(src=src, dst="127.0.0.1") / TCP(sport=40000 + port % 20000, dport=port, flags="S")
sendp(frame, iface="eth0", count=3, inter=0.2)
"""


def host_port(docker_host, container) -> int | None:
    ports = docker_host.docker().containers.get(container.name).attrs["NetworkSettings"]["Ports"] or {}
    binding = (ports.get(f"{probes.HTTP_PORT}/tcp") or [{}])[0]
    return int(binding["HostPort"]) if binding.get("HostPort") else None


def require_answers(proof, outside, address: str, port: int, where: str) -> None:
    fetch = probes.http_get(probes.on_host(outside), address, port, timeout=3)
    proof.command(f"{outside.name}: GET http://{address}:{port}/", fetch.result)
    proof.require(
        fetch.result.ok and "netproof" in fetch.result.stdout,
        expected=f"{outside.name} reaches the published port at {address}:{port}",
        observed=str(fetch),
        where=where,
    )


@check(
    "PUB-001",
    scope="host",
    tags=("bridge", "published-ports", "firewall"),
    since=SINCE_28,
    reference="moby/moby#49325 (the method of moby/moby#41872)",
    promise="a port published with -p answers on the docker host's address, and one published on 127.0.0.1 "
    "only is not reached by a neighbour sending to 127.0.0.1 with the host's MAC address",
)
def test_published_where_asked(docker_host, lab, workspace, proof, outside, evidence_dir):
    net = workspace.bridge(docker_host, role="pub")
    public = workspace.container(
        docker_host, net, role="pub", command=probes.SERVE, ports={f"{probes.HTTP_PORT}/tcp": None}
    )
    port = host_port(docker_host, public)
    require_answers(proof, outside, docker_host.address, port, f"{outside.name} -> {docker_host.name}:{port}")

    neighbours = [h for h in lab.hosts.values() if h.spec.subnet == docker_host.spec.subnet and h is not docker_host]
    if lab.state["provider"] != "netns" or not neighbours:
        pytest.skip(
            "the 127.0.0.1 half crafts a frame with this machine's scapy in a neighbour's namespace: netns labs"
        )
    neighbour = neighbours[0]
    local_port = 20000 + secrets.randbelow(20000)
    local = workspace.container(
        docker_host,
        net,
        role="loc",
        command=probes.SERVE,
        ports={f"{probes.HTTP_PORT}/tcp": ("127.0.0.1", local_port)},
    )
    links = docker_host.infra.interface("eth0")
    mac = docker_host.run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
    proof.text(f"{docker_host.name} eth0", f"{', '.join(links.addresses)} {mac}", where=docker_host.name)
    at_container = wire.Capture(
        local.netns, "eth0", f"tcp dst port {probes.HTTP_PORT}", evidence_dir / f"{local.name}-from-neighbour.pcap"
    )
    with at_container:
        sent = neighbour.run([sys.executable, "-c", CRAFT, mac, neighbour.address, str(local_port)], timeout=30)
    proof.command(f"{neighbour.name} sends SYNs to 127.0.0.1:{local_port} with {docker_host.name}'s MAC", sent)
    proof.require(sent.ok, expected="the frames were sent", observed=sent.stderr.strip()[-300:], where=neighbour.name)
    proof.pcap(at_container.describe(), at_container.dest, where=docker_host.name)
    arrived = wire.count_packets(at_container.dest)
    proof.require(
        arrived == 0,
        expected=f"nothing from {neighbour.name} reaches {local.name}, published on 127.0.0.1:{local_port} only",
        observed=f"{arrived} packet(s) arrived at {local.name}",
        where=f"{neighbour.name} -> 127.0.0.1:{local_port} via {docker_host.name}'s MAC {mac}",
    )
    localnet = docker_host.run(["sysctl", "-n", "net.ipv4.conf.all.route_localnet"]).stdout.strip()
    proof.mechanism("net.ipv4.conf.all.route_localnet", localnet)


@check(
    "PUB-002",
    scope="host",
    tags=("bridge", "published-ports", "firewall", "isolation"),
    since=SINCE_28,
    reference="moby/moby#48724, #49325, #49829",
    promise="a host routed to a bridge network reaches neither a container's unpublished port nor its published "
    "port at the container's own address, while the published port answers on the docker host's address",
)
def test_direct_routing(docker_host, lab, workspace, proof, outside):
    net = workspace.bridge(docker_host, subnet=random_subnet(), role="drt")
    hidden = workspace.container(docker_host, net, role="hid", command=probes.SERVE)
    shown = workspace.container(
        docker_host, net, role="pub", command=probes.SERVE, ports={f"{probes.HTTP_PORT}/tcp": None}
    )
    port = host_port(docker_host, shown)
    where = f"{outside.name}, routed to {net.subnet} via {docker_host.name}"
    window = probes.Window(f"{outside.name} to containers' own addresses on {net.subnet}")
    with route_on_router(lab, net.subnet, docker_host.address, proof) as routed:
        proof.require(routed, expected="the router takes the route", observed="it did not", where="router")
        for target in (hidden, shown):
            window.http(probes.on_host(outside), target.ip, probes.HTTP_PORT, tries=2)
        require_answers(proof, outside, docker_host.address, port, where)
    proof.text("probes", "\n".join(window.attempts))
    proof.require(
        window.held,
        expected=f"no connection to {hidden.ip}:{probes.HTTP_PORT} (unpublished) or {shown.ip}:{probes.HTTP_PORT} "
        f"(published as {docker_host.address}:{port})",
        observed="got through: " + "; ".join(window.breaches),
        where=where,
    )
    rules = docker_host.infra.iptables.rules("raw") + docker_host.infra.iptables.rules("filter")
    proof.data(f"raw and filter tables of {docker_host.name}", rules, where=docker_host.name)
    proof.mechanism("raw PREROUTING", [r.replace(net.subnet, "<subnet>") for r in rules if "PREROUTING" in r])
