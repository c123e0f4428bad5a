"""Running commands on this machine, and checking it has what a lab needs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from netproof import timeline
from netproof.errors import NetproofError

T = TypeVar("T")
R = TypeVar("R")

# The command a lab needs, and the Debian package that provides it.
TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "setsid": "util-linux",
    "mount": "mount",
    "iptables": "iptables",
    "containerd": "containerd",
    "runc": "runc",
    "ping": "iputils-ping",  # the lab doctor's don't-fragment pings (busybox ping has no -M do)
    "busybox": "busybox-static",
}
KV_TOOLS = {"etcd": "etcd-server"}
OUTSIDE_TOOLS = {"dnsmasq": "dnsmasq-base"}  # the outside host's DNS server
NFTABLES_TOOLS = {"nft": "nftables"}  # Docker's nftables firewall backend runs the nft tool


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    where: str = "this machine"

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def __str__(self) -> str:
        out = (self.stdout + self.stderr).strip()
        return f"[{self.where}] $ {self.command}\n(exit {self.returncode})\n{out}"


class CommandError(NetproofError):
    def __init__(self, result: CommandResult):
        self.result = result
        detail = (result.stderr or result.stdout).strip().splitlines()
        super().__init__(
            f"{result.where}: `{result.command}` failed (exit {result.returncode}): "
            f"{detail[-1] if detail else 'no output'}"
        )


def run(
    argv: list[str],
    *,
    check: bool = True,
    timeout: float | None = 60,
    where: str = "this machine",
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    capture: bool = True,
) -> CommandResult:
    """The one way netproof runs a command and reads its output (timeout None: as long as it takes;
    capture=False: the output goes to netproof's own, as the command writes it)."""
    started = time.monotonic()
    try:
        stdin = None if input is not None else subprocess.DEVNULL
        given = input.encode() if input is not None else None
        done = subprocess.run(argv, capture_output=capture, timeout=timeout, input=given, stdin=stdin, env=env, cwd=cwd)
    except FileNotFoundError:
        raise NetproofError(f"{where}: command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired as e:
        timeline.record(timeline.command_kind(argv), time.monotonic() - started)
        result = CommandResult(
            argv, -1, decoded(e.stdout), decoded(e.stderr) + f"\n(timed out after {timeout}s)", where
        )
        if check:
            raise CommandError(result) from None
        return result
    timeline.record(timeline.command_kind(argv), time.monotonic() - started)
    result = CommandResult(argv, done.returncode, decoded(done.stdout), decoded(done.stderr), where)
    if check and not result.ok:
        raise CommandError(result)
    return result


def decoded(output: bytes | str | None) -> str:
    """A command's output as text: whatever bytes a host printed (a file name in Latin-1, a binary), none can raise."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def spawn(argv: list[str], log: Path) -> None:
    """Start a daemon detached from netproof (`setsid -f`: it outlives this process, init reaps it),
    its output appended to log. The one way netproof starts something that keeps running."""
    with open(log, "a") as out:
        subprocess.run(["setsid", "-f", *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True)


def require_root() -> None:
    if os.geteuid() != 0:
        raise NetproofError("netproof builds network namespaces and runs dockerd: run it as root (sudo netproof ...)")


def require_tools(tools: dict[str, str]) -> None:
    missing = {cmd: pkg for cmd, pkg in tools.items() if not shutil.which(cmd)}
    if missing:
        pkgs = " ".join(sorted(set(missing.values())))
        raise NetproofError(f"missing command(s) {', '.join(missing)}; install them: apt-get install {pkgs}")


def parallel(work: Callable[[T], R], items: Iterable[T], at_most: int = 8) -> list[R]:
    """work(item) for each item, at most `at_most` at once, the answers in the items' order; the first error raised
    is raised here. Lab hosts are independent machines: asking them one after the other only adds their waits."""
    items = list(items)
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(at_most, len(items))) as pool:
        return list(pool.map(work, items))


def write_atomically(path: Path, content: str | bytes) -> Path:
    """The file whole or not at all: written beside it and renamed over it, so a reader (netproof diff) never meets
    half a report, whatever stopped the writer."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = content.encode() if isinstance(content, str) else content
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    return path
