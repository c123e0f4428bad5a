"""ENC-001: an encrypted overlay (--opt encrypted) carries its traffic between hosts as IPsec ESP only.

Behaviour: a container on an encrypted overlay fetches a page from a container on another host, its request
marked with a token of its own; a plaintext overlay between the same hosts carries a request with another
token. A capture on the receiving host's underlay must find the plaintext token (so the capture is proven able
to see plaintext) and must not find the encrypted one, nor any VXLAN frame with the encrypted network's VNI,
while ESP packets go from one host to the other. The mechanism: the IPsec states (SAs) Docker made on both
hosts for the pair, read with `ip xfrm state` (keys left out of the evidence).

Docker's encrypted overlays need ESP with AES-GCM in the hosts' kernels; where a host's kernel lacks it the
check is skipped with the kernel's own answer (this machine's netns labs: see LAB-NOTES), and runs on VMs.
"""

from __future__ import annotations

import re
import secrets

from netproof.kit import check, probes, underlay_interface, wire


def esp_states(host, src: str, dst: str) -> list[str]:
    """The host's ESP states from src to dst, as `ip xfrm state` prints them, keys replaced by <key>."""
    listing = host.run(["ip", "xfrm", "state", "list", "src", src, "dst", dst, "proto", "esp"]).stdout
    listing = re.sub(r"(aead|enc|auth|auth-trunc|comp) (\S+) 0x[0-9a-fA-F]+", r"\1 \2 <key>", listing)
    return [s.strip() for s in re.split(r"\n(?=src )", listing.strip()) if s.strip()]


@check(
    "ENC-001",
    needs=("overlay", "swarm", "kernel:esp"),
    scope="pair",
    tags=("overlay", "wire", "swarm", "encrypted"),
    promise="an overlay created with --opt encrypted carries its containers' traffic between hosts only as IPsec "
    "ESP between the hosts' underlay addresses: no VXLAN frame of the network and none of its plaintext is on "
    "the wire",
    reference="Docker's docs: encrypt traffic on an overlay network (docker network create --opt encrypted)",
)
def test_encrypted_overlay(pair, workspace, proof, evidence_dir, lab):
    paths, vnis = an_encrypted_and_a_plaintext_path(pair, workspace, proof)

    port = wire.data_path_port(lab.manager)
    dst_host, underlay = underlay_interface(pair.dst)
    capture = wire.Capture(dst_host, underlay, f"esp or udp port {port}", evidence_dir / f"{pair.dst.name}-enc.pcap")
    fetched = {}
    with capture:
        for kind, (_, client, server, token) in paths.items():
            fetched[kind] = probes.http_get(client.exec, server.ip, probes.HTTP_PORT, timeout=5, query=token)
    for kind, fetch in fetched.items():
        proof.command(f"{kind}: {fetch.url} from {paths[kind][1]}", fetch.result)
    proof.pcap(capture.describe(), capture.dest, where=pair.dst.name)
    where = f"{pair.dst.name} {underlay}, capture {capture.dest.name}"

    frames = wire.vxlan_frames(capture.dest, port)
    esp = [p for p in wire.esp_packets(capture.dest) if (p.src, p.dst) == (pair.src.address, pair.dst.address)]
    seen = {kind: wire.carrying(capture.dest, token.encode()) for kind, (*_, token) in paths.items()}
    proof.text(
        "on the wire",
        f"ESP {pair.src.address} > {pair.dst.address}: {len(esp)} packets (SPIs "
        f"{', '.join(sorted({f'0x{p.spi:x}' for p in esp})) or 'none'}); VXLAN frames by VNI: "
        f"{ {v: sum(1 for f in frames if f.vni == v) for v in sorted({f.vni for f in frames})} }; packets carrying "
        f"the plaintext token: {seen['plaintext']}, the encrypted one: {seen['encrypted']}",
        where=where,
    )
    # The capture sees plaintext where there is some: else its silence about the encrypted network proves nothing.
    proof.require(
        fetched["plaintext"].through and seen["plaintext"] > 0,
        expected=f"the plaintext overlay's request (token {paths['plaintext'][3]}) seen in VXLAN frames",
        observed=f"{fetched['plaintext']}; {seen['plaintext']} packets with its token",
        where=where,
    )
    leaked = [f for f in frames if f.vni == vnis["encrypted"]]
    proof.require(
        not leaked and seen["encrypted"] == 0,
        expected=f"no VXLAN frame with VNI {vnis['encrypted']} and no packet with the token "
        f"{paths['encrypted'][3]} on the wire",
        observed=f"{len(leaked)} VXLAN frames of the encrypted network (the first: {leaked[0] if leaked else '-'}); "
        f"{seen['encrypted']} packets with its token in the clear",
        where=where,
    )
    proof.require(
        bool(esp),
        expected=f"ESP from {pair.src.address} to {pair.dst.address} while the encrypted overlay's request went",
        observed="no ESP packet from that address",
        where=where,
    )
    states = require_esp_states(proof, pair)
    proof.require(
        fetched["encrypted"].through,
        expected=f"the server on the encrypted overlay answers {paths['encrypted'][1]}",
        observed=str(fetched["encrypted"]),
        where=f"{pair.src.name} -> {pair.dst.name}",
    )
    described = " ".join(x for ways in states.values() for found in ways.values() for x in found)
    proof.mechanism("ESP algorithm", sorted(set(re.findall(r"aead (\S+)", described))))
    proof.mechanism("ESP mode", sorted(set(re.findall(r"mode (\w+)", described))))


def require_esp_states(proof, pair) -> dict:
    """ESP states (SAs) for both directions between the pair, on both hosts, as `ip xfrm state` lists them."""
    states = {
        host.name: {
            f"{a} > {b}": esp_states(host, a, b)
            for a, b in ((pair.src.address, pair.dst.address), (pair.dst.address, pair.src.address))
        }
        for host in (pair.src, pair.dst)
    }
    proof.data("IPsec ESP states between the pair (ip xfrm state, keys left out)", states)
    without = [f"{host}: {way}" for host, ways in states.items() for way, found in ways.items() if not found]
    proof.require(
        not without,
        expected="ESP states (SAs) for both directions on both hosts",
        observed=f"none for {'; '.join(without)}",
        where=f"{pair.src.name}, {pair.dst.name}: ip xfrm state",
    )
    return states


def an_encrypted_and_a_plaintext_path(pair, workspace, proof):
    """An encrypted overlay and a plaintext twin, each with a client on one host of the pair and a server on the
    other, a token to send over each, their VNIs; every path answering once."""
    encrypted = workspace.overlay(role="enc", options={"encrypted": ""})
    plain = workspace.overlay(role="pln")
    paths = {}
    for net, kind in ((encrypted, "encrypted"), (plain, "plaintext")):
        client = workspace.container(pair.src, net, role=f"{kind[:3]}c")
        server = workspace.server(pair.dst, net, role=f"{kind[:3]}s")
        paths[kind] = (net, client, server, f"netproof-{kind}-{secrets.token_hex(6)}")
    vnis = {kind: net.expected_vni(pair.dst)[0] for kind, (net, *_) in paths.items()}
    proof.data("the networks", {kind: {"name": p[0].name, "vni": vnis[kind]} for kind, p in paths.items()})
    for _, client, server, _ in paths.values():
        probes.await_path(proof, client, server, workspace.patience)
    return paths, vnis
