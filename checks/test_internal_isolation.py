"""ISO-INT-001/002: --internal networks carry traffic between their containers and nothing else.

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
from concurrent.futures import ThreadPoolExecutor

from netproof.catalogue import check
from netproof.model.topology import OUTSIDE_HTTP_PORT
from netproof.proof import firewall, probes, wire
from netproof.proof.namespaces import NetNamespace
from netproof.proof.routes import random_subnet, route_on_router


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


def probe_both_ways(proof, window, container, outside, evidence_dir):
    """Every way between the container and the outside host, all at once, each direction with a
    capture at its far end; fills the window."""
    net = container.network
    gateway = net.gateway or str(ipaddress.ip_network(net.subnet)[1])  # Docker's default: the first address
    proof.command(
        f"{container.name} tries to route out via {gateway}",
        container.exec(["ip", "route", "replace", "default", "via", gateway]),
    )
    outside_ns = NetNamespace.of_host(outside)
    at_outside = wire.Capture(
        outside_ns,
        outside_ns.interface_with_address(outside.address) or "any",
        f"src net {net.subnet}",
        evidence_dir / f"outside-from-{container.name}.pcap",
    )
    at_container = wire.Capture(
        container.netns, "eth0", f"src host {outside.address}", evidence_dir / f"{container.name}-from-outside.pcap"
    )
    from_outside = probes.on_host(outside)
    attempts = [
        lambda w: w.ping(container.exec, outside.address),
        lambda w: w.http(container.exec, outside.address, OUTSIDE_HTTP_PORT),
        lambda w: w.ping(from_outside, container.ip),
        lambda w: w.http(from_outside, container.ip, probes.HTTP_PORT),
    ]
    with at_outside, at_container, ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        for done in [pool.submit(attempt, window) for attempt in attempts]:
            done.result()
    for seen, what in (
        (at_outside, f"at {outside.name}, from {net.subnet}"),
        (at_container, f"at {container.name}, from {outside.address}"),
    ):
        proof.pcap(seen.describe(), seen.dest, where=seen.host.name)
        window.packets_seen(what, wire.count_packets(seen.dest))


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

    window = probes.Window(f"{a} and {outside.name} ({outside.address})")
    with route_on_router(lab, net.subnet, docker_host.address, proof):
        probe_both_ways(proof, window, a, outside, evidence_dir)
    proof.text("probes", "\n".join(window.attempts))
    proof.require(
        window.held,
        expected=f"every probe between {a} and {outside.name} stopped, both ways",
        observed="got through: " + "; ".join(window.breaches),
        where=where,
    )
    require_nothing_published(proof, workspace, docker_host, net, where)


@check(
    "ISO-INT-002",
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

    window = probes.Window(f"{a} and {outside.name} ({outside.address})")
    with route_on_router(lab, net.subnet, pair.src.address, proof):
        probe_both_ways(proof, window, a, outside, evidence_dir)
    proof.text("probes", "\n".join(window.attempts))
    proof.require(
        window.held,
        expected=f"every probe between {a} and {outside.name} stopped, both ways",
        observed="got through: " + "; ".join(window.breaches),
        where=where,
    )
    require_nothing_published(proof, workspace, pair.src, net, where)
