"""Stable placeholders for what differs between two runs of the same Docker: so that footprints of two
runs, on different hosts and days, compare equal unless Docker's behaviour differs.

Replaced: the IDs and names of the objects the footprint made (`<net:internal-bridge>`, `<ctr:overlay>`),
addresses Docker handed out from its pools (`<ip:ctr:overlay>`, `<ip:in:docker_gwbridge>`), the lab's own
hosts (`<ip:this-host>`, `<ip:lab-host>`), MACs (`<mac:derived-from-ip>` where Docker derived it from
the IPv4 address, else `<mac:random>`), IPv6 link-local addresses, random ports (the published host port,
the embedded DNS's), interface and device suffixes (`<veth>`, `vx-<vni>-<id>`), and IDs of objects it did
not make (`<id>`, `<swarm-id>`). What is not recognised stays as Docker wrote it: shown, never hidden.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

IPV4 = re.compile(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(/\d{1,2})?(?![\w.])")
# ip prints a bridge's STP identity as 8000.<MAC> without leading zeros (8000.56:d9:31:6f:d:db)
MAC = re.compile(r"(?<![\w:])([0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5})(?![\w:])", re.IGNORECASE)
# Where a port number is a port (not an STP port ID or a counter): the rule's or inspect's own words.
PORT_CONTEXT = r"((?:--dport|--sport|--to-ports?|dpt:|spt:)\s?|(?<![-\w])(?:dport|sport) |HostPort=|:)"  # nft: dport N
LINK_LOCAL_V6 = re.compile(r"(?<![\w:])fe80::[0-9a-f:]+(?:/64)?(?![\w:])", re.IGNORECASE)
GENERIC = (
    (re.compile(r"\bveth[0-9a-f]{7}\b"), "<veth>"),  # a container's host-side veth
    (re.compile(r"\bvx-[0-9a-f]{6}-[0-9a-z]{5}\b"), "vx-<vni>-<id>"),  # 20.10's VXLAN device, per network
    (re.compile(r"\b[0-9a-f]{64}\b"), "<id>"),
    (re.compile(r"\bgateway_[0-9a-f]{12}\b"), "gateway_<id>"),  # a sandbox's endpoint on docker_gwbridge
    (re.compile(r"\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{25}\b"), "<swarm-id>"),  # node, task, network IDs
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{12}\b"), "<id>"),  # short IDs: br-<id>, gateway_<id>, a sandbox
)
# MACs that mean the same everywhere.
WELL_KNOWN_MACS = re.compile(r"^(00:00:00:00:00:00|ff:ff:ff:ff:ff:ff|33:33:.*|01:00:5e:.*)$", re.IGNORECASE)


@dataclass
class Placeholders:
    """What to replace, and with what; built by `take` from the objects it made and the lab it ran on."""

    literals: dict[str, str] = field(default_factory=dict)  # IDs, names -> placeholder
    addresses: dict[str, str] = field(default_factory=dict)  # an IPv4 address -> placeholder
    subnets: dict[str, str] = field(default_factory=dict)  # a pool subnet -> placeholder (or itself: kept)
    ports: dict[str, str] = field(default_factory=dict)  # a random port -> placeholder
    pool_names: dict[str, str] = field(default_factory=dict)  # a kept subnet -> the network Docker made it for

    def literal(self, value: str | None, placeholder: str) -> None:
        if value:
            self.literals[value] = placeholder

    def network(self, role: str, ident: str, name: str, subnet: str | None, gateway: str | None) -> None:
        """One of the footprint's networks: its ID in every length Docker prints (64, 12, 10 for an overlay's
        namespace `1-<id>`), its name, its subnet and gateway."""
        placeholder = f"<net:{role}>"
        for value in (ident, ident[:12], ident[:10], name):
            self.literal(value, placeholder)
        if subnet:
            self.subnets[subnet] = f"<subnet:{role}>"
        if gateway:
            self.addresses[gateway.split("/")[0]] = f"<gw:{role}>"

    def pool(self, name: str, subnet: str | None, gateway: str | None) -> None:
        """A network Docker made itself (bridge, docker_gwbridge, ingress): its subnet and gateway are defaults
        worth comparing, kept as they are; the addresses it hands out are not (`<ip:in:NAME>`)."""
        if subnet:
            self.subnets.setdefault(subnet, subnet)
            self.pool_names[subnet] = name
        if subnet and not gateway:  # 20.10's `bridge` says no gateway: Docker takes the first address
            gateway = str(next(ipaddress.IPv4Network(subnet, strict=False).hosts()))
        if gateway:
            self.addresses.setdefault(gateway.split("/")[0], gateway.split("/")[0])

    def container(self, role: str, ident: str, name: str, address: str | None) -> None:
        placeholder = f"<ctr:{role}>"
        for value in (ident, ident[:12], name):
            self.literal(value, placeholder)
        if address:
            self.addresses[address] = f"<ip:ctr:{role}>"

    def embedded_dns_ports(self, text: str) -> None:
        """20.10 to 25 redirect the embedded DNS (127.0.0.11:53) to random ports in each container."""
        for port in re.findall(r"127\.0\.0\.11:(\d+)", text):
            if port != "53":
                self.ports[port] = "<port:embedded-dns>"

    def apply(self, text: str) -> str:
        if self.literals:
            # br-<id>, 1-<id>, gateway_<id>: an ID may follow a prefix, never be part of a longer word
            alternatives = "|".join(re.escape(v) for v in sorted(self.literals, key=len, reverse=True))
            literal = re.compile(rf"(?<![0-9A-Za-z])({alternatives})(?![0-9A-Za-z])")
            text = literal.sub(lambda m: self.literals[m.group(1)], text)
        text = IPV4.sub(self._address, text)
        text = LINK_LOCAL_V6.sub("<ip6:link-local>", text)
        text = MAC.sub(self._mac, text)
        for pattern, placeholder in GENERIC:
            text = pattern.sub(placeholder, text)
        for port, placeholder in self.ports.items():
            text = re.sub(rf"{PORT_CONTEXT}{port}(?!\d)", rf"\g<1>{placeholder}", text)
        return text

    def _address(self, m: re.Match) -> str:
        address, prefix = m.group(1), m.group(2) or ""
        if prefix and f"{address}{prefix}" in self.subnets:
            return self.subnets[f"{address}{prefix}"]
        if address in self.addresses:
            return self.addresses[address] + prefix
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return m.group(0)
        for subnet, placeholder in self.subnets.items():
            net = ipaddress.IPv4Network(subnet, strict=False)
            if ip in net:
                role = self.pool_names.get(subnet) or placeholder.strip("<>").removeprefix("subnet:")
                if placeholder == subnet and ip in (net.network_address, net.broadcast_address):
                    return m.group(0)  # a kept pool's own addresses are kept too
                what = {net.network_address: "network", net.broadcast_address: "broadcast"}.get(ip, "ip:in")
                return f"<{what}:{role}>{prefix}"
        return m.group(0)

    def _mac(self, m: re.Match) -> str:
        mac = ":".join(octet.rjust(2, "0") for octet in m.group(1).lower().split(":"))
        if WELL_KNOWN_MACS.match(mac):
            return mac
        octets = [int(x, 16) for x in mac.split(":")]
        if octets[:2] == [0x02, 0x42]:
            ip = ".".join(map(str, octets[2:]))
            if ip in self.addresses or self._in_pool(ip):
                return "<mac:derived-from-ip>"
        return "<mac:random>"

    def _in_pool(self, address: str) -> bool:
        ip = ipaddress.IPv4Address(address)
        return any(ip in ipaddress.IPv4Network(s, strict=False) for s in self.subnets)


def flatten(value: object, prefix: str = "", drop: Iterable[str] = (), unordered: Iterable[str] = ()) -> list[str]:
    """`a.b[0].c=value` lines of a JSON document, without the keys in `drop` (volatile: counters, timers); a list
    named in `unordered` (an overlay's Peers, in no order of their own) is indexed `[*]`."""
    dropped, any_order = set(drop), set(unordered)
    lines: list[str] = []

    def walk(v: object, path: str) -> None:
        if isinstance(v, dict):
            if not v:
                lines.append(f"{path}={{}}")
            for k, sub in v.items():
                if k not in dropped and not k.endswith("_timer"):
                    walk(sub, f"{path}.{k}" if path else str(k))
        elif isinstance(v, list):
            if not v:
                lines.append(f"{path}=[]")
            name = path.rsplit(".", 1)[-1]
            for i, sub in enumerate(v):
                walk(sub, f"{path}[{'*' if name in any_order else i}]")
        else:
            lines.append(f"{path}={v}")

    walk(value, prefix)
    return lines


def firewall_tables(save_output: str) -> dict[str, list[str]]:
    """iptables-save's output as {table: rules}, without comments, COMMIT lines and packet counters."""
    tables: dict[str, list[str]] = {}
    current = None
    for line in save_output.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:], [])
            continue
        if current is not None:
            current.append(re.sub(r"\s*\[\d+:\d+\]$", "", line))
    return tables


def normalize(raw: dict[str, dict[str, list[str]]], placeholders: Placeholders) -> dict[str, dict[str, list[str]]]:
    """Every item's name and lines through the placeholders; items whose lines have no order of their own
    (inspect, info) sorted, so that a map printed in another order is not a change."""
    out: dict[str, dict[str, list[str]]] = {}
    for kind, items in raw.items():
        normalized: dict[str, list[str]] = {}
        for item, lines in items.items():
            new_lines = placeholders.apply("\n".join(lines)).split("\n") if lines else []
            if kind in ("inspect", "info", "defaults"):
                new_lines = sorted(new_lines)
            elif item.endswith("nftables"):
                new_lines = nft_elements_sorted(new_lines)
            normalized[placeholders.apply(item)] = new_lines
        out[kind] = dict(sorted(normalized.items()))
    return out


def nft_elements_sorted(lines: list[str]) -> list[str]:
    """nft prints a map's or set's elements in its hash order, which follows the interfaces' random names: one
    element per line, sorted (after the placeholders), so that the same elements compare equal."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("elements = {"):
            text = line.strip()
            while not text.endswith("}") and i + 1 < len(lines):
                i += 1
                text += " " + lines[i].strip()
            indent = line[: len(line) - len(line.lstrip())]
            inner = text.split("{", 1)[1].rsplit("}", 1)[0]
            out += [f"{indent}element {e}" for e in sorted(e.strip() for e in inner.split(",") if e.strip())]
        else:
            out.append(line)
        i += 1
    return out


def without_workloads(lines: list[str], bridges: Iterable[str], subnets: Iterable[str]) -> list[str]:
    """A firewall section without the rules of a workload's networks (their bridges, their subnets): a user's
    objects netproof carries across an upgrade, not Docker's footprint, and restored in whatever order the engine
    chose."""
    words = [*bridges, *subnets]
    if not words:
        return lines
    pattern = re.compile("|".join(rf"(?<![\w.-]){re.escape(w)}(?![\w-])" for w in words))
    return [line for line in lines if not pattern.search(line)]
