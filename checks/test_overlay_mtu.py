"""OVL-MTU-001: an overlay's MTU holds end to end across hosts.

An overlay is sized for an underlay MTU: 1500 by default, or its com.docker.network.driver.mtu (the
option names the underlay's MTU, moby/libnetwork#1349), and its containers get 50 bytes less, what
VXLAN leaves (1450 by default). Behaviour: between containers on two hosts, the largest
don't-fragment ping that fits the containers' MTU (MTU - 28 bytes of payload) gets through, and one
byte more is refused at the sender; with com.docker.network.driver.mtu=1400 the same holds at 1350.
Mechanism: the containers' eth0 MTU and the VXLAN device's, in the overlay's namespace. When the
underlay cannot carry what the overlay needs, the check says what happened on the wire: the outer
packets arrived as fragments (it passes, with a warning: fragments cost throughput and many networks
drop them) or were lost (it fails, naming the path's MTU and the remedy).
"""

from __future__ import annotations

import re

from netproof.kit import check, facts, paths, probes, wire
from netproof.kit import namespaces as ns

FRAGMENTS = "ip[6:2] & 0x3fff != 0"  # more-fragments set, or an offset: a piece of a larger packet


def df_ping(container, target: str, payload: int, count: int = 2):
    """A don't-fragment ping from inside the container's namespace (iputils ping, the host's)."""
    argv = ["ping", "-n", "-M", "do", "-c", str(count), "-i", "0.2", "-W", "1", "-s", str(payload), target]
    return probes.send(container.netns.run, argv, probes.PING)


def received(result) -> bool:
    m = re.search(r"(\d+) received", result.stdout)
    return bool(m) and int(m.group(1)) > 0


@check(
    "OVL-MTU-001",
    scope="pair",
    needs=("overlay",),
    proves=("mtu",),  # the path MTU is what it judges: too small a path is its verdict, with the remedy, not the lab's
    tags=("overlay", "mtu"),
    promise="across hosts on an overlay, packets up to its containers' MTU (the underlay MTU it is sized for, "
    "1500 or its com.docker.network.driver.mtu, less 50 bytes of VXLAN) arrive whole, and larger don't-fragment "
    "packets are refused at the sender",
)
def test_overlay_mtu(pair, workspace, proof, evidence_dir):
    for underlay, options in ((facts.DEFAULT_MTU, None), (1400, {facts.MTU_OPTION: "1400"})):
        mtu = underlay - facts.VXLAN_OVERHEAD
        net = workspace.overlay(options=options, role=f"m{mtu}")
        a = workspace.container(pair.src, net, role="a")
        b = workspace.container(pair.dst, net, role="b")
        probes.await_path(proof, a, b, workspace.patience)  # small packets first: a lost large one is then the MTU's
        where = f"{a} -> {b} on {net.name} ({'default MTU' if options is None else f'{facts.MTU_OPTION}={underlay}'})"
        links, result = a.netns.links()
        proof.command(f"{a.name} interfaces", result)
        eth0 = ns.by_name(links, "eth0") or {}
        proof.require(
            eth0.get("mtu") == mtu,
            expected=f"{a.name}'s eth0 has MTU {mtu} ({underlay} less {facts.VXLAN_OVERHEAD} bytes of VXLAN)",
            observed=f"MTU {eth0.get('mtu')}",
            where=where,
        )
        overlay_links, _ = net.overlay_namespace(pair.src).links()
        vxlan = next((lk for lk in overlay_links if ns.kind(lk) == "vxlan"), {})
        proof.mechanism(f"MTU {mtu}: container eth0, VXLAN device", [eth0.get("mtu"), vxlan.get("mtu")])

        on_wire = wire.Capture(
            ns.NetNamespace.of_host(pair.dst),
            ns.NetNamespace.of_host(pair.dst).interface_with_address(pair.dst.address) or "any",
            f"src host {pair.src.address} and (udp port {facts.VXLAN_PORT} or ({FRAGMENTS}))",
            evidence_dir / f"underlay-{net.name}.pcap",
        )
        with on_wire:
            largest = df_ping(a, b.ip, mtu - facts.ICMP_OVERHEAD)
        proof.command(f"ping -M do -s {mtu - facts.ICMP_OVERHEAD} {b.ip} ({mtu} bytes)", largest)
        proof.pcap(on_wire.describe(), on_wire.dest, where=pair.dst.name)
        fragments = wire.count_fragments(on_wire.dest)
        if not received(largest):
            pmtu, note = paths.path_mtu(pair.src, pair.dst)
            proof.require(
                False,
                expected=f"a {mtu}-byte don't-fragment ping arrives",
                observed=f"lost; the underlay from {pair.src.name} to {pair.dst.name} carries {pmtu} bytes, the "
                f"overlay needs {underlay} ({note}); remedy: create the overlay with -o {facts.MTU_OPTION}={pmtu}",
                where=where,
            )
        if fragments:
            proof.text(
                "warning",
                f"the {mtu}-byte packets crossed the underlay as {fragments} fragments: the path carries less than "
                f"{underlay} bytes; fragments cost throughput and many networks drop them",
                where=pair.dst.name,
            )
        over = df_ping(a, b.ip, mtu - facts.ICMP_OVERHEAD + 1, count=1)  # refused locally, or not at all
        proof.command(f"ping -M do -s {mtu - facts.ICMP_OVERHEAD + 1} {b.ip} ({mtu + 1} bytes)", over)
        said = over.stdout + over.stderr
        proof.require(
            not received(over) and ("message too long" in said or f"mtu={mtu}" in said.replace(" ", "")),
            expected=f"a {mtu + 1}-byte don't-fragment ping is refused at {a.name} (message too long, mtu={mtu})",
            observed=said.strip().splitlines()[-1] if said.strip() else "nothing said",
            where=where,
        )
