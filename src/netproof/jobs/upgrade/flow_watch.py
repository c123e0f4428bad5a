"""Long-lived flows held through an upgrade (jobs/continuity.py's, on every docker host: a bridge flow and one to a
published port from the outside host): each host's own restart may end its flows (without live-restore Docker
stops its containers), but no other host's restart may pause them. Each gap is put down to the restarts it
overlapped, as the routing mesh's are (mesh_watch.py). One set of flows per step of the path, started before its
first restart and removed before its checks (a footprint never holds them); each step's timelines are drawn in
continuity-<engine>.html beside the runs. On hosts with live-restore, whose containers outlive the upgrade, those
containers ask their embedded DNS for names at the step's end (moby/moby#45646: a restart left them without it)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from netproof.facts.continuity import ROLLING
from netproof.jobs.continuity import FlowSet
from netproof.jobs.upgrade.mesh_watch import Observation, Restart, on_a_host_not_restarting
from netproof.kit.flows import Timeline
from netproof.lab.lab import Lab
from netproof.progress import Progress
from netproof.report import continuity as page


@dataclass
class FlowWatch:
    flows: FlowSet
    clock: float = field(default_factory=lambda: time.time() - time.monotonic())  # monotonic + clock = epoch

    live_restore: frozenset[str] = frozenset()  # the hosts whose dockerd has live-restore on

    @classmethod
    def start(cls, lab: Lab, progress: Progress) -> tuple[FlowWatch | None, str | None]:
        """The flows started; or None and why they are not held through this upgrade."""
        live = frozenset(h.name for h in lab.docker_hosts if h.spec.daemon.get("live-restore"))
        try:
            return cls(FlowSet.start(lab, None, progress), live_restore=live), None
        except Exception as e:  # noqa: BLE001 - an upgrade without its flows still says the rest
            return None, f"no long-lived flows were held through the upgrade: {e}"

    def abandon(self) -> None:
        self.flows.stop()

    def stop(self, restarts: list[Restart], page_path: Path) -> list[Observation]:
        """Every flow read and judged against the restarts, its containers removed; the timelines drawn in
        page_path."""
        kept = [q for q in self.flows.questions if q.asker.host.name in self.live_restore]
        names = [(q.asker.host.name, q.ask()) for q in kept]
        timelines, _ = self.flows.stop()
        windows = [(r, r.started + self.clock, r.ended + self.clock) for r in restarts]
        judged = [(t, describe(t, windows, t.host in self.live_restore)) for t in timelines]
        page_path.parent.mkdir(parents=True, exist_ok=True)
        page.write({**_as_run(judged, windows), "names": [n for _, n in names]}, page_path)
        return [o for _, said in judged for o in said] + [_named(host, n, restarts) for host, n in names]


def _named(host: str, name: dict, restarts: list[Restart]) -> Observation:
    """A name asked by a container that lived through its host's upgrade with live-restore: not resolving is bad
    across a patch release (live-restore's promise), and said across others."""
    own = [r for r in restarts if r.host == host]
    patch = bool(own) and own[-1].previous.split(".")[:2] == own[-1].engine.split(".")[:2]
    said = "resolves" if name["resolved"] else "does not resolve"
    text = (f"{name['name']} {said} from {name['asker']} after its dockerd restarted with live-restore: "
            f"{name['answer']}")  # fmt: skip
    return Observation(host, text, not name["resolved"] and patch, own[-1].engine if own else "")


def _as_run(judged: list[tuple[Timeline, list[Observation]]], windows: list) -> dict:
    """The upgrade's flows as a continuity run (report/continuity.py draws it), every restart shaded."""
    flows = [
        {
            **t.to_dict(),
            "verdict": "broken" if any(o.bad for o in said) else "measured",
            "why": "; ".join(o.text.removeprefix(f"{t.flow}: ") for o in said) or "no gap",
        }
        for t, said in judged
    ]
    return {
        "scenario": "upgrade",
        "host": "every docker host",
        "engine": " -> ".join(dict.fromkeys(r.engine for r, _, _ in windows)) or "?",
        "promise": ROLLING.to_dict(),
        "operations": [{"began": b, "ended": e, "said": f"{r.host} to {r.engine}"} for r, b, e in windows],
        "held": all(f["verdict"] != "broken" for f in flows),
        "flows": flows,
    }


def describe(t: Timeline, windows: list[tuple[Restart, float, float]], live_restore: bool = False) -> list[Observation]:
    """Each gap of a flow in words, put down to the restarts it overlapped: its own host's (without live-restore
    its containers stop with dockerd; with it they must keep running across a patch release, Docker's docs say),
    or only others' (a host nobody touched, paused: bad)."""
    said = []
    for gap in t.gaps:
        end = gap.ended if gap.ended is not None else t.ended
        during = [(r, b, e) for r, b, e in windows if b <= end and gap.started <= e]
        own = [r for r, _, _ in during if r.host == t.host]
        others = [r for r, _, _ in during if r.host != t.host]
        length = f"{gap.seconds:.1f} s" if gap.seconds is not None else "for good"
        if own and live_restore:
            patch = own[0].previous.split(".")[:2] == own[0].engine.split(".")[:2]  # live-restore's promise
            kept = gap.ended is not None and not t.reconnects
            text = (f"{t.flow}: {'paused' if kept else 'ended'} {length} while its own dockerd restarted "
                    f"{own[0].previous} -> {own[0].engine} with live-restore"
                    + ("" if kept else ", which keeps containers running across patch releases (docs: live restore)"
                       if patch else " (across minor releases live-restore is not promised)"))  # fmt: skip
            said.append(Observation(t.host, text, not kept and patch, own[0].engine))
        elif own:
            said.append(Observation(t.host, f"{t.flow}: stopped {length} when its own dockerd restarted on "
                                    f"{own[0].engine} (Docker stops its containers without live-restore)", False,
                                    own[0].engine))  # fmt: skip
        elif others:
            said.append(on_a_host_not_restarting(t.host, f"{t.flow}: paused {length} ({gap.lost} lost)", others))
        else:
            said.append(Observation(t.host, f"{t.flow}: paused {length} while no engine was restarting", False))
    return said
