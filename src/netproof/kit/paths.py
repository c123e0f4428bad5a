"""Paths across the lab's underlay, probed from a host's own namespace with iputils ping: whether one host's
echo reaches another, and the path MTU between them. The lab doctor and the checks share these."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from netproof.facts.docker import ICMP_OVERHEAD, OVERLAY_MTU, VXLAN_OVERHEAD
from netproof.lab.providers.base import LabHost

UNDERLAY_MTU_NEEDED = OVERLAY_MTU + VXLAN_OVERHEAD  # what an overlay of the default MTU needs of its underlay


def underlay_ping(src: LabHost, dst: LabHost | str, count: int = 2) -> tuple[bool | None, str]:
    """Whether an ICMP echo from src gets a reply from dst, and what ping said."""
    address = dst if isinstance(dst, str) else dst.address
    done = src.run(["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", address], timeout=10)
    if done.returncode in (126, 127):
        return None, f"ping missing on {src.name} (apt-get install iputils-ping)"
    m = re.search(r"(\d+) packets transmitted, (\d+) received", done.stdout)
    if m and int(m.group(2)) > 0:
        return True, "ok"
    return False, f"{m.group(1) if m else count} ICMP echo sent, no reply"


LOSS_PROBES = (
    50  # echoes a loss rate is measured with: a path dropping 1 in 10 loses at most one of them 3 times in 100
)
LOSS_TOLERATED = 1  # one echo lost of them is noise (an emulated VM's hiccup); more is a lossy path


@dataclass(frozen=True)
class Loss:
    """How many of a burst of echoes from one host to another came back."""

    sent: int
    received: int
    said: str  # ping's own summary, or why it could not run

    @property
    def ran(self) -> bool:
        return self.sent > 0

    @property
    def lossy(self) -> bool:
        return 0 < self.received and self.sent - self.received > LOSS_TOLERATED

    def __str__(self) -> str:
        return f"{self.sent - self.received} of {self.sent} ICMP echoes lost"


def underlay_loss(src: LabHost, dst: LabHost, count: int = LOSS_PROBES) -> Loss:
    """A burst of echoes (5 ms apart, a quarter second on a quiet path) from src to dst, to say a loss rate rather
    than "does not reach" for a path that sometimes does."""
    done = src.run(["ping", "-n", "-q", "-c", str(count), "-i", "0.005", "-W", "1", dst.address], timeout=20)
    if done.returncode in (126, 127):
        return Loss(0, 0, f"ping missing on {src.name} (apt-get install iputils-ping)")
    m = re.search(r"(\d+) packets transmitted, (\d+) received", done.stdout)
    if m is None:
        return Loss(0, 0, " ".join((done.stderr or done.stdout).split())[-200:] or f"ping exited {done.returncode}")
    return Loss(int(m.group(1)), int(m.group(2)), m.group(0))


def _df_ping(src: LabHost, dst: LabHost, payload: int, df: bool = True) -> tuple[bool, int | None]:
    """A ping of that payload (don't fragment, or may fragment); whether it got a reply, and the MTU an error named."""
    done = src.run(
        ["ping", "-n", "-c", "1", "-W", "1", "-M", "do" if df else "dont", "-s", str(payload), dst.address], timeout=10
    )
    named = re.search(r"mtu\s*=\s*(\d+)", done.stdout + done.stderr)
    return " 1 received" in done.stdout, int(named.group(1)) if named else None


def path_mtu(src: LabHost, dst: LabHost) -> tuple[int | None, str]:
    """The largest don't-fragment packet from src that arrives at dst (its echo comes back), at most what the
    overlay needs; and whether fragments of larger ones pass, for the cause."""
    if "ping" in src.run(["sh", "-c", "command -v ping >/dev/null || echo ping"]).stdout:
        return None, f"ping missing on {src.name} (apt-get install iputils-ping)"
    biggest = UNDERLAY_MTU_NEEDED - ICMP_OVERHEAD
    arrived, named = _df_ping(src, dst, biggest)
    if arrived:
        return UNDERLAY_MTU_NEEDED, "ok"
    if named and named < UNDERLAY_MTU_NEEDED and _df_ping(src, dst, named - ICMP_OVERHEAD)[0]:
        low = named  # a router (or src's own interface) said how big a packet may be, and that size arrives
    else:  # a black hole: the largest size that arrives, to a few bytes
        low, high = 548, named or UNDERLAY_MTU_NEEDED
        while high - low > 4:
            middle = (low + high) // 2
            if _df_ping(src, dst, middle - ICMP_OVERHEAD)[0]:
                low = middle
            else:
                high = middle
    fragments = _df_ping(src, dst, biggest, df=False)[0]
    note = (
        "and larger packets arrive only as fragments (slower; many networks drop fragments)"
        if fragments
        else "and larger packets are lost (fragments do not pass either)"
    )
    # A router's "fragmentation needed" is cached by src's kernel (10 minutes): say so, since that is
    # what src's traffic meets until then, even when the path was mended since.
    cached = re.search(r"expires (\d+)sec mtu (\d+)", src.run(["ip", "route", "get", dst.address]).stdout)
    if cached:
        note += f" ({src.name}'s kernel has this MTU cached from a router's reply for {cached.group(1)} s more)"
    return low, note


def gateway_macs(router: LabHost | None) -> dict[str, str]:
    """The link address of each of the lab router's own addresses: what a host's neighbour entry for its gateway
    must say (none known without a router of the lab's)."""
    listed = router.run(["ip", "-j", "addr", "show"], timeout=10) if router is not None else None
    try:
        links = json.loads(listed.stdout) if listed is not None and listed.ok else []
    except ValueError:
        return {}
    return {a["local"]: link["address"] for link in links for a in link.get("addr_info", []) if link.get("address")}


def first_hop(src: LabHost, address: str, gateway_macs: dict[str, str] | None = None) -> tuple[str, bool]:
    """How src sends to an address, as its own tables say it: the route (via which gateway, on which interface) and
    that gateway's neighbour entry; with the gateways' own link addresses (where the lab knows them), whether the
    entry points at the gateway. (A sentence for the doctor's cause, whether the route or entry is known wrong.)"""
    route = src.run(["ip", "-j", "route", "get", address], timeout=10)
    try:
        [hop] = json.loads(route.stdout)[:1] if route.ok else [{}]
    except (ValueError, TypeError):
        hop = {}
    if not hop:
        return f"{src.name} has no route to {address} ({route.stderr.strip() or 'ip route get failed'})", True
    via, dev = hop.get("gateway") or address, hop.get("dev", "?")
    said = f"{src.name}'s route to {address} goes " + (f"via {via} " if hop.get("gateway") else "") + f"on {dev}"
    neigh = src.run(["ip", "-j", "neigh", "show", via, "dev", dev], timeout=10)
    try:
        entry = (json.loads(neigh.stdout) or [{}])[0] if neigh.ok else {}
    except (ValueError, TypeError):
        entry = {}
    mac, state = entry.get("lladdr"), ",".join(entry.get("state", [])) or "none"
    said += f"; its neighbour entry for {via} is {mac or 'without a link address'} ({state})"
    own = (gateway_macs or {}).get(via)
    wrong = bool(own and mac and own.lower() != mac.lower())
    return said + (f", but {via} is {own}: the entry is wrong" if wrong else ""), wrong
