"""What is on the wire: packet captures on lab hosts, dissected with scapy.

A Capture runs tcpdump on a host (inside its namespaces) for the length of a `with` block,
then brings the pcap back to this machine through the host's command channel, so it works on
every provider, and keeps it as evidence.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from netproof import wait
from netproof.facts.docker import VXLAN_FLAG_I, VXLAN_PORT
from netproof.kit.evidence import LabBroken
from netproof.kit.namespaces import NetNamespace
from netproof.system import CommandResult


def data_path_port(manager) -> int:
    """The VXLAN port the lab's swarm was set up with (4789 unless --data-path-port said otherwise; a kv lab's)."""
    port = manager.docker().info().get("Swarm", {}).get("Cluster", {}).get("DataPathPort") or VXLAN_PORT
    return int(port)


class Capture:
    """tcpdump in a network namespace of a lab host (the host's own, or a container's)."""

    def __init__(self, netns: NetNamespace, interface: str, bpf: str, dest: Path, max_seconds: int = 30):
        self.netns, self.host = netns, netns.host
        self.interface, self.bpf, self.dest = interface, bpf, dest
        self.max_seconds = max_seconds
        self.remote = f"/tmp/netproof-capture-{secrets.token_hex(6)}.pcap"
        self.result: CommandResult | None = None
        self._thread: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        # --immediate-mode: packets still in the kernel's buffer when tcpdump is stopped would be lost.
        return [
            "timeout",
            str(self.max_seconds),
            "tcpdump",
            "-i",
            self.interface,
            "-n",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-w",
            self.remote,
            *self.bpf.split(),
        ]

    def __enter__(self) -> Capture:
        def capture() -> None:
            self.result = self.netns.run(self.command, timeout=self.max_seconds + 10)

        self._thread = threading.Thread(target=capture, daemon=True)
        self._thread.start()
        # tcpdump writes the pcap header once it listens; packets before that would be missed.
        listening = wait.poll(
            lambda: self.host.run(["test", "-s", self.remote]).ok or not self._thread.is_alive(),
            timeout=10,
            interval=0.05,
        )[1]
        if not listening or not self._thread.is_alive():
            raise LabBroken(f"tcpdump did not start on {self.host.name}: {self.result or 'no pcap header after 10 s'}")
        time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)  # the last replies in flight
        alive = self._thread is not None and self._thread.is_alive()
        # tcpdump alone: the shell or ssh session that runs it must live on to pass on its last words (what it
        # captured), which prove it listened to the end.
        self.host.run(["pkill", "-INT", "-f", f"^tcpdump .*{self.remote}"])
        self._thread.join(timeout=15)
        try:
            copied = self._copy()
        finally:
            self.host.run(["rm", "-f", self.remote])
        if exc[0] is not None:  # the window's own trouble says more
            return
        # A capture proves "nothing arrived" only if it listened to the end: tcpdump alive when the window closed,
        # and its own count of what it captured when stopped.
        said = self.result.stderr if self.result is not None else ""
        if not alive or "packets captured" not in said:
            ended = "had ended before the window closed" if not alive else "did not say what it captured"
            raise LabBroken(
                f"the capture on {self.netns.where} {self.interface} {ended}: "
                f"{' '.join(said.split())[-200:] or 'it said nothing'}"
            )
        if copied is not None:
            raise LabBroken(f"the capture on {self.netns.where} left no pcap to read: {copied}")

    def _copy(self) -> str | None:
        """The pcap brought to this machine; why not, if it could not be."""
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.dest.write_bytes(self.host.read_file(self.remote))
        except Exception as e:  # noqa: BLE001 - a capture that left nothing is the lab's, said by __exit__
            return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        return None

    def describe(self) -> str:
        return f"tcpdump on {self.netns.where} {self.interface} '{self.bpf}' -> {self.dest}"


@dataclass(frozen=True)
class VxlanFrame:
    outer_src: str
    outer_dst: str
    outer_sport: int
    outer_dport: int
    flags: int
    vni: int
    inner_src_mac: str
    inner_dst_mac: str
    inner_src_ip: str | None
    inner_dst_ip: str | None
    inner_proto: str  # "icmp-echo-request", "icmp-echo-reply", "arp", "ip", "other"

    @property
    def vni_valid(self) -> bool:
        return bool(self.flags & VXLAN_FLAG_I)

    def __str__(self) -> str:
        return (
            f"{self.outer_src}.{self.outer_sport} > {self.outer_dst}.{self.outer_dport}: VXLAN flags "
            f"0x{self.flags:02x} "
            f"vni {self.vni}: {self.inner_src_mac} > {self.inner_dst_mac} {self.inner_src_ip} > {self.inner_dst_ip} "
            f"{self.inner_proto}"
        )


def vxlan_frames(pcap: Path, port: int = VXLAN_PORT) -> list[VxlanFrame]:
    """Every VXLAN frame to the given UDP port in a capture, with its inner frame dissected."""
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.utils import rdpcap

    frames = []
    for packet in rdpcap(str(pcap)):
        if IP not in packet or UDP not in packet or packet[UDP].dport != port:
            continue
        vxlan = VXLAN(bytes(packet[UDP].payload))  # also when the port is not scapy's default
        inner = vxlan.payload
        if not isinstance(inner, Ether):
            continue
        inner_ip = inner[IP] if IP in inner else None
        if inner_ip is not None and ICMP in inner:
            proto = {8: "icmp-echo-request", 0: "icmp-echo-reply"}.get(inner[ICMP].type, "icmp")
        elif ARP in inner:
            proto = "arp"
        else:
            proto = "ip" if inner_ip is not None else "other"
        frames.append(
            VxlanFrame(
                packet[IP].src,
                packet[IP].dst,
                packet[UDP].sport,
                packet[UDP].dport,
                int(vxlan.flags),
                int(vxlan.vni),
                inner.src,
                inner.dst,
                inner_ip.src if inner_ip else None,
                inner_ip.dst if inner_ip else None,
                proto,
            )
        )
    return frames


@dataclass(frozen=True)
class EspPacket:
    src: str
    dst: str
    spi: int

    def __str__(self) -> str:
        return f"{self.src} > {self.dst}: ESP spi 0x{self.spi:x}"


def esp_packets(pcap: Path) -> list[EspPacket]:
    """Every IPv4 ESP packet (IP protocol 50) in a capture: what an encrypted overlay puts on the wire."""
    import scapy.layers.l2  # noqa: F401 - teaches rdpcap Ethernet
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    found = []
    for packet in rdpcap(str(pcap)):
        if IP in packet and packet[IP].proto == 50:
            esp = bytes(packet[IP].payload)
            found.append(EspPacket(packet[IP].src, packet[IP].dst, int.from_bytes(esp[:4], "big") if esp else 0))
    return found


def carrying(pcap: Path, token: bytes) -> int:
    """How many packets of a capture carry `token` anywhere in their bytes, at whatever depth (a VXLAN frame's
    inner TCP payload included): a marker sent in plaintext is found; one sent encrypted never is."""
    from scapy.utils import RawPcapReader

    return sum(1 for data, _ in RawPcapReader(str(pcap)) if token in data)


def count_packets(pcap: Path) -> int:
    import scapy.layers.l2  # noqa: F401 - teaches rdpcap Ethernet
    from scapy.utils import rdpcap

    return len(rdpcap(str(pcap)))


@dataclass(frozen=True)
class Arrival:
    """A packet a capture saw arrive: a UDP datagram (with its payload) or a TCP connection attempt (SYN)."""

    proto: str  # "udp" or "tcp"
    src: str
    dst: str
    dport: int
    payload: bytes = b""


def arrivals(pcap: Path) -> list[Arrival]:
    """Every UDP datagram and TCP SYN (IPv4 or IPv6) in a capture: the doctor's port probes, looked for at their far
    end, and connections that never completed."""
    import scapy.layers.l2  # noqa: F401 - teaches rdpcap Ethernet
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    seen = []
    for packet in rdpcap(str(pcap)):
        if IP not in packet and IPv6 not in packet:
            continue
        ip = packet[IP] if IP in packet else packet[IPv6]
        if UDP in packet:
            seen.append(Arrival("udp", ip.src, ip.dst, packet[UDP].dport, bytes(packet[UDP].payload)))
        elif TCP in packet and packet[TCP].flags & 0x02 and not packet[TCP].flags & 0x10:  # SYN, not SYN-ACK
            seen.append(Arrival("tcp", ip.src, ip.dst, packet[TCP].dport))
    return seen


def senders_of(pcap: Path, token: bytes) -> list[str]:
    """The source addresses (IPv4 or IPv6) of the TCP segments in a capture that carry `token` (a request's own
    mark)."""
    import scapy.layers.l2  # noqa: F401 - teaches rdpcap Ethernet
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    carrying = [p for p in rdpcap(str(pcap)) if TCP in p and token in bytes(p[TCP].payload)]
    return sorted({p[IP].src if IP in p else p[IPv6].src for p in carrying if IP in p or IPv6 in p})


def hardware_senders(pcap: Path, address: str) -> list[str]:
    """The Ethernet source addresses of a capture's frames sent from an IPv4 address, its ARP answers included:
    the MAC address a container's interface really uses on a network."""
    import scapy.layers.l2  # noqa: F401 - teaches rdpcap Ethernet
    from scapy.layers.inet import IP
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import rdpcap

    sent = [
        p[Ether].src
        for p in rdpcap(str(pcap))
        if Ether in p and ((IP in p and p[IP].src == address) or (ARP in p and p[ARP].psrc == address))
    ]
    return sorted(set(sent))


def count_fragments(pcap: Path) -> int:
    """IPv4 packets in a capture that are pieces of a larger one (more-fragments set, or an offset)."""
    import scapy.layers.l2  # noqa: F401 - teaches rdpcap Ethernet
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    return sum(1 for p in rdpcap(str(pcap)) if IP in p and (p[IP].flags.MF or p[IP].frag))


# A TCP SYN in an Ethernet frame, sent from a lab host with a raw socket (the stdlib's: scapy's sendp sends
# nothing for a packet addressed to 127.0.0.1, whatever interface it is given). argv: destination MAC,
# source MAC, source IPv4, destination IPv4, destination port, interface.
CRAFT_SYN = """
import socket, struct, sys
def csum(b):
    b += b"\\0" * (len(b) % 2)
    s = sum(struct.unpack(f"!{len(b) // 2}H", b)); s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
dmac, smac, src, dst, port, iface = sys.argv[1:7]
S, D, port = socket.inet_aton(src), socket.inet_aton(dst), int(port)
tcp = struct.pack("!HHIIBBHHH", 40000 + port % 20000, port, 0, 0, 5 << 4, 0x02, 8192, 0, 0)
tcp = tcp[:16] + struct.pack("!H", csum(S + D + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, S, D)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
frame = bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + b"\\x08\\x00" + ip + tcp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for _ in range(3):
    s.send(frame)
print("sent 3 frames")
"""
