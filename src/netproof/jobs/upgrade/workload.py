"""A user's workload across an upgrade."""

from __future__ import annotations

from dataclasses import dataclass

from netproof.facts.docker import ATTACH_TIMEOUT
from netproof.jobs.upgrade.outcome import ATTACH_DEFECT, Finding, Upgrade
from netproof.kit.objects import Container
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab


@dataclass
class Workload:
    """A user's workload across the upgrade: on each docker host a container that restarts always, on an
    overlay (without a control plane, a bridge). After each engine change: is it running, with its address?"""

    space: Workspace
    containers: list[Container]

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
