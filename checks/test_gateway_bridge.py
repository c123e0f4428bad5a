"""OVL-GWBR-001/002: a container on an overlay reaches the outside through docker_gwbridge,
unless the overlay is --internal, in which case it has no way out at all."""

from netproof.kit import NetNamespace, check, facts
from netproof.kit import namespaces as ns


def default_route(routes):
    return next((r for r in routes if r.get("dst") == "default"), None)


@check(
    "OVL-GWBR-001",
    scope="host",
    needs=("overlay",),
    tags=("overlay", "gateway"),
    promise="a container on a normal overlay gets eth1 on docker_gwbridge, its default route out",
)
def test_gateway_bridge_present(docker_host, workspace, proof):
    net = workspace.overlay()
    c = workspace.container(docker_host, net)
    where = f"{docker_host.name}, container {c.name}"
    inside, result = c.netns.links()
    proof.command("container interfaces", result)
    eth1 = ns.by_name(inside, "eth1")
    proof.require(eth1 is not None, expected="eth1 besides eth0", observed=ns.summary(inside), where=where)
    routes, result = c.netns.routes()
    proof.command("container routes", result)
    route = default_route(routes)
    proof.require(
        route is not None and route.get("dev") == "eth1",
        expected="default route via eth1",
        observed=str(route) if route else "no default route",
        where=where,
    )
    host_links, result = NetNamespace.of_host(docker_host).links()
    peer = ns.by_index(host_links, eth1["link_index"])
    proof.require(
        peer is not None and peer.get("master") == facts.GATEWAY_BRIDGE,
        expected=f"eth1's peer (index {eth1['link_index']}) enslaved to {facts.GATEWAY_BRIDGE}",
        observed=ns.summary([peer]) if peer else "no such interface",
        where=f"{docker_host.name}, host namespace",
    )
    gateway = docker_host.infra.interface(facts.GATEWAY_BRIDGE)
    proof.require(
        gateway.exists,
        expected=f"{facts.GATEWAY_BRIDGE} in {docker_host.name}'s namespace",
        observed="absent",
        where=f"{docker_host.name}, host namespace",
    )
    proof.mechanism("container interfaces", sorted(link["ifname"] for link in inside))
    proof.mechanism(f"{facts.GATEWAY_BRIDGE} addresses", sorted(a for a in gateway.addresses if ":" not in a))
    proof.text(
        f"{facts.GATEWAY_BRIDGE} {', '.join(gateway.addresses)} and its ports",
        ns.summary([lk for lk in host_links if lk.get("master") == facts.GATEWAY_BRIDGE]),
        where=docker_host.name,
    )


@check(
    "OVL-GWBR-002",
    scope="host",
    needs=("overlay",),
    tags=("overlay", "gateway", "isolation"),
    promise="a container on an --internal overlay has no docker_gwbridge interface and no default route",
)
def test_gateway_bridge_absent_on_internal(docker_host, workspace, proof):
    net = workspace.overlay(internal=True)
    c = workspace.container(docker_host, net)
    where = f"{docker_host.name}, container {c.name}"
    inside, result = c.netns.links()
    proof.command("container interfaces", result)
    names = sorted(link["ifname"] for link in inside)
    proof.require(
        names == ["eth0", "lo"],
        expected="only lo and eth0 (nothing that could sit on docker_gwbridge)",
        observed=", ".join(names),
        where=where,
    )
    routes, result = c.netns.routes()
    proof.command("container routes", result)
    proof.require(
        default_route(routes) is None, expected="no default route", observed=str(default_route(routes)), where=where
    )
    proof.mechanism("container interfaces", names)
    # eth0 itself must lead into the overlay, not onto the gateway bridge.
    overlay_links, result = net.overlay_namespace(docker_host).links()
    eth0 = ns.by_name(inside, "eth0")
    peer = ns.by_index(overlay_links, eth0["link_index"])
    proof.require(
        peer is not None and peer.get("link_index") == eth0["ifindex"],
        expected=f"eth0's peer (index {eth0['link_index']}) in the overlay namespace",
        observed=ns.summary(overlay_links),
        where=f"{docker_host.name}, overlay namespace",
    )
