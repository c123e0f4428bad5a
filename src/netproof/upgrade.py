"""Upgrade verification: the checks on one engine, an in-place upgrade as an operator does it,
the checks again, and the diff between the two runs.

In place means: stop dockerd, start the new version on the same data root, so the swarm's
state and the networks stay. --rolling upgrades one host at a time and runs the cross-host
checks while the swarm is of mixed versions.
"""

from __future__ import annotations

import time
from pathlib import Path

from netproof import checkrun, engines, wait
from netproof.lab import controlplane
from netproof.lab.lab import Lab
from netproof.model.engine_start import engine_start
from netproof.model.topology import Topology
from netproof.progress import Progress
from netproof.proof import probes
from netproof.proof.objects import Workspace
from netproof.providers import require_engine_control
from netproof.report import diff

OVERLAY_SETTLE_SECONDS = 180
CROSS_HOST_CHECKS = "OVL-PING-001 or OVL-VXLAN-001"


def upgrade(
    topology: Topology, old: str, new: str, reports: Path, checks: Path, *, rolling: bool, progress: Progress
) -> diff.RunDiff:
    target = engines.resolve(new)
    before_topology = topology.with_overrides(engine=old)
    lab = Lab.up(before_topology, progress=progress)
    recovered: dict[str, float] = {}
    try:
        engine_control = require_engine_control(lab.provider, "netproof upgrade")
        progress.say(f"upgrade: checks on {old}")
        before = checkrun.run(lab.name, reports / "before", checks=checks)
        for step, host in enumerate(lab.docker_hosts, 1):
            with progress.step(
                f"upgrade: {host.name} {old} -> {target.package_version} (stop dockerd, start the new one on the same "
                "data root)"
            ):
                engine_control.stop_engine(host.name)
                engine_control.start_engine(host.name, target, engine_start(lab.topology).flags.get(host.name, []))
                engine_control.wait_engine(host.name)
                lab.record_engine(host.name, new, target.package_version)
            if rolling or step == len(lab.docker_hosts):
                if lab.topology.control_plane == "swarm":
                    with progress.step("waiting for every swarm node to be ready again"):
                        controlplane.wait_for_swarm_nodes(lab.manager, len(lab.docker_hosts))
                recovered[host.name] = wait_for_overlay(lab, host.name, progress)
            if rolling and step < len(lab.docker_hosts):
                progress.say(
                    f"upgrade: cross-host checks with {step} of {len(lab.docker_hosts)} hosts upgraded (mixed versions)"
                )
                checkrun.run(lab.name, reports / f"rolling-{step}-{host.name}", checks=checks, select=CROSS_HOST_CHECKS)
        progress.say(f"upgrade: checks on {new}")
        after = checkrun.run(lab.name, reports / "after", checks=checks)
    finally:
        lab.down(progress)
    changes = diff.compare(before, after)
    changes.notes = [
        f"{h}: overlay traffic to and from it came back {t:.1f} s after its dockerd restarted"
        for h, t in recovered.items()
    ]
    diff.write(changes, reports / "diff.html")
    return changes


def wait_for_overlay(lab: Lab, host: str, progress: Progress) -> float:
    """After a daemon restarts, overlay traffic to its containers may take a while to flow again
    (a lone swarm manager restarted is cut off from the gossip until it rejoins: moby/moby#33346).
    Wait until a container on the host reaches one on every other docker host over a new overlay,
    and return how long that took: a figure operators want, reported with the upgrade."""
    space = Workspace(lab.topology.control_plane, lab.manager, lab.docker_hosts, patience=lab.patience)
    started = time.monotonic()
    with progress.step(f"waiting for overlay traffic to {host} to flow again"):
        try:
            net = space.overlay(role="settle")
            here = space.container(lab.host(host), net, role="settle")
            others = [space.container(h, net, role="settle") for h in lab.docker_hosts if h.name != host]
            wait.until(
                lambda: all(probes.ping(here.exec, o.ip, count=1, wait=1).ok for o in others),
                timeout=OVERLAY_SETTLE_SECONDS,
                interval=1,
                what=f"overlay traffic to {host} to flow again after its upgrade",
            )
        finally:
            space.remove()
    return time.monotonic() - started
