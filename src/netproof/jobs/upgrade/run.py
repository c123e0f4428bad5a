"""One upgrade of one lab, step by step (see the package's docstring)."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from netproof import catalogue, doctor, wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.jobs import checkrun
from netproof.jobs.replay import read_project
from netproof.jobs.upgrade.flow_watch import FlowWatch
from netproof.jobs.upgrade.mesh_watch import MeshWatch, Restart
from netproof.jobs.upgrade.outcome import (
    AFTER_SECOND_RESTART,
    CROSS_HOST_CHECKS,
    KV_FLAGS,
    SWARM_LOG_LINES,
    SWARM_LOG_WORDS,
    SWARM_MIGRATION,
    Finding,
    Upgrade,
    compare_runs,
    lab_broke,
    write_diffs,
)
from netproof.jobs.upgrade.stack_watch import SHOP, StackWatch
from netproof.jobs.upgrade.verdict import judge
from netproof.jobs.upgrade.workload import Workload
from netproof.kit import probes
from netproof.kit.workspace import Workspace
from netproof.lab import controlplane, engines
from netproof.lab.lab import Lab
from netproof.lab.model.engine_start import engine_start
from netproof.lab.model.topology import Topology
from netproof.lab.providers import require_engine_control
from netproof.progress import Progress
from netproof.stack.project import Project


def upgrade(
    topology: Topology,
    path: list[str],
    reports: Path,
    checks: Path,
    *,
    rolling: bool,
    progress: Progress,
    select: str | None = None,
    stack: Project | None = None,
) -> Upgrade:
    """The path's engines in turn on one lab; `select` (pytest -k) narrows the checks of each run, never the
    footprint; `stack` a user's compose project carried across (else netproof's own, on every docker host)."""
    result = Upgrade(path, reports)
    watch = flows = stacks = None
    lab = Lab.up(topology.with_overrides(engine=path[0]), progress=progress)
    try:
        run = UpgradeRun(lab, result, progress, checks, select)
        workload = Workload.start(lab, result)
        stacks = StackWatch.start(lab, stack or read_project(SHOP, progress), stack is None, result,
                                  progress)  # fmt: skip
        watch, unwatched = MeshWatch.start(lab, progress)
        if unwatched:
            result.findings.append(Finding("lab", unwatched, bad=False))
        progress.say(f"upgrade: checks on {path[0]}")
        checkrun.run(lab.name, reports / "before", checks=checks, select=select)
        result.runs.append((path[0], "before"))
        for index, target in enumerate(path[1:], 1):
            name = "after" if index == len(path) - 1 else f"step-{index}-{target}"
            met, restarted = len(result.findings), len(result.restarts)
            # Flows through this step's restarts only: gone before its checks, so no footprint holds them.
            flows, unheld = FlowWatch.start(lab, progress)
            if unheld:
                result.findings.append(Finding("lab", unheld, bad=False))
            started = run.upgrade_hosts(path[index - 1], target, rolling)
            if flows:  # the timelines drawn in continuity-<engine>.html beside the runs
                seen, flows = flows.stop(result.restarts[restarted:], reports / f"continuity-{target}.html"), None
                result.findings += [Finding(o.host, o.text, o.bad, o.engine) for o in seen]
            if started:
                result.findings += workload.after_upgrade(target)
                result.findings += stacks.after_step(lab, target, progress)
            for finding in result.findings[met:]:
                finding.engine = target
            if any(f.bad for f in result.findings[met:]):  # Docker's doing, or did the lab break? The doctor says
                broke = lab_broke(result.findings, target, doctor.examine(lab, progress=progress))
                if broke:
                    result.lab_broken.append(broke)
                    progress.say(f"upgrade: {broke}")
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
        if stacks:
            stacks.write(reports)
            result.workload = [f"{t.project} on {t.where}: {t.summary()}" for t in stacks.tables]
            result.findings += [Finding("lab", f"the workload left {p}", bad=False) for p in stacks.remove()]
        if watch:  # stopped by what stopped the upgrade
            watch.abandon()
        if flows:
            flows.abandon()
        lab.down(progress)
    compare_runs(result)
    settings = frozenset(k for h in topology.docker_hosts for k, v in h.daemon.items() if v)
    result.verdict = judge(result, catalogue.load(checks), topology.control_plane, settings).to_dict()
    write_diffs(result)
    return result


class UpgradeRun:
    """One upgrade of one lab: the lab, the provider's control of its engines, the checks it runs between steps, and
    what it met (an Upgrade). Each step of the path is a method of it."""

    def __init__(
        self, lab: Lab, result: Upgrade, progress: Progress, checks: Path | None = None, select: str | None = None
    ):
        self.lab, self.result, self.progress = lab, result, progress
        self.checks, self.select = checks, select
        self.control = require_engine_control(lab.provider, "netproof upgrade")

    def upgrade_hosts(self, old: str, new: str, rolling: bool) -> bool:
        """Every docker host from old to new, in place; False if a host's engine would not start at all."""
        target = engines.resolve(new)
        hosts = self.lab.docker_hosts
        for step, host in enumerate(hosts, 1):
            began, began_wall = time.monotonic(), time.time()
            with self.progress.step(
                f"upgrade: {host.name} {old} -> {target.package_version} (stop dockerd, start the other one on the "
                "same data root)"
            ):
                stopping = self.control.stop_engine(host.name)
                if stopping:
                    self.result.findings.append(Finding(host.name, f"{stopping} (Docker {old})", bad=False))
                if not self.start_engine(host.name, target, old):
                    return False
                self.lab.record_engine(host.name, new, target.package_version)
            if self.lab.topology.control_plane == "swarm":  # as an operator would, before restarting the next node
                if not self.rejoin_swarm(host, (old, new, target), since=began_wall):
                    return False
            self.result.restarts.append(Restart(host.name, new, began, time.monotonic(), old))
            if (rolling or step == len(hosts)) and self.lab.topology.control_plane != "none":
                self.result.findings.append(self.overlay_recovery(host.name, new))
            if rolling and step < len(hosts):
                self.progress.say(
                    f"upgrade: cross-host checks with {step} of {len(hosts)} hosts on {new} (mixed versions)"
                )
                checkrun.run(  # no footprint: a mixed swarm's is compared with nothing
                    self.lab.name,
                    self.result.folder / f"rolling-{new}-{step}-{host.name}",
                    checks=self.checks,
                    select=f"({CROSS_HOST_CHECKS}) and ({self.select})" if self.select else CROSS_HOST_CHECKS,
                    footprint=False,
                )
        return True

    def rejoin_swarm(self, host, change: tuple[str, str, engines.Engine], since: float) -> bool:
        """Until every swarm node is ready again after the host's restart. If the host is not, that is a finding
        (its own view of the swarm, its and the manager's dockerd log kept), and its engine is restarted once more,
        as an operator would, so that the rest of the path runs on a whole swarm: whether that brought it back is
        said too. Seen once in CI, 26.1 -> 28.5: a worker down for minutes, back after its next restart. False if
        the engine would not start again."""
        old, new, target = change  # from, to, the engine moved to
        patience = budgets.scaled(budgets.SWARM_READY, self.lab.patience)
        with self.progress.step("waiting for every swarm node to be ready again"):
            try:
                controlplane.wait_for_swarm_nodes(self.lab.manager, len(self.lab.docker_hosts), patience)
                return True
            except controlplane.SwarmNotReady as e:
                late, said = e.late, f"after its restart on {new}: {e}; {controlplane.own_swarm_view(host)}"
        logs = [host] if host is self.lab.manager else [host, self.lab.manager]
        said += "; " + "; ".join(f"{h.name}: {self.engine_log_kept(h, since, new)}" for h in logs)
        finding = Finding(host.name, said)
        self.result.findings.append(finding)
        if host.name not in late:  # another node is late: not this restart's to mend
            return True
        with self.progress.step(f"restarting dockerd on {host.name} once more, as an operator would"):
            self.control.stop_engine(host.name)
            if not self.start_engine(host.name, target, old):
                return False
        with self.progress.step("waiting for every swarm node to be ready again"):
            try:
                controlplane.wait_for_swarm_nodes(self.lab.manager, len(self.lab.docker_hosts), patience)
                finding.text += f"; {AFTER_SECOND_RESTART}"
            except NetproofError as e:
                finding.text += f"; not after a second restart either: {e}"
        return True

    def engine_log_kept(self, host, since: float, engine: str) -> str:
        """The host's dockerd log since `since` (epoch), written into the upgrade's folder; what is said of it: its
        swarm lines' last few, the file's name. Evidence for a finding the checks do not see (its own waits)."""
        try:
            text = self.lab.provider.engine_log(host, since, time.time())
        except Exception as e:  # noqa: BLE001 - the log is evidence, its absence a fact
            return f"its dockerd log could not be read: {type(e).__name__}: {e}"
        where = self.result.folder / f"{host.name}-dockerd-{engine}.log"
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_text(text + "\n")
        swarm = [line for line in text.splitlines() if SWARM_LOG_WORDS.search(line)]
        shown = " | ".join(line.strip()[-240:] for line in swarm[-SWARM_LOG_LINES:]) or "no swarm lines"
        return f"its dockerd log since the restart ({where.name}) ends: {shown}"

    def start_engine(self, host: str, target: engines.Engine, old: str) -> bool:
        """The new engine on the host, with the flags the lab's control plane asks for; a refusal is a finding. On a
        kv self.lab, an engine without the store refuses its flags: started again without them, as a user would."""
        start = engine_start(self.lab.topology)
        flags, config = start.flags.get(host, []), start.configs.get(host)
        self.control.start_engine(host, target, flags, config)
        try:
            self.control.wait_engine(host)
            return True
        except NetproofError as e:
            refused = f"Docker {target.version} did not start on the data root Docker {old} used: {e}"
        kv_flags = [f for f in flags if f.startswith(KV_FLAGS)]
        if not kv_flags or engines.supports_kv_store(target.version):
            self.result.findings.append(Finding(host, refused))
            return False
        self.result.findings.append(Finding(host, f"{refused}; {SWARM_MIGRATION}"))
        self.control.stop_engine(host)
        self.control.start_engine(host, target, [], config)
        try:
            self.control.wait_engine(host)
        except NetproofError as e:
            self.result.findings.append(
                Finding(host, f"Docker {target.version} did not start without the store's flags either: {e}")
            )
            return False
        self.result.findings.append(
            Finding(
                host, f"started Docker {target.version} without {' and '.join(KV_FLAGS)}: no key-value store any more"
            )
        )
        return True

    def overlay_recovery(self, host: str, engine: str) -> Finding:
        """How long overlay traffic to and from the host took to flow again after its restart (a container there
        reaches one on every other docker host over a new overlay), or that it did not."""
        space = Workspace.on(self.lab)
        started = time.monotonic()
        with self.progress.step(f"waiting for overlay traffic to {host} to flow again"):
            try:
                net = space.overlay(role="settle")
                here = space.container(self.lab.host(host), net, role="settle")
                others = [space.container(h, net, role="settle") for h in self.lab.docker_hosts if h.name != host]
                wait.until(
                    lambda: all(probes.ping(here.netns.run, o.ip, count=1, wait=1).ok for o in others),
                    timeout=budgets.OVERLAY_BACK,
                    interval=1,
                    what=f"overlay traffic to {host} to flow again after its upgrade",
                )
                took = time.monotonic() - started
                return Finding(
                    host,
                    f"overlay traffic to and from it came back {took:.1f} s after its dockerd restarted ({engine})",
                    bad=False,
                    seconds=took,
                )
            except Exception as e:  # noqa: BLE001 - what the upgrade met is reported, not raised
                return Finding(host, f"overlay traffic to and from it did not come back on {engine}: {e}")
            finally:
                space.remove()
