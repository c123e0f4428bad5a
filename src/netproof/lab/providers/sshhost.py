"""Lab hosts reached over SSH (the `vagrant` and `ssh` providers).

Commands go through pytest-testinfra's SSH backend with an ssh_config file netproof writes into
the lab's state folder (from `vagrant ssh-config`, or from the inventory), so `host.run`,
`host.infra` and the checks work as on any other provider. docker-py reaches each host's daemon
through an SSH-forwarded copy of its socket, also in the lab's folder: a tunnel started when the
lab comes up, which `netproof lab clean` finds by that folder on its command line.

Every SSH connection leaves from where the config says: a ProxyCommand (into the namespace that
holds the lab's networks, or through the user's bastion) is how the lab is reached, so no packet
for a lab address is ever sent out of this machine's own interfaces.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
import testinfra

from netproof import system, timeline, wait
from netproof.errors import LabBroken, NetproofError
from netproof.facts import budgets
from netproof.lab.model.topology import Host
from netproof.lab.providers.base import LabHost
from netproof.system import CommandError, CommandResult

REMOTE_DOCKER_SOCKET = "/var/run/docker.sock"
START_MARK = "netproof-command-starts"
EXIT_MARK = "netproof-exit-status="


def framed_result(argv: list[str], stdout: str, stderr: str, *, where: str) -> CommandResult:
    """A remote command's own output and status, cut out of what came back over SSH: the login
    shell's rc files may print before the start marks (a user's pyenv, a banner), and the exit
    mark carries the command's status. Without both marks the command never ran, or never ended."""
    before_out, started_out, own_out = stdout.partition(START_MARK + "\n")
    before_err, started_err, own_err = stderr.partition(START_MARK + "\n")
    own_err, ended, status = own_err.rpartition(EXIT_MARK)
    if not (started_out and started_err and ended and status.strip().isdigit()):
        said = (stderr.replace(START_MARK + "\n", "").rsplit(EXIT_MARK, 1)[0]).rstrip()
        return CommandResult(argv, 255, own_out or before_out, said + "\n(no answer over SSH)", where=where)
    return CommandResult(argv, int(status), own_out, own_err, where=where)


@dataclass(frozen=True)
class SshTarget:
    """Where one lab host answers SSH, as an ssh_config Host block says it."""

    alias: str  # the host's lab name, used as the Host alias
    hostname: str
    user: str
    port: int = 22
    identity: str | None = None
    proxy_command: str | None = None
    # Whose host keys: "lab" (VMs the lab made and remakes: their keys mean nothing, and nothing is checked),
    # "known" (a user's hosts: checked against the user's own known_hosts; a key that changed is an error), or
    # "accept-new" (a user's hosts: a new host's key is kept in the lab's own known_hosts, a changed one refused).
    host_keys: str = "lab"
    known_hosts: str | None = None  # the lab's own file, for accept-new

    def config_block(self) -> str:
        lines = [f"Host {self.alias}", f"  HostName {self.hostname}", f"  User {self.user}", f"  Port {self.port}"]
        if self.identity:
            lines += [f"  IdentityFile {self.identity}", "  IdentitiesOnly yes"]
        if self.proxy_command:
            lines.append(f"  ProxyCommand {self.proxy_command}")
        if self.host_keys == "lab":  # made and remade with new host keys; their addresses mean nothing outside
            lines += ["  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null"]
        elif self.host_keys == "accept-new":
            lines += ["  StrictHostKeyChecking accept-new", f"  UserKnownHostsFile {self.known_hosts}"]
        else:
            lines += ["  StrictHostKeyChecking yes"]  # the user's own known_hosts, as their ssh reads them
        lines += [
            "  LogLevel ERROR",
            "  ServerAliveInterval 5",
            "  ServerAliveCountMax 3",
            "  BatchMode yes",
            "  ConnectTimeout 10",
        ]
        return "\n".join(lines) + "\n"


class SshAccess:
    """The lab's SSH files: one ssh_config for all hosts, control sockets, forwarded docker sockets."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.config = folder / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.folder / "known_hosts"

    def write(self, targets: Sequence[SshTarget], users_config: Path | None = None) -> None:
        """The lab's ssh_config. With `users_config` (a user's hosts), the user's own ~/.ssh/config is read after the
        lab's blocks: what they do not set (a jump host, ciphers, agent, keys) comes from it, as in the user's ssh."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        # One connection per host, shared by every command (checks run many small ones).
        shared = f"Host *\n  ControlMaster auto\n  ControlPath {self.folder}/%C\n  ControlPersist 120\n"
        users = f"Match all\n  Include {users_config}\n" if users_config and users_config.is_file() else ""
        self.config.write_text("".join(t.config_block() for t in targets) + shared + users)

    def docker_socket(self, host: str) -> Path:
        return self.folder / f"{host}.docker.sock"

    def ssh_argv(self, host: str, *args: str) -> list[str]:
        return ["ssh", "-F", str(self.config), *args, host]

    def reopen_docker_tunnel(self, host: str, timeout: float | None = None) -> str | None:
        """Re-open a forward that dropped: None once the socket answers again, else why it could not be.
        Workers of one run share the tunnel: one re-opens it, the others find it answering."""
        sock = self.docker_socket(host)
        with open(self.folder / f"{host}.tunnel.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if docker_socket_answers(sock):
                return None
            system.run(["pkill", "-f", "--", f"-L {sock}:"], check=False)  # the old forward, if it lingers
            try:
                self.open_docker_tunnel(host, timeout)
            except NetproofError as e:
                return str(e)
            return None if docker_socket_answers(sock) else f"the new forward to {sock} does not answer"

    def open_docker_tunnel(self, host: str, timeout: float | None = None) -> None:
        """Forward the host's docker socket to a socket in the lab folder; returns once it answers."""
        sock = self.docker_socket(host)
        sock.unlink(missing_ok=True)
        argv = self.ssh_argv(
            host,
            "-N",
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "StreamLocalBindUnlink=yes",
            "-L",
            f"{sock}:{REMOTE_DOCKER_SOCKET}",
        )
        log = self.folder / f"{host}.tunnel.log"
        log.unlink(missing_ok=True)
        system.spawn(argv, log)

        def why() -> str:
            said = log.read_text().strip().splitlines()
            return f"ssh said: {said[-1] if said else 'nothing'}; try: ssh -F {self.config} {host} docker version"

        wait.until(
            sock.exists,
            timeout=timeout or budgets.SSH_TUNNEL,
            what=f"the SSH tunnel to {host}'s docker socket",
            hint=why,
        )


def docker_socket_answers(sock: Path, timeout: float = 5) -> bool:
    """Whether a Docker API answers on the socket (GET /_ping), without docker-py's own retries."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b"OK" in conn.recv(4096)
    except OSError:
        return False


class TunnelledAPIClient(docker.APIClient):
    """docker-py through the lab's SSH-forwarded socket, treating the forward as a lab part: a request that
    finds it dropped re-opens it once and is sent again if it had not gone out; otherwise the request
    ends as a lab error of one line that names the host and the tunnel."""

    def __init__(self, lab_host: SshHost, **kwargs):
        self.lab_host = lab_host  # before APIClient's own first request (version="auto")
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        try:
            return super().send(request, **kwargs)
        except requests.exceptions.ConnectionError as e:
            said = str(e)
            never_sent = "Connection refused" in said or "No such file or directory" in said
            sock = self.lab_host.access.docker_socket(self.lab_host.name)
            why_not = self.lab_host.access.reopen_docker_tunnel(self.lab_host.name)
            if why_not is None and never_sent:
                return super().send(request, **kwargs)
            lost = "dropped" if never_sent else "dropped during a request"
            mended = "re-opened it" if why_not is None else f"could not re-open it: {why_not}"
            raise LabBroken(f"{self.lab_host.name}: the SSH-forwarded docker socket {sock} {lost}; {mended}") from None


class TunnelledDockerClient(docker.DockerClient):
    def __init__(self, lab_host: SshHost, **kwargs):
        self.api = TunnelledAPIClient(lab_host, **kwargs)


class SshHost(LabHost):
    """A lab host reached over SSH; commands run as root (through sudo when the login user is not root)."""

    def __init__(self, spec: Host, access: SshAccess, user: str):
        super().__init__(spec)
        self.access = access
        self.sudo = user != "root"
        self._backend_host = None

    @property
    def infra(self):
        """pytest-testinfra's own SSH backend, configured by the lab's ssh_config."""
        if self._backend_host is None:
            self._backend_host = testinfra.get_host(
                f"ssh://{self.name}",
                ssh_config=str(self.access.config),
                sudo=self.sudo,
                controlpersist=0,  # the lab's ssh_config sets up connection sharing
            )
        return self._backend_host

    def run(self, cmd: str | Sequence[str], *, timeout: float = 60, check: bool = False) -> CommandResult:
        argv = self.argv(cmd)
        # The remote side enforces the timeout (the SSH backend has none for a command) and
        # reports the command's own exit status, which ssh's 255 for a failed connection would
        # otherwise hide (testinfra raises on 255 whatever its cause). The start marks cut off
        # what the login shell's rc files print before the command runs.
        remote = (
            f"echo {START_MARK}; echo {START_MARK} >&2; "
            + shlex.join(["timeout", "-k", "2", str(int(timeout)), *argv])
            + f"; echo {EXIT_MARK}$? >&2"
        )
        try:
            out = self.infra.backend.run(remote)
        except RuntimeError as e:  # testinfra's "exit 255": the command's own, or SSH's
            out = e.args[0] if e.args and hasattr(e.args[0], "rc") else None
            if out is None:
                raise
        result = framed_result(argv, out.stdout, out.stderr, where=self.name)
        if result.returncode == 124:
            result.stderr += f"\n(timed out after {timeout}s)"
        if check and not result.ok:
            raise CommandError(result)
        return result

    def status_facts(self) -> dict:
        """What `lab status` shows of the host: whether it answers, how to log in, its dockerd."""
        facts = {"alive": self.run(["true"], timeout=15).ok, "ssh": shlex.join(self.access.ssh_argv(self.name))}
        if self.role == "docker" and facts["alive"]:
            facts["dockerd_pid"] = self.dockerd_pid()
            facts["docker_socket"] = str(self.access.docker_socket(self.name))
        return facts

    def dockerd_pid(self) -> int | None:
        """The pid of dockerd on the host, as its pid file says, or None when it does not run."""
        out = self.run(["sh", "-c", "p=$(cat /run/docker.pid) && kill -0 $p && echo $p"], timeout=15)
        return int(out.stdout) if out.ok and out.stdout.strip().isdigit() else None

    def engine_log(self, since: float, until: float) -> str:
        """dockerd's lines in the host's journal between two epoch times (systemd's docker.service)."""
        journal = self.run(
            [
                "journalctl",
                "-u",
                "docker.service",
                "-o",
                "short-iso-precise",
                "--no-pager",
                "-q",
                "--since",
                f"@{int(since)}",
                "--until",
                f"@{int(until) + 1}",
            ],
            timeout=30,
        )
        if not journal.ok:
            return f"(no dockerd log from {self.name}'s journal: {(journal.stderr or journal.stdout).strip()[-200:]})"
        return journal.stdout.strip()

    def interactive_argv(self, cmd: Sequence[str]) -> list[str]:
        # ssh joins its arguments into one string for the remote shell: quote them, or `sh -c '...'` breaks.
        return [*self.access.ssh_argv(self.name, "-t"), shlex.join((["sudo", "--"] if self.sudo else []) + list(cmd))]

    @property
    def docker_url(self) -> str:
        return f"unix://{self.access.docker_socket(self.name)}"

    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            try:
                self._docker = TunnelledDockerClient(
                    self, base_url=self.docker_url, version="auto", timeout=self.api_timeout
                )
            except docker.errors.DockerException as e:  # its first request (the API version) met a lost tunnel
                if isinstance(e.__cause__, LabBroken):
                    raise e.__cause__ from None
                raise
            self._docker.api.hooks["response"].append(timeline.api_response)  # as every provider's (base.py)
        return self._docker
