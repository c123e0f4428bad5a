"""Long-lived flows: a connection (or a stream of datagrams) held open while something is done to Docker, with every
interruption measured (Cilium's connectivity test counts its long-lived flows across an upgrade the same way).

A Flow is a client and an echo server (kit/flow_agent.py, run by the hosts' python3 inside the namespaces netproof
names: a container's, or a lab host's own), sending a small numbered message every 50 ms and checking its echo. Its
Timeline says how many messages went and came back, every gap (start, length, messages lost), whether the
connection survived or had to be made again, and how long that took. The reading of the agents' events is pure
(`timeline`), unit-tested on events recorded on the lab.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from netproof.kit import agents
from netproof.kit.agents import Agent
from netproof.kit.namespaces import NetNamespace

AGENT = agents.source("flow_agent")
EVERY = 0.05  # seconds between a flow's messages
GAP = 0.25  # seconds without an echo (five messages' time) that count as a gap in a TCP flow
IN_FLIGHT = 1.0  # seconds before the flow stopped: a message sent then may still be on its way, and is not judged


@dataclass(frozen=True)
class Gap:
    started: float  # epoch: the last echo before it (tcp), the first lost datagram's sending (udp)
    ended: float | None  # the next echo; None: none came back before the flow stopped
    lost: int  # messages that never came back

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def to_dict(self) -> dict:
        return {"started": self.started, "ended": self.ended, "seconds": self.seconds, "lost": self.lost}


@dataclass(frozen=True)
class Reconnect:
    down: float  # the connection failed
    up: float | None  # a new one was made; None: never again
    why: str

    @property
    def seconds(self) -> float | None:
        return None if self.up is None else self.up - self.down


@dataclass
class Timeline:
    """What one flow met from its start to its stop."""

    flow: str
    proto: str
    began: float
    ended: float
    sent: int
    echoed: int
    gaps: list[Gap] = field(default_factory=list)
    reconnects: list[Reconnect] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # the addresses the server saw its client come from
    host: str = ""  # the docker host the flow goes through, where it goes through one

    @property
    def survived(self) -> bool:
        """The flow's connection (tcp), or its stream (udp), was never broken: nothing had to be made again."""
        return not self.reconnects and all(g.ended is not None for g in self.gaps)

    @property
    def longest(self) -> float:
        return max((g.seconds if g.seconds is not None else self.ended - g.started for g in self.gaps), default=0.0)

    def to_dict(self) -> dict:
        return {
            "flow": self.flow,
            "proto": self.proto,
            "began": self.began,
            "ended": self.ended,
            "sent": self.sent,
            "echoed": self.echoed,
            "survived": self.survived,
            "longest_gap": self.longest,
            "gaps": [g.to_dict() for g in self.gaps],
            "reconnects": [{"down": r.down, "up": r.up, "seconds": r.seconds, "why": r.why} for r in self.reconnects],
            "peers": self.peers,
            "host": self.host,
        }


def timeline(flow: str, proto: str, client: list[str], server: list[str], began: float, ended: float) -> Timeline:
    """The agents' event lines (flow_agent.py) read into a Timeline; messages sent within IN_FLIGHT of the stop are
    not judged."""
    judged_until = ended - IN_FLIGHT
    sent: dict[int, float] = {}
    echoes: list[tuple[float, int]] = []
    downs: list[tuple[float, str]] = []
    ups: list[float] = []
    for line in client:
        words = line.split()
        try:
            kind, at = words[0], float(words[1])
        except (IndexError, ValueError):  # not an event (python's own words, say): the evidence keeps it
            continue
        if kind == "sent":
            sent[int(words[2])] = at
        elif kind == "echo":
            seq, was_sent = int(words[2]), float(words[3])
            sent.setdefault(seq, was_sent)
            echoes.append((at, seq))
        elif kind == "down":
            downs.append((at, " ".join(words[3:]).replace("_", " ")))
            sent.setdefault(int(words[2]), at)
        elif kind == "up":
            ups.append(at)
    echoed = {seq for _, seq in echoes}
    judged = {seq: at for seq, at in sent.items() if at <= judged_until}
    gaps = _udp_gaps(judged, echoes) if proto == "udp" else _tcp_gaps(echoes, judged, judged_until)
    reconnects = [Reconnect(down, next((u for u in ups if u >= down), None), why) for down, why in downs]
    peers = [w.split()[2] for w in server if w.startswith("peer ")]
    return Timeline(flow, proto, began, ended, len(judged), len(echoed & set(judged)), gaps, reconnects, peers)


def _udp_gaps(sent: dict[int, float], echoes: list[tuple[float, int]]) -> list[Gap]:
    """Every run of datagrams without an echo: from the first one's sending to the next echoed one's."""
    echoed = {seq for _, seq in echoes}
    gaps, run = [], []
    for seq in sorted(sent):
        if seq not in echoed:
            run.append(seq)
        elif run:
            gaps.append(Gap(sent[run[0]], sent[seq], len(run)))
            run = []
    if run:
        gaps.append(Gap(sent[run[0]], None, len(run)))
    return gaps


def _tcp_gaps(echoes: list[tuple[float, int]], sent: dict[int, float], until: float) -> list[Gap]:
    """Every stretch over GAP between two echoes (the client waits for each echo before it sends the next), with
    the messages sent then that never came back; and the stretch after the last echo, if it runs to the stop."""
    times = sorted(at for at, _ in echoes if at <= until + IN_FLIGHT)
    echoed = {seq for _, seq in echoes}
    gaps = []
    for before, after in itertools.pairwise(times):
        if after - before > GAP:
            lost = sum(1 for seq, at in sent.items() if before < at < after and seq not in echoed)
            gaps.append(Gap(before, after, lost))
    last = times[-1] if times else min(sent.values(), default=until)
    if until - last > GAP:
        gaps.append(Gap(last, None, sum(1 for seq, at in sent.items() if at > last and seq not in echoed)))
    return gaps


@dataclass
class Flow:
    """One long-lived flow between two namespaces: `client` sends to address:port, where `server` listens."""

    name: str
    proto: str  # "tcp" or "udp"
    server: NetNamespace
    listen_port: int  # where the server listens, in its namespace
    client: NetNamespace
    address: str  # where the client sends: the server's address, or a published port's host
    port: int
    source_port: int = 0  # udp: the client's fixed port (0: one the kernel picks, see client_port)
    host: str = ""  # the docker host it goes through (its own restart may end it)
    token: str = field(default_factory=lambda: "netproof-flow-" + secrets.token_hex(5))
    _running: list[Agent] = field(default_factory=list)
    began: float = 0.0
    _folder: Path | None = None
    events: dict[str, list[str]] = field(default_factory=dict)  # each end's lines, as its agent printed them

    def start(self) -> None:
        """The server listening, then the client sending; LabBroken if either cannot (python3 missing, say)."""
        self._folder = Path(tempfile.mkdtemp(prefix=f"{self.token}-"))
        self._serve(self.server, self._folder / "server")
        argv = ["send", self.proto, self.address, str(self.port), str(EVERY)]
        argv += [str(self.source_port)] if self.proto == "udp" else []
        self._spawn(self.client, argv, self._folder / "client", "client")
        self.began = time.time()

    def _serve(self, where: NetNamespace, out: Path) -> None:
        self._spawn(where, ["serve", self.proto, str(self.listen_port)], out, "server")
        self._running[-1].await_ready(f"flow {self.name}'s server")

    def stop_serving(self) -> None:
        """The server stopped, as a container's own process dies when the container stops: an agent entered into
        its namespace from the host outlives it otherwise, and answers through the container's teardown (its late
        echoes then make conntrack entries the other way round, which hold the client's flow: seen on 28.5 and 29.7)."""
        for agent in [a for a in self._running if a.out.name.startswith("server")]:
            agent.stop()

    def serve_again(self, where: NetNamespace) -> float:
        """The server started in another namespace (its container's after a restart; stopped first if it was not),
        the client still sending: when it listens again (epoch). Its events are read after the first server's."""
        self.stop_serving()
        self._serve(where, self._folder / f"server-{len(self._running)}")
        return time.time()

    def _spawn(self, where: NetNamespace, argv: list[str], out: Path, end: str) -> None:
        self._running.append(Agent(where, AGENT, argv, out, f"{self.token}-{end}").start())

    @property
    def client_port(self) -> int | None:
        """The port a udp client sent from, as it said (after stop)."""
        said = next((line.split() for line in self.events.get("client", []) if line.startswith("bound ")), None)
        return int(said[2]) if said else None

    def stop(self) -> Timeline:
        """Both ends stopped (on their hosts too, where a provider's channel would leave them), and read."""
        ended = time.time()
        for agent in reversed(self._running):
            agent.stop()
        read = {agent.out.name: agent.lines() for agent in self._running}
        client = read.pop("client", [])
        server = [line for name in sorted(read, key=len) for line in read[name]]  # the first server's, then later
        self.events = {"server": server, "client": client}
        shutil.rmtree(self._folder, ignore_errors=True)
        found = timeline(self.name, self.proto, client, server, self.began, ended)
        found.host = self.host
        return found
