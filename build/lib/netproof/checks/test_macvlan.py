"""MACVLAN-001: containers on macvlan networks are hosts of the underlay, except to their own host.

Behaviour: on every docker host a macvlan network on its underlay interface, a container on each with
an address of that subnet (a slice no lab host uses); the containers ping each other across the
lab's host pairs (directly on one subnet, through the router across two), the outside host pings
each of them, and each docker host's pings to its own container are stopped (the macvlan driver keeps
a parent interface and its children apart, as Docker's documentation says). Mechanism: the
containers' interface kind and mode and their default route.
"""

from __future__ import annotations

import pytest

from netproof.kit import Window, check, probes, underlay_interface

SLICE_PREFIX = 28  # each host's containers take addresses from a /28 of its subnet that no lab host uses


@check(
    "MACVLAN-001",
    needs=("lan-addresses",),
    scope="lab",
    tags=("macvlan", "reachability"),
    promise="containers on a macvlan network of a host's underlay interface are hosts of that subnet: containers "
    "on other hosts' macvlan networks reach them, directly on the same subnet and through the router across "
    "subnets, and so does the outside host; their own host does not (macvlan keeps a parent from its children)",
    reference="Docker's macvlan network driver documentation (docs.docker.com/engine/network/drivers/macvlan)",
)
def test_macvlan(lab, workspace, proof):
    topo = lab.topology
    containers = macvlan_containers(lab, workspace)
    record_macvlan(proof, topo, containers)

    unreached = []
    for src, dst in topo.host_pairs():
        a, b = containers[src.name], containers[dst.name]
        probes.await_path(proof, a, b, workspace.patience)
        ping = probes.ping(a.exec, b.ip)
        proof.command(f"ping {b} from {a}", ping.result)
        how = "on " + src.subnet.name if src.subnet == dst.subnet else "through the router"
        if not ping.ok:
            unreached.append(f"{src.name} -> {dst.name} ({how}): {ping}; {_routes(a)}")
    outside = topo.role("outside")
    if outside is not None:
        at = probes.on_host(lab.host(outside.name))
        for c in containers.values():
            ping = probes.ping(at, c.ip)
            proof.command(f"ping {c} from {outside.name}", ping.result)
            if not ping.ok:
                unreached.append(f"{outside.name} -> {c}: {ping}; {_routes(c)}")
    proof.require(
        not unreached,
        expected="every macvlan container reached, with no loss, from the other hosts' macvlan containers"
        + (f" and from {outside.name}" if outside else ""),
        observed="; ".join(unreached),
        where=f"the macvlan networks of {', '.join(containers)}",
    )

    window = Window("each docker host pinging its own macvlan container")
    own = [(probes.on_host(lab.host(name)), c.ip) for name, c in containers.items()]
    window.at_once(*(lambda w, run=run, ip=ip: w.ping(run, ip) for run, ip in own))
    window.require_nothing_through(
        proof,
        expected="no docker host reaches its own macvlan container (the driver keeps the parent from its children)",
        where=", ".join(containers),
    )


def _routes(container) -> str:
    table = container.netns.run(["ip", "route"]).stdout.strip().replace("\n", ", ")
    gone = "" if "default" in table else " (no default route)"
    return f"routes of {container}: {table or 'none'}{gone}"


def macvlan_containers(lab, workspace) -> dict:
    """On each docker host, a container on a macvlan network of its underlay interface, its addresses from a /28 of
    the subnet that no lab host uses (skipped where none is free)."""
    topo = lab.topology
    slices = {name: topo.free_slices(name, SLICE_PREFIX) for name in topo.subnets}
    containers = {}
    for host in lab.docker_hosts:
        spec = topo.hosts[host.name]
        _, parent = underlay_interface(host)
        free = slices[spec.subnet.name]
        if not free:
            pytest.skip(
                f"subnet {spec.subnet.name} ({spec.subnet.network}) has no /{SLICE_PREFIX} free of lab addresses "
                f"for {host.name}'s macvlan containers"
            )
        ip_range = free.pop(0)
        net = workspace.macvlan(
            host,
            parent=parent,
            subnet=str(spec.subnet.network),
            gateway=str(spec.subnet.gateway),
            ip_range=str(ip_range),
        )
        containers[host.name] = workspace.container(host, net, role="mv")
    return containers


def record_macvlan(proof, topo, containers) -> None:
    """The containers, their interfaces and routes as evidence; the interface's mode and the default route as
    mechanism."""
    proof.data(
        "macvlan containers",
        {name: {"address": c.ip, "mac": c.mac, "network": c.network.name} for name, c in containers.items()},
    )
    for name, c in containers.items():
        link = c.netns.run(["ip", "-d", "-o", "link", "show", "eth0"]).stdout
        routes = c.netns.run(["ip", "route"]).stdout
        proof.text(f"{c}: eth0 and routes", link + routes, where=name)
    first = next(iter(containers.values()))
    link = first.netns.run(["ip", "-d", "-o", "link", "show", "eth0"]).stdout
    proof.mechanism("container interface", "macvlan mode bridge" if "macvlan mode bridge" in link else link.strip())
    proof.mechanism(
        "default route",
        "via the subnet's gateway (the router)"
        if f"default via {topo.hosts[first.host.name].subnet.gateway}" in first.netns.run(["ip", "route"]).stdout
        else "other",
    )
