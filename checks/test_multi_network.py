"""BR-MULTI-001: a container on two bridge networks leaves by the one its gw-priority names, by the other once that
one is disconnected, and has both back after a stop and start.

Behaviour: a container is started on one bridge network and connected to a second with `--gw-priority 10` (28.0,
moby/moby#48936: the endpoint of the highest priority gives the default gateway). It fetches the outside host's
page three times, each request marked: with both networks, after `docker network disconnect` of the second, and after
it is connected again and the container is stopped and started. Captures on both bridges in the docker host's own
namespace say which one each request crossed: the second, then the first, then the second again.

Mechanism: the container's default route after each step, and its addresses on both networks after the restart.

BR-MULTI-002: a container connected to a second bridge network with a MAC address of its own (the Engine API's
EndpointConfig.MacAddress on connect, honoured since 29.3: moby/moby#52040; before, Docker took the request and
dropped the address, moby/moby#48192) sends from that address there, and again after a stop and start. A peer on the
second network pings it; a capture on that network's bridge, in the docker host's own namespace, says which Ethernet
address its echo replies and ARP answers came from. Mechanism: whether the interface and Docker's record hold it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from netproof.kit import OUTSIDE_HTTP_PORT, check, probes, wire
from netproof.kit.namespaces import NetNamespace

PRIORITY = 10
PEER_TRAFFIC = "icmp or arp"
FIRST, SECOND = "the first network", "the second network (gw-priority 10)"


@check(
    "BR-MULTI-001",
    scope="host",
    tags=("bridge", "multi-network", "routing"),
    since="28.0",
    reference="moby/moby#48936 (28.0): gw-priority",
    promise="a container on two bridge networks leaves by the one with the higher gw-priority, by the other once that "
    "one is disconnected, and has both networks and their addresses back after a stop and start",
)
def test_gateway_priority(docker_host, workspace, proof, outside, evidence_dir):
    first = workspace.bridge(docker_host, role="gwa")
    second = workspace.bridge(docker_host, role="gwb")
    c = workspace.container(docker_host, first, role="gwp")
    joined, _ = workspace.connect(docker_host, second, c.name, gw_priority=PRIORITY)
    proof.command(f"{c.name} joins {second.name} with gw-priority {PRIORITY}", joined)
    proof.require(joined.ok, expected=f"Docker connects {c.name} to {second.name} with --gw-priority {PRIORITY}",
                  observed=joined.stderr.strip(), where=docker_host.name)  # fmt: skip
    host_ns = NetNamespace.of_host(docker_host)
    bridges = {FIRST: f"br-{first.id[:12]}", SECOND: f"br-{second.id[:12]}"}  # stable names, for the mechanism
    captures = {
        name: wire.Capture(host_ns, bridge, f"tcp dst port {OUTSIDE_HTTP_PORT}", evidence_dir / f"{bridge}.pcap", 90)
        for name, bridge in bridges.items()
    }
    steps, routes = [], {}
    with captures[FIRST], captures[SECOND]:
        steps.append(leave(proof, c, outside, "with both networks", SECOND))
        routes["with both networks"] = default_route(proof, c)
        gone = proof.command(f"{c.name} leaves {second.name}",
                             docker_host.run(["docker", "network", "disconnect", second.name, c.name]))  # fmt: skip
        proof.require(gone.ok, expected="Docker disconnects it", observed=gone.stderr.strip(), where=docker_host.name)
        steps.append(leave(proof, c, outside, f"after disconnecting {SECOND}", FIRST))
        routes[f"after disconnecting {SECOND}"] = default_route(proof, c)
        again, _ = workspace.connect(docker_host, second, c.name, gw_priority=PRIORITY)
        proof.command(f"{c.name} joins {second.name} again", again)
        if again.ok:
            for argv in (["docker", "stop", "-t", "0", c.name], ["docker", "start", c.name]):
                docker_host.run(argv, check=True)
            steps.append(leave(proof, c, outside, "after a stop and start", SECOND))
            routes["after a stop and start"] = default_route(proof, c)
    for capture in captures.values():
        proof.pcap(capture.describe(), capture.dest, where=docker_host.name)
    crossed = {
        step.when: [n for n, capture in captures.items() if wire.carrying(capture.dest, step.mark.encode())]
        for step in steps
    }
    proof.data("which bridge each request crossed", crossed, where=docker_host.name)
    networks = docker_host.docker().containers.get(c.name).attrs["NetworkSettings"]["Networks"]
    addressed = sorted(n for n in (first.name, second.name) if (networks.get(n) or {}).get("IPAddress"))
    wrong = [f"{s.when}: {s.fetch}" for s in steps if not s.fetch.through]
    wrong += [f"{s.when}: crossed {', '.join(crossed[s.when]) or 'no bridge'}, not {s.expected}"
              for s in steps if s.fetch.through and crossed[s.when] != [s.expected]]  # fmt: skip
    if not again.ok:
        wrong.append(f"Docker did not connect it to {second.name} again: {again.stderr.strip()}")
    elif len(addressed) != 2:
        wrong.append(f"after a stop and start it has addresses on {', '.join(addressed) or 'no network'} only")
    proof.require(
        not wrong,
        expected=f"it leaves by {second.name} (gw-priority {PRIORITY}), by {first.name} once {second.name} is "
        f"disconnected, by {second.name} again after a stop and start, with both networks' addresses "
        f"({FIRST}: {first.name}, {SECOND}: {second.name})",
        observed="; ".join(wrong),
        where=f"{c.name} on {docker_host.name}",
    )
    named = {first.gateway.split("/")[0]: "<first's gateway>", second.gateway.split("/")[0]: "<second's gateway>"}
    proof.mechanism(
        "the default route after each step",
        {when: " ".join(named.get(w, w) for w in route.split()) for when, route in routes.items()},
    )


@dataclass(frozen=True)
class Step:
    """One marked request out, and the bridge it should cross."""

    when: str
    mark: str
    fetch: probes.Fetch
    expected: str


def leave(proof, container, outside, when: str, expected: str) -> Step:
    mark = f"{container.name}-{secrets.token_hex(3)}"
    fetch = probes.http_get(container.exec, outside.address, OUTSIDE_HTTP_PORT, timeout=3, query=mark)
    proof.command(f"{when}: {container.name} GETs {fetch.url}", fetch.result)
    return Step(when, mark, fetch, expected)


def default_route(proof, container) -> str:
    shown = proof.command(f"{container.name}'s default route", container.exec(["ip", "route", "show", "default"]))
    return " ".join(shown.stdout.split()[:5])  # default via <gateway> dev <interface>


@check(
    "BR-MULTI-002",
    scope="host",
    tags=("bridge", "multi-network"),
    since="29.3",
    reference="moby/moby#52040 (29.3, API 1.54): MacAddress on network connect; dropped before (moby/moby#48192)",
    promise="a container connected to a second network with a MAC address of its own sends from that address there, "
    "and again after a stop and start",
)
def test_mac_address_on_connect(docker_host, workspace, proof, evidence_dir):
    first = workspace.bridge(docker_host, role="maca")
    second = workspace.bridge(docker_host, role="macb")
    c = workspace.container(docker_host, first, role="mac")
    peer = workspace.container(docker_host, second, role="macp")
    asked = "02:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))  # locally administered, unicast
    joined, address = workspace.connect(docker_host, second, c.name, mac_address=asked)
    proof.command(f"{c.name} joins {second.name} with MAC address {asked}", joined)
    proof.require(joined.ok and bool(address), expected=f"Docker connects {c.name} to {second.name}",
                  observed=joined.stderr.strip() or "no address there", where=docker_host.name)  # fmt: skip
    bridge = f"br-{second.id[:12]}"
    seen, held = {}, {}
    for when in ("once connected", "after a stop and start"):
        if when != "once connected":
            for argv in (["docker", "stop", "-t", "0", c.name], ["docker", "start", c.name]):
                docker_host.run(argv, check=True)
            address = endpoint_of(docker_host, c.name, second.name).get("IPAddress") or ""
        seen[when] = sent_from(proof, docker_host, bridge, peer, address, evidence_dir / f"{when.split()[-1]}.pcap")
        held[when] = interface_mac(docker_host, c.name, address)
    recorded = endpoint_of(docker_host, c.name, second.name).get("MacAddress") or "none"
    proof.data("MAC addresses", {"asked": asked, "on the wire": seen, "the interface's": held, "Docker's record":
                                 recorded}, where=docker_host.name)  # fmt: skip
    wrong = [f"{when}: its frames came from {', '.join(macs) or 'nowhere (none seen)'}"
             for when, macs in seen.items() if macs != [asked]]  # fmt: skip
    proof.require(
        not wrong,
        expected=f"{c.name}'s frames on {second.name} come from {asked}, the MAC address it was connected with",
        observed="; ".join(
            [*wrong, f"its interface holds {', '.join(sorted(set(held.values())))}", f"Docker records {recorded}"]
        ),  # fmt: skip
        where=f"{c.name} on {docker_host.name}, {second.name}",
    )
    proof.mechanism(
        "the interface on the second network, and Docker's record",
        {
            when: "the MAC address asked" if mac == asked else "another"
            for when, mac in [*held.items(), ("Docker's record", recorded)]
        },  # fmt: skip
    )


def endpoint_of(host, container: str, network: str) -> dict:
    return host.docker().containers.get(container).attrs["NetworkSettings"]["Networks"].get(network) or {}


def sent_from(proof, host, bridge: str, peer, address: str, pcap) -> list[str]:
    """The Ethernet addresses `address`'s answers to the peer's pings left by, on the bridge."""
    with wire.Capture(NetNamespace.of_host(host), bridge, PEER_TRAFFIC, pcap, 30) as capture:
        echoes = probes.ping(peer.exec, address)
    proof.command(f"{peer.name} pings {address}", echoes.result)
    proof.pcap(capture.describe(), capture.dest, where=host.name)
    return wire.hardware_senders(capture.dest, address)


def interface_mac(host, container: str, address: str) -> str:
    """The MAC address of the container's interface that holds `address`, read in its namespace."""
    sandbox = host.docker().containers.get(container).attrs["NetworkSettings"]["SandboxKey"]
    netns = NetNamespace(host, sandbox, f"container {container}")
    links, _ = netns.addresses()
    held = [link for link in links if any(a.get("local") == address for a in link.get("addr_info", []))]
    return held[0].get("address", "none") if held else "none"
