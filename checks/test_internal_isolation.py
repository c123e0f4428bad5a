"""ISO-INT-001/002, IPV6-003: --internal networks carry traffic between their containers and nothing else,
over IPv4 and, on an --ipv6 bridge, over IPv6.

The negative half is a window of probes that must all be stopped: pings and HTTP requests
both ways between a container and the lab's outside host, and packet captures at the far end,
so a packet that gets through one way only still counts. To make the firewall, not a missing
route, the thing under test, the probing container is allowed to route (NET_ADMIN) and adds a
default route through its bridge, and the router learns the way to the internal subnet, as an
attacker and a well-meaning external network would. The firewall rules seen are evidence; the
verdict is on behaviour.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from netproof.kit import (
    OUTSIDE_HTTP_PORT,
    LabBroken,
    NetNamespace,
    Window,
    check,
    firewall,
    probes,
    random_subnet,
    random_subnet_v6,
    route_on_router,
    wire,
)


def record_firewall(proof, host, net, bridge_name: str | None = None):
    rules = {table: firewall.rules(host, table) for table in ("filter", "nat")}
    proof.data(f"firewall of {host.name} (Docker's rules)", rules, where=host.name)
    # The mechanism, with this check's own names taken out so that runs compare.
    forward = ("-P FORWARD", "-A FORWARD -j", "filter-FORWARD:")  # iptables; Docker's nftables chain
    proof.mechanism("FORWARD chain", [r for r in rules["filter"] if r.startswith(forward)])
    if bridge_name:  # the rules that name the internal bridge: the mechanism of this isolation
        naming = [r for r in rules["filter"] if bridge_name in r]
        proof.text(f"rules naming {bridge_name}", "\n".join(naming), where=host.name)
        proof.mechanism(
            "rules naming the internal bridge",
            [r.replace(bridge_name, "<bridge>").replace(net.subnet, "<subnet>") for r in naming],
        )


@dataclass(frozen=True)
class Ends:
    """The addresses a window probes between, in one IP family."""

    container: str
    gateway: str  # the network's, through which the probing container tries to route out
    subnet: str
    outside: str

    @classmethod
    def ipv4(cls, container, outside) -> Ends:
        net = container.network
        gateway = net.gateway or str(ipaddress.ip_network(net.subnet)[1])  # Docker's default: the first address
        return cls(container.ip, gateway, net.subnet, outside.address)


def require_outside_answers(proof, docker_host, outside, address: str) -> None:
    """The control on the window's path beyond Docker: the docker host itself fetches the outside host's page at the
    address the window probes. Without it a stopped probe means nothing, and the lab, not Docker, is broken."""
    fetched = probes.http_get(probes.on_host(docker_host), address, OUTSIDE_HTTP_PORT)
    proof.command(f"the control: GET {address} ({outside.name}) from {docker_host.name} itself", fetched.result)
    if not fetched.through:
        raise LabBroken(f"{docker_host.name} does not reach {outside.name}'s page at {address} by itself: {fetched}")


def require_isolated(proof, lab, container, via: str, outside, evidence_dir, where: str, ends: Ends | None = None):
    """Every probe between the container and the outside host stopped, both ways: all at once, each direction
    with a capture at its far end, while the router routes the network's subnet via the container's host
    (`via`, its address in the ends' family). IPv4 unless told other ends."""
    ends = ends or Ends.ipv4(container, outside)
    require_outside_answers(proof, container.host, outside, ends.outside)
    over = " IPv6" if ":" in ends.gateway else ""
    window = Window(f"{container} and {outside.name} ({ends.outside})" + (", over IPv6" if over else ""))
    window.through_the_firewall_of(container.host)
    ip = ["ip", "-6"] if over else ["ip"]
    proof.command(
        f"{container.name} tries to route out via {ends.gateway}",
        container.exec([*ip, "route", "replace", "default", "via", ends.gateway]),
    )
    outside_ns = NetNamespace.of_host(outside)
    at_outside = outside_ns.interface_with_address(outside.address) or "any"
    window.watch(
        wire.Capture(
            outside_ns, at_outside, f"src net {ends.subnet}", evidence_dir / f"outside-from-{container.name}.pcap"
        ),
        f"at {outside.name}, from {ends.subnet}",
    )
    window.watch(
        wire.Capture(
            container.netns, "eth0", f"src host {ends.outside}", evidence_dir / f"{container.name}-from-outside.pcap"
        ),
        f"at {container.name}, from {ends.outside}",
    )
    from_outside = probes.on_host(outside)
    with route_on_router(lab, ends.subnet, via, proof):
        window.at_once(
            lambda w: w.ping(container.exec, ends.outside),
            lambda w: w.http(container.exec, ends.outside, OUTSIDE_HTTP_PORT),
            lambda w: w.ping(from_outside, ends.container),
            lambda w: w.http(from_outside, ends.container, probes.HTTP_PORT),
        )
    window.require_nothing_through(
        proof, expected=f"every{over} probe between {container} and {outside.name} stopped, both ways", where=where
    )


def require_within(proof, a, b, where):
    ping = probes.ping(a.exec, b.ip)
    proof.command(f"ping {b} from {a}", ping.result)
    proof.require(ping.ok, expected=f"{a} reaches {b} on the internal network", observed=str(ping), where=where)
    fetch = probes.http_get(a.exec, b.ip, probes.HTTP_PORT)
    proof.command(f"HTTP {b} from {a}", fetch.result)
    proof.require(fetch.result.ok, expected=f"{a} connects to {b}:{probes.HTTP_PORT}", observed=str(fetch), where=where)


def require_nothing_published(proof, workspace, host, net, where):
    name, started = workspace.docker_run(host, net, ["-P", "--expose", str(probes.HTTP_PORT)], role="pub")
    proof.command("a container with -P --expose", started)
    ports = proof.command("docker port", host.run(["docker", "port", name]))
    proof.require(
        started.ok and ports.ok and not ports.stdout.strip(),
        expected="-P publishes nothing on an internal network",
        observed=ports.stdout.strip() or (started.stderr or ports.stderr).strip() or "?",
        where=where,
    )


@check(
    "ISO-INT-001",
    needs=("router-routes",),
    scope="host",
    tags=("bridge", "isolation", "firewall"),
    promise="containers on an --internal bridge network reach each other and nothing else: "
    "not the external network, not reachable from it, no published ports",
)
def test_internal_bridge(docker_host, workspace, proof, outside, lab, evidence_dir):
    bridge_name = f"npint{secrets.token_hex(3)}"  # a custom name, as operators give them
    net = workspace.bridge(docker_host, internal=True, bridge_name=bridge_name, subnet=random_subnet())
    where = f"{docker_host.name}, internal bridge {net.name} ({bridge_name}, {net.subnet})"
    a = workspace.server(docker_host, net, role="a", cap_add=["NET_ADMIN"])
    b = workspace.server(docker_host, net, role="b")
    require_within(proof, a, b, where)
    record_firewall(proof, docker_host, net, bridge_name)

    require_isolated(proof, lab, a, docker_host.address, outside, evidence_dir, where)
    require_nothing_published(proof, workspace, docker_host, net, where)


@check(
    "ISO-INT-002",
    needs=("overlay", "router-routes"),
    scope="pair",
    tags=("overlay", "isolation", "firewall"),
    promise="containers on an --internal overlay reach each other across hosts and nothing else: "
    "not the external network, not reachable from it, no published ports",
)
def test_internal_overlay(pair, workspace, proof, outside, lab, evidence_dir):
    net = workspace.overlay(internal=True, subnet=random_subnet())
    where = f"internal overlay {net.name} ({net.subnet}), {pair.src.name} -> {pair.dst.name}"
    a = workspace.server(pair.src, net, role="a", cap_add=["NET_ADMIN"])
    b = workspace.server(pair.dst, net, role="b")
    probes.await_path(proof, a, b, workspace.patience)
    require_within(proof, a, b, where)
    record_firewall(proof, pair.src, net)

    require_isolated(proof, lab, a, pair.src.address, outside, evidence_dir, where)
    require_nothing_published(proof, workspace, pair.src, net, where)


@check(
    "IPV6-003",
    needs=("ipv6", "ipv6-underlay", "router-routes"),
    scope="host",
    tags=("bridge", "ipv6", "isolation", "firewall"),
    promise="containers on an --internal --ipv6 bridge reach each other over IPv6 and nothing else: not the "
    "external network, not reachable from it, while a plain --ipv6 bridge's containers on the same host reach it",
    since="27.0",
    reference="moby/moby#47747 (27.0): ip6tables on by default, with IPv6 isolation rules for internal networks; "
    "before it Docker filtered IPv6 only with ip6tables and experimental set",
)
def test_internal_bridge_ipv6(docker_host, workspace, proof, outside, lab, evidence_dir):
    require_outside_answers(proof, docker_host, outside, outside.address6)
    # The control: an --ipv6 bridge that is not internal gets out over IPv6 from this host, so the probes below
    # can get through, and only the internal network's isolation can stop them.
    plain6 = random_subnet_v6()
    plain = workspace.bridge(docker_host, subnet=random_subnet(), ipv6_subnet=plain6, role="plain6")
    control = workspace.container(docker_host, plain, role="out6")
    with route_on_router(lab, plain6, docker_host.address6, proof):
        out = probes.ping(control.exec, outside.address6)
        proof.command(f"ping {outside.address6} ({outside.name}) from {control}", out.result)
        fetched = probes.http_get(control.exec, outside.address6, OUTSIDE_HTTP_PORT)
        proof.command(f"HTTP {outside.name} over IPv6 from {control}", fetched.result)
    proof.require(
        out.ok and fetched.through,
        expected=f"{control.name}, on a plain --ipv6 bridge, reaches {outside.name} ({outside.address6}) over IPv6",
        observed=f"{out}; {fetched}",
        where=f"{docker_host.name}, bridge {plain.name} ({plain6})",
    )

    subnet6 = random_subnet_v6()
    bridge_name = f"npint6{secrets.token_hex(3)}"
    net = workspace.bridge(
        docker_host, internal=True, bridge_name=bridge_name, subnet=random_subnet(), ipv6_subnet=subnet6, role="int6"
    )
    where = f"{docker_host.name}, internal bridge {net.name} ({bridge_name}, {subnet6})"
    a = workspace.server(docker_host, net, role="a6", cap_add=["NET_ADMIN"])
    b = workspace.server(docker_host, net, role="b6")
    a6, _ = probes.require_reached_over_ipv6(proof, a, b, subnet6, where)

    ip6 = firewall.rules(docker_host, "filter", version=6)
    naming = [r for r in ip6 if bridge_name in r]
    proof.text(f"IPv6 rules naming {bridge_name}", "\n".join(naming) or "none", where=docker_host.name)
    proof.mechanism(
        "IPv6 rules naming the internal bridge",
        [r.replace(bridge_name, "<bridge>").replace(subnet6, "<subnet6>") for r in naming],
    )

    gateway6 = str(ipaddress.ip_network(subnet6)[1])  # Docker's default gateway: the subnet's first address
    ends = Ends(a6, gateway6, subnet6, outside.address6)
    require_isolated(proof, lab, a, docker_host.address6, outside, evidence_dir, where, ends)
