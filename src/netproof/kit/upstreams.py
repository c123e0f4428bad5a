"""DNS upstreams of a check's own, and questions asked from a container's namespace (kit/dns_agent.py).

An upstream is a container whose namespace runs a DNS server that answers one way (a name's address, NXDOMAIN,
SERVFAIL, REFUSED, or nothing at all); a container started with `--dns <its address>` makes Docker's embedded DNS
forward to it. What each upstream was asked is read back from its own log: the far end says whether the embedded
DNS asked it, and when.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from netproof.errors import LabBroken
from netproof.facts.docker import EMBEDDED_DNS
from netproof.kit import agents
from netproof.kit.agents import Agent
from netproof.kit.objects import Container
from netproof.system import CommandResult

AGENT = agents.source("dns_agent")
MODES = ("answer", "nxdomain", "servfail", "refused", "silent")


@dataclass(frozen=True)
class Query:
    at: float  # epoch, on the upstream's host
    peer: str  # ip:port it came from
    name: str
    qtype: str  # "A", "AAAA"
    reply: str  # "NOERROR:<address>", "NXDOMAIN", "SERVFAIL", "REFUSED", "none"

    def __str__(self) -> str:
        return f"{self.qtype} {self.name} from {self.peer}, answered {self.reply}"


@dataclass(frozen=True)
class Answer:
    rcode: str | None  # None: no answer within the question's time
    addresses: tuple[str, ...]
    seconds: float
    why: str = ""  # no answer, because of an error the socket met (port unreachable)

    def __str__(self) -> str:
        if self.rcode is None:
            return f"no answer in {self.seconds:.1f} s" + (f" ({self.why})" if self.why else "")
        return f"{self.rcode} {', '.join(self.addresses)} in {self.seconds:.2f} s".replace("  ", " ")


class DnsUpstream:
    """A DNS server answering one way (MODES) on udp 53 of a container: the container's address is the server's."""

    def __init__(self, container: Container, mode: str, records: dict[str, str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"no such upstream mode {mode!r}: one of {', '.join(MODES)}")
        self.container, self.mode, self.records = container, mode, dict(records or {})
        self._folder = Path(tempfile.mkdtemp(prefix="netproof-dns-"))
        argv = ["serve", mode, "53", *(f"{name}={address}" for name, address in self.records.items())]
        token = f"netproof-dns-{secrets.token_hex(5)}"
        self._agent = Agent(container.netns, AGENT, argv, self._folder / "server", token)
        self._lines: list[str] = []

    @property
    def address(self) -> str:
        return self.container.ip

    def __str__(self) -> str:
        return f"upstream {self.address} ({self.mode})"

    def start(self) -> DnsUpstream:
        self._agent.start().await_ready(f"the DNS upstream ({self.mode}) in {self.container}")
        return self

    def queries(self, name: str | None = None) -> list[Query]:
        """The queries it got so far (for `name` alone, if given), in the order they came."""
        lines = self._lines or self._agent.lines()
        found = [parse_query(line) for line in lines if line.startswith("query ")]
        return [q for q in found if q and (name is None or q.name == name.lower().rstrip("."))]

    def stop(self) -> None:
        if self._agent.process is None or self._lines:
            return
        self._agent.stop()
        self._lines = self._agent.lines() or ["stopped"]
        shutil.rmtree(self._folder, ignore_errors=True)


def parse_query(line: str) -> Query | None:
    words = line.split()
    if len(words) != 6:
        return None
    return Query(float(words[1]), words[2], words[3], words[4], words[5])


def parse_answer(said: str) -> Answer | None:
    """The client's event line (dns_agent.py's ask) read, or None if it said neither."""
    found = re.search(r"^answer \S+ (\S+) (\S+) (\S+)$", said, re.M)
    if found:
        addresses = () if found[3] == "-" else tuple(found[3].split(","))
        return Answer(found[1], addresses, float(found[2]))
    found = re.search(r"^(?:timeout|unanswered) \S+ (\S+) ?(.*)$", said, re.M)
    return Answer(None, (), float(found[1]), found[2].strip()) if found else None


def ask(asker: Container, name: str, timeout: float, server: str = EMBEDDED_DNS) -> tuple[CommandResult, Answer]:
    """One A query for `name` from the asker's namespace to `server` (its embedded DNS by default), by a socket of
    its own: the answer's response code is read exactly (busybox nslookup says only some). LabBroken if the query
    could not be sent (python3 missing on the host, the namespace gone)."""
    result = asker.netns.run(["python3", "-c", AGENT, "ask", server, name, str(timeout)], timeout=timeout + 15)
    answer = parse_answer(result.stdout)
    if answer is None:
        said = (result.stdout + result.stderr).strip()[-300:] or f"exit status {result.returncode}"
        raise LabBroken(f"a DNS question from {asker} could not be asked: {said}")
    return shown(result), answer


def shown(result: CommandResult) -> CommandResult:
    """The command as evidence shows it: the agent's source named, not spelled out."""
    named = [a.replace(shlex.quote(AGENT), PROGRAM).replace(AGENT, PROGRAM) for a in result.argv]
    return dataclasses.replace(result, argv=named)


PROGRAM = "<netproof/kit/dns_agent.py>"
