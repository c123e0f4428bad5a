"""OVL-VETH-001: how an overlay is plumbed on each host: its namespace, bridge, VXLAN device,
the veth pairs to containers, and the forwarding entries that point at remote hosts."""

from netproof.kit import NetNamespace, budgets, check, facts, wait
from netproof.kit import namespaces as ns


def check_side(proof, here, there, net, gateway_bridge: bool, patience: float = 1.0):
    """One host's half: `here` is a container on this host, `there` the remote one."""
    overlay = net.overlay_namespace(here.host)
    links, bridge, vxlan = require_overlay_devices(proof, overlay, net, there)
    inside = require_veth_on_the_bridge(proof, here, overlay, links, bridge)
    entry = require_remote_fdb_entry(proof, overlay, vxlan, there, patience)
    udp_port = vxlan.get("linkinfo", {}).get("info_data", {}).get("port")
    proof.mechanism(
        "overlay namespace", f"bridge {bridge}, vxlan {vxlan['ifname']} mtu {vxlan.get('mtu')}, port {udp_port}"
    )
    proof.mechanism("remote fdb entry", f"flags {','.join(entry.get('flags', []))} state {entry.get('state')}")
    if gateway_bridge:
        require_gateway_bridge_leg(proof, here, inside)


def require_overlay_devices(proof, overlay, net, there):
    """The overlay namespace holds one bridge and one VXLAN device of the network's VNI, enslaved to it."""
    host = overlay.host
    links, result = overlay.links()
    proof.command(f"links of the {overlay.label}", result)
    proof.require(
        result.ok and bool(links),
        expected=f"the {overlay.label} exists with its interfaces",
        observed=(result.stderr or "no interfaces").strip(),
        where=overlay.where,
    )
    proof.text(f"{overlay.label} on {host.name}", ns.summary(links), where=host.name)

    bridges = [link for link in links if ns.kind(link) == "bridge"]
    vxlans = [link for link in links if ns.kind(link) == "vxlan"]
    proof.require(
        len(bridges) == 1 and len(vxlans) == 1,
        expected="one bridge and one VXLAN device",
        observed=f"bridges {[b['ifname'] for b in bridges]}, vxlan {[v['ifname'] for v in vxlans]}",
        where=overlay.where,
    )
    bridge, vxlan = bridges[0]["ifname"], vxlans[0]
    vni = vxlan.get("linkinfo", {}).get("info_data", {}).get("id")
    expected_vni, source = net.expected_vni(there.host)  # the other host's view, when inspect does not say
    proof.text("expected VNI", f"{expected_vni}, from {source}")
    proof.require(
        vxlan.get("master") == bridge and vxlan.get("mtu") == facts.OVERLAY_MTU and vni == expected_vni,
        expected=f"{vxlan['ifname']} enslaved to {bridge}, MTU {facts.OVERLAY_MTU}, VNI {expected_vni}",
        observed=f"master {vxlan.get('master')}, MTU {vxlan.get('mtu')}, VNI {vni}",
        where=overlay.where,
    )
    return links, bridge, vxlan


def require_veth_on_the_bridge(proof, here, overlay, links, bridge):
    """The container's eth0 is one end of a veth pair whose other end is on the overlay's bridge."""
    host = here.host
    inside, result = here.netns.links()
    proof.command(f"links inside {here.name}", result)
    eth0 = ns.by_name(inside, "eth0")
    proof.require(
        eth0 is not None and "link_index" in eth0,
        expected=f"{here.name} has eth0 as one end of a veth pair",
        observed=ns.summary(inside),
        where=f"{host.name}, container {here.name}",
    )
    peer = ns.by_index(links, eth0["link_index"])
    proof.require(
        peer is not None
        and ns.kind(peer) == "veth"
        and peer.get("link_index") == eth0["ifindex"]
        and peer.get("master") == bridge,
        expected=f"eth0@if{eth0['link_index']} pairs with the veth of index {eth0['link_index']} in the "
        f"{overlay.label}, "
        f"whose peer is index {eth0['ifindex']}, enslaved to {bridge}",
        observed=ns.summary([peer]) if peer else f"no interface of index {eth0['link_index']} there",
        where=overlay.where,
    )
    return inside


def require_remote_fdb_entry(proof, overlay, vxlan, there, patience):
    """The VXLAN device forwards the remote container's MAC to its host's underlay address."""

    # The control plane programs remote entries asynchronously: give it a few seconds.
    def remote_entry():
        fdb, result = overlay.fdb(vxlan["ifname"])
        return fdb, result, next((e for e in fdb if e.get("mac") == there.mac), None)

    (fdb, result, entry), _ = wait.poll(
        remote_entry,
        holds=lambda seen: seen[2] is not None,
        timeout=budgets.scaled(budgets.FDB_SETTLE, patience),
        interval=0.2,
    )
    proof.command(f"forwarding database of {vxlan['ifname']}", result)
    proof.require(
        entry is not None and entry.get("dst") == there.host.address,
        expected=f"{there.mac} ({there}) dst {there.host.address}",
        observed=f"{entry}" if entry else f"no entry for {there.mac}",
        where=f"{overlay.where}, bridge fdb dev {vxlan['ifname']}",
    )
    return entry


def require_gateway_bridge_leg(proof, here, inside):
    """The container's eth1 pairs with a veth on docker_gwbridge in its host's own namespace."""
    host = here.host
    eth1 = ns.by_name(inside, "eth1")
    proof.require(
        eth1 is not None and "link_index" in eth1,
        expected=f"{here.name} has eth1 ({facts.GATEWAY_BRIDGE})",
        observed=ns.summary(inside),
        where=f"{host.name}, container {here.name}",
    )
    host_links, result = NetNamespace.of_host(host).links()
    proof.command(f"links of {host.name}", result)
    gw_peer = ns.by_index(host_links, eth1["link_index"])
    proof.require(
        gw_peer is not None
        and ns.kind(gw_peer) == "veth"
        and gw_peer.get("master") == facts.GATEWAY_BRIDGE
        and gw_peer.get("link_index") == eth1["ifindex"],
        expected=f"eth1@if{eth1['link_index']} pairs with a veth on {facts.GATEWAY_BRIDGE} in {host.name}'s namespace",
        observed=ns.summary([gw_peer]) if gw_peer else f"no interface of index {eth1['link_index']}",
        where=f"{host.name}, host namespace",
    )


@check(
    "OVL-VETH-001",
    scope="pair",
    needs=("overlay",),
    tags=("overlay", "plumbing"),
    promise="each host with a container on an overlay has the network's namespace: a bridge, a VXLAN "
    "device (MTU 1450, the network's VNI) and a veth to each local container, with forwarding "
    "entries for remote containers pointing at their hosts",
)
def test_overlay_plumbing(pair, workspace, proof):
    net = workspace.overlay()
    a = workspace.container(pair.src, net, role="a")
    b = workspace.container(pair.dst, net, role="b")
    check_side(proof, a, b, net, gateway_bridge=True, patience=workspace.patience)
    check_side(proof, b, a, net, gateway_bridge=True, patience=workspace.patience)
