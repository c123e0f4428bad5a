"""netproof's own small programs (kit/flow_agent.py, kit/dns_agent.py), each run by a lab host's python3 inside a
network namespace netproof names (a container's, or the host's own): its source is sent on the command line, so
nothing is installed in the containers and no image is needed. Every agent carries a token on its command line, by
which it is stopped on its host even where the provider's channel (ssh) would leave it running, and by which the
lab's cleanup finds it (lab/leftovers.py)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from netproof import wait
from netproof.errors import LabBroken
from netproof.kit.namespaces import NetNamespace

AGENTS = Path(__file__).parent
READY = 15.0  # seconds an agent's python3 may take to listen (a VM under emulation is slow to start python)


def source(name: str) -> str:
    """An agent's program text (kit/<name>.py)."""
    return (AGENTS / f"{name}.py").read_text()


@dataclass
class Agent:
    """One running agent: where it runs, what it was told, and where its event lines go."""

    where: NetNamespace
    program: str  # the source
    argv: list[str]
    out: Path
    token: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> Agent:
        enter = ["nsenter", f"--net={self.where.path}"] if self.where.path else []
        argv = [*enter, "python3", "-u", "-c", self.program, *self.argv, self.token]
        command = self.where.host.interactive_argv(argv)
        self.process = subprocess.Popen(
            command, stdout=self.out.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        return self

    def await_ready(self, what: str) -> None:
        """Until it says "ready"; LabBroken (with what it said) if it ended first: python3 missing, say."""
        wait.until(
            lambda: "ready " in self.out.read_text(errors="replace") or self.ended,
            timeout=READY,
            interval=0.05,
            what=what,
        )
        if self.ended:
            raise LabBroken(f"{what}: it did not start on {self.where.where}: {self.said}")

    @property
    def ended(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    @property
    def said(self) -> str:
        return self.out.read_text(errors="replace").strip()[-300:] or "nothing"

    def lines(self) -> list[str]:
        return self.out.read_text(errors="replace").splitlines()

    def stop(self) -> None:
        """Stopped on its host too, where a provider's channel would leave it running."""
        self.where.host.run(["pkill", "-f", self.token], timeout=15)
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
