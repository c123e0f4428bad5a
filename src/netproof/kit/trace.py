"""Where a packet died: a probe that should have got through, repeated once with netfilter tracing on the lab
hosts it crosses.

Each host traced gets a table of netproof's (`inet netproof_trace_<tag>`, one per trace) whose chains, ahead of
every other table's, set `meta nftrace` on the conversation's packets in both directions (before NAT by address,
after conntrack by the conversation's original destination), and `nft monitor trace` in its network namespace prints
every rule and policy they meet: iptables-nft's rules and Docker 29's nftables ones alike, rules without counters
included. The trace names the last verdict on each host (accept, or the table, chain and rule or policy that dropped
it), whose rule that is (Docker's chains, the user's DOCKER-USER, or the host's own), and what Docker's chains on
that path lack that the same chains on a healthy peer have.

Only hosts the lab made are traced: on a user's hosts (the ssh provider) nothing is added, and the trace says so.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field

from netproof.facts.docker import DOCKER_USER, NFT_TABLE
from netproof.lab.providers.base import LabHost

TRACE_TABLE = "netproof_trace"  # each trace's table is this and its own tag: checks trace one host at once
_LINE = re.compile(
    r"^trace id (?P<id>\w+) (?P<family>\w+) (?P<table>\S+) (?P<chain>\S+) "
    r"(?P<what>packet|rule|policy|verdict)\b:? ?(?P<rest>.*?)\s*$"
)
_VERDICT = re.compile(r"\(verdict (\w+)(?: [^)]*)?\)$")
_FIELD = re.compile(r'\b(iif|oif|saddr|daddr|sport|dport|protocol|flags)\s+(?:== )?("[^"]*"|\S+)')


@dataclass(frozen=True)
class Conversation:
    """A probe's packets: from client to server:port over protocol ("tcp" or "udp"), and the replies."""

    client: str
    server: str
    port: int
    protocol: str = "tcp"

    def rules(self) -> list[str]:
        """The nft rules that mark its packets for tracing (in chains ahead of every other table's)."""
        p, s, n = self.protocol, self.server, self.port
        return [
            f"ip daddr {s} {p} dport {n} meta nftrace set 1",  # requests, before any NAT
            f"ip saddr {s} {p} sport {n} meta nftrace set 1",  # replies, before NAT is undone
        ]

    def after_conntrack(self) -> list[str]:
        """Marks for what NAT already rewrote (a reply from a DNAT'ed container): conntrack knows its original."""
        original = f"ct original ip daddr {self.server} ct original proto-dst {self.port}"
        return [f"meta l4proto {self.protocol} {original} meta nftrace set 1"]


@dataclass
class Step:
    """One line of a packet's trace: a rule it matched, a chain's policy, or a chain it left."""

    family: str
    table: str
    chain: str
    kind: str  # rule | policy | verdict
    text: str
    verdict: str

    @property
    def where(self) -> str:
        return f"{self.family} {self.table} {self.chain}"

    @property
    def ends(self) -> bool:
        return self.verdict in ("accept", "drop", "reject")

    @property
    def dropped(self) -> bool:
        return self.verdict in ("drop", "reject") or " reject" in f" {self.text}"


@dataclass
class Segment:
    """A packet's way through one netfilter hook of one host (nft gives it one trace id)."""

    host: str
    trace_id: str
    packet: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def last(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    @property
    def dropped(self) -> bool:
        return any(s.dropped for s in self.steps)

    @property
    def chains(self) -> list[tuple[str, str, str]]:
        seen: list[tuple[str, str, str]] = []
        for s in self.steps:
            if (s.family, s.table, s.chain) not in seen:
                seen.append((s.family, s.table, s.chain))
        return seen

    def describe_packet(self) -> str:
        p = self.packet
        src = p.get("saddr", "?") + (f":{p['sport']}" if "sport" in p else "")
        dst = p.get("daddr", "?") + (f":{p['dport']}" if "dport" in p else "")
        ways = " ".join(
            x for x in (f"in {p['iif']}" if "iif" in p else "", f"out {p['oif']}" if "oif" in p else "") if x
        )
        return f"{src} -> {dst}" + (f" ({ways})" if ways else "")


def parse(host: str, text: str) -> list[Segment]:
    """`nft monitor trace` output as segments, in order; netproof's own marking table's steps left out (its packet
    lines say a host saw the packet, where no other table has rules)."""
    segments: dict[str, Segment] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m is None:
            continue
        seg = segments.setdefault(m["id"], Segment(host, m["id"]))
        if m["what"] == "packet":
            seg.packet.update({k: v.strip('"') for k, v in _FIELD.findall(m["rest"])})
            continue
        if m["table"].startswith(TRACE_TABLE):  # netproof's own marking: the packet was here, nothing more
            continue
        rest = m["rest"]
        verdict = _VERDICT.search(rest)
        said = verdict.group(1) if verdict else rest.split()[0] if rest else ""
        text_ = _VERDICT.sub("", rest).strip() if m["what"] == "rule" else rest
        seg.steps.append(Step(m["family"], m["table"], m["chain"], m["what"], _no_counter(text_), said))
    return list(segments.values())


def _no_counter(rule: str) -> str:
    return re.sub(r"\s*counter packets \d+ bytes \d+", "", rule).strip()


def owner(step: Step) -> str:
    """Whose rule (or policy) a step is: Docker's, the user's (DOCKER-USER), or the host's own."""
    if (step.family, step.table) == NFT_TABLE or step.chain.startswith("DOCKER") and step.chain != DOCKER_USER:
        return "Docker's"
    if step.chain == DOCKER_USER:
        return "the user's (DOCKER-USER)"
    if step.table in ("filter", "nat", "raw", "mangle") and step.family in ("ip", "ip6"):
        if step.kind == "policy":
            return "the chain's policy"
        return "Docker's" if "DOCKER" in step.text else "the host's own, not Docker's"
    return f"the host's own table {step.family} {step.table}, not Docker's"


def drop_line(segment: Segment) -> str:
    """One sentence: where and by what the segment's packet was dropped."""
    step = next(s for s in segment.steps if s.dropped)
    what = f"policy {step.text or step.verdict}" if step.kind == "policy" else f"rule `{step.text}`"
    return f"dropped at {segment.host}: {step.where} {what} ({owner(step)}); packet {segment.describe_packet()}"


def lacks(here: Iterable[str], peer: Iterable[str]) -> list[str]:
    """Rules a peer's chain has that this host's lacks, comparing what is the same on every host of an engine:
    rules naming no address and no user bridge (those differ by the networks each host holds)."""

    def comparable(rules: Iterable[str]) -> Counter:
        return Counter(r for r in map(_no_counter, rules) if not re.search(r"\d+\.\d+\.\d+\.\d+|br-[0-9a-f]{12}", r))

    missing = comparable(peer) - comparable(here)
    return sorted(missing)


def chain_rules(host: LabHost, family: str, table: str, chain: str) -> list[str] | None:
    listed = host.run(["nft", "list", "chain", family, table, chain], timeout=10)
    if not listed.ok:
        return None
    body = [line.strip() for line in listed.stdout.splitlines()]
    return [line for line in body if line and not line.startswith(("table ", "chain ", "type ", "}", "#"))]


@dataclass
class Traced:
    """What the repeated probe's packets met on each host traced."""

    conversation: Conversation
    segments: list[Segment]
    texts: dict[str, str]  # host -> the trace as nft printed it
    not_traced: list[str]  # hosts, and why not
    lacking: dict[str, list[str]] = field(default_factory=dict)  # "docker1 ip filter DOCKER-FORWARD" -> rules

    def ours(self) -> list[Segment]:
        """The probe's own segments: those sharing a port with what the client sent (other checks' traffic
        to the same server is traced too)."""
        c = self.conversation
        ports = {s.packet.get("sport") for s in self.segments if s.packet.get("saddr") == c.client}
        ports.discard(None)
        if not ports:
            return self.segments
        return [s for s in self.segments if {s.packet.get("sport"), s.packet.get("dport")} & ports]

    def dropped(self) -> list[Segment]:
        return [s for s in self.ours() if s.dropped]

    def line(self) -> str:
        """One sentence for the failure's message."""
        ours = self.ours()
        dropped = [s for s in ours if s.dropped]
        seen = self._seen(ours)
        if dropped:
            first = dropped[0]
            way = "reply" if first.packet.get("saddr") == self.conversation.server else "request"
            said = drop_line(first).replace("packet ", f"the {way} ", 1)
            for chain, missing in self.lacking.items():
                if chain.startswith(first.host + " "):
                    said += f"; {chain} lacks {', '.join(f'`{r}`' for r in missing)}, which a healthy peer's has"
            return said + (f" ({seen})" if seen else "")
        if not self.texts:
            return "not traced: " + "; ".join(self.not_traced)
        if not ours:
            return "traced, but its packets met no netfilter hook on " + ", ".join(self.texts) + self._untraced()
        return f"no rule dropped it on {', '.join(self.texts)} ({seen})" + self._untraced()

    def _seen(self, ours: list[Segment]) -> str:
        """Which hosts saw the request and which the reply."""
        c = self.conversation
        request = list(dict.fromkeys(s.host for s in ours if s.packet.get("saddr") != c.server))
        reply = list(dict.fromkeys(s.host for s in reversed(ours) if s.packet.get("saddr") == c.server))
        said = f"request seen at {', '.join(request) or 'no host traced'}"
        return said + (f"; reply seen at {', '.join(reply)}" if reply else "; no reply seen")

    def _untraced(self) -> str:
        return f"; not traced: {'; '.join(self.not_traced)}" if self.not_traced else ""


class HostTrace:
    """`nft monitor trace` on one lab host for a `with` block, with netproof's marking table in place."""

    def __init__(self, host: LabHost, conversation: Conversation, max_seconds: int = 30):
        self.host, self.conversation, self.max_seconds = host, conversation, max_seconds
        self.tag = secrets.token_hex(4)
        self.table = f"{TRACE_TABLE}_{self.tag}"
        self.text = ""
        self.trouble: str | None = None
        self._thread: threading.Thread | None = None

    def _table(self) -> str:
        """netproof's marking table, as an nft script: chains ahead of raw (-300), and after conntrack (-200)."""
        lines = [f"table inet {self.table} {{"]
        for hook in ("prerouting", "output"):
            for name, priority, rules in (
                ("early", -350, self.conversation.rules()),
                ("late", -199, self.conversation.after_conntrack()),
            ):
                lines += [f"  chain {hook}_{name} {{", f"    type filter hook {hook} priority {priority};"]
                lines += [f"    {r}" for r in rules] + ["  }"]
        return "\n".join([*lines, "}", ""])

    def __enter__(self) -> HostTrace:
        made = self.host.run(["sh", "-c", 'printf "%s" "$1" | nft -f -', "nft", self._table()], timeout=10)
        if not made.ok:
            self.trouble = f"nft could not add its table: {made.stderr.strip()[:200]}"
            return self
        # `timeout` bounds it whatever happens to this process; its command line carries the tag, and it passes the
        # SIGINT that finds it on to nft.
        argv = ["timeout", str(self.max_seconds), "sh", "-c", f"exec nft monitor trace # {self.tag}"]

        def monitor() -> None:
            self.text = self.host.run(argv, timeout=self.max_seconds + 10).stdout

        self._thread = threading.Thread(target=monitor, daemon=True)
        self._thread.start()
        time.sleep(0.3)  # nft subscribes before the probe is repeated
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)  # the last replies in flight
        self.host.run(["pkill", "-INT", "-f", f"nft monitor trace # {self.tag}"])
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.host.run(["nft", "delete", "table", "inet", self.table])


def follow(
    conversation: Conversation,
    hosts: list[LabHost],
    repeat: Callable[[], object],
    *,
    may_change: bool,
    peers: dict[str, LabHost] | None = None,
) -> Traced:
    """Repeat the probe once with every host traced; what its packets met. `peers`: for a docker host, another of
    the same engine whose chains on the packet's path are compared with its own."""
    if not may_change:
        return Traced(conversation, [], {}, ["the hosts are the user's (netproof adds no tracing table to them)"])
    traces = [HostTrace(h, conversation) for h in hosts if h is not None]
    with ExitStack() as tracing:  # every table removed, whatever the repeat does
        for t in traces:
            tracing.enter_context(t)
        try:
            repeat()
        except Exception:  # noqa: BLE001 - the repeat is for the trace; the probe's own verdict was already given
            pass
    segments = [s for t in traces for s in parse(t.host.name, t.text)]
    texts = {t.host.name: t.text for t in traces if not t.trouble}
    traced = Traced(conversation, segments, texts, [f"{t.host.name}: {t.trouble}" for t in traces if t.trouble])
    by_name = {h.name: h for h in hosts if h is not None}
    for seg in traced.dropped()[:1]:
        peer = (peers or {}).get(seg.host)
        if peer is None:
            continue
        for family, table, chain in seg.chains:
            here = chain_rules(by_name[seg.host], family, table, chain)
            there = chain_rules(peer, family, table, chain)
            missing = lacks(here or [], there or []) if here is not None and there is not None else []
            if missing:
                traced.lacking[f"{seg.host} {family} {table} {chain}"] = missing
    return traced


class PacketTrace:
    """A check's way to say why its probe was lost on this lab: the probe repeated once, traced on the hosts it
    crosses and the lab's router, the line put in the failure's message and every host's trace in its evidence."""

    def __init__(self, proof, router: LabHost | None, docker_hosts: list[LabHost], engine_of, may_change: bool):
        self.proof, self.router, self.docker_hosts = proof, router, docker_hosts
        self.engine_of, self.may_change = engine_of, may_change

    @classmethod
    def on(cls, lab, proof) -> PacketTrace:
        return cls(proof, lab.router, lab.docker_hosts, lab.engine_version, lab.provider.owns_hosts)

    def why_lost(self, conversation: Conversation, through: list[LabHost], repeat: Callable[[], object]) -> str:
        on_path = [*through[:1], self.router, *through[1:]]  # the lab's hosts reach each other through its router
        hosts = list({h.name: h for h in on_path if h is not None}.values())
        peers = {}
        for host in through:
            same = [
                p for p in self.docker_hosts if p not in through and self.engine_of(p.name) == self.engine_of(host.name)
            ]
            if same:
                peers[host.name] = same[0]
        traced = follow(conversation, hosts, repeat, may_change=self.may_change, peers=peers)
        for name, text in traced.texts.items():
            self.proof.text("netfilter trace of the probe, repeated", text.strip() or "(nothing traced)", where=name)
        if traced.lacking:
            self.proof.data(
                "Docker's chains on the packet's path: what a peer of the same engine has and they lack", traced.lacking
            )
        self.proof.died = traced.line()
        return self.proof.died
