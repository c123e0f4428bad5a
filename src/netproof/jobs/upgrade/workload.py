"""A user's workload across an upgrade."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from netproof import wait
from netproof.errors import LabBroken
from netproof.facts.defects import EXTERNAL_NAMES_LOST
from netproof.facts.docker import ATTACH_TIMEOUT
from netproof.jobs.upgrade.outcome import ATTACH_DEFECT, Finding, Upgrade
from netproof.jobs.upgrade.stack_watch import RESTORE
from netproof.kit import upstreams
from netproof.kit.known_defects import recognise
from netproof.kit.objects import Container
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab
from netproof.lab.model.topology import LAB_ZONE

NAME_TIMEOUT = 5.0  # seconds a name's question waits for the embedded DNS
NAME_SETTLE = 15.0  # seconds a peer's name may take to reach this host's embedded DNS again


def now(c: Container) -> Container:
    """The container as it is now: a restart gives it another network namespace."""
    sandbox = c.host.docker().containers.get(c.name).attrs["NetworkSettings"]["SandboxKey"]
    return dataclasses.replace(c, sandbox=sandbox)


@dataclass
class Workload:
    """A user's workload across the upgrade: on each docker host a container that restarts always, on an
    overlay (without a control plane, a bridge). After each engine change: is it running, with its address, do
    its peers' names resolve to their addresses from it (across hosts, on the overlay), and does a name of the lab's
    own DNS server, outside Docker, still resolve (the embedded DNS still forwards what it does not know)? The promise
    is facts.continuity.CARRIED."""

    space: Workspace
    containers: list[Container]
    outside: str | None = None  # the outside host's address, www.<the lab's zone>'s answer

    @classmethod
    def start(cls, lab: Lab, result: Upgrade) -> Workload:
        """The workload on every docker host it can be placed on; where it cannot, the report says why."""
        space = Workspace.on(lab)
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
        outside = lab.topology.role("outside")
        return cls(space, containers, str(outside.address) if outside else None)

    def after_upgrade(self, engine: str) -> list[Finding]:
        found, running = [], set()
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
            else:
                running.add(c.name)  # as it was: its peers must find it by name
        return found + self.names_after(engine, running) + self.outside_names_after(engine, running)

    def names_after(self, engine: str, running: set[str]) -> list[Finding]:
        """Each workload container asks its embedded DNS for every other's name (on the overlay: across hosts) and
        gets that container's address: the names the old engine registered, kept by the new one."""
        found = []
        up = [now(c) for c in self.containers if c.name in running]  # one not running is said already
        for asker in up:
            for peer in (c for c in up if c is not asker and c.network.id == asker.network.id):
                try:  # a name from another host reaches this one's embedded DNS a moment after a restart
                    (_, answer), _ = wait.poll(
                        lambda a=asker, p=peer: upstreams.ask(a, p.name, NAME_TIMEOUT),
                        holds=lambda r, p=peer: r[1].rcode == "NOERROR" and p.ip in r[1].addresses,
                        timeout=NAME_SETTLE,
                        interval=1,
                    )
                except LabBroken as e:  # its namespace is gone: said as the lab's
                    found.append(Finding(asker.host.name, f"{asker.name} could not ask for {peer.name}: {e}", False))
                    continue
                if answer.rcode != "NOERROR" or peer.ip not in answer.addresses:
                    found.append(Finding(asker.host.name, f"the workload container {asker.name} asked for its peer "
                                         f"{peer.name} on {peer.host.name} after the upgrade to {engine}: {answer} "
                                         f"(expected {peer.ip}); {RESTORE}"))  # fmt: skip
        return found

    def outside_names_after(self, engine: str, running: set[str]) -> list[Finding]:
        """Each workload container asks its embedded DNS for www.<the lab's zone>, which only the lab's DNS server
        outside Docker knows, and gets the outside host's address: the engine forwards names it does not know for
        containers the old engine made and it restarted."""
        if not self.outside:
            return []
        found, name = [], f"www.{LAB_ZONE}"
        for asker in [now(c) for c in self.containers if c.name in running]:
            try:
                (_, answer), _ = wait.poll(
                    lambda a=asker: upstreams.ask(a, name, NAME_TIMEOUT),
                    holds=lambda r: r[1].rcode == "NOERROR" and self.outside in r[1].addresses,
                    timeout=NAME_SETTLE,
                    interval=1,
                )
            except LabBroken as e:
                found.append(Finding(asker.host.name, f"{asker.name} could not ask for {name}: {e}", False))
                continue
            if answer.rcode != "NOERROR" or self.outside not in answer.addresses:
                known = recognise({EXTERNAL_NAMES_LOST}, [asker.host], "none")
                why = str(known) if known and known.known else RESTORE
                said = (
                    f"the workload container {asker.name} asked for {name}, a name of the lab's own DNS server, after "
                    f"the upgrade to {engine}: {answer} (expected {self.outside}): the embedded DNS forwards it no "
                    f"more; {why}"
                )
                found.append(Finding(asker.host.name, said))
        return found

    def remove(self) -> None:
        self.space.remove()
