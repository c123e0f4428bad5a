"""The routing mesh watched through an upgrade: does a swarm service's published port keep answering on every node
while the nodes' engines are restarted one by one (MESH-001's promise, held over time)?

Before the first engine changes, a global service (a task on every node) serving a page is published through the
routing mesh. From the lab's router, every node's underlay address is asked for the page about once a second until
the upgrade is over. Each gap (a node's port not answering, from the first unanswered request to the next answered
one) is reported with its length and what was restarting then. A node's own port going quiet while its own dockerd
restarts is what an operator expects; a gap on a node nobody touched is the mesh failing that node's users, and is
said so with the figures. A node whose port does not answer again once the upgrade is over is a regression.

IPVS is in the kernel: where a node lacks it (this machine's netns labs) the mesh is not watched, and the report
says so in the kernel's own words.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from netproof import wait
from netproof.facts import budgets
from netproof.kit import kernel, probes
from netproof.kit.objects import Service
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab
from netproof.progress import Progress


@dataclass(frozen=True)
class Restart:
    """One host's engine change: from the moment its dockerd was asked to stop until the swarm had it back."""

    host: str
    engine: str  # the engine it moved to
    started: float  # time.monotonic()
    ended: float
    previous: str = ""  # the engine it moved from


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    node: str
    answered: bool
    said: str  # the request, as probes.Fetch tells it


@dataclass(frozen=True)
class Gap:
    node: str
    started: float  # the first unanswered request
    ended: float | None  # the next answered request; None: none answered by the end
    unanswered: int
    said: str  # the last unanswered request

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class Observation:
    """What the watch has to say, for the upgrade's findings."""

    host: str
    text: str
    bad: bool
    engine: str = ""  # the engine being moved to, when it happened during a step


def gaps(samples: list[Sample]) -> list[Gap]:
    """Every run of unanswered requests per node, in time order."""
    found, open_ = [], {}
    for s in sorted(samples, key=lambda s: s.at):
        gap = open_.get(s.node)
        if not s.answered:
            open_[s.node] = Gap(s.node, gap.started if gap else s.at, None, (gap.unanswered if gap else 0) + 1, s.said)
        elif gap:
            found.append(Gap(gap.node, gap.started, s.at, gap.unanswered, gap.said))
            del open_[s.node]
    return sorted(found + list(open_.values()), key=lambda g: g.started)


def on_a_host_not_restarting(host: str, text: str, others: list[Restart]) -> Observation:
    """The one rule, for every watch: a gap on a host whose own dockerd was not restarting, while others' were, is bad
    (its users were not answered, or its flow paused, because of another node's upgrade)."""
    names = ", ".join(f"{r.host} restarting on {r.engine}" for r in others)
    return Observation(
        host, f"{text} while {names}: users of a host that was not being restarted", True, others[0].engine
    )


def describe(found: list[Gap], restarts: list[Restart], port: int, began: float) -> list[Observation]:
    """Each gap in words, put down to the restarts it overlapped: its own node's (expected), or others'."""
    said = []
    for gap in found:
        end = gap.ended if gap.ended is not None else float("inf")
        during = [r for r in restarts if r.started <= end and gap.started <= r.ended]
        when = f"{gap.started - began:.0f} s into the upgrade"
        requests = f"{gap.unanswered} request{'s' if gap.unanswered != 1 else ''}"
        length = (
            f"did not answer for {gap.seconds:.1f} s ({requests})"
            if gap.seconds is not None
            else f"stopped answering ({requests}) and did not answer again"
        )
        own = [r for r in during if r.host == gap.node]
        others = [r for r in during if r.host != gap.node]
        text = f"routing mesh: port {port} on {gap.node} {length}, {when}"
        engine = during[0].engine if during else ""
        if own:  # its own engine away explains it, whoever else was restarting then
            also = f" (and {', '.join(f'{r.host} on {r.engine}' for r in others)})" if others else ""
            said.append(
                Observation(
                    gap.node, f"{text}, while its own dockerd restarted on {own[0].engine}{also}", False, engine
                )
            )
        elif others:
            said.append(on_a_host_not_restarting(gap.node, f"{text} (last: {gap.said}),", others))
        else:
            said.append(Observation(gap.node, f"{text}, while no engine was restarting (last: {gap.said})", False))
    return said


@dataclass
class MeshWatch:
    lab: Lab
    space: Workspace
    service: Service
    began: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def start(cls, lab: Lab, progress: Progress) -> tuple[MeshWatch | None, str | None]:
        """The service published and the watching begun; or None and why the mesh is not watched on this lab."""
        if lab.topology.control_plane != "swarm":
            return None, None  # the routing mesh is a swarm feature: nothing to say on other labs
        lacking = next((why for why in (kernel.lacking(h, "ipvs") for h in lab.docker_hosts) if why), None)
        if lacking:
            return None, f"the routing mesh was not watched through the upgrade: {lacking}"
        if lab.router is None:
            return None, "the routing mesh was not watched through the upgrade: the lab has no router to ask from"
        space = Workspace.on(lab)
        try:
            with progress.step("publishing a global service through the routing mesh, to watch it through the upgrade"):
                net = space.overlay(role="meshwatch")
                service = space.service(
                    net, replicas=len(lab.docker_hosts), mode="global", serving=True, publish=True, role="meshwatch"
                )
                watch = cls(lab, space, service)
                for node in lab.docker_hosts:  # answering before the first restart, or the watch measures nothing
                    fetch, answered = watch._settled(node.address)
                    if not answered:
                        raise RuntimeError(f"{node.name}'s port {service.published_port} does not answer: {fetch}")
        except Exception as e:  # noqa: BLE001 - an upgrade without the watch still says the rest
            space.remove()
            return None, f"the routing mesh was not watched through the upgrade: {e}"
        progress.say(f"  watching port {service.published_port} on every node from {lab.router.name}, once a second")
        watch._thread = threading.Thread(target=watch._ask_until_stopped, name="mesh-watch", daemon=True)
        watch._thread.start()
        return watch, None

    def _ask(self, address: str) -> probes.Fetch:
        return probes.http_get(
            probes.on_host(self.lab.router), address, self.service.published_port, budgets.MESH_ANSWER
        )

    def _settled(self, address: str) -> tuple[probes.Fetch, bool]:
        return wait.poll(
            lambda: self._ask(address),
            holds=lambda f: f.through,
            timeout=budgets.scaled(budgets.MESH_BACK, self.lab.patience),
            interval=1,
        )

    def _ask_until_stopped(self) -> None:
        while not self._stop.is_set():
            for node in self.lab.docker_hosts:
                try:
                    fetch = self._ask(node.address)
                    self.samples.append(Sample(time.monotonic(), node.name, fetch.through, str(fetch)))
                except Exception as e:  # noqa: BLE001 - the router could not even ask: said, and asked again
                    self.samples.append(Sample(time.monotonic(), node.name, False, f"could not ask: {e}"))
            self._stop.wait(budgets.MESH_ASK_EVERY)

    def abandon(self) -> None:
        """The watching ended without a verdict (the upgrade stopped): the thread ends, the service goes."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=60)
        self.space.remove()

    def stop(self, restarts: list[Restart]) -> list[Observation]:
        """The watching ended: every node's port must answer again; each gap described; the service removed."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=60)
        port = self.service.published_port
        said = []
        for node in self.lab.docker_hosts:
            fetch, answered = self._settled(node.address)
            self.samples.append(Sample(time.monotonic(), node.name, answered, str(fetch)))
            if not answered:
                said.append(
                    Observation(
                        node.name,
                        f"routing mesh: port {port} on {node.name} does not answer after the upgrade: {fetch}",
                        True,
                    )
                )
        found = gaps(self.samples)
        asked = len(self.samples)
        said += describe(found, restarts, port, self.began)
        if not found:
            said.append(
                Observation(
                    "lab",
                    f"routing mesh: port {port} answered on every node throughout the upgrade ({asked} requests "
                    f"over {time.monotonic() - self.began:.0f} s)",
                    False,
                )
            )
        self.space.remove()
        return said
