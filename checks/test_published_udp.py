"""PUB-004: a published UDP port keeps delivering across a restart of its container.

Behaviour: the outside host sends a numbered datagram every 50 ms (each flow from a port of its own) to each of
a container's published UDP ports, one per form of -p users write (the same port on both sides, another host port,
a host port Docker picks), and the container's echo server answers. The container is stopped, another one takes
its address, and it is started again on a new address, the client still sending. Each port must deliver to the new
container within RECOVERY seconds, and the container must see the client's own address and port (not the
proxy's). Before 23.0 the conntrack entry of the first container kept such a flow pointed at the old address until
it expired (moby/moby#8795, fixed by #44742, which flushes the port's entries when it is published again).

Mechanism: the nat table's DNAT rules for the ports, and the host's conntrack entries for them after the restart
(/proc/net/nf_conntrack in the host's namespace): an entry still replying from the old address is what held a flow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from netproof.kit import check, defects, firewall, flows, host_clock
from netproof.kit.namespaces import NetNamespace

CONTAINER_PORTS = {"the same port": 7101, "another host port": 7102, "a host port Docker picks": 7103}
OTHER_HOST_PORT = 17102  # for -p 17102:7102/udp
RECOVERY = 5.0  # seconds, from the container's start to its first datagram: Docker flushes the entries on start


def published_ports(c) -> dict[int, int]:
    """Each of the container's udp ports and the host port Docker publishes it on now."""
    return {p: c.host_port(p, "udp") for p in CONTAINER_PORTS.values()}


def conntrack_of(host, ports: dict[int, int]) -> list[str]:
    """The host's udp conntrack entries for the published ports, by host port or container port ("... dport=<host
    port> src=<container> ...", and a container's own datagrams to docker-proxy)."""
    table = host.run(["cat", "/proc/net/nf_conntrack"]).stdout.splitlines()
    wanted = {f"dport={p} " for p in [*ports.values(), *ports]}
    return [" ".join(line.split()) for line in table if " udp " in line and any(w in line + " " for w in wanted)]


def not_natted(entries: list[str], host_address: str, host_port: int) -> str | None:
    """The conntrack entry of a flow to the host port that is not translated to a container (its reply comes from
    the host itself: docker-proxy's socket), if there is one: an entry Docker did not flush."""
    for entry in entries:
        words = entry.split()
        if f"dport={host_port}" in words and words.count(f"src={host_address}") == 1:
            reply = words[[i for i, w in enumerate(words) if w.startswith("src=")][1]]
            if reply == f"src={host_address}":
                return entry
    return None


def the_other_way_round(entries: list[str], old_ip: str, port: int, client_port: int) -> str | None:
    """An entry a late reply from the old container's address made, from it to the client, after its entries were
    flushed: the client's datagrams match its reply direction and go to the old address, and a flush by the port
    the client sends to never matches it (its original destination port is the client's). Seen on 29.7.2 and 28.5.2
    while netproof's echo server, entered into the container's namespace from the host, outlived the container
    (netproof's doing: it is now stopped first, Flow.stop_serving); kept to name such an entry if Docker's own
    teardown ever makes one."""
    mark = f"src={old_ip} "
    for entry in entries:
        words = entry.split()
        if mark in entry and f"sport={port}" in words and f"dport={client_port}" in words:
            first_src = next(w for w in words if w.startswith("src="))
            if first_src == f"src={old_ip}":
                return f"an entry made the other way round, from the old container's {old_ip}:{port}: {entry}"
    return None


def first_datagram_again(events: list[str]) -> tuple[float | None, str | None, float | None]:
    """When the server started again first heard from its client (epoch), the address it saw, and when it listened
    again (netproof's own server: on a slow provider it may listen seconds after the container started)."""
    readies = [i for i, line in enumerate(events) if line.startswith("ready ")]
    later = events[readies[1] :] if len(readies) > 1 else []
    listening = float(later[0].split()[1]) if later else None
    peer = next((line.split() for line in later if line.startswith("peer ")), None)
    return (float(peer[1]), peer[2], listening) if peer else (None, None, listening)


def restarted_elsewhere(docker_host, workspace, net, name: str) -> tuple[NetNamespace, str, float]:
    """The container stopped, its address taken by another, and started again: its new namespace, its new
    address, and when it was started (epoch, by the host's clock)."""
    docker_host.run(["docker", "stop", "-t", "0", name], check=True)
    workspace.container(docker_host, net, role="fill")
    started = float(host_clock(docker_host))  # the host's own clock, as the server agent's there
    docker_host.run(["docker", "start", name], check=True)
    again = docker_host.docker().containers.get(name).attrs["NetworkSettings"]
    moved = NetNamespace(docker_host, again["SandboxKey"], f"container {name}, started again")
    return moved, again["Networks"][net.name]["IPAddress"], started


@check(
    "PUB-004",
    scope="host",
    tags=("bridge", "published-ports", "udp"),
    since="23.0",
    reference="moby/moby#44742 (23.0): conntrack entries of a published UDP port flushed when it is published",
    promise="a published UDP port delivers the same client's datagrams to its container again after the container "
    "is restarted on a new address, whatever form of -p published it, showing the client's own address",
)
def test_published_udp_across_a_restart(docker_host, workspace, proof, outside):
    net = workspace.bridge(docker_host, role="udp")
    forms = {7101: 7101, 7102: OTHER_HOST_PORT, 7103: None}
    c = workspace.container(docker_host, net, role="udp", ports={f"{p}/udp": h for p, h in forms.items()})
    ports = published_ports(c)
    proof.data("published udp ports (container: host)", ports, where=docker_host.name)
    client = NetNamespace.of_host(outside)
    held = [
        flows.Flow(form, "udp", c.netns, p, client, docker_host.address, ports[p])  # from a port the kernel picks
        for form, p in CONTAINER_PORTS.items()
    ]
    for flow in held:
        flow.start()
    try:
        time.sleep(1)
        for flow in held:  # the container's server dies with it, as its own process would
            flow.stop_serving()
        moved, new_ip, started = restarted_elsewhere(docker_host, workspace, net, c.name)
        for flow in held:
            flow.serve_again(moved)
        time.sleep(RECOVERY + 1)
        entries = proof.data("conntrack entries after the restart", conntrack_of(docker_host, ports), docker_host.name)
        after = proof.data("published udp ports after the restart", published_ports(c))
    finally:
        for flow in held:
            flow.stop()
    proof.text("addresses", f"first {c.ip}, after the restart {new_ip}", where=docker_host.name)
    if new_ip == c.ip:
        raise RuntimeError(f"{c.name} came back on its old address {c.ip}: the check would prove nothing")
    late, stale, proxied = [], [], []
    for flow in held:
        proof.text(f"{flow.name}: the server's events", "\n".join(flow.events["server"]))
        if after.get(flow.listen_port) != flow.port:  # Docker may pick another one: a client cannot follow it
            proof.text(f"{flow.name}: published again on another host port", f"{flow.port} -> {after}")
            continue
        miss, entry, answered = miss_of(flow, started, entries, (c.ip, new_ip, net.gateway), docker_host, outside)
        late += [miss] if miss else []
        stale += [entry] if entry else []
        proxied += [answered] if answered else []
    sight_the_proxy(proof, late, stale, proxied, docker_host)
    proof.require(
        not late,
        expected=f"each port delivers to the container's new address within {RECOVERY:.0f} s, from the client's own",
        observed="; ".join(late),
        where=f"{outside.name} -> {docker_host.name} ({c.name}: {c.ip} -> {new_ip})",
    )
    picked = str(after.get(7103))
    dnat = [r for r in firewall.rules(docker_host, "nat", "DOCKER") if "udp" in r and f"{new_ip}:" in r]  # its own
    proof.mechanism(
        "DNAT for the published udp ports",
        sorted(r.replace(new_ip, "<container>").replace(picked, "<picked>") for r in dnat),
    )
    proof.mechanism("a host port Docker picked is kept across a restart", after.get(7103) == ports[7103])


def miss_of(
    flow, started: float, entries: list[str], addresses: tuple, docker_host, outside
) -> tuple[str | None, Unflushed | None, str | None]:
    """What went wrong for one flow after the restart, if anything: the miss said, an entry Docker left without its
    DNAT, and the container's own echo to docker-proxy. `addresses`: the container's old and new address and its
    network's gateway."""
    old_ip, new_ip, gateway = addresses
    first, seen, listening = first_datagram_again(flow.events["server"])
    since = max(started, listening or started)  # Docker's time runs from when a server could hear it
    said = f"{flow.name} (-p {flow.port}:{flow.listen_port}/udp)"
    own = f"{outside.address}:{flow.client_port}"
    in_time = first is not None and first - since <= RECOVERY
    if in_time and seen == own:
        return None, None, None
    if not in_time:
        miss = f"first datagram {first - since:.1f} s after it listened" if first else "none"
        held_back = the_other_way_round(entries, old_ip, flow.listen_port, flow.client_port)
        miss = f"{said}: {miss}" + (f" (the flow is held by {held_back})" if held_back else "")
    else:
        miss = f"{said}: the container saw {seen}, not the client's {own}"
    # An entry left without its DNAT sends the flow to docker-proxy, or nowhere without the proxy.
    entry = not_natted(entries, str(docker_host.address), flow.port)
    answered = proxy_answered(entries, new_ip, flow.listen_port, gateway) if in_time and not entry else None
    return (
        miss,
        Unflushed(said, entry, flow.port == flow.listen_port) if entry else None,
        f"{said}: {answered}" if answered else None,
    )


@dataclass(frozen=True)
class Unflushed:
    """A flow's conntrack entry to its host port that Docker left without its DNAT after the restart."""

    said: str
    entry: str
    same_port: bool  # -p N:N/udp

    def __str__(self) -> str:
        return f"{self.said}: {self.entry}"


def sight_the_proxy(proof, late: list[str], stale: list[Unflushed], proxied: list[str], host) -> None:
    """Where every miss shows one known defect's mechanism, the symptom and what was seen: entries Docker left
    unflushed for every form of -p, the same port on both sides included (29.5.0's, moby/moby#52640), or only for
    host ports other than the container's (moby/moby#53384), or datagrams docker-proxy took before the entries were
    flushed (moby/moby#44688)."""
    every_port = "udp-entries-unflushed-every-port" if any(u.same_port for u in stale) else "udp-entry-unflushed"
    for seen, mechanism in ((stale, every_port), (proxied, "udp-proxied-before-flush")):
        if late and len(seen) == len(late):
            proof.symptom(defects.UDP_THROUGH_PROXY)
            proof.sighted(mechanism, "; ".join(map(str, seen)), host.name)
            return


def proxy_answered(entries: list[str], container_ip: str, port: int, gateway: str | None) -> str | None:
    """The container's own echo to docker-proxy (from its port to the bridge's gateway), in the host's conntrack
    table after the restart: datagrams of the client reached it through the proxy, not through Docker's DNAT."""
    if not gateway:
        return None
    mark = f"src={container_ip} dst={gateway.split('/')[0]} sport={port} "
    return next((e for e in entries if mark in e), None)
