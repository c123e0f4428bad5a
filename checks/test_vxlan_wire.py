"""OVL-VXLAN-001: overlay traffic crosses the underlay as VXLAN, tagged with its network's VNI.
OVL-VXLAN-002: on the UDP port the swarm was given (swarm: {data_path_port: N}), and none on 4789."""

import pytest

from netproof.kit import check, facts, probes, underlay_interface, wire


@check(
    "OVL-VXLAN-001",
    scope="pair",
    needs=("overlay",),
    tags=("overlay", "wire"),
    promise="overlay traffic between hosts is VXLAN between their underlay addresses, "
    "tagged with the VNI of its network, carrying the containers' own frames",
)
def test_vxlan_on_the_wire(pair, workspace, proof, evidence_dir, lab):
    nets, couples, vnis = two_overlays_with_their_vnis(pair, workspace, proof)

    port = wire.data_path_port(lab.manager)
    dst_host, underlay = underlay_interface(pair.dst)
    # Each path first answers once (the control plane tells the hosts of the containers a moment after they
    # start; seen in a mixed-version swarm mid-upgrade): the frames captured are then those of a working path.
    for a, b in couples:
        probes.await_path(proof, a, b, workspace.patience)
    capture = wire.Capture(dst_host, underlay, f"udp port {port}", evidence_dir / f"{pair.dst.name}-{underlay}.pcap")
    with capture:
        pings = [probes.ping(a.exec, b.ip) for a, b in couples]
    for (a, b), ping in zip(couples, pings, strict=True):
        proof.command(f"ping {b} from {a}", ping.result)
    proof.pcap(capture.describe(), capture.dest, where=pair.dst.name)
    frames = wire.vxlan_frames(capture.dest, port)
    proof.text("VXLAN frames seen", "\n".join(map(str, frames)) or "(none)", where=f"{pair.dst.name} {underlay}")

    where = f"{pair.dst.name} {underlay}, capture {capture.dest.name}"
    for (a, b), net, vni in zip(couples, nets, vnis, strict=True):
        require_echo_in_vxlan(proof, frames, pair, a, b, net, vni, port, where)
    proof.mechanism("outer UDP port", port)
    proof.mechanism("VXLAN flags", sorted({f"0x{f.flags:02x}" for f in frames}))
    proof.mechanism("VNI reported by", "network inspect" if nets[0].vni is not None else "the VXLAN device only")
    # The wire first, then the round trip: a failure names the first thing that is off.
    for (a, b), ping in zip(couples, pings, strict=True):
        proof.require(
            ping.ok,
            expected=f"{a} pings {b.ip} (the replies come back too)",
            observed=str(ping),
            where=f"{pair.src.name} -> {pair.dst.name}",
        )


@check(
    "OVL-VXLAN-002",
    needs=("overlay", "swarm"),
    scope="pair",
    tags=("overlay", "wire", "swarm"),
    promise="a swarm given a data path port (docker swarm init --data-path-port) carries overlay traffic between "
    "hosts as VXLAN on that UDP port, with its network's VNI, and sends none of it to the default port 4789",
    reference="docker swarm init --data-path-port (API 1.40, Docker 19.03: moby/moby#38102)",
)
def test_vxlan_on_the_swarms_data_path_port(pair, workspace, proof, evidence_dir, lab):
    port = wire.data_path_port(lab.manager)
    proof.mechanism("data path port (docker info Swarm.Cluster.DataPathPort)", port)
    if port == facts.VXLAN_PORT:
        pytest.skip(
            f"this lab's swarm uses Docker's default data path port {facts.VXLAN_PORT}; the check needs a topology "
            "that sets swarm: {data_path_port: N}, e.g. labs/configured.yml"
        )
    net = workspace.overlay(role="dpp")
    a = workspace.container(pair.src, net, role="dppa")
    b = workspace.container(pair.dst, net, role="dppb")
    vni, vni_from = net.expected_vni(pair.src)
    proof.data("the network and its VNI", {"name": net.name, "id": net.id, "vni": vni, "vni from": vni_from})
    dst_host, underlay = underlay_interface(pair.dst)
    proof.require(vni is not None, expected="the network's VNI", observed=f"VNI {vni}", where=vni_from)
    probes.await_path(proof, a, b, workspace.patience)
    bpf = f"udp port {port} or udp port {facts.VXLAN_PORT}"
    capture = wire.Capture(dst_host, underlay, bpf, evidence_dir / f"{pair.dst.name}-{underlay}-dpp.pcap")
    with capture:
        ping = probes.ping(a.exec, b.ip)
    proof.command(f"ping {b} from {a}", ping.result)
    proof.pcap(capture.describe(), capture.dest, where=pair.dst.name)
    on_port = wire.vxlan_frames(capture.dest, port)
    on_default = wire.vxlan_frames(capture.dest, facts.VXLAN_PORT)
    where = f"{pair.dst.name} {underlay}, capture {capture.dest.name}"
    proof.text(f"VXLAN frames on {port}", "\n".join(map(str, on_port)) or "(none)", where=where)
    proof.require(
        not on_default,
        expected=f"no overlay traffic to UDP {facts.VXLAN_PORT} (the swarm's data path port is {port})",
        observed=f"{len(on_default)} frames to {facts.VXLAN_PORT}, the first: {on_default[0]}" if on_default else "",
        where=where,
    )
    echo = [
        f for f in on_port if f.inner_proto == "icmp-echo-request" and f.inner_src_ip == a.ip and f.inner_dst_ip == b.ip
    ]
    proof.require(
        bool(echo),
        expected=f"VXLAN frames to UDP {port} carrying ICMP echo {a.ip} -> {b.ip} (network {net.name})",
        observed=f"{len(on_port)} frames to {port}, none with that echo",
        where=where,
    )
    wrong = [f for f in echo if not (f.outer_dport == port and f.vni_valid and f.vni == vni)]
    proof.require(
        not wrong,
        expected=f"outer udp/{port}, I flag, VNI {vni}",
        observed=str(wrong[0]) if wrong else "",
        where=where,
    )
    proof.require(
        ping.ok,
        expected=f"{a} pings {b.ip} (the replies come back too)",
        observed=str(ping),
        where=f"{pair.src.name} -> {pair.dst.name}",
    )


def two_overlays_with_their_vnis(pair, workspace, proof):
    """Two overlays, a container of each on both hosts of the pair, and their VNIs (required different)."""
    nets = [workspace.overlay(role="ov1"), workspace.overlay(role="ov2")]
    couples = [
        (
            workspace.container(pair.src, net, role=f"{net.name[-3:]}a"),
            workspace.container(pair.dst, net, role=f"{net.name[-3:]}b"),
        )
        for net in nets
    ]
    found = [net.expected_vni(pair.src) for net in nets]
    vnis = [vni for vni, _ in found]
    proof.data(
        "networks and their VNIs",
        {
            n.name: {"id": n.id, "vni": vni, "vni from": source, "subnet": n.subnet}
            for n, (vni, source) in zip(nets, found, strict=True)
        },
    )
    proof.require(
        None not in vnis and vnis[0] != vnis[1],
        expected="two overlay networks with two different VNIs",
        observed=f"VNIs {vnis}",
        where=f"{found[0][1]}",
    )
    return nets, couples, vnis


def require_echo_in_vxlan(proof, frames, pair, a, b, net, vni: int, port: int, where: str) -> None:
    """a's echo request to b is on the wire in VXLAN frames between the hosts' underlay addresses, on the port,
    with the I flag and the network's VNI, carrying the containers' own MACs."""
    echo = [
        f for f in frames if f.inner_proto == "icmp-echo-request" and f.inner_src_ip == a.ip and f.inner_dst_ip == b.ip
    ]
    proof.require(
        bool(echo),
        expected=f"VXLAN frames carrying ICMP echo {a.ip} -> {b.ip} (network {net.name})",
        observed=f"{len(frames)} VXLAN frames, none with that echo",
        where=where,
    )
    wrong = [
        f
        for f in echo
        if not (
            f.outer_src == pair.src.address
            and f.outer_dst == pair.dst.address
            and f.outer_dport == port
            and f.vni_valid
            and f.vni == vni
            and f.inner_src_mac == a.mac
            and f.inner_dst_mac == b.mac
        )
    ]
    proof.require(
        not wrong,
        where=where,
        expected=f"outer {pair.src.address} > {pair.dst.address} udp/{port}, I flag, VNI {vni}, inner {a.mac} > "
        f"{b.mac}",
        observed=str(wrong[0]) if wrong else "",
    )
