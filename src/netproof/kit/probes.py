"""Probes: does traffic get from here to there? Positive probes must all succeed; a negative
check's window of probes (window.py) must let nothing through, not a single reply or connection.

The `run` argument is how to run a command where the probe starts: a container's exec or a
lab host's run. Probes use busybox, which the test image and every netns host have.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netproof import wait
from netproof.facts import budgets
from netproof.kit import wire
from netproof.kit.evidence import LabBroken, Proof
from netproof.kit.namespaces import NetNamespace
from netproof.lab.model.topology import OUTSIDE_HTTP_PORT
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult

Runner = Callable[[list[str]], CommandResult]
HTTP_PORT = 8080  # what probe listeners in containers serve on
# A container's command that serves a page on HTTP_PORT (busybox httpd), for probes to reach.
SERVE_SCRIPT = f"mkdir -p /www && echo netproof > /www/index.html && exec httpd -f -p {HTTP_PORT} -h /www"
SERVE = f"sh -c '{SERVE_SCRIPT}'"


def on_host(host: LabHost) -> Runner:
    """Probes run on a lab host itself use busybox's tools, which every netns host has."""
    return lambda argv: host.run(["busybox", *argv])


class ProbeDidNotRun(LabBroken):
    """A probe that shows no proof of having run: whatever its exit status, it proves nothing about the path."""


# Proof is an allow-list. Every probe runs inside a shell line of netproof's own that says when the probe started
# and with what status its tool ended; a probe counts only with both, and with its tool's own words that it was
# sent (ping's "N packets transmitted", wget's own errors). Anything else (the runner's timeout, an outer
# `timeout`, the docker CLI or SSH failing in any words, a tool missing, refused or silent) never ran.
STARTED = "netproof-probe: started"
ENDED = "netproof-probe: ended"
WRAPPER = f'echo "{STARTED}" >&2; "$@"; echo "{ENDED} $?" >&2'


@dataclass(frozen=True)
class Tool:
    """A probe's tool, and the words it says only when it ran (regular expressions over its output)."""

    name: str
    ran_words: tuple[str, ...]
    quiet_success: bool = False  # its exit status 0 with some output is its own word that it ran
    windowed: bool = False  # run under busybox `timeout`: its ending on the window's deadline (143, 124) is the probe

    def ran(self, status: int, output: str) -> bool:
        if self.quiet_success and status == 0 and output.strip():
            return True
        if self.windowed and status in (124, 143):
            return True
        return any(re.search(words, output, re.MULTILINE) for words in self.ran_words)


PING = Tool(
    "ping",
    (
        r"\d+ packets transmitted",  # busybox and iputils, whatever came back
        r"ping: bad address",  # busybox: the name did not resolve (a container's DNS, Docker's)
        r"ping: sendto: ",  # busybox: the kernel refused to send (no route: the container's routing, Docker's)
        r"ping: connect: Network is unreachable",  # iputils, the same
    ),
)
WGET = Tool(
    "wget",
    (
        r"HTTP/\d",  # an answer of any status
        r"wget: can't connect to remote host",  # refused or unreachable
        r"wget: bad address",
        r"wget: download timed out",
        r"wget: error getting response",
        r"wget: connection closed prematurely",
    ),
    quiet_success=True,
    windowed=True,
)
NSLOOKUP = Tool(
    "nslookup",
    (r"^Server:", r"can't find ", r"no servers could be reached", r"connection timed out"),
    quiet_success=True,
)


def send(run: Runner, argv: list[str], tool: Tool) -> CommandResult:
    """Run a probe so that it proves it ran: the tool's own result (its argv, its status, its output), or
    ProbeDidNotRun naming where, the probe and what was said instead."""
    return judged(run(["sh", "-c", WRAPPER, "netproof-probe", *argv]), argv, tool)


def judged(result: CommandResult, argv: list[str], tool: Tool) -> CommandResult:
    """The wrapped probe's result as its tool's own, if it shows it ran (send)."""
    via = _via(result.argv)
    said = (result.stderr + result.stdout).replace(STARTED, "").strip()
    said = " ".join(said.split())[-240:] or "nothing"
    probe = f"{via}{shlex.join(argv)}"
    if STARTED not in result.stderr:
        raise ProbeDidNotRun(f"a probe did not start on {result.where}: {probe} (exit {result.returncode}): {said}")
    ended = re.search(rf"^{ENDED} (\d+)$", result.stderr, re.MULTILINE)
    if ended is None:
        raise ProbeDidNotRun(f"a probe did not finish on {result.where}: {probe} (exit {result.returncode}): {said}")
    own = "\n".join(line for line in result.stderr.splitlines() if not line.startswith(("netproof-probe: ",)))
    status = int(ended.group(1))
    if not tool.ran(status, result.stdout + own):
        raise ProbeDidNotRun(
            f"{tool.name} did not run on {result.where}: {probe} (exit {status}): "
            f"{' '.join((own + result.stdout).split())[-240:] or 'it said nothing'}"
        )
    return CommandResult(argv, status, result.stdout, own.strip() + ("\n" if own.strip() else ""), result.where)


def _via(argv: list[str]) -> str:
    """How the probe was reached, before netproof's shell line: "docker exec np-...-a " or "nsenter --net=... "."""
    try:
        cut = argv.index(WRAPPER) - 2
    except ValueError:
        return ""
    before = [a for a in argv[:cut] if a != "busybox"]
    if "docker" in before:  # a provider's way into the host (nsenter, ssh) says nothing of the probe
        before = before[before.index("docker") :]
    return shlex.join(before) + " " if before else ""


@dataclass
class Ping:
    target: str
    sent: int
    received: int
    result: CommandResult

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.received == self.sent

    @property
    def any_reply(self) -> bool:
        return self.received > 0

    def __str__(self) -> str:
        if self.sent == 0:
            return f"ping {self.target}: no packet sent ({_last_line(self.result)})"
        return f"ping {self.target}: {self.sent} sent, {self.received} received"


def ping(run: Runner, target: str, count: int = 3, wait: int = 2) -> Ping:
    result = send(run, ["ping", "-c", str(count), "-i", "0.2", "-W", str(wait), target], PING)
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", result.stdout)
    sent, received = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    return Ping(target, sent, received, result)


def first_reply(run: Runner, target: str, timeout: float) -> float | None:
    """Seconds until a first echo reply (single pings, 1 s each, until `timeout`), or None. A remote container's
    address reaches a host's overlay through the control plane a moment after the container starts: checks
    that then require no loss let it have that moment, and say how long it took."""
    started = time.monotonic()
    _, reached = wait.poll(
        lambda: ping(run, target, count=1, wait=1), holds=lambda p: p.ok, timeout=timeout, interval=0.2
    )
    return time.monotonic() - started if reached else None


def await_path(proof: Proof, a, b, patience: float) -> None:
    """Before a check requires a cross-host path to carry traffic without loss, let it answer once: containers
    just started reach each other's hosts through the control plane a moment later (budgets.NEW_PATH, times
    the provider's patience). Pinged from a's network namespace with the host's ping (no `docker exec`: the
    wait costs the engine nothing); the time it took, or that it never answered, goes in the evidence."""
    timeout = budgets.scaled(budgets.NEW_PATH, patience)
    took = first_reply(a.netns.run, b.ip, timeout)
    proof.text(
        f"first reply {a.name} -> {b.name} ({b.ip})",
        f"after {took:.1f} s" if took is not None else f"none within {timeout:.0f} s",
    )


def require_reached_over_ipv6(proof: Proof, a, b, subnet: str, where: str) -> tuple[str, str]:
    """a and b (containers) have addresses of the network's IPv6 subnet, and a pings b's with no loss; their
    addresses."""
    found = {c.name: c.netns.ipv6_addresses() for c in (a, b)}
    proof.data("IPv6 addresses on eth0", found)
    a6, b6 = a.netns.ipv6_address_in(subnet), b.netns.ipv6_address_in(subnet)
    proof.require(
        a6 is not None and b6 is not None,
        expected=f"both containers have an address of the network's IPv6 subnet {subnet}",
        observed=f"{a.name}: {', '.join(found[a.name]) or 'no IPv6 address'}; "
        f"{b.name}: {', '.join(found[b.name]) or 'no IPv6 address'}",
        where=where,
    )
    echoed = ping(a.exec, b6)
    proof.command(f"ping {b6} ({b.name}) from {a}", echoed.result)
    routes = a.netns.run(["ip", "-6", "route"]).stdout
    prefix = subnet.split("::")[0]  # the check's own prefix, out of what is compared between runs
    proof.mechanism(
        "IPv6 routes of a container",
        sorted(r.replace(prefix, "<prefix>") for r in routes.splitlines() if not r.startswith(("fe80", "multicast"))),
    )
    proof.require(
        echoed.ok,
        expected=f"{a} pings {b6} ({b.name}) over IPv6 with no loss",
        observed=f"{echoed}; {a.name}'s IPv6 routes: {routes.strip().replace(chr(10), ', ') or 'none'}",
        where=where,
    )
    return a6, b6


@dataclass
class Fetch:
    url: str
    result: CommandResult

    @property
    def through(self) -> bool:
        """A response of any kind means the connection was made."""
        return self.result.ok or "HTTP/" in self.result.stderr

    def __str__(self) -> str:
        why = _last_line(self.result) or f"exit {self.result.returncode}"
        return f"GET {self.url}: {'connected' if self.through else 'no connection'} ({why})"


def http_get(run: Runner, address: str, port: int, timeout: int = 2, query: str = "", path: str = "/") -> Fetch:
    """GET `path` from address:port; a `query` (`?query`) lets a capture at the far end tell this request from
    others."""
    host = f"[{address}]" if ":" in address else address  # an IPv6 address is bracketed in a URL
    url = f"http://{host}:{port}{path}" + (f"?{query}" if query else "")
    # Bounded by `timeout`: busybox 1.35's own wget -T crashes (segmentation fault).
    return Fetch(url, send(run, ["timeout", str(timeout), "wget", "-q", "-O", "-", url], WGET))


def nslookup(run: Runner, name: str) -> tuple[CommandResult, list[str]]:
    """busybox nslookup where the probe starts (a container asks its resolver); the IPv4 addresses answered."""
    result = send(run, ["nslookup", name], NSLOOKUP)
    answer = result.stdout.split("Name:", 1)[1] if "Name:" in result.stdout else ""
    return result, re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", answer)


def settled_lookup(
    run: Runner, name: str, holds: Callable[[list[str]], bool], timeout: float
) -> tuple[CommandResult, list[str], float]:
    """nslookup until the answer holds, at most `timeout` seconds: a name registered on another host reaches
    this one's embedded DNS through the control plane a moment later. The last lookup, its addresses and the
    seconds it took (a check records them)."""
    started = time.monotonic()
    (result, answered), _ = wait.poll(
        lambda: nslookup(run, name), holds=lambda r: holds(r[1]), timeout=timeout, interval=0.5
    )
    return result, answered, time.monotonic() - started


def _last_line(result: CommandResult) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else ""


def fetched_from_outside(
    proof: Proof, container, outside, evidence_dir: Path, address: str | None = None, syns_from: tuple[str, ...] = ()
) -> tuple[Fetch, list[str]]:
    """The container's GET of the outside host's page (at `address`, its IPv6 one for instance; else its own), and
    the addresses a capture at the outside host saw it come from. Other checks' requests reach the outside host at
    the same time: the request carries the container's name, and only the packets carrying it count; where none
    came (no connection was made), the SYNs from `syns_from` (addresses only this container has) do. The request
    and the capture are recorded as evidence."""
    address = address or outside.address
    outside_ns = NetNamespace.of_host(outside)
    capture = wire.Capture(
        outside_ns,
        outside_ns.interface_with_address(outside.address) or "any",
        f"tcp dst port {OUTSIDE_HTTP_PORT}",
        evidence_dir / f"at-{outside.name}-{address.replace(':', '_')}-from-{container.name}.pcap",
    )
    with capture:
        fetch = http_get(container.exec, address, OUTSIDE_HTTP_PORT, timeout=3, query=container.name)
    proof.command(f"{container.name}: GET {fetch.url}", fetch.result)
    proof.pcap(capture.describe(), capture.dest, where=outside.name)
    senders = wire.senders_of(capture.dest, container.name.encode())
    if not senders and syns_from:
        senders = sorted({a.src for a in wire.arrivals(capture.dest) if a.proto == "tcp" and a.src in syns_from})
    return fetch, senders
