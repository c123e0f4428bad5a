"""PUB-005: a published port answers from everywhere a user reaches it from, as a truth table.

Behaviour: one container publishes its HTTP port; six clients GET it, each where users do: a container on its own
network and one on another network (both at the docker host's address: hairpin NAT or docker-proxy), the docker
host itself at its underlay address, at the bridge's gateway and at 127.0.0.1, and the outside host. Every cell must
answer. A capture in the server's own namespace records the source address each request arrived from: the client's
own, the bridge's gateway (docker-proxy, or masquerade) or the host's; which one is Docker's choice, and the paths
changed in 28.0 (moby/moby#48132: the daemon binds the port and hands it to docker-proxy) and 29.0 (#49981: the
DOCKER-ISOLATION rules between networks dropped). It is recorded as the mechanism, so `netproof diff` and the
matrix show where an engine differs; the promise is that each cell answers.

Mechanism: the userland-proxy setting, and per cell the address the server saw the request come from.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from netproof.kit import check, defects, facts, firewall, probes, trace, wire

ANOTHER_NETWORK = "a container on another network"


@dataclass(frozen=True)
class Place:
    """Where a user reaches the published port from, and the address it asks for."""

    name: str
    run: object  # a Runner: the probe runs there
    address: str
    client: str | None  # the client's own address, where it has one of its own


def seen_as(source: str | None, *, client: str | None, names: dict[str, str]) -> str:
    """The source address the server saw, said by what it is (stable from run to run)."""
    if source is None:
        return "nothing arrived"
    if source == client:
        return "the client's own address"
    return names.get(source, source)


@check(
    "PUB-005",
    scope="host",
    tags=("bridge", "published-ports"),
    reference="moby/moby#48132 (28.0: the daemon binds, docker-proxy gets the port), #49981 (29.0: no isolation rules)",
    promise="a port published with -p answers a container on its own network and on another network, the docker "
    "host itself at its address, at the bridge's gateway and at 127.0.0.1, and the external network",
)
def test_published_port_from_everywhere(docker_host, workspace, proof, outside, evidence_dir, packet_trace):
    net = workspace.bridge(docker_host, role="rch")
    other = workspace.bridge(docker_host, role="rco")
    server = workspace.server(docker_host, net, role="rch", ports={f"{probes.HTTP_PORT}/tcp": None})
    port = server.host_port(probes.HTTP_PORT)
    proof.require(port is not None, expected=f"{server.name}'s port published", observed="none", where=str(server))
    neighbour = workspace.container(docker_host, net, role="rcn")
    stranger = workspace.container(docker_host, other, role="rcs")
    gateway = (net.gateway or "").split("/")[0]
    host = probes.on_host(docker_host)
    places = [
        Place("a container on its own network", neighbour.exec, docker_host.address, neighbour.ip),
        Place(ANOTHER_NETWORK, stranger.exec, docker_host.address, stranger.ip),
        Place("the docker host at its address", host, docker_host.address, None),
        Place("the docker host at the bridge's gateway", host, gateway, None),
        Place("the docker host at 127.0.0.1", host, "127.0.0.1", None),
        Place("the outside host", probes.on_host(outside), docker_host.address, outside.address),
    ]
    names = {
        gateway: "the bridge's gateway",
        (other.gateway or "").split("/")[0]: "the other network's gateway",
        docker_host.address: "the docker host's address",
        "127.0.0.1": "127.0.0.1",
    }
    mark = secrets.token_hex(4)  # each request's own, found in the capture
    capture = wire.Capture(
        server.netns, "eth0", f"tcp dst port {probes.HTTP_PORT}", evidence_dir / f"{server.name}-clients.pcap"
    )
    fetches = {}
    with capture:
        for i, place in enumerate(places):
            fetches[place.name] = probes.http_get(place.run, place.address, port, timeout=3, query=f"{mark}{i}")
    proof.pcap(capture.describe(), capture.dest, where=docker_host.name)
    table, wrong = tabulate(proof, places, fetches, capture.dest, mark, names)
    proof.data("who reaches the published port, and as whom (expected: every cell answers)", table, docker_host.name)
    proxied = facts.userland_proxy(docker_host.spec.daemon)
    if [w.split(":")[0] for w in wrong] == [ANOTHER_NETWORK] and not proxied:
        sight_isolation(proof, docker_host, net)
    if wrong and not fetches["the outside host"].result.ok:
        packet_trace.why_lost(
            trace.Conversation(outside.address, docker_host.address, port),
            [outside, docker_host],
            lambda: probes.http_get(probes.on_host(outside), docker_host.address, port, timeout=3),
        )
    proof.require(
        not wrong,
        expected=f"all {len(places)} places reach {docker_host.address}:{port} -> {server.ip}:{probes.HTTP_PORT}",
        observed=f"{len(wrong)} of {len(places)} wrong: " + "; ".join(wrong),
        where=f"{server.name} on {docker_host.name}, published on port {port}",
    )
    proof.mechanism("userland-proxy", proxied)
    proof.mechanism(
        "the address each place's request arrived from", {p: s.split("seen from ", 1)[1] for p, s in table.items()}
    )


def sight_isolation(proof, docker_host, server_network) -> None:
    """Only the other network's container got no answer, with the userland proxy off: Docker's inter-network
    isolation dropping what goes to the server's bridge is moby/moby#38784's mechanism, if it is there."""
    proof.symptom(defects.OTHER_NETWORKS_CUT)
    bridge = f"br-{server_network.id[:12]}"
    drops = [r for r in firewall.rules(docker_host, "filter", "DOCKER-ISOLATION-STAGE-2") if f"-o {bridge} " in r]
    if any(r.endswith("-j DROP") for r in drops):
        proof.sighted("isolation-drops-between-bridges", "; ".join(drops), docker_host.name)


def tabulate(proof, places: list[Place], fetches: dict, pcap, mark: str, names: dict[str, str]):
    """Each place's cell (answered or not, and as whom the server saw it), and the wrong ones said."""
    table, wrong = {}, []
    for i, place in enumerate(places):
        fetch = fetches[place.name]
        proof.command(f"{place.name}: GET {fetch.url}", fetch.result)
        answered = fetch.result.ok and "netproof" in fetch.result.stdout
        senders = wire.senders_of(pcap, f"{mark}{i}".encode())
        source = seen_as(senders[0] if senders else None, client=place.client, names=names)
        table[place.name] = f"{'answers' if answered else 'no answer'}, seen from {source}"
        if not answered:
            wrong.append(f"{place.name}: {fetch} (at the server: {source})")
    return table, wrong
