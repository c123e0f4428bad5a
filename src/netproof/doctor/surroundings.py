"""The lab doctor's look at what the checks lean on that is not Docker: the outside host (the lab's stand-in for the
external network) and its services, reached from every docker host and back; and each docker host's own settings
Docker relies on (IPv4 forwarding, its underlay interface up at its subnet's MTU). A check whose failure follows
from one of these is the lab's error, naming it, never Docker's failure."""

from __future__ import annotations

import ipaddress
import json
import re

from netproof import system
from netproof.errors import LabBroken
from netproof.facts.docker import ADDRESS_POOLS_KEY, DEFAULT_MTU
from netproof.kit import firewall
from netproof.kit.namespaces import underlay_interface
from netproof.kit.paths import first_hop, underlay_loss
from netproof.lab.model.topology import LAB_ZONE, OUTSIDE_HTTP_PORT
from netproof.lab.providers.base import LabHost

DOCKER_BRIDGE = re.compile(r"^(docker0|docker_gwbridge|br-[0-9a-f]{12})$")  # the interfaces Docker's bridges have


class SurroundingsExamination:
    """The Doctor's steps for the outside host and the hosts' own settings; it holds the lab and `_add`."""

    def _outside(self, hosts: list[LabHost]) -> None:
        spec = self.lab.topology.role("outside")
        if spec is None:
            return
        outside = self.lab.host(spec.name)
        macs = self.gateway_macs
        for host, said in zip(hosts, system.parallel(lambda h: _ask_outside(h, outside, macs), hosts), strict=True):
            for subject, (ok, observed, cause) in said.items():
                self._add("outside", subject, host.name, outside.name, ok, observed, cause=cause)

    def _host_settings(self, hosts: list[LabHost], answering: list[LabHost]) -> None:
        shaped = "underlay-shaping" in self.lab.provider.capabilities  # the lab set its links' MTU: it can judge it
        lab = {h.name: str(h.address) for h in self.lab.topology.hosts.values()}

        def settings(h: LabHost) -> dict:
            return {**_own_settings(h, shaped, h in answering), "docker-networks": docker_networks_over_the_lab(h, lab)}

        for host, said in zip(hosts, system.parallel(settings, hosts), strict=True):
            for subject, (ok, observed, cause) in said.items():
                requirement = "ipv6" if subject == "ipv6_forward" else "host"  # only IPv6's checks lean on it
                self._add(requirement, subject, host.name, None, ok, observed, cause=cause)
        self._claimed_addresses(hosts, lab)

    def _claimed_addresses(self, hosts: list[LabHost], lab: dict[str, str]) -> None:
        """A docker host that holds another lab host's underlay address as well: both answer for it, and peers reach
        one or the other as their neighbour tables last heard (a duplicate address is no 'cannot reach')."""
        held = dict(zip([h.name for h in hosts], system.parallel(_own_addresses, hosts), strict=True))
        for holder, addresses in held.items():
            for owner, address in lab.items():
                if owner == holder or address not in addresses:
                    continue
                interface = addresses[address]
                cause = (
                    f"{holder} holds {address} on {interface}, which is {owner}'s underlay address: both answer for it "
                    f"(ARP), so traffic for {owner} reaches one or the other — remove it from {holder} "
                    f"(ip addr del {address} dev {interface})"
                )
                self._add("host", "address", holder, None, False, f"holds {owner}'s {address}", cause=cause)
                if owner in held:  # the owner's cases are as broken: its peers may be talking to the holder
                    said = f"{owner}'s underlay address {address} is held by {holder} as well (above)"
                    self._add("host", "address", owner, None, False, f"{address} held by {holder} too", cause=said)


def _ask_outside(
    host: LabHost, outside: LabHost, gateway_macs: dict[str, str]
) -> dict[str, tuple[bool | None, str, str | None]]:
    """Echo, the web server and the DNS server of the outside host, as the docker host finds them; where echo
    fails, the host's own first hop towards it (route, neighbour entry)."""
    where = f"the outside host {outside.name} ({outside.address})"
    loss = underlay_loss(host, outside)
    echoed = None if not loss.ran else loss.received > 0
    if loss.lossy:
        ping = (False, str(loss), f"{loss} between {host.name} and {where}: the path drops packets (a router's or a "
                "host's firewall dropping a share, a lossy link); the checks of egress, published ports and isolation "
                "would see loss Docker did not cause — mend the path")  # fmt: skip
    else:
        ping = (
            echoed,
            "ok" if echoed else loss.said,
            None
            if echoed is not False
            else f"{host.name} does not reach {where} (ICMP echo): the path between them (routes, neighbours, the way "
            "back) is broken; the checks of egress, published ports and isolation cannot tell Docker's doing from it "
            f"({first_hop(host, outside.address, gateway_macs)[0]})",
        )
    found = {"ping": ping}
    echoed = echoed and not loss.lossy  # a lossy path explains a service's silence: not blamed on the service
    url = f"http://{outside.address}:{OUTSIDE_HTTP_PORT}/"
    fetched = host.run(["timeout", "3", "busybox", "wget", "-q", "-O", "-", url], timeout=10)
    found["http"] = (
        fetched.ok,
        "answers" if fetched.ok else (fetched.stderr.strip().splitlines() or ["no answer"])[-1][:80],
        None
        if fetched.ok or not echoed
        else f"{where} answers ICMP echo but its web server ({url}) does not answer {host.name}: a lab service is "
        f"down, or the way to it for TCP {OUTSIDE_HTTP_PORT} is blocked",
    )
    name = f"www.{LAB_ZONE}"
    looked = host.run(["timeout", "3", "busybox", "nslookup", name, outside.address], timeout=10)
    answered = str(outside.address) in looked.stdout.split("Name:")[-1]
    found["dns"] = (
        answered,
        "answers" if answered else "no answer",
        None
        if answered or not echoed
        else f"{where} answers ICMP echo but its DNS server does not resolve {name} for {host.name}: a lab service is "
        "down, or the way to it for DNS is blocked (every lab host's resolver, a container's included, is it)",
    )
    if loss.lossy:  # what did not answer may have been lost on the way: not known, and not the service's
        for subject in ("http", "dns"):
            ok, observed, _ = found[subject]
            if ok is False:
                found[subject] = (None, f"{observed} (the path loses packets)", None)
    return found


def _own_addresses(host: LabHost) -> dict[str, str]:
    """The host's IPv4 addresses, and the interface of each."""
    listed = host.run(["ip", "-j", "-4", "addr", "show"], timeout=10)
    try:
        links = json.loads(listed.stdout) if listed.ok else []
    except ValueError:
        return {}
    return {a["local"]: link["ifname"] for link in links for a in link.get("addr_info", []) if "local" in a}


def _own_settings(
    host: LabHost, judge_mtu: bool, engine_answers: bool
) -> dict[str, tuple[bool | None, str, str | None]]:
    """The host's IPv4 forwarding, and its underlay interface: up, at its subnet's MTU (where the lab made the
    subnet's links, and so knows what their MTU must be); IPv6 forwarding where its engine (if it answers the doctor:
    a hung one is the engines step's finding, and asking it again would wait for the API's timeout) needs it."""
    forwarding = host.run(["cat", "/proc/sys/net/ipv4/ip_forward"], timeout=10).stdout.strip()
    found = {
        "ip_forward": (
            forwarding == "1",
            forwarding or "?",
            None
            if forwarding == "1"
            else f"{host.name} does not forward IPv4 (net.ipv4.ip_forward={forwarding or '?'}): Docker's published "
            "ports, egress and overlays need it; a setting of the host's, not Docker's",
        )
    }
    found.update(_ipv6_forwarding(host) if engine_answers else {})
    try:
        own, interface = underlay_interface(host)
    except LabBroken as e:
        found["underlay"] = (False, "no interface", str(e))
        return found
    link = next((lk for lk in own.links()[0] if lk.get("ifname") == interface), {})
    wanted = host.spec.subnet.mtu or DEFAULT_MTU
    up = "UP" in link.get("flags", [])
    fits = link.get("mtu") == wanted or not judge_mtu
    found["underlay"] = (
        up and fits,
        f"{interface} {'up' if up else 'down'}, mtu {link.get('mtu')}",
        None
        if up and fits
        else f"{host.name}'s underlay interface {interface} is {'up' if up else 'down'} with MTU {link.get('mtu')}, "
        f"its subnet {host.spec.subnet.name}'s is {wanted}: a setting of the host's, not Docker's",
    )
    return found


def _ipv6_forwarding(host: LabHost) -> dict[str, tuple[bool | None, str, str | None]]:
    """IPv6 forwarding, where the host's operator must turn it on: Docker's nftables backend does not, and will not
    create an IPv6 network without it (its documentation asks the operator to); with iptables Docker turns it on
    itself when it creates one, so the setting is not judged there."""
    try:
        if firewall.backend(host) != "nftables":
            return {}
    except Exception:  # noqa: BLE001 - a daemon that does not answer is the engine step's finding
        return {}
    forwarding = host.run(["cat", "/proc/sys/net/ipv6/conf/all/forwarding"], timeout=10).stdout.strip()
    return {
        "ipv6_forward": (
            forwarding == "1",
            forwarding or "?",
            None
            if forwarding == "1"
            else f"{host.name} does not forward IPv6 (net.ipv6.conf.all.forwarding={forwarding or '?'}) and its Docker "
            "uses the nftables backend, which leaves that to the host's operator: Docker's IPv6 networks need it; a "
            "setting of the host's, not Docker's",
        )
    }


def docker_networks_over_the_lab(host: LabHost, lab: dict[str, str]) -> tuple[bool | None, str, str | None]:
    """A Docker network on the host whose subnet covers an address the host must reach (another lab host's, the
    outside host's, its resolver's): its bridge's route wins over the way through the gateway, so the host sends that
    traffic into the bridge. Docker avoids only the routes it sees; a subnet behind the gateway is its to take."""
    routes = host.run(["ip", "-j", "route", "show"], timeout=10)
    try:
        table = json.loads(routes.stdout or "[]")
    except json.JSONDecodeError:
        return None, "routes unreadable", None
    covered = []
    for route in table:
        dev, dst = route.get("dev", ""), route.get("dst", "")
        if not DOCKER_BRIDGE.match(dev) or "/" not in dst:
            continue
        prefix = ipaddress.IPv4Network(dst, strict=False)
        hit = [f"{name} {address}" for name, address in lab.items()
               if name != host.name and ipaddress.IPv4Address(address) in prefix]  # fmt: skip
        if hit:
            covered.append(f"{dev} at {dst} covers {', '.join(hit)}")
    if not covered:
        return True, "clear of the lab", None
    return (
        False,
        "; ".join(covered)[:80],
        f"{host.name} holds a Docker network over lab addresses ({'; '.join(covered)}): it sends their traffic into "
        f"that bridge instead of its gateway. Docker took the subnet from its default pools, which avoid only the "
        f"routes a host sees; keep the pools off the lab (daemon.json {ADDRESS_POOLS_KEY}, as netproof's own labs "
        "do) or remove that network: the lab's doing, not Docker's failure",
    )
