"""The one window a negative check has: its probes, all at once, with a capture at each far end, and "nothing
got through" required once.

    window = Window(f"{a} and {b}")
    window.watch(wire.Capture(b.netns, "eth0", f"ip src host {a.ip}", evidence_dir / "at-b.pcap"), f"at {b}")
    window.at_once(lambda w: w.ping(a.exec, b.ip), lambda w: w.http(a.exec, b.ip, probes.HTTP_PORT))
    window.require_nothing_through(proof, expected="every probe from a to b stopped", where=where)

A reply, a connection, or a single packet seen at a far end is a breach. A window with no probe in it holds
nothing: it fails (a negative check passes only when its probes demonstrably ran). A probe without proof that it
ran (probes.send), or a capture that did not listen until the window closed (wire.Capture), is a broken lab: the
window then says nothing, never "nothing got through".
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from netproof.facts import budgets, defects
from netproof.kit import firewall, wire
from netproof.kit.evidence import Proof
from netproof.kit.objects import host_clock, networks_created
from netproof.kit.probes import HTTP_PORT, Runner, http_get, ping


@dataclass
class Window:
    """A negative check's probes: it holds only if every one was stopped."""

    what: str
    attempts: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    watched: list[tuple[wire.Capture, str]] = field(default_factory=list)
    hosts: list = field(default_factory=list)  # whose firewall rules are read before and after the probes
    let_through: list[str] = field(default_factory=list)  # ACCEPT rules whose counters rose meanwhile, said as whose
    created_meanwhile: list[str] = field(default_factory=list)  # "<host>: <network>" Docker made while probes ran

    # --- probes ----------------------------------------------------------------------------------

    def ping(self, run: Runner, target: str, count: int = 3) -> None:
        p = ping(run, target, count=count, wait=1)
        self.attempts.append(str(p))
        if p.any_reply:
            self.breaches.append(str(p))

    def http(self, run: Runner, address: str, port: int, tries: int = 1, label: str = "") -> None:
        """`label`, if given, starts what is said of each try ("outside -> 10.0.0.2: GET ..."): whose it was."""
        for _ in range(tries):
            f = http_get(run, address, port, timeout=1)  # a lab answers in well under a millisecond
            said = f"{label}: {f}" if label else str(f)
            self.attempts.append(said)
            if f.through:
                self.breaches.append(said)

    def got_through(self, label: str) -> bool:
        """Whether a probe said under this label got through."""
        return any(b.startswith(f"{label}: ") for b in self.breaches)

    def packets_seen(self, description: str, count: int) -> None:
        """Packets that arrived where nothing may arrive count as a breach even if no reply came back."""
        self.attempts.append(f"{description}: {count} packet(s) arrived")
        if count:
            self.breaches.append(f"{description}: {count} packet(s) arrived")

    # --- the window --------------------------------------------------------------------------------

    def watch(self, capture: wire.Capture, label: str) -> None:
        """A far end to capture at while the probes run: what it sees counts (at_once). Its deadline is the window's:
        it must outlive the slowest probe, or it proves nothing (it says so when it closes)."""
        capture.max_seconds = max(capture.max_seconds, budgets.WINDOW)
        self.watched.append((capture, label))

    def through_the_firewall_of(self, host) -> None:
        """A host whose ACCEPT rules are read before and after the probes: where something gets through, the rules
        that counted packets meanwhile are named (a permissive rule of the user's, high in FORWARD)."""
        self.hosts.append(host)

    def at_once(self, *probes: Callable[[Window], None]) -> None:
        """Run the probes all at once, inside the captures; then count what each far end saw."""
        before = [firewall.rule_counters(h, ("ACCEPT",)) for h in self.hosts]
        clocks = [host_clock(h) for h in self.hosts]
        with ExitStack() as captures:
            for capture, _ in self.watched:
                captures.enter_context(capture)
            with ThreadPoolExecutor(max_workers=max(1, len(probes))) as pool:
                for done in [pool.submit(probe, self) for probe in probes]:
                    done.result()
        for capture, label in self.watched:
            self.packets_seen(label, wire.count_packets(capture.dest))
        for host, since in zip(self.hosts, clocks, strict=True):
            made = networks_created(host, since, host_clock(host))
            self.created_meanwhile += [f"{host.name}: {name}" for name in made]
        for host, counted in zip(self.hosts, before, strict=True):
            rose = firewall.risen(counted, firewall.rule_counters(host, ("ACCEPT",)))
            said = [f"{host.name}: {firewall.whose(r)}" for r in rose if firewall.is_accept(r)]
            self.let_through += sorted(said, key=lambda r: r.endswith("(Docker's)"))  # the user's rules first

    def require_nothing_through(self, proof: Proof, *, expected: str, where: str, mechanism: str = "") -> None:
        """The verdict, once: every probe stopped, and at least one probe ran. The probes and captures are evidence;
        `mechanism` is said after what got through (the rule found missing, say)."""
        for capture, _ in self.watched:
            proof.pcap(capture.describe(), capture.dest, where=capture.host.name)
        proof.text("probes", "\n".join(self.attempts) or "(none ran)")
        if self.breaches and self.created_meanwhile:  # Docker before 28.0 rearranges FORWARD for each (moby/moby#43585)
            proof.symptom(defects.BYPASSED_WHILE_CREATING)
            proof.text("networks Docker created on the host while the probes ran", "\n".join(self.created_meanwhile))
            mechanism += f"; while Docker created {len(self.created_meanwhile)} other network(s) meanwhile"
        if self.breaches and self.let_through:
            proof.text("ACCEPT rules that counted packets while the probes ran", "\n".join(self.let_through))
            mechanism += f"; rules that let packets through meanwhile: {'; '.join(self.let_through[:4])}"
        proof.require(
            self.held,
            expected=expected,
            observed=("got through: " + "; ".join(self.breaches) + mechanism) if self.breaches else "no probe ran",
            where=where,
        )

    @property
    def held(self) -> bool:
        return bool(self.attempts) and not self.breaches

    def __str__(self) -> str:
        return f"{self.what}: " + "; ".join(self.attempts)


def between_containers(a, b, evidence_dir: Path) -> Window:
    """A window of every probe both ways between two containers (ping, and HTTP to the other's probes.HTTP_PORT), all
    at once, with a capture at each of IP from the other (the ARP that asks for the other's address is no breach)."""
    window = Window(f"{a} and {b}")
    window.through_the_firewall_of(a.host)
    for here, there in ((b, a), (a, b)):
        capture = wire.Capture(here.netns, "eth0", f"ip src host {there.ip}", evidence_dir / f"{here.name}.pcap")
        window.watch(capture, f"at {here}")
    window.at_once(
        lambda w: w.ping(a.exec, b.ip),
        lambda w: w.http(a.exec, b.ip, HTTP_PORT),
        lambda w: w.ping(b.exec, a.ip),
        lambda w: w.http(b.exec, a.ip, HTTP_PORT),
    )
    return window
