"""What every provider offers: hosts to run commands on, and a lab's life cycle.

Checks and the control-plane setup see only these two classes; they never know whether a
host is a network namespace, a VM or a machine reached over SSH.
"""

from __future__ import annotations

import base64
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import docker
import testinfra.host
from testinfra.backend import base as testinfra_base
from urllib3.util.retry import Retry

from netproof import timeline
from netproof.facts import budgets
from netproof.lab.engines import Engine
from netproof.lab.model.engine_start import EngineStart
from netproof.lab.model.names import LabNames
from netproof.lab.model.topology import Host, Topology
from netproof.progress import Progress
from netproof.system import CommandResult


class LabHost(ABC):
    """One host of a running lab, as the lab's topology describes it."""

    def __init__(self, spec: Host):
        self.spec = spec
        self._docker: docker.DockerClient | None = None

    name = property(lambda self: self.spec.name)
    role = property(lambda self: self.spec.role)
    address = property(lambda self: str(self.spec.address))
    address6 = property(lambda self: str(self.spec.address6) if self.spec.address6 else None)  # dual-stack underlay
    engine = property(lambda self: self.spec.engine)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.address}>"

    @abstractmethod
    def run(self, cmd: str | Sequence[str], *, timeout: float = 60, check: bool = False) -> CommandResult:
        """Run a command on the host, as if logged in on it (a string goes through sh -c)."""

    @property
    def infra(self):
        """A pytest-testinfra host on this lab host (host.infra.interface("eth0").addresses, .iptables.rules())."""
        if getattr(self, "_infra", None) is None:
            self._infra = testinfra.host.Host(_LabHostBackend(self))
        return self._infra

    def read_file(self, path: str) -> bytes:
        """A file's bytes from the host, through its command channel (works on every provider)."""
        return base64.b64decode(self.run(["base64", path], check=True).stdout)

    @abstractmethod
    def interactive_argv(self, cmd: Sequence[str]) -> list[str]:
        """The command line that runs cmd on the host attached to this terminal."""

    @property
    @abstractmethod
    def docker_url(self) -> str:
        """Where this host's Docker daemon answers, for docker-py and the docker CLI."""

    # Seconds docker-py waits for the daemon's answer: a provider whose hosts are slower (VMs under software
    # emulation) gives its hosts more.
    api_timeout: float = budgets.DOCKER_API

    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            self._docker = docker.DockerClient(base_url=self.docker_url, version="auto", timeout=self.api_timeout)
            for adapter in self._docker.api.adapters.values():
                adapter.max_retries = ASK_AGAIN
            self._docker.api.hooks["response"].append(timeline.api_response)  # each call, on its case's timeline
        return self._docker

    def engine_answer(self, timeout: float = budgets.DOCTOR_ENGINE) -> dict:
        """The daemon's version answer, within a few seconds: asked of a client of its own, so that a hung daemon is
        found at once, where the shared client would wait its whole API timeout. Raises what docker-py raises."""
        with docker.APIClient(base_url=self.docker_url, version="auto", timeout=timeout) as client:
            return client.version()

    def engine_changed(self) -> None:
        """Another dockerd answers now (an upgrade, a rollback): the client negotiates its API version again
        (a client that spoke 1.51 to 28.5 is refused by 26.1, whose maximum is 1.45)."""
        if self._docker is not None:
            self._docker.close()
        self._docker = None

    @staticmethod
    def argv(cmd: str | Sequence[str]) -> list[str]:
        return ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)


# A question (GET) the daemon refused or dropped before answering is asked again, twice, a moment later: seen in
# CI on 20.10 with the key-value store, `docker info` refused once in the middle of a check (connection refused on
# its socket) while the daemon answered before and after. What changes something is never sent twice.
ASK_AGAIN = Retry(total=2, connect=2, read=2, status=0, other=0, allowed_methods={"GET", "HEAD"}, backoff_factor=0.3)


class _LabHostBackend(testinfra_base.BaseBackend):
    """pytest-testinfra on a lab host: commands go through the host's own command channel, so
    `host.infra.interface(...)`, `.iptables`, `.run` work on every provider."""

    NAME = "netproof"

    def __init__(self, lab_host: LabHost, **kwargs: Any):
        self.lab_host = lab_host
        super().__init__(lab_host.name, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> testinfra_base.CommandResult:
        command = self.get_command(command, *args)
        done = self.lab_host.run(command)
        # str, not bytes: testinfra would otherwise run python on the host to learn its encoding.
        return self.result(done.returncode, self.encode(command), done.stdout, done.stderr)


class Provider(ABC):
    """Builds a lab's hosts and runs their Docker engines; one module per provider."""

    name: str
    # What the provider can do with a topology, declared here and judged in one place (refuse_what_it_cannot):
    #   builds-hosts      the lab makes its hosts and removes them (else they exist before and after it, and
    #                     nothing on them is changed)
    #   engine-control    it stops and starts engines in place (netproof upgrade)
    #   underlay-shaping  a subnet's mtu, the router's drop_fragments
    #   ipv6-underlay     a subnet's cidr6 given to (or, on hosts that exist, found on) its hosts
    capabilities: frozenset[str] = frozenset()
    cannot: dict[str, str] = {}  # why not, for a capability it lacks, as the refusal says it

    @property
    def owns_hosts(self) -> bool:
        return "builds-hosts" in self.capabilities

    def refuse_what_it_cannot(self, topology: Topology) -> None:
        """A topology that asks for what this provider cannot do, refused before anything is built, naming the keys."""
        if "underlay-shaping" not in self.capabilities:
            topology.refuse_underlay_options(
                self.name, self.cannot.get("underlay-shaping", "cannot shape the underlay")
            )
        if "ipv6-underlay" not in self.capabilities:
            topology.refuse_ipv6_underlay(self.name, self.cannot.get("ipv6-underlay", "gives its hosts IPv4 only"))

    # How much longer than on this machine's namespaces things take on this provider's hosts: every
    # wait that guards a check (and the lab's readiness) is multiplied by it. The one setting for that.
    patience = 1.0

    def __init__(self, names: LabNames, progress: Progress):
        self.names = names
        self.progress = progress

    @abstractmethod
    def preflight(self, topology: Topology) -> None:
        """Refuse, before anything is built, what cannot work (missing tools, leftovers in the way)."""

    @abstractmethod
    def up(self, topology: Topology, engine_start: EngineStart) -> dict:
        """Build every host and start each docker host's engine as the control plane needs it.
        Returns what the provider needs to find the lab again (kept in the state file)."""

    @abstractmethod
    def down(self) -> None:
        """Remove everything the lab made, even parts that a failed `up` left half-built."""

    @abstractmethod
    def hosts(self, topology: Topology) -> dict[str, LabHost]:
        """Handles on the hosts of a lab that is up."""

    @abstractmethod
    def status(self, host: LabHost) -> dict:
        """Provider facts about one host: whether it is alive, its engine's process."""

    @abstractmethod
    def engine_log(self, host: LabHost, since: float, until: float) -> str:
        """The host's dockerd log lines between two times (seconds since the epoch): attached to a
        check's evidence when it fails or errors."""


class EngineControl(ABC):
    """A capability: stopping a docker host's engine and starting one (another version too) on the
    same data root, as an operator upgrades in place. `netproof upgrade` needs it."""

    @abstractmethod
    def stop_engine(self, host: str) -> str | None:
        """Stop the host's dockerd and wait until it is gone, as the host's service manager would (SIGTERM, and
        after its stop timeout SIGKILL); what an operator would want to know of it (a slow stop, a kill), or None."""

    @abstractmethod
    def start_engine(self, host: str, engine: Engine, flags: list[str], config: dict | None = None) -> None:
        """Start that engine's dockerd on the host with its daemon.json settings, if any (returns at once; see
        wait_engine)."""

    @abstractmethod
    def wait_engine(self, host: str, gossip_port: int | None = None) -> None:
        """Until the host's dockerd answers (and, if given, listens on its gossip port)."""


LOGRUS_TIME = re.compile(r'^time="([^"]+)"')


def log_lines_between(text: str, since: float, until: float) -> str:
    """The lines of a logrus-style log (dockerd's, containerd's: `time="2026-11-28T15:00:01.12Z" ...`)
    stamped between two epoch times; a line without a stamp goes with the line before it."""
    kept, keeping = [], False
    for line in text.splitlines():
        stamp = LOGRUS_TIME.match(line)
        if stamp:
            try:
                moment = datetime.fromisoformat(_to_micros(stamp.group(1))).timestamp()
            except ValueError:
                moment = None
            keeping = moment is not None and since <= moment <= until
        if keeping:
            kept.append(line)
    return "\n".join(kept)


# How a Go program's end reads in its log: a panic, the runtime's fatal error, a signal's dump (SIGABRT: abort);
# logrus's fatal level; and dockerd's own words when it was stopped.
_CRASH = re.compile(r"^(panic: .*|fatal error: .*|SIG[A-Z]+: .*)$", re.MULTILINE)
_FATAL = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')
_ERROR = re.compile(r'level=error msg="((?:[^"\\]|\\.)*)"')
_STOPPED = ("Daemon shutdown complete", "Processing signal 'terminated'")


def last_words(log: str) -> tuple[str, str]:
    """How a dockerd that is no longer running ended, from its log's tail: ("crashed", the panic or the runtime's
    fatal words), ("fatal", its fatal message), ("stopped", "...") when it shut down as asked, else ("ended", its
    last error, or its last line)."""
    tail = log[-200_000:]
    crash = list(_CRASH.finditer(tail))
    if crash:
        return "crashed", crash[0].group(1).strip()
    fatal = _FATAL.findall(tail)
    if fatal:
        return "fatal", fatal[-1]
    lines = [line for line in tail.splitlines() if line.strip()]
    if any(words in line for line in lines[-20:] for words in _STOPPED):
        return "stopped", "it shut down as asked (" + next(
            w for w in _STOPPED if any(w in ln for ln in lines[-20:])
        ) + ")"
    errors = _ERROR.findall(tail)
    return "ended", (errors[-1] if errors else (lines[-1][-200:] if lines else "its log is empty"))


def _to_micros(stamp: str) -> str:
    """RFC 3339 with nanoseconds (Go's) cut to what fromisoformat reads."""
    head, dot, rest = stamp.partition(".")
    if not dot:
        return stamp.replace("Z", "+00:00")
    digits = "".join(ch for ch in rest if ch.isdigit())
    zone = rest[len(digits) :].replace("Z", "+00:00")
    return f"{head}.{digits[:6].ljust(6, '0')}{zone}"
