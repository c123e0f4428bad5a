"""A user's compose project, as `docker compose config` normalised it (lab/compose.py): the networks and the
services' endpoints and published ports netproof replays on a lab, with stand-ins for the services. Pure: it reads
the normalised JSON and never the file. What a replay cannot stand in for is said in `notes`, never dropped
silently."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from netproof.errors import NetproofError

# The label of the networks and containers netproof makes to stand in for a project: what the footprint leaves out
# (a workload is a user's objects, not Docker's own footprint), and what a capture of a lab host recognises.
WORKLOAD_LABEL = "netproof.workload"
OUTSIDE = "outside"  # a source or target that is the lab's outside host, never a service's name
ANY_ADDRESS = ("", "0.0.0.0", "::")
# "web -> db:5432 must connect", "outside -> host:80 must not connect"
INTENT = re.compile(r"^\s*([\w.-]+)\s*->\s*([\w.-]+):(\d+)\s+(must|must not)\s+connect\s*$")


@dataclass(frozen=True)
class StackNetwork:
    key: str  # the compose file's name for it
    internal: bool = False
    subnets: tuple[str, ...] = ()
    ipv6: bool = False


@dataclass(frozen=True)
class Attachment:
    """A service's endpoint on one network."""

    network: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    gw_priority: int | None = None


@dataclass(frozen=True)
class Port:
    """A published port: `published` None is one Docker picks (`-p C`); `host_ip` "" is every address."""

    target: int
    protocol: str = "tcp"
    published: int | None = None
    host_ip: str = ""

    def __str__(self) -> str:
        bound = f"{self.host_ip}:" if self.host_ip else ""
        return f"{bound}{self.published or ''}{':' if self.published or bound else ''}{self.target}/{self.protocol}"


@dataclass(frozen=True)
class StackService:
    name: str
    attachments: tuple[Attachment, ...] = ()
    ports: tuple[Port, ...] = ()
    exposed: tuple[int, ...] = ()  # tcp ports `expose`d, reachable only from the service's networks
    restart: str = "no"

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(a.network for a in self.attachments)

    @property
    def listens(self) -> tuple[int, ...]:
        """The tcp ports the service's stand-in serves: those it exposes or publishes."""
        return tuple(sorted({*self.exposed, *(p.target for p in self.ports if p.protocol == "tcp")}))


@dataclass(frozen=True)
class Intent:
    """A user's own rule (x-netproof: intents:), over what compose's semantics give."""

    source: str
    target: str
    port: int
    connects: bool
    said: str


@dataclass
class Project:
    name: str
    source: str  # the compose file, for messages
    networks: dict[str, StackNetwork]
    services: dict[str, StackService]
    intents: tuple[Intent, ...] = ()
    notes: list[str] = field(default_factory=list)

    def sharing(self, a: str, b: str) -> tuple[str, ...]:
        """The networks two services are both on."""
        return tuple(n for n in self.services[a].networks if n in self.services[b].networks)

    @classmethod
    def from_config(cls, config: dict, source: str) -> Project:
        """From `docker compose config --format json`; a one-line error naming the file and key for what netproof
        cannot replay at all."""
        project = cls(config.get("name") or "project", source, {}, {})
        for key, spec in sorted((config.get("networks") or {}).items()):
            project._network(key, spec or {})
        for name, spec in sorted((config.get("services") or {}).items()):
            project._service(name, spec or {})
        if not project.services:
            raise NetproofError(f"{source}: services: none to replay")
        extension = config.get("x-netproof") or {}
        project.intents = tuple(project._intent(i, said) for i, said in enumerate(extension.get("intents") or []))
        return project

    def _network(self, key: str, spec: dict) -> None:
        where = f"{self.source}: networks.{key}"
        if spec.get("external"):
            self.notes.append(f"{where} is external (made outside the project): a bridge stands in for it")
        driver = spec.get("driver") or "bridge"
        if driver != "bridge":
            raise NetproofError(f"{where}.driver: {driver!r} is not replayed (bridge networks only, for now)")
        subnets = tuple(c["subnet"] for c in (spec.get("ipam") or {}).get("config") or [] if c.get("subnet"))
        self.networks[key] = StackNetwork(key, bool(spec.get("internal")), subnets, bool(spec.get("enable_ipv6")))

    def _service(self, name: str, spec: dict) -> None:
        where = f"{self.source}: services.{name}"
        mode = spec.get("network_mode")
        if mode and mode != "none":
            self.notes.append(f"{where}.network_mode: {mode!r} is not replayed; the service is left out")
            return
        attachments = []
        for key, endpoint in sorted((spec.get("networks") or {}).items()):
            endpoint = endpoint or {}
            if key not in self.networks:
                raise NetproofError(f"{where}.networks.{key}: no such network in the project")
            priority = endpoint.get("gw_priority")
            attachments.append(
                Attachment(key, tuple(endpoint.get("aliases") or ()), endpoint.get("ipv4_address"), priority)
            )
        ports = []
        for i, port in enumerate(spec.get("ports") or []):
            if port.get("mode", "ingress") not in ("ingress", "host"):
                raise NetproofError(f"{where}.ports[{i}].mode: {port.get('mode')!r} is not a compose port mode")
            published = str(port.get("published") or "")
            if "-" in published:  # compose keeps a range of host ports for one container port
                self.notes.append(f"{where}.ports[{i}]: host ports {published} for one port: the first is probed")
                published = published.split("-")[0]
            ports.append(
                Port(
                    int(port["target"]),
                    port.get("protocol", "tcp"),
                    int(published) if published else None,
                    port.get("host_ip") or "",
                )  # fmt: skip
            )
        for port in ports:
            if port.protocol != "tcp":
                self.notes.append(f"{where}: the published {port} is made but not probed (tcp ports only, for now)")
        exposed = []
        for item in spec.get("expose") or []:
            number, _, proto = str(item).partition("/")
            if (proto or "tcp") == "tcp" and number.isdigit():
                exposed.append(int(number))
        restart = spec.get("restart") or "no"
        self.services[name] = StackService(name, tuple(attachments), tuple(ports), tuple(exposed), restart)

    def _intent(self, i: int, said: object) -> Intent:
        where = f"{self.source}: x-netproof.intents[{i}]"
        m = INTENT.match(str(said))
        if not m:
            raise NetproofError(f"{where}: {said!r} is not 'SOURCE -> TARGET:PORT must connect' or 'must not connect'")
        source, target, port, must = m.groups()
        for role, name in (("source", source), ("target", target)):
            if name not in self.services and name != OUTSIDE and not (role == "target" and name == "host"):
                known = ", ".join(sorted(self.services))
                raise NetproofError(f"{where}: {role} {name!r} is not a service of the project ({known})")
        if target == "host" and source != OUTSIDE:
            raise NetproofError(f"{where}: only the outside host reaches host:PORT (a published port)")
        return Intent(source, target, int(port), must == "must", str(said).strip())
