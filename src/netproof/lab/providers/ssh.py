"""Provider `ssh`: hosts the user already runs, listed in an inventory (a topology file with
`provider: ssh`). The lab is not created, only used: `up` logs in on every host, checks its
engine answers and opens netproof's SSH connections; `down` closes them and removes netproof's
own files. The hosts keep their engines, control plane and networks; the checks remove what
they create themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

from netproof import system
from netproof.errors import NetproofError
from netproof.lab import leftovers
from netproof.lab.model.engine_start import EngineStart
from netproof.lab.model.topology import ROUTER, Topology
from netproof.lab.providers.base import LabHost, Provider
from netproof.lab.providers.sshhost import SshAccess, SshHost, SshTarget


class SshProvider(Provider):
    name = "ssh"
    capabilities = frozenset({"ipv6-underlay"})  # the hosts' own IPv6 addresses, as their inventory says them
    cannot = {"underlay-shaping": "uses the network the hosts are on, and changes nothing of it"}

    @property
    def access(self) -> SshAccess:
        return SshAccess(self.names.dir / "ssh")

    def preflight(self, topology: Topology) -> None:
        system.require_tools({"ssh": "openssh-client", "setsid": "util-linux", "timeout": "coreutils"})
        if topology.ssh is None:
            raise NetproofError(
                f"{topology.source}: provider ssh needs an ssh: section (user, identity, proxy_command)"
            )

    def up(self, topology: Topology, engine_start: EngineStart) -> dict:
        login = topology.ssh
        self.access.write(
            [
                SshTarget(
                    name,
                    address,
                    login.user,
                    login.port,
                    login.identity,
                    login.proxy_command,
                    host_keys=login.host_keys,
                    known_hosts=str(self.access.known_hosts),
                )
                for name, address in login.addresses.items()
            ],
            users_config=Path.home() / ".ssh" / "config",
        )
        hosts = self.hosts(topology)
        with self.progress.step(
            f"logging in on {len(hosts)} hosts over SSH ({login.user}@, config {self.access.config})"
        ):
            for host in hosts.values():
                answer = host.run(["true"], timeout=30)
                if not answer.ok:
                    raise NetproofError(
                        f"{host.name}: cannot log in over SSH: {(answer.stderr or answer.stdout).strip()}"
                        f" (try: ssh -F {self.access.config} {host.name})"
                    )
        with self.progress.step(f"opening SSH tunnels to {len(topology.docker_hosts)} docker sockets"):
            for spec in topology.docker_hosts:
                self.access.open_docker_tunnel(spec.name)
        engines = {}
        for spec in topology.docker_hosts:
            version = hosts[spec.name].docker().version()
            engines[spec.name] = version.get("Version", "?")
            flags = engine_start.flags.get(spec.name)
            if flags:  # the control plane needs flags this provider cannot set: the host must have them
                info = hosts[spec.name].docker().info()
                if not info.get("ClusterStore"):
                    raise NetproofError(
                        f"{spec.name}: its dockerd runs without {' '.join(flags)}; netproof does not"
                        " reconfigure hosts it did not make: start it with those flags, or use control_plane: swarm"
                    )
        configured = [spec for spec in topology.docker_hosts if spec.daemon]
        if configured:
            with self.progress.step(f"reading the daemon.json of {len(configured)} hosts (netproof changes none)"):
                differ = [d for spec in configured for d in daemon_differences(hosts[spec.name], spec.daemon)]
            if differ:
                raise NetproofError(
                    f"{topology.source}: daemon: the hosts run Docker configured otherwise; netproof does not "
                    "reconfigure hosts it did not make: change the topology's daemon: or the hosts\n  "
                    + "\n  ".join(differ)
                )
        return {"engines": engines}

    def down(self) -> None:
        # Only netproof's own processes (tunnels, SSH control masters: they name the lab's folder)
        # and the folder itself; nothing on the hosts.
        left = leftovers.remove(self.names.lab)
        if left:
            raise NetproofError(f"lab {self.names.lab}: could not remove {'; '.join(left.describe())}")

    def hosts(self, topology: Topology) -> dict[str, LabHost]:
        login = topology.ssh
        hosts: dict[str, LabHost] = {
            name: SshHost(spec, self.access, login.user) for name, spec in topology.hosts.items()
        }
        if ROUTER in login.addresses:
            hosts[ROUTER] = SshHost(topology.router, self.access, login.user)
        return hosts

    def status(self, host: LabHost) -> dict:
        return host.status_facts()

    def engine_log(self, host: LabHost, since: float, until: float) -> str:
        return host.engine_log(since, until)


DEFAULT_DAEMON_JSON = "/etc/docker/daemon.json"


def daemon_config_file(dockerd_args: str) -> str:
    """The daemon.json a running dockerd reads: its --config-file, else Docker's default."""
    words = dockerd_args.split()
    for i, word in enumerate(words):
        if word.startswith("--config-file="):
            return word.split("=", 1)[1]
        if word == "--config-file" and i + 1 < len(words):
            return words[i + 1]
    return DEFAULT_DAEMON_JSON


def compare_daemon(host: str, path: str, wanted: dict, found: dict) -> list[str]:
    """Each daemon: key of the topology whose value the host's daemon.json does not have, named with both."""
    return [
        f"{host}: daemon.{key}: the topology says {json.dumps(value)}, {path} "
        + (f"says {json.dumps(found[key])}" if key in found else "does not set it")
        for key, value in wanted.items()
        if key not in found or json.dumps(found[key], sort_keys=True) != json.dumps(value, sort_keys=True)
    ]


def daemon_differences(host: LabHost, wanted: dict) -> list[str]:
    """What the host's running dockerd is configured with, against the topology's daemon: for it."""
    args = host.run(["ps", "-ww", "-o", "args=", "-C", "dockerd"]).stdout.strip().splitlines()
    path = daemon_config_file(args[0] if args else "")
    read = host.run(["cat", path])
    try:
        found = json.loads(read.stdout) if read.ok and read.stdout.strip() else {}
    except json.JSONDecodeError as e:
        return [f"{host.name}: {path} is not JSON ({e})"]
    return compare_daemon(host.name, path, wanted, found)
