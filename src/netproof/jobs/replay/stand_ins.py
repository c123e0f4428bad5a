"""A compose project made on one docker host of a lab: its networks as Docker networks (internal, subnets, IPv6 as
the file says), and for each service a stand-in, the test image serving a small page on every tcp port the service
exposes or publishes, with the service's endpoints (aliases, fixed addresses, gw_priority), published ports and
restart policy. Images are never pulled. The page names the service and the address it saw the client as, so a
probe proves which service answered and from where. Everything is a Workspace's, so it is removed as a check's is.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import docker.errors

from netproof import wait
from netproof.facts import budgets
from netproof.kit.namespaces import NetNamespace
from netproof.kit.objects import EngineError, Network
from netproof.kit.workspace import Workspace
from netproof.lab.image import TEST_IMAGE
from netproof.lab.providers.base import LabHost
from netproof.stack import capture
from netproof.stack.project import WORKLOAD_LABEL, Project, StackService
from netproof.stack.reachability import STAND_IN_PORT

MARK = "netproof-stand-in"  # the first word of a stand-in's page: "netproof-stand-in web seen 198.51.100.10"
PAGE = "/cgi-bin/who"


def serving(service: str, ports: tuple[int, ...]) -> str:
    """The stand-in's command: busybox httpd on each port, its CGI page saying the service and REMOTE_ADDR."""
    page = f'#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "{MARK} {service} seen $REMOTE_ADDR"\\n'
    daemons = "; ".join(f"httpd -p {p} -h /www" for p in ports)
    made = f"mkdir -p /www/cgi-bin && printf '{page}' > /www{PAGE} && chmod +x /www{PAGE}"
    # PID 1 ends on SIGTERM (a bare `sleep` as PID 1 ignores it: every engine stop would wait Docker's 10 s for it)
    script = f"trap 'exit 0' TERM; {made} && {daemons}; sleep 2147483647 & wait"
    return f"sh -c {shlex.quote(script)}"


@dataclass
class StandIn:
    service: StackService
    container: str
    addresses: dict[str, str]  # network key -> its IPv4 address there
    ports: tuple[int, ...]  # what it serves

    def host_port(self, host: LabHost, target: int) -> int | None:
        """The host port Docker publishes `target` on now (it may change when the container restarts)."""
        ports = host.docker().containers.get(self.container).attrs["NetworkSettings"]["Ports"] or {}
        binding = next((b for b in ports.get(f"{target}/tcp") or [] if b.get("HostPort")), None)
        return int(binding["HostPort"]) if binding else None


@dataclass
class Placement:
    """The project on one docker host: its networks by key, its stand-ins by service."""

    host: LabHost
    project: Project
    space: Workspace
    networks: dict[str, Network] = field(default_factory=dict)
    stand_ins: dict[str, StandIn] = field(default_factory=dict)

    @classmethod
    def make(cls, lab, host: LabHost, project: Project) -> Placement:
        placement = cls(host, project, Workspace.on(lab))
        try:
            for key, net in project.networks.items():
                if any(key in s.networks for s in project.services.values()):
                    v4 = next((s for s in net.subnets if ":" not in s), None)
                    v6 = next((s for s in net.subnets if ":" in s), None)
                    role = f"{project.name}_{key}"
                    labels = {capture.PROJECT: project.name, capture.NETWORK: key, WORKLOAD_LABEL: project.name}
                    placement.networks[key] = placement.space.bridge(
                        host, internal=net.internal, subnet=v4, ipv6_subnet=v6, role=role, labels=labels
                    )
            for service in project.services.values():
                placement.stand_ins[service.name] = placement._stand_in(service)
            for stand_in in placement.stand_ins.values():
                placement._await_listening(stand_in)
        except BaseException:
            placement.remove()
            raise
        return placement

    def _stand_in(self, service: StackService) -> StandIn:
        api = self.host.docker().api
        name = self.space.unique(f"{self.project.name}-{service.name}")
        ports = service.listens or (STAND_IN_PORT,)
        bindings: dict[str, list] = {}
        for p in (p for p in service.ports if p.protocol in ("tcp", "udp")):
            bindings.setdefault(f"{p.target}/{p.protocol}", []).append((p.host_ip, p.published))  # None: Docker's
        first, *others = service.attachments or (None,)
        networking = None
        if first is not None:
            endpoint = self._endpoint(service.name, first)
            networking = api.create_networking_config({self.networks[first.network].name: endpoint})
        self.space.containers.append((self.host, name))
        try:
            api.create_container(
                TEST_IMAGE,
                serving(service.name, ports),
                name=name,
                labels={
                    capture.PROJECT: self.project.name,
                    capture.SERVICE: service.name,
                    WORKLOAD_LABEL: self.project.name,
                },  # fmt: skip
                ports=list(
                    dict.fromkeys(
                        [*(tuple(k.split("/")) for k in bindings), *((str(p), "tcp") for p in service.exposed)]
                    )
                )
                or None,
                host_config=api.create_host_config(
                    port_bindings=bindings or None,
                    restart_policy={"Name": service.restart} if service.restart != "no" else None,
                    network_mode=None if first is not None else "none",
                ),
                networking_config=networking,
            )
            for attachment in others:
                body = {"Container": name, "EndpointConfig": self._endpoint(service.name, attachment)}
                net = self.networks[attachment.network].name
                api._raise_for_status(api._post_json(api._url("/networks/{0}/connect", net), data=body))
            api.start(name)
        except docker.errors.APIError as e:
            why = e.explanation or str(e)
            raise EngineError(f"{self.host.name}: Docker would not start {service.name}'s stand-in {name}: {why}",
                              said=why) from None  # fmt: skip
        found = self.host.docker().containers.get(name).attrs["NetworkSettings"]["Networks"]
        by_name = {net.name: key for key, net in self.networks.items()}
        addresses = {by_name[n]: e.get("IPAddress") for n, e in found.items() if n in by_name}
        return StandIn(service, name, addresses, ports)

    def _endpoint(self, service: str, attachment) -> dict:
        """The endpoint as the Engine API takes it (gw_priority is only in 28's API: docker-py knows no such key)."""
        # compose gives every endpoint the service's name as an alias: that is how peers find it by name
        endpoint: dict = {"Aliases": list(dict.fromkeys((service, *attachment.aliases)))}
        if attachment.ipv4_address:
            endpoint["IPAMConfig"] = {"IPv4Address": attachment.ipv4_address}
        if attachment.gw_priority is not None:
            endpoint["GwPriority"] = attachment.gw_priority
        return endpoint

    def _await_listening(self, stand_in: StandIn) -> None:
        """Every port served before a probe is sent: a refusal must mean the network refused."""
        sandbox = self.host.docker().containers.get(stand_in.container).attrs["NetworkSettings"]["SandboxKey"]
        netns = NetNamespace(self.host, sandbox, f"container {stand_in.container}")
        wanted = {f":{p:04X} " for p in stand_in.ports}

        def listening() -> bool:
            table = netns.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout.splitlines()
            open_ = {f":{line.split()[1].split(':')[1]} " for line in table[1:] if len(line.split()) > 3
                     and line.split()[3] == "0A"}  # fmt: skip
            return wanted <= open_

        wait.until(listening, timeout=self.space.budget(budgets.LISTENING),
                   what=f"{self.project.name}'s {stand_in.service.name} ({stand_in.container}) to listen on "
                   f"{', '.join(map(str, stand_in.ports))}")  # fmt: skip

    def started_at(self) -> dict[str, str]:
        """When each stand-in's container last started, as Docker says (a restart changes it)."""
        docker = self.host.docker()
        return {s.container: docker.containers.get(s.container).attrs["State"]["StartedAt"]
                for s in self.stand_ins.values()}  # fmt: skip

    def restarted(self) -> list[str]:
        """After an engine change: stand-ins that are not running are started again, as `docker compose up -d`
        would after the upgrade (a `restart: no` service stays stopped with its dockerd); what was started."""
        started = []
        for stand_in in self.stand_ins.values():
            c = self.host.docker().containers.get(stand_in.container)
            if c.status != "running":
                c.start()
                started.append(f"{stand_in.service.name} (restart: {stand_in.service.restart})")
        for stand_in in self.stand_ins.values():
            self._await_listening(stand_in)
        return started

    def remove(self) -> list[str]:
        return self.space.remove()
