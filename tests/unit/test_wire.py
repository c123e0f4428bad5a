"""Packet dissection, on a capture recorded in the lab: docker3 pinging docker4 on two overlays."""

from pathlib import Path

from netproof.kit import wire

PCAP = Path(__file__).parents[1] / "fixtures" / "vxlan-docker3-to-docker4-two-networks.pcap"


def test_vxlan_frames_are_dissected_down_to_the_inner_icmp():
    frames = wire.vxlan_frames(PCAP)
    assert len(frames) == 10
    assert {f.vni for f in frames} == {4120, 4121}
    first = frames[0]
    assert (first.outer_src, first.outer_dst, first.outer_dport) == ("192.168.50.101", "192.168.50.102", 4789)
    assert first.vni_valid and first.flags == 0x08
    assert (first.inner_src_mac, first.inner_dst_mac) == ("02:42:0a:00:18:02", "02:42:0a:00:18:04")
    assert (first.inner_src_ip, first.inner_dst_ip, first.inner_proto) == (
        "10.0.24.2",
        "10.0.24.4",
        "icmp-echo-request",
    )
    replies = [f for f in frames if f.inner_proto == "icmp-echo-reply"]
    assert len(replies) == 5 and all(f.outer_src == "192.168.50.102" for f in replies)


def test_each_network_keeps_its_own_vni():
    by_subnet = {}
    for f in wire.vxlan_frames(PCAP):
        by_subnet.setdefault(f.inner_src_ip.rsplit(".", 1)[0], set()).add(f.vni)
    assert by_subnet == {"10.0.24": {4120}, "10.0.25": {4121}}


def test_another_port_finds_nothing():
    assert wire.vxlan_frames(PCAP, port=4790) == []


def test_every_packet_is_counted():
    assert wire.count_packets(PCAP) == 10


def test_a_frame_reads_like_tcpdump():
    assert str(wire.vxlan_frames(PCAP)[0]).startswith(
        "192.168.50.101.35577 > 192.168.50.102.4789: VXLAN flags 0x08 vni 4120:"
    )


ENC_PCAP = Path(__file__).parents[1] / "fixtures" / "enc-001-docker1-to-docker2-encrypted-and-plaintext.pcap"


def test_an_encrypted_overlays_capture_has_esp_both_ways_and_only_the_plaintext_networks_token():
    """Recorded on VMs (20.10, ENC-001 on docker2's underlay): a request on an encrypted overlay (VNI 4100, token
    ...990e836ddac4) and one on a plaintext overlay (VNI 4101, token ...6563ab9db056)."""
    esp = wire.esp_packets(ENC_PCAP)
    assert sorted({str(p) for p in esp}) == [
        "10.10.10.101 > 192.168.50.101: ESP spi 0xb73722f2",
        "192.168.50.101 > 10.10.10.101: ESP spi 0x6fcdd382",
    ]
    assert wire.carrying(ENC_PCAP, b"netproof-plaintext-6563ab9db056") == 1
    assert wire.carrying(ENC_PCAP, b"netproof-encrypted-990e836ddac4") == 0
    assert {f.vni for f in wire.vxlan_frames(ENC_PCAP)} == {4101}
    assert len(esp) + len(wire.vxlan_frames(ENC_PCAP)) == wire.count_packets(ENC_PCAP)


def test_a_containers_mac_address_is_read_from_its_arp_answers_and_echo_replies_not_from_its_peers():
    # BR-MULTI-002 broken by hand on 29.7: connected with one MAC address, its interface given 02:00:00:00:0b:ad.
    pcap = Path(__file__).parents[1] / "fixtures" / "arp-and-pings-mac-changed-by-hand-29.7.pcap"
    assert wire.hardware_senders(pcap, "172.20.0.3") == ["02:00:00:00:0b:ad"]
    assert wire.hardware_senders(pcap, "172.20.0.2") == ["da:66:3c:45:82:d2"]  # the pinging peer
    assert wire.hardware_senders(pcap, "172.20.0.9") == []
