"""Swarm services a check creates: the Workspace's part for them (a mix-in: it names, waits and removes as the
Workspace does)."""

from __future__ import annotations

import docker
import docker.types

from netproof import wait
from netproof.facts import budgets
from netproof.kit import probes
from netproof.kit.objects import EngineError, Network, Service
from netproof.lab.image import TEST_IMAGE
from netproof.lab.providers.base import LabHost


class SwarmServices:
    """Services on the check's overlays, placed, published and waited for; what swarm runs them on."""

    def service(
        self,
        network: Network,
        *,
        replicas: int,
        mode: str = "replicated",
        endpoint_mode: str = "vip",
        role: str = "svc",
        serving: bool = False,
        publish: bool = False,
        on: LabHost | None = None,
    ) -> Service:
        """A swarm service on an overlay (created on the manager), `replicated` or `global` (then `replicas` is the
        number of nodes, the tasks awaited): idle tasks, or `serving` a page on
        probes.HTTP_PORT, `publish`ed through the routing mesh on a port Docker chooses, its tasks placed `on` one
        host (by its swarm node). Returns once every task runs, with the tasks' addresses on the network. Removed
        with the check's other objects."""
        name = self.unique(role)
        endpoint = {"Mode": endpoint_mode}
        if publish:  # no PublishedPort: Docker takes one of its range (30000-32767) on every node
            endpoint["Ports"] = [{"Protocol": "tcp", "TargetPort": probes.HTTP_PORT, "PublishMode": "ingress"}]
        service = self.manager.docker().services.create(
            TEST_IMAGE,
            ["sh", "-c", probes.SERVE_SCRIPT] if serving else ["sleep", "3600"],
            name=name,
            networks=[network.name],
            mode=docker.types.ServiceMode(mode, replicas=replicas if mode == "replicated" else None),
            endpoint_spec=endpoint,
            constraints=[f"node.id=={self.node_of(on)}"] if on is not None else None,
        )
        self.holders.append(name)  # removed before the networks, as the holding services are

        def running() -> list[dict]:
            return [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]

        tasks, ran = wait.poll(
            running,
            holds=lambda t: len(t) >= replicas,
            timeout=self.budget(budgets.SERVICE_TASKS),
            interval=0.5,
        )
        if not ran:
            raise EngineError(
                f"{self.manager.name}: service {name} has {len(tasks)} of {replicas} tasks running after "
                f"{self.budget(budgets.SERVICE_TASKS):.0f} s"
            )
        addresses = []
        for task in tasks:
            for attachment in task.get("NetworksAttachments", []):
                if attachment["Network"]["ID"] == network.id:
                    addresses += [a.split("/")[0] for a in attachment.get("Addresses", [])]
        service.reload()
        vips = [
            v["Addr"].split("/")[0]
            for v in service.attrs.get("Endpoint", {}).get("VirtualIPs", [])
            if v.get("NetworkID") == network.id
        ]
        published = [p.get("PublishedPort") for p in service.attrs.get("Endpoint", {}).get("Ports", [])]
        return Service(name, endpoint_mode, sorted(addresses), vips[0] if vips else None, next(iter(published), None))

    def node_of(self, host: LabHost) -> str:
        """The swarm node ID of a lab host: the node whose address is the host's."""
        nodes = self.manager.docker().nodes.list()
        found = [n.id for n in nodes if n.attrs.get("Status", {}).get("Addr") == host.address]
        if not found:
            raise EngineError(f"{self.manager.name}: no swarm node has {host.name}'s address {host.address}")
        return found[0]
