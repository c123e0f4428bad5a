"""PUB-001, PUB-002: published ports answer where they are published, and nowhere else.

PUB-001: a port published with -p answers the outside host on the docker host's underlay address;
the DNAT rule for it is the mechanism.

PUB-003: a port published on 127.0.0.1 only is not reached by a neighbour on the same segment that
sends to 127.0.0.1 with the docker host's MAC address (the method of moby/moby#41872; Docker drops such
packets since 28.0, moby/moby#49325). The neighbour's SYNs are written with a raw socket
(wire.CRAFT_SYN, the neighbour's python3, standard library only), and looked for at the container.

PUB-002: direct routing. With the router told that a bridge network's subnet is behind the docker
host, the outside host reaches neither a container's unpublished port nor its published port at the
container's own address (since 28.0: moby/moby#48724, #49325, #49829), while the published port still
answers on the host's address.

PUB-006: one of the ways back to direct routing that 28.2 opened (moby/moby#49832): a bridge network created
with com.docker.network.bridge.trusted_host_interfaces=<the host's underlay interface> lets the same routed
outside host reach a published port at the container's own address (its container port), while a container's
unpublished port on that network stays closed. Before 28.0 it holds without the option (nothing guarded containers'
addresses then, PUB-002's subject): the six-engine matrix shows it holding on 26.1, as not promised there.

PUB-007: the daemon-wide way back (28.2, the same change): on a docker host whose daemon.json sets
allow-direct-routing, a bridge network without any option lets the routed outside host reach the published port at
the container's own address, while an unpublished port stays closed (Docker's forward filter still holds it). Runs
where a host's daemon says so (labs/configured.yml's docker2); PUB-002 does not judge such a host.
"""

from __future__ import annotations

import secrets

import pytest

from netproof.kit import (
    Window,
    check,
    facts,
    firewall,
    probes,
    random_subnet,
    route_on_router,
    trace,
    underlay_interface,
    wire,
)

CRAFTER = probes.Tool("python3 (wire.CRAFT_SYN)", (r"^sent 3 frames$",))  # its own last words

SINCE_28 = "28.0"


def require_answers(
    proof, outside, address: str, port: int, where: str, missing: tuple | list = (), packet_trace=None, host=None
) -> None:
    """outside's GET of address:port gets the page; if not, with a packet_trace, where it died (crossing host)."""
    fetch = probes.http_get(probes.on_host(outside), address, port, timeout=3)
    proof.command(f"{outside.name}: GET http://{address}:{port}/", fetch.result)
    answered = fetch.result.ok and "netproof" in fetch.result.stdout
    if not answered and packet_trace is not None:
        packet_trace.why_lost(
            trace.Conversation(outside.address, address, port),
            [outside, host],
            lambda: probes.http_get(probes.on_host(outside), address, port, timeout=3),
        )
    proof.require(
        answered,
        expected=f"{outside.name} reaches the published port at {address}:{port}",
        observed="; ".join([str(fetch), *missing]),
        where=where,
    )


@check(
    "PUB-001",
    scope="host",
    tags=("bridge", "published-ports"),
    promise="a port published with -p answers the external network on the docker host's address",
)
def test_published_port_answers(docker_host, workspace, proof, outside, packet_trace):
    net = workspace.bridge(docker_host, role="pub")
    public = workspace.server(docker_host, net, role="pub", ports={f"{probes.HTTP_PORT}/tcp": None})
    port = public.host_port(probes.HTTP_PORT)
    proof.require(
        port is not None, expected=f"{public.name}'s port published", observed="no host port", where=str(public)
    )
    nat = firewall.rules(docker_host, "nat", "DOCKER")
    proof.data(f"nat DOCKER chain of {docker_host.name}", nat, where=docker_host.name)
    target = f"{public.ip}:{probes.HTTP_PORT}"
    forwarded = [r for r in nat if f"dport {port} " in f"{r} " and target in r]  # iptables --dport, nft dport
    proxy = docker_host.run(
        ["sh", "-c", f"ps -ww -eo args | grep -c '[d]ocker-proxy.*-host-port {port} .*-container-ip {public.ip}'"]
    )
    proof.command(f"docker-proxy for port {port}", proxy)
    proxied = facts.userland_proxy(docker_host.spec.daemon)  # else no docker-proxy is due
    missing = (
        [] if forwarded else [f"no DNAT of port {port} to {target} in {docker_host.name}'s nat DOCKER chain"]
    ) + ([] if proxy.stdout.strip() not in ("", "0") or not proxied else [f"no docker-proxy for port {port}"])
    where = f"{outside.name} -> {docker_host.name}:{port}"
    require_answers(proof, outside, docker_host.address, port, where, missing, packet_trace, docker_host)
    proof.mechanism(
        "DNAT for the published port",
        [
            r.replace(str(port), "<port>").replace(public.ip, "<container>").replace(f"br-{net.id[:12]}", "<bridge>")
            for r in forwarded
        ],
    )


@check(
    "PUB-003",
    scope="host",
    tags=("bridge", "published-ports", "firewall"),
    since=SINCE_28,
    reference="moby/moby#49325 (the method of moby/moby#41872)",
    promise="a port published on 127.0.0.1 only is not reached by a neighbour sending to 127.0.0.1 with the "
    "docker host's MAC address",
)
def test_localhost_stays_local(docker_host, lab, workspace, proof, evidence_dir):
    neighbours = [h for h in lab.hosts.values() if h.spec.subnet == docker_host.spec.subnet and h is not docker_host]
    if not neighbours:
        pytest.skip(f"no other lab host shares {docker_host.name}'s subnet to send from")
    neighbour = neighbours[0]
    net = workspace.bridge(docker_host, role="loc")
    local_port = 20000 + secrets.randbelow(20000)
    local = workspace.server(docker_host, net, role="loc", ports={f"{probes.HTTP_PORT}/tcp": ("127.0.0.1", local_port)})
    # The control: the port answers where it is published, so nothing arriving from the neighbour means Docker refused.
    require_answers(proof, docker_host, "127.0.0.1", local_port, f"{docker_host.name} itself -> 127.0.0.1:{local_port}")
    # The underlay interfaces, by their addresses: on a VM, eth0 is the management network.
    _, interface = underlay_interface(docker_host)
    _, neighbour_interface = underlay_interface(neighbour)
    mac = docker_host.run(["cat", f"/sys/class/net/{interface}/address"]).stdout.strip()
    own_mac = neighbour.run(["cat", f"/sys/class/net/{neighbour_interface}/address"]).stdout.strip()
    at_container = wire.Capture(
        local.netns, "eth0", f"tcp dst port {probes.HTTP_PORT}", evidence_dir / f"{local.name}-from-neighbour.pcap"
    )
    craft = [
        "python3",
        "-c",
        wire.CRAFT_SYN,
        mac,
        own_mac,
        neighbour.address,
        "127.0.0.1",
        str(local_port),
        neighbour_interface,
    ]
    with at_container:  # frames not sent (no python3 on the neighbour, a socket refused) prove nothing: a broken lab
        sent = probes.send(lambda argv: neighbour.run(argv, timeout=30), craft, CRAFTER)
    proof.command(f"{neighbour.name} sends SYNs to 127.0.0.1:{local_port} with {docker_host.name}'s MAC {mac}", sent)
    proof.pcap(at_container.describe(), at_container.dest, where=docker_host.name)
    arrived = wire.count_packets(at_container.dest)
    localnet = docker_host.run(["sysctl", "-n", "net.ipv4.conf.all.route_localnet"]).stdout.strip()
    raw = firewall.rules(docker_host, "raw", "PREROUTING")
    proof.data(f"raw PREROUTING of {docker_host.name}", raw, where=docker_host.name)
    guards = [r for r in raw if "127.0.0.1" in r and f"dport {local_port}" in r and "drop" in r.lower()]  # ipt/nft
    proof.require(
        arrived == 0,
        expected=f"nothing from {neighbour.name} reaches {local.name}, published on 127.0.0.1:{local_port} only",
        observed=f"{arrived} packet(s) arrived at {local.name} ({docker_host.name}: route_localnet={localnet}; "
        + ("a raw PREROUTING DROP" if guards else "no raw PREROUTING DROP")
        + f" for 127.0.0.1:{local_port} from other interfaces)",
        where=f"{neighbour.name} -> 127.0.0.1:{local_port} via {docker_host.name}'s MAC {mac}",
    )
    proof.mechanism("net.ipv4.conf.all.route_localnet", localnet)
    proof.mechanism(
        "raw DROP for the 127.0.0.1 port from other interfaces", [g.replace(str(local_port), "<port>") for g in guards]
    )


@check(
    "PUB-002",
    needs=("router-routes",),
    scope="host",
    tags=("bridge", "published-ports", "firewall", "isolation"),
    since=SINCE_28,
    reference="moby/moby#48724, #49325, #49829",
    promise="a host routed to a bridge network reaches neither a container's unpublished port nor its published "
    "port at the container's own address, while the published port answers on the docker host's address",
)
def test_direct_routing(docker_host, lab, workspace, proof, outside):
    if facts.allows_direct_routing(docker_host.spec.daemon):
        pytest.skip(f"{docker_host.name}'s daemon.json sets allow-direct-routing, opting out of this promise (PUB-007)")
    net = workspace.bridge(docker_host, subnet=random_subnet(), role="drt")
    hidden = workspace.server(docker_host, net, role="hid")
    shown = workspace.server(docker_host, net, role="pub", ports={f"{probes.HTTP_PORT}/tcp": None})
    port = shown.host_port(probes.HTTP_PORT)
    where = f"{outside.name}, routed to {net.subnet} via {docker_host.name}"
    window = Window(f"{outside.name} to containers' own addresses on {net.subnet}")
    with route_on_router(lab, net.subnet, docker_host.address, proof) as routed:
        proof.require(routed, expected="the router takes the route", observed="it did not", where="router")
        for target in (hidden, shown):
            window.http(probes.on_host(outside), target.ip, probes.HTTP_PORT, tries=2)
        require_answers(proof, outside, docker_host.address, port, where)
    rules = firewall.rules(docker_host, "raw") + firewall.rules(docker_host, "filter")
    unguarded = [c.ip for c in (hidden, shown) if not any(_drops_to(r, c.ip) for r in rules)]
    window.require_nothing_through(
        proof,
        expected=f"no connection to {hidden.ip}:{probes.HTTP_PORT} (unpublished) or {shown.ip}:{probes.HTTP_PORT} "
        f"(published as {docker_host.address}:{port})",
        where=where,
        mechanism=f" (no raw PREROUTING DROP for {', '.join(unguarded)} from outside its bridge)" if unguarded else "",
    )
    proof.data(f"raw and filter tables of {docker_host.name}", rules, where=docker_host.name)
    named = {hidden.ip: "<unpublished>", shown.ip: "<published>"}
    mine = [r for r in rules if "PREROUTING" in r and any(ip in r for ip in named)]  # iptables -S, nft raw-PREROUTING
    for ip, placeholder in named.items():
        mine = [r.replace(ip, placeholder) for r in mine]
    proof.mechanism("raw PREROUTING for the two containers", [r.split(" -i ")[0] + " ..." for r in mine])


@check(
    "PUB-006",
    needs=("router-routes",),
    scope="host",
    tags=("bridge", "published-ports", "firewall"),
    since="28.2",
    reference="moby/moby#49832 (28.2): com.docker.network.bridge.trusted_host_interfaces",
    promise="a bridge network that trusts the docker host's underlay interface lets a host routed to it reach a "
    "published port at the container's own address, while an unpublished port there stays closed",
)
def test_trusted_host_interface(docker_host, lab, workspace, proof, outside, packet_trace):
    _, interface = underlay_interface(docker_host)
    trusted = {facts.TRUSTED_INTERFACES: interface}
    how = f"trusted: {interface}"
    rules = reached_directly(docker_host, lab, workspace, proof, outside, packet_trace, trusted, how)
    trusting = [r for r in rules if f" {interface} " in f" {r} " or f'"{interface}"' in r]  # iptables -i, nft iifname
    proof.data(f"{docker_host.name}'s raw and filter rules naming {interface}", trusting, where=docker_host.name)
    proof.mechanism(f"rules for the trusted interface <{interface}>", sorted(trusting))


@check(
    "PUB-007",
    needs=("router-routes", "daemon:allow-direct-routing"),
    scope="host",
    tags=("bridge", "published-ports", "firewall"),
    since="28.2",
    reference="moby/moby#49832 (28.2): the daemon's allow-direct-routing",
    promise="with allow-direct-routing in its daemon settings, a docker host lets a host routed to a bridge network "
    "reach a published port at the container's own address, while an unpublished port there stays closed",
)
def test_allow_direct_routing(docker_host, lab, workspace, proof, outside, packet_trace):
    rules = reached_directly(docker_host, lab, workspace, proof, outside, packet_trace, {}, "allow-direct-routing")
    raw = [r for r in rules if "PREROUTING" in r and ("<published>" in r or "<unpublished>" in r)]
    proof.data(f"{docker_host.name}'s raw PREROUTING for the two containers", raw, where=docker_host.name)
    proof.mechanism("raw PREROUTING drops for the containers' own addresses", sorted(raw))


def reached_directly(docker_host, lab, workspace, proof, outside, packet_trace, options: dict, how: str) -> list[str]:
    """The routed outside host reaches a published port at its container's own address on a bridge network made
    with `options`, and not an unpublished one there; the host's raw and filter rules after, the two containers'
    and the bridge's names replaced by placeholders."""
    net = workspace.bridge(docker_host, subnet=random_subnet(), role="trh", options=options)
    hidden = workspace.server(docker_host, net, role="hid")
    shown = workspace.server(docker_host, net, role="pub", ports={f"{probes.HTTP_PORT}/tcp": None})
    where = f"{outside.name}, routed to {net.subnet} via {docker_host.name} ({how})"
    window = Window(f"{outside.name} to an unpublished port at its container's own address on {net.subnet}")
    with route_on_router(lab, net.subnet, docker_host.address, proof) as routed:
        proof.require(routed, expected="the router takes the route", observed="it did not", where="router")
        window.http(probes.on_host(outside), hidden.ip, probes.HTTP_PORT, tries=2)
        require_answers(proof, outside, shown.ip, probes.HTTP_PORT, where, (), packet_trace, docker_host)
    window.require_nothing_through(
        proof, expected=f"no connection to {hidden.ip}:{probes.HTTP_PORT} (unpublished)", where=where
    )
    rules = firewall.rules(docker_host, "raw") + firewall.rules(docker_host, "filter")
    named = {hidden.ip: "<unpublished>", shown.ip: "<published>", f"br-{net.id[:12]}": "<bridge>"}
    for real, placeholder in named.items():
        rules = [r.replace(real, placeholder) for r in rules]
    return rules


def _drops_to(rule: str, ip: str) -> bool:
    """A DROP of traffic to the container's address, as iptables (-d IP/32 ... DROP) or nft (ip daddr IP ... drop)."""
    return (f"-d {ip}/32" in rule or f"ip daddr {ip} " in rule) and "drop" in rule.lower()
