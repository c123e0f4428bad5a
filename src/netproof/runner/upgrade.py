"""Upgrade verification: the checks on one engine, an in-place upgrade as an operator does it, the checks
again, and what changed; along a path of engines (20.10 -> 26.1 -> 28.5), a rollback (an older dockerd on
the data root a newer one used), or the key-value store's end (an engine without it, on a kv lab).

In place means: stop dockerd, start the other version on the same data root, so the swarm's state and the
networks stay. --rolling upgrades one host at a time and runs the cross-host checks while the swarm is of
mixed versions. What the upgrade itself meets (a dockerd that refuses to start, a user's container that
does not come back, overlay traffic that does not return) is a finding of the report, never a crash. On a swarm
whose kernels have IPVS (VMs), the routing mesh is watched throughout (mesh_watch.py): each gap in a published
port's answers, how long, and whose restart it fell in.

Run folders: `before/` (the first engine), `step-<n>-<engine>/` (each engine between), `after/` (the
last), `rolling-<engine>-<n>-<host>/` (mixed versions); `diff.html` first against last, and with more than
one step `diff-<a>-to-<b>.html` for each.
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from netproof import wait
from netproof.errors import NetproofError
from netproof.facts import budgets, versions
from netproof.facts.docker import ATTACH_TIMEOUT
from netproof.kit import probes
from netproof.kit.objects import Container
from netproof.kit.workspace import Workspace
from netproof.lab import controlplane, engines
from netproof.lab.lab import Lab
from netproof.lab.model.engine_start import engine_start
from netproof.lab.model.topology import Topology
from netproof.lab.providers import require_engine_control
from netproof.progress import Progress
from netproof.report import diff
from netproof.runner import checkrun
from netproof.runner.mesh_watch import MeshWatch, Restart

SWARM_LOG_WORDS = re.compile(r"level=(error|warning)|swarm|agent|dispatcher|heartbeat|node", re.IGNORECASE)
SWARM_LOG_LINES = 6
AFTER_SECOND_RESTART = "back in the swarm after its engine was restarted once more"
CROSS_HOST_CHECKS = "OVL-PING-001 or OVL-VXLAN-001"
KV_FLAGS = ("--cluster-store", "--cluster-advertise")
# A container on a swarm overlay restarted by its daemon gets its attachment from the manager, 20 s at most; past
# that it stays down, restart policy or not. A known Docker defect, reported with its reference and not counted
# as a regression of the upgrade (as known defects in checks are not, without --strict-defects).
ATTACH_DEFECT = (
    "known Docker defect moby/moby#41841 (the manager did not allocate the attachment in time): the container "
    "stays down until it is started again"
)
SWARM_MIGRATION = (
    "migrate to swarm before this upgrade: `docker swarm init` on one host, `docker swarm join` on the others, "
    "and recreate the overlays with `docker network create -d overlay --attachable` (the key-value store was "
    f"removed in Docker {versions.KV_STORE_REMOVED_IN})"
)


@dataclass
class Finding:
    """What the upgrade met on a host, outside the checks."""

    host: str
    text: str
    bad: bool = True  # counts as a regression (exit status 1)
    engine: str = ""  # the engine being moved to when it was met

    def __str__(self) -> str:
        return f"{self.host}: {self.text}"


@dataclass
class Upgrade:
    path: list[str]
    folder: Path
    runs: list[tuple[str, str]] = field(default_factory=list)  # (engine, run folder name), in order
    steps: list[diff.RunDiff] = field(default_factory=list)  # one per pair of consecutive runs
    overall: diff.RunDiff | None = None
    findings: list[Finding] = field(default_factory=list)
    restarts: list[Restart] = field(default_factory=list)  # each host's engine change, in order

    @property
    def regressed(self) -> bool:
        return any(f.bad for f in self.findings) or any(d.regressed for d in [*self.steps, self.overall] if d)

    def render_terminal(self) -> str:
        """Each step's diff when there are several, then the whole path's."""
        parts = []
        if len(self.steps) > 1:
            for (a, _), (b, _), step in zip(self.runs, self.runs[1:], self.steps, strict=False):
                parts += [f"=== step {a} -> {b} ===", diff.render_terminal(step), ""]
            parts.append(f"=== the whole path {' -> '.join(e for e, _ in self.runs)} ===")
        if self.overall is not None:
            parts.append(diff.render_terminal(self.overall))
        return "\n".join(parts)

    @property
    def diffs(self) -> list[tuple[str, diff.RunDiff]]:
        """(file name, diff) of what was written: diff.html first against last, and each step's."""
        named = [("diff.html", self.overall)] if self.overall else []
        if len(self.steps) > 1:
            named += [
                (f"diff-{a}-to-{b}.html", d)
                for (a, _), (b, _), d in zip(self.runs, self.runs[1:], self.steps, strict=False)
            ]
        return named


def upgrade(
    topology: Topology,
    path: list[str],
    reports: Path,
    checks: Path,
    *,
    rolling: bool,
    progress: Progress,
    select: str | None = None,
) -> Upgrade:
    """The path's engines in turn on one lab; `select` (pytest -k) narrows the checks of each run, never the
    footprint."""
    result = Upgrade(path, reports)
    watch = None
    lab = Lab.up(topology.with_overrides(engine=path[0]), progress=progress)
    try:
        control = require_engine_control(lab.provider, "netproof upgrade")
        workload = Workload.start(lab, result)
        watch, unwatched = MeshWatch.start(lab, progress)
        if unwatched:
            result.findings.append(Finding("lab", unwatched, bad=False))
        progress.say(f"upgrade: checks on {path[0]}")
        checkrun.run(lab.name, reports / "before", checks=checks, select=select)
        result.runs.append((path[0], "before"))
        for index, target in enumerate(path[1:], 1):
            name = "after" if index == len(path) - 1 else f"step-{index}-{target}"
            met = len(result.findings)
            started = upgrade_hosts(lab, control, path[index - 1], target, rolling, result, checks, progress, select)
            if started:
                result.findings += workload.after_upgrade(target)
            for finding in result.findings[met:]:
                finding.engine = target
            if not started:
                progress.say(f"upgrade: stopped at {target}: {result.findings[-1]}")
                break
            progress.say(f"upgrade: checks on {target}")
            checkrun.run(lab.name, reports / name, checks=checks, select=select)
            result.runs.append((target, name))
        if watch:
            seen, watch = watch.stop(result.restarts), None
            result.findings += [Finding(o.host, o.text, o.bad, o.engine) for o in seen]
        workload.remove()
    except Exception as e:  # noqa: BLE001 - the report of what ran so far is kept; the traceback beside it
        reports.mkdir(parents=True, exist_ok=True)
        (reports / "upgrade-error.txt").write_text(traceback.format_exc())
        result.findings.append(Finding("lab", f"the upgrade stopped: {type(e).__name__}: {e} (upgrade-error.txt)"))
    finally:
        if watch:  # stopped by what stopped the upgrade
            watch.abandon()
        lab.down(progress)
    compare_runs(result)
    return result


def upgrade_hosts(
    lab: Lab,
    control,
    old: str,
    new: str,
    rolling: bool,
    result: Upgrade,
    checks: Path,
    progress: Progress,
    select: str | None = None,
) -> bool:
    """Every docker host from old to new, in place; False if a host's engine would not start at all."""
    target = engines.resolve(new)
    hosts = lab.docker_hosts
    for step, host in enumerate(hosts, 1):
        began, began_wall = time.monotonic(), time.time()
        with progress.step(
            f"upgrade: {host.name} {old} -> {target.package_version} (stop dockerd, start the other one on the same "
            "data root)"
        ):
            stopping = control.stop_engine(host.name)
            if stopping:
                result.findings.append(Finding(host.name, f"{stopping} (Docker {old})", bad=False))
            if not start_engine(lab, control, host.name, target, old, result):
                return False
            lab.record_engine(host.name, new, target.package_version)
        if lab.topology.control_plane == "swarm":  # as an operator would, before restarting the next node
            if not rejoin_swarm(lab, control, host, (old, new, target), result, progress, since=began_wall):
                return False
        result.restarts.append(Restart(host.name, new, began, time.monotonic()))
        if (rolling or step == len(hosts)) and lab.topology.control_plane != "none":
            result.findings.append(overlay_recovery(lab, host.name, new, progress))
        if rolling and step < len(hosts):
            progress.say(f"upgrade: cross-host checks with {step} of {len(hosts)} hosts on {new} (mixed versions)")
            checkrun.run(  # no footprint: a mixed swarm's is compared with nothing
                lab.name,
                result.folder / f"rolling-{new}-{step}-{host.name}",
                checks=checks,
                select=f"({CROSS_HOST_CHECKS}) and ({select})" if select else CROSS_HOST_CHECKS,
                footprint=False,
            )
    return True


def rejoin_swarm(
    lab: Lab, control, host, change: tuple[str, str, engines.Engine], result: Upgrade, progress: Progress, since: float
) -> bool:
    """Until every swarm node is ready again after the host's restart. If the host is not, that is a finding
    (its own view of the swarm, its and the manager's dockerd log kept), and its engine is restarted once more,
    as an operator would, so that the rest of the path runs on a whole swarm: whether that brought it back is
    said too. Seen once in CI, 26.1 -> 28.5: a worker down for minutes, back after its next restart. False if
    the engine would not start again."""
    old, new, target = change  # from, to, the engine moved to
    patience = budgets.scaled(budgets.SWARM_READY, lab.patience)
    with progress.step("waiting for every swarm node to be ready again"):
        try:
            controlplane.wait_for_swarm_nodes(lab.manager, len(lab.docker_hosts), patience)
            return True
        except controlplane.SwarmNotReady as e:
            late, said = e.late, f"after its restart on {new}: {e}; {controlplane.own_swarm_view(host)}"
    logs = [host] if host is lab.manager else [host, lab.manager]
    said += "; " + "; ".join(f"{h.name}: {engine_log_kept(lab, h, since, result.folder, new)}" for h in logs)
    finding = Finding(host.name, said)
    result.findings.append(finding)
    if host.name not in late:  # another node is late: not this restart's to mend
        return True
    with progress.step(f"restarting dockerd on {host.name} once more, as an operator would"):
        control.stop_engine(host.name)
        if not start_engine(lab, control, host.name, target, old, result):
            return False
    with progress.step("waiting for every swarm node to be ready again"):
        try:
            controlplane.wait_for_swarm_nodes(lab.manager, len(lab.docker_hosts), patience)
            finding.text += f"; {AFTER_SECOND_RESTART}"
        except NetproofError as e:
            finding.text += f"; not after a second restart either: {e}"
    return True


def engine_log_kept(lab: Lab, host, since: float, folder: Path, engine: str) -> str:
    """The host's dockerd log since `since` (epoch), written into the upgrade's folder; what is said of it: its
    swarm lines' last few, the file's name. Evidence for a finding the checks do not see (the upgrade's own waits)."""
    try:
        text = lab.provider.engine_log(host, since, time.time())
    except Exception as e:  # noqa: BLE001 - the log is evidence, its absence a fact
        return f"its dockerd log could not be read: {type(e).__name__}: {e}"
    where = folder / f"{host.name}-dockerd-{engine}.log"
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(text + "\n")
    swarm = [line for line in text.splitlines() if SWARM_LOG_WORDS.search(line)]
    shown = " | ".join(line.strip()[-240:] for line in swarm[-SWARM_LOG_LINES:]) or "no swarm lines"
    return f"its dockerd log since the restart ({where.name}) ends: {shown}"


def start_engine(lab: Lab, control, host: str, target: engines.Engine, old: str, result: Upgrade) -> bool:
    """The new engine on the host, with the flags the lab's control plane asks for; a refusal is a finding. On a
    kv lab, an engine without the store refuses its flags: started again without them, as a user would."""
    start = engine_start(lab.topology)
    flags, config = start.flags.get(host, []), start.configs.get(host)
    control.start_engine(host, target, flags, config)
    try:
        control.wait_engine(host)
        return True
    except NetproofError as e:
        refused = f"Docker {target.version} did not start on the data root Docker {old} used: {e}"
    kv_flags = [f for f in flags if f.startswith(KV_FLAGS)]
    if not kv_flags or engines.supports_kv_store(target.version):
        result.findings.append(Finding(host, refused))
        return False
    result.findings.append(Finding(host, f"{refused}; {SWARM_MIGRATION}"))
    control.stop_engine(host)
    control.start_engine(host, target, [], config)
    try:
        control.wait_engine(host)
    except NetproofError as e:
        result.findings.append(
            Finding(host, f"Docker {target.version} did not start without the store's flags either: {e}")
        )
        return False
    result.findings.append(
        Finding(host, f"started Docker {target.version} without {' and '.join(KV_FLAGS)}: no key-value store any more")
    )
    return True


def overlay_recovery(lab: Lab, host: str, engine: str, progress: Progress) -> Finding:
    """How long overlay traffic to and from the host took to flow again after its restart (a container there
    reaches one on every other docker host over a new overlay), or that it did not."""
    space = Workspace(lab.topology.control_plane, lab.manager, lab.docker_hosts, patience=lab.patience)
    started = time.monotonic()
    with progress.step(f"waiting for overlay traffic to {host} to flow again"):
        try:
            net = space.overlay(role="settle")
            here = space.container(lab.host(host), net, role="settle")
            others = [space.container(h, net, role="settle") for h in lab.docker_hosts if h.name != host]
            wait.until(
                lambda: all(probes.ping(here.netns.run, o.ip, count=1, wait=1).ok for o in others),
                timeout=budgets.OVERLAY_BACK,
                interval=1,
                what=f"overlay traffic to {host} to flow again after its upgrade",
            )
            return Finding(
                host,
                f"overlay traffic to and from it came back {time.monotonic() - started:.1f} s after its dockerd "
                f"restarted ({engine})",
                bad=False,
            )
        except Exception as e:  # noqa: BLE001 - what the upgrade met is reported, not raised
            return Finding(host, f"overlay traffic to and from it did not come back on {engine}: {e}")
        finally:
            space.remove()


@dataclass
class Workload:
    """A user's workload across the upgrade: on each docker host a container that restarts always, on an
    overlay (without a control plane, a bridge). After each engine change: is it running, with its address?"""

    space: Workspace
    containers: list[Container]

    @classmethod
    def start(cls, lab: Lab, result: Upgrade) -> Workload:
        """The workload on every docker host it can be placed on; where it cannot, the report says why."""
        space = Workspace(lab.topology.control_plane, lab.manager, lab.docker_hosts, patience=lab.patience)
        containers = []
        try:  # without a control plane, on a bridge of each host's own
            overlay = space.overlay(role="workload") if lab.topology.control_plane != "none" else None
        except Exception as e:  # noqa: BLE001 - an upgrade without a workload still says the rest
            result.findings.append(Finding("lab", f"no workload across the upgrade: its overlay: {e}", bad=False))
            return cls(space, [])
        for h in lab.docker_hosts:
            try:
                net = overlay or space.bridge(h, role="workload")
                containers.append(space.container(h, net, role="workload", restart_policy={"Name": "always"}))
            except Exception as e:  # noqa: BLE001
                result.findings.append(Finding(h.name, f"no workload container before the upgrade: {e}", bad=False))
        return cls(space, containers)

    def after_upgrade(self, engine: str) -> list[Finding]:
        found = []
        for c in self.containers:
            try:
                attrs = c.host.docker().containers.get(c.name).attrs
            except Exception as e:  # noqa: BLE001 - gone, or the engine does not answer: a finding
                found.append(Finding(c.host.name, f"the workload container {c.name} is not there on {engine}: {e}"))
                continue
            state = attrs["State"]
            address = (attrs["NetworkSettings"]["Networks"].get(c.network.name) or {}).get("IPAddress")
            what = f"the workload container {c.name} (restart always, on {c.network.driver} {c.network.name})"
            if not state.get("Running"):
                said = state.get("Error") or f"status {state.get('Status')}"
                if ATTACH_TIMEOUT in said:  # seen in 2 of 4 path runs here, on a worker, whatever the engine
                    found.append(
                        Finding(c.host.name, f"{what} is not running on {engine}: {said}; {ATTACH_DEFECT}", False)
                    )
                else:
                    found.append(Finding(c.host.name, f"{what} is not running on {engine}: {said}"))
            elif address != c.ip:
                found.append(Finding(c.host.name, f"{what} runs on {engine} with address {address}, was {c.ip}", False))
        return found

    def remove(self) -> None:
        self.space.remove()


def compare_runs(result: Upgrade) -> None:
    """Each step's diff and the first against the last, written beside the runs; the findings as notes."""
    from netproof.report import results

    loaded = [results.load(result.folder / name) for _, name in result.runs]
    result.steps = [diff.compare(a, b) for a, b in zip(loaded, loaded[1:], strict=False)]
    if len(loaded) > 1:
        result.overall = diff.compare(loaded[0], loaded[-1])
    elif loaded:
        result.overall = diff.compare(loaded[0], loaded[0])  # stopped before any engine changed
    if result.overall is not None:
        result.overall.problems = [str(f) for f in result.findings if f.bad]
        result.overall.notes = [str(f) for f in result.findings if not f.bad]
    for (target, _), step in zip(result.runs[1:], result.steps, strict=False):
        step.problems = [str(f) for f in result.findings if f.engine == target and f.bad]
        step.notes = [str(f) for f in result.findings if f.engine == target and not f.bad]
    for name, d in result.diffs:
        diff.write(d, result.folder / name)
