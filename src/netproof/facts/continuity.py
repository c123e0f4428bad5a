"""What Docker promises of running containers' connections when something is done to the daemon, written once: the
continuity scenarios (jobs/continuity.py) judge each long-lived flow's timeline against these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContinuityPromise:
    id: str
    operation: str  # what is done to the daemon
    promise: str  # one sentence
    reference: str  # where Docker says so
    keeps_connections: bool  # every flow survives, with no gap over longest_gap; else each is only reported
    # and the containers made before it still resolve names through the embedded DNS (moby/moby#45646: a restart
    # left running containers without it)

    longest_gap: float = 0.0  # seconds a flow may go without an echo (0: no gap at all)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "operation": self.operation,
            "promise": self.promise,
            "reference": self.reference,
            "keeps_connections": self.keeps_connections,
            "longest_gap": self.longest_gap,
        }


RELOAD = ContinuityPromise(
    "CONT-RELOAD-001",
    "a daemon reload (SIGHUP)",
    "reloading dockerd's configuration leaves running containers and their connections alone: no flow is broken "
    "or paused, and their names still resolve",
    "Docker's dockerd reference, configuration reload behavior (docs.docker.com/reference/cli/dockerd/"
    "#configuration-reload-behavior)",
    keeps_connections=True,
)
LIVE_RESTORE = ContinuityPromise(
    "CONT-LIVE-001",
    "a dockerd restart with live-restore",
    "with live-restore, containers keep running while dockerd is down and restarts, and so do their established "
    "connections (on a bridge, to and from published ports, and out through masquerade) and their embedded DNS",
    "Docker's documentation, live restore (docs.docker.com/engine/daemon/live-restore/): 'keep containers running "
    "when the daemon becomes unavailable'; moby/moby#45646 (24.0: the embedded DNS lost across a restart)",
    keeps_connections=True,
)
RESTART = ContinuityPromise(
    "CONT-RESTART-001",
    "a dockerd restart without live-restore",
    "without live-restore, dockerd stops its containers when it stops: connections end, and are measured only",
    "Docker's documentation, live restore (docs.docker.com/engine/daemon/live-restore/)",
    keeps_connections=False,
)
ROLLING = ContinuityPromise(
    "CONT-ROLLING-001",
    "an upgrade, one host at a time",
    "restarting one host's dockerd leaves the other hosts' containers and their connections alone: only the host "
    "being restarted may lose its flows",
    "Docker's documentation, swarm administration: upgrade and restart nodes one at a time, draining each first "
    "(docs.docker.com/engine/swarm/admin_guide/)",
    keeps_connections=False,  # a host's own flows end with its restart; others' gaps are judged (flow_watch.py)
)
CARRIED = ContinuityPromise(
    "CONT-CARRY-001",
    "an upgrade of dockerd in place (netproof upgrade's carried workload)",
    "the containers the old engine made, restarted by the new one, run again with their addresses, and from them "
    "their peers' names and names outside Docker resolve",
    "Docker's documentation, upgrading Docker Engine (docs.docker.com/engine/install/): containers and networks "
    "are kept in the data root the new engine adopts",
    keeps_connections=False,  # no live-restore: the restart ends their connections
)
SCENARIOS = {"reload": RELOAD, "restart": LIVE_RESTORE}

BLIP = ContinuityPromise(
    "CONT-BLIP-001",
    "a swarm node cut off the underlay for 20 s, then healed",
    "after a swarm node is cut off the network for a short while and comes back, the names and tasks. records of the "
    "services whose tasks run on it resolve again on every other node, and connect, within 60 s",
    "Docker's swarm networking (docs.docker.com/engine/swarm/networking/), service discovery; moby/moby#53141 "
    "(29.x: NXDOMAIN for good after a 10 to 30 s disconnect, fixed on master by moby/moby#53142)",
    keeps_connections=False,
)
