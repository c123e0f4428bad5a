"""Connections through what is done to a daemon: long-lived flows (kit/flows.py) held while one docker host's dockerd
is reloaded or restarted, each flow's timeline judged against the promise Docker makes for that operation
(facts/continuity.py).

The flows, all touching the host operated on:
  - a container to another on the same user bridge (tcp);
  - the outside host to a port the first publishes (tcp), and to a published udp port from a fixed client port;
  - the second container out to the outside host, through Docker's masquerade (tcp);
  - where the lab has a control plane, a container on another docker host to one on this host over an overlay (tcp).
Servers and clients are the flow agent, run inside the containers' namespaces from the host: no special image.
After the operation, the containers made before it ask their embedded DNS for each other's names and the lab's
outside name (kit/upstreams.py's question, from a socket in the container's namespace).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from netproof.errors import ExitStatus, LabBroken, NetproofError
from netproof.facts.continuity import LIVE_RESTORE, RESTART, SCENARIOS, ContinuityPromise
from netproof.facts.defects import FLOWS_PAUSED_AT_START, KNOWN_DEFECTS
from netproof.kit import firewall, upstreams
from netproof.kit.flows import GAP, Flow, Timeline
from netproof.kit.known_defects import recognise
from netproof.kit.namespaces import NetNamespace
from netproof.kit.objects import Container
from netproof.kit.workspace import Workspace
from netproof.lab import engines
from netproof.lab.lab import Lab
from netproof.lab.model.engine_start import engine_start
from netproof.lab.model.topology import LAB_ZONE
from netproof.lab.providers import require_engine_control
from netproof.progress import Progress
from netproof.system import write_atomically

# Where the servers listen (each flow its own) and the udp client's fixed port.
TCP_PORT, UDP_PORT, OUTSIDE_PORT, BRIDGE_PORT, CLIENT_UDP_PORT = 7000, 7001, 7002, 7003, 40123
HOLD = 5.0  # seconds the flows run before the operation and after it
ASK_TIMEOUT = 5.0  # seconds a name's question waits for the embedded DNS's answer


@dataclass(frozen=True)
class NameQuestion:
    """A name a container made before the operation asks its embedded DNS for afterwards, and its right answer."""

    asker: Container
    name: str
    address: str

    def ask(self) -> dict:
        try:
            _, answer = upstreams.ask(self.asker, self.name, ASK_TIMEOUT)
        except LabBroken as e:  # the container is gone (stopped with its dockerd): nothing to ask from
            answer, resolved = e, False
        else:
            resolved = answer.rcode == "NOERROR" and answer.addresses == (self.address,)
        return {"asker": self.asker.name, "name": self.name, "expected": self.address, "answer": str(answer),
                "resolved": resolved}  # fmt: skip


@dataclass
class FlowSet:
    """The flows of one scenario and the workspace holding their containers."""

    space: Workspace
    flows: list[Flow] = field(default_factory=list)
    questions: list[NameQuestion] = field(default_factory=list)  # asked after the operation

    @classmethod
    def start(cls, lab: Lab, host_name: str | None, progress: Progress) -> FlowSet:
        """Flows through one host (a scenario's), or, with None, a bridge flow and a published one on every docker
        host (an upgrade's: each host's own restart may end them, no other's may pause them)."""
        space = Workspace.on(lab)
        flows = cls(space)
        where = f"through {host_name}" if host_name else "on every docker host"
        try:
            with progress.step(f"starting long-lived flows {where}"):
                if host_name:
                    flows.flows = _flows(lab, lab.host(host_name), space, flows.questions)
                else:
                    hosts = lab.docker_hosts
                    flows.flows = [f for h in hosts for f in _flows(lab, h, space, flows.questions, only_own=True)]
                for flow in flows.flows:
                    flow.start()
        except BaseException:
            flows.stop()
            raise
        return flows

    def names(self) -> list[dict]:
        """Each name question asked now, with its answer."""
        return [question.ask() for question in self.questions]

    def stop(self) -> tuple[list[Timeline], list[dict[str, list[str]]]]:
        """Every flow's timeline, and what its agents printed."""
        try:
            timelines = [flow.stop() for flow in self.flows if flow.began]
            return timelines, [flow.events for flow in self.flows if flow.began]
        finally:
            self.space.remove()


def _flows(lab: Lab, host, space: Workspace, questions: list[NameQuestion], only_own: bool = False) -> list[Flow]:
    """The flows through a host; `only_own`: those whose every hop is the host's own or the outside host's (its
    bridge and its published tcp port), named after it. The names its containers will be asked for go to
    `questions`."""
    net = space.bridge(host, role="flow")
    ports = {f"{TCP_PORT}/tcp": None, f"{UDP_PORT}/udp": None}
    server = space.container(host, net, role="flowsrv", ports=ports)
    client = space.container(host, net, role="flowcli")
    questions.append(NameQuestion(client, server.name, server.ip))
    flows = [Flow(f"bridge: container to container on {host.name} (tcp)", "tcp", server.netns, BRIDGE_PORT,
                  client.netns, server.ip, BRIDGE_PORT)]  # fmt: skip
    spec = lab.topology.role("outside")
    if spec is not None:
        outside, address = NetNamespace.of_host(lab.host(spec.name)), host.address
        questions.append(NameQuestion(client, f"www.{LAB_ZONE}", str(spec.address)))
        tcp = _published(server, TCP_PORT, "tcp")
        flows.append(Flow(f"published: outside to {host.name}:{tcp} (tcp)", "tcp", server.netns, TCP_PORT, outside,
                          address, tcp))  # fmt: skip
        if only_own:
            return _through(flows, host.name)
        udp = _published(server, UDP_PORT, "udp")
        flows += [
            Flow(f"published: outside:{CLIENT_UDP_PORT} to {host.name}:{udp} (udp)", "udp", server.netns, UDP_PORT,
                 outside, address, udp, CLIENT_UDP_PORT),
            Flow("masquerade: container to the outside host (tcp)", "tcp", outside, OUTSIDE_PORT, client.netns,
                 lab.host(spec.name).address, OUTSIDE_PORT),
        ]  # fmt: skip
    others = [h for h in lab.docker_hosts if h.name != host.name]
    if lab.topology.control_plane != "none" and others and not only_own:
        overlay = space.overlay(role="flowov")
        here, there = (
            space.container(host, overlay, role="flowovs"),
            space.container(others[0], overlay, role="flowovc"),
        )
        flows.append(Flow(f"overlay: {others[0].name} to {host.name} (tcp)", "tcp", here.netns, TCP_PORT, there.netns,
                          here.ip, TCP_PORT))  # fmt: skip
        questions.append(NameQuestion(here, there.name, there.ip))
    return _through(flows, host.name)


def _through(flows: list[Flow], host: str) -> list[Flow]:
    for flow in flows:
        flow.host = host
    return flows


def _published(container, port: int, proto: str) -> int:
    found = container.host_port(port, proto)
    if found is None:
        raise NetproofError(f"{container}: Docker published no host port for {port}/{proto}")
    return found


@dataclass
class ContinuityRun:
    """One scenario on one host: the promise, the operation's moment, and every flow's timeline and verdict."""

    scenario: str
    host: str
    engine: str
    promise: ContinuityPromise
    began: float = 0.0  # the operation, epoch
    ended: float = 0.0
    said: str = ""  # what the operation itself met (a slow stop, ...)
    timelines: list[Timeline] = field(default_factory=list)
    sightings: dict[str, str] = field(default_factory=dict)  # known defects' mechanisms seen during the operation
    events: list[dict[str, list[str]]] = field(default_factory=list)  # each flow's agents' lines: the evidence
    names: list[dict] = field(default_factory=list)  # NameQuestion.ask's answers, after the operation

    def verdict(self, t: Timeline) -> tuple[str, str]:
        """("kept" | "broken" | "measured", why) for one flow against the promise."""
        gaps = f"{len(t.gaps)} gap(s), the longest {t.longest:.2f} s, {t.sent - t.echoed} of {t.sent} messages lost"
        again = t.reconnects
        remade = (
            f"; its connection failed {len(again)} time(s) and was made again after "
            + ", ".join(f"{r.seconds:.2f} s" if r.seconds is not None else "never" for r in again)
            if again
            else ""
        )
        if not self.promise.keeps_connections:
            return "measured", gaps + remade
        if t.survived and t.longest <= self.promise.longest_gap:
            return "kept", f"no gap, {t.echoed} of {t.sent} messages echoed"
        during = all(self.began - GAP <= g.started <= self.ended + GAP for g in t.gaps) and not t.reconnects
        known = recognise({FLOWS_PAUSED_AT_START}, [], "none", self.sightings) if during else None
        if known is not None and known.known:  # the defect itself is said once, in the report's header
            return "known-defect", f"{gaps}{remade}: known Docker defect {known.defect.reference} ({known.mechanism})"
        return "broken", gaps + remade

    @property
    def held(self) -> bool:
        """No flow broke the promise (a known Docker defect's doing is said, and allowed, as in a checks run), and,
        where the containers were to be left alone, every name still resolves."""
        names = all(n["resolved"] for n in self.names) or not self.promise.keeps_connections
        return names and all(self.verdict(t)[0] != "broken" for t in self.timelines)

    @property
    def exit_status(self) -> ExitStatus:
        """The one rule: a promise broken is Docker's (1); a lab that broke on the way raised before this (10)."""
        return ExitStatus.PASSED if self.held else ExitStatus.DOCKER_FAILED

    def render_terminal(self) -> str:
        lines = [f"{self.promise.id}: {self.promise.operation} on {self.host} (Docker {self.engine})"]
        for t in self.timelines:
            verdict, why = self.verdict(t)
            lines.append(f"  {verdict:8} {t.flow}: {why}")
        for n in self.names:
            said = "resolves" if n["resolved"] else "NOT RESOLVED"
            lines.append(
                f"  {said:8} {n['name']} from {n['asker']} afterwards: {n['answer']} (expected {n['expected']})"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "host": self.host,
            "engine": self.engine,
            "promise": self.promise.to_dict(),
            "operation": {"began": self.began, "ended": self.ended, "said": self.said},
            "held": self.held,
            "known_defects": [d.to_dict() for d in KNOWN_DEFECTS if d.mechanism in self.sightings],
            "names": self.names,
            "flows": [
                {**t.to_dict(), "verdict": self.verdict(t)[0], "why": self.verdict(t)[1]} for t in self.timelines
            ],
        }

    def write(self, folder: Path) -> Path:
        import json

        from netproof.report import continuity as page

        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / "continuity.json", json.dumps(self.to_dict(), indent=1))
        for index, events in enumerate(self.events, 1):  # what each flow's agents printed, line by line
            for end, lines in events.items():
                (folder / "flows").mkdir(exist_ok=True)
                write_atomically(folder / "flows" / f"{index}-{end}.txt", "\n".join(lines) + "\n")
        return page.write(self.to_dict(), folder / "continuity.html")


def run_scenario(lab: Lab, scenario: str, host_name: str, progress: Progress, hold: float = HOLD) -> ContinuityRun:
    """The flows started, held `hold` seconds, the operation done to the host's dockerd, held again, and judged."""
    if scenario not in SCENARIOS:
        raise NetproofError(f"no continuity scenario {scenario!r}; there are: {', '.join(SCENARIOS)}")
    host = lab.host(host_name)
    promise = SCENARIOS[scenario]
    if scenario == "restart":
        promise = LIVE_RESTORE if host.spec.daemon.get("live-restore") else RESTART
        control = require_engine_control(lab.provider, "netproof continuity restart")
    run = ContinuityRun(scenario, host.name, lab.engine_version(host.name), promise)
    flows = FlowSet.start(lab, host.name, progress)
    try:
        progress.say(f"  {len(flows.flows)} flows, a message every 50 ms each; {promise.operation} in {hold:.0f} s")
        time.sleep(hold)
        run.began = time.time()
        with progress.step(f"{promise.operation} on {host.name}"):
            if scenario == "reload":
                done = host.run(["sh", "-c", "kill -HUP $(cat /run/docker.pid)"], timeout=15)
                run.said = "SIGHUP sent to dockerd" if done.ok else f"SIGHUP not sent: {done.stderr.strip()}"
            else:
                policy = firewall.rule_counters(host, ("DROP",))
                run.said = _restart(lab, control, host.name) or "dockerd stopped and started again"
                run.sightings = _policy_drops(host, policy)
        run.ended = time.time()
        time.sleep(hold)
        run.names = flows.names()
    finally:
        run.timelines, run.events = flows.stop()
    return run


def _policy_drops(host, before: dict[str, int]) -> dict[str, str]:
    """moby/moby#34660's mechanism, seen across the restart: packets FORWARD's DROP policy counted meanwhile (the
    containers' traffic that Docker's rules, gone while dockerd re-created them, would have accepted)."""
    after = firewall.rule_counters(host, ("DROP",))
    rose = [f"{r} counted {after[r] - before.get(r, 0)} packet(s)" for r in firewall.risen(before, after)]
    rose = [r for r in rose if "FORWARD: policy" in r]
    if not rose:
        return {}
    said = "; ".join(rose)
    return {"forward-policy-counted": f"on {host.name}, {said} while dockerd started (its rules being made again)"}


def _restart(lab: Lab, control, host: str) -> str | None:
    start = engine_start(lab.topology)
    said = control.stop_engine(host)
    control.start_engine(
        host, engines.resolve(lab.topology.hosts[host].engine), start.flags.get(host, []), start.configs.get(host)
    )
    control.wait_engine(host)
    return said
