"""End-to-end tests of labs: real namespaces, real dockerd, real etcd. They need root.

The oracle for "nothing left behind" is independent of netproof's own cleanup code: it looks at
the machine the way an operator would (ip netns, /proc, /proc/mounts, cgroups, the state folder)
and compares the machine's own interfaces and firewall with how they were before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from netproof import catalogue, wait
from netproof.jobs import checkrun
from netproof.lab.model.names import state_root
from netproof.report import results

from .harness import bring_up, claim, nothing_left_by_the_session, take_down  # noqa: F401 - fixtures and helpers

PROCESS_EXIT_SECONDS = 5
LAB_COMMANDS = (
    "dockerd",
    "containerd",
    "etcd",
    "containerd-shim",
    "containerd-shim-runc-v2",
    "tcpdump",
    "runc",
    "docker-proxy",
    "ssh",
    "sshd",
    "libvirtd",
    "dnsmasq",
    "qemu-system-x86",
    "vagrant",
    "ruby",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="end-to-end lab tests need root"))


ROOT = Path(__file__).parents[2]
CATALOGUE = catalogue.load(ROOT / "checks")
CHECK_IDS = {c.id for c in CATALOGUE}


def expected_cases(lab) -> int:
    """How many cases the catalogue's checks make on a lab: one per host pair, docker host, or lab, by scope, for
    each of a check's variants."""
    per_scope = {"pair": len(lab.topology.host_pairs()), "host": len(lab.docker_hosts), "lab": 1}
    return sum(per_scope[c.scope] * c.variant_count for c in CATALOGUE)


@dataclass
class ChecksRun:
    """A pytest run of the checks in a subprocess: its output, and each check case's outcome from its results.json."""

    done: subprocess.CompletedProcess
    outcomes: dict[str, str]  # "OVL-PING-001[swarm-docker1-to-docker4]" -> outcome, in netproof's words
    report: Path

    @property
    def returncode(self) -> int:
        return self.done.returncode

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr

    def results(self) -> results.Results:
        return results.load(self.report)

    def why_failed(self, limit: int = 6000) -> str:
        """The failed and errored cases first, with their messages and evidence, then the output's end: a run's
        summary of xfails must not push the one failure out of an assertion message."""
        lines = [line for line in self.output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
        if (self.report / "results.json").exists():
            for case in self.results().checks:
                if case.outcome in ("failed", "error"):
                    lines.append(f"{case.id}[{case.case}] {case.outcome}: {case.message}")
                    lines.extend(f"  evidence: {item}"[:600] for item in case.evidence)
        head = "\n".join(lines)[: limit // 2]
        return f"{head}\n--- the output's end ---\n{self.output[-(limit - len(head)) :]}"


def run_checks(
    lab: str | None,
    report: Path,
    *,
    select: str | None = None,
    workers: str | int | None = "auto",
    extra: tuple[str, ...] = (),
    env: dict | None = None,
    timeout: float = 900,
    checks: Path = ROOT / "checks",
    footprint: bool = False,
) -> ChecksRun:
    """The checks in a subprocess. Without the footprint unless asked: it is tested where it is the subject
    (and in the full runs), and costs 7 to 12 s a run."""
    flags = () if footprint else ("--no-footprint",)
    argv = checkrun.pytest_argv(
        checks, lab, report_dir=report, select=select, workers=workers, extra=("-q", "-rfExX", *flags, *extra)
    )
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    outcomes = {}
    if (report / "results.json").exists():
        outcomes = {f"{c.id}[{c.case}]": c.outcome for c in results.load(report).checks}
    return ChecksRun(done, outcomes, report)


def run_upgrade(
    tmp_path: Path,
    name: str,
    *args: str,
    select: str | None = None,
    lab_file: str = "labs/seed.yml",
    timeout: float = 1500,
) -> tuple[subprocess.CompletedProcess, Path]:
    """`netproof upgrade` in a subprocess on a lab of its own (claimed by name), every check unless `select`ed;
    what it printed, and its folder."""
    narrowed = ["--select", select] if select else []
    done = subprocess.run(
        [sys.executable, "-m", "netproof.cli", "upgrade", *args, *narrowed, "--name", claim(name)]
        + ["--reports", str(tmp_path), lab_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    folders = [p for p in tmp_path.iterdir() if p.name.startswith("upgrade-")]
    assert len(folders) == 1, (done.stdout + done.stderr)[-4000:]
    return done, folders[0]


def netproof(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "netproof.cli", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"netproof {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Machine:
    """What of the machine a lab must never change, and the lab processes it runs now."""

    interfaces: list[str]
    firewall: str
    lab_processes: set[int]

    @classmethod
    def now(cls) -> Machine:
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
        firewall = "".join(
            subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout
            for table in ("filter", "nat")
        )
        return cls(sorted(line.split(":")[1].strip() for line in links.splitlines()), firewall, _lab_processes())


def _lab_processes() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if comm in LAB_COMMANDS or comm.startswith("containerd-shim") or argv0.startswith("netproof-host"):
                found.add(int(entry.name))
    return found


def _described(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "gone"


def assert_nothing_left(lab: str, before: Machine) -> None:
    # A process that is exiting (an SSH session just closed) is given a moment; one still there is named.
    stayed, _ = wait.poll(
        lambda: _lab_processes() - before.lab_processes, holds=lambda new: not new, timeout=PROCESS_EXIT_SECONDS
    )
    after = Machine.now()
    left = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left += [f"netns {line.split()[0]}" for line in netns.splitlines() if line.startswith(f"netproof.{lab}.")]
    left += [f"process {pid} ({_described(pid)})" for pid in sorted(stayed & after.lab_processes)]
    left += [
        f"mount {line.split()[1]}"
        for line in Path("/proc/mounts").read_text().splitlines()
        if f"/{lab}/" in line.split()[1] or f"netproof.{lab}." in line
    ]
    left += [f"cgroup {p}" for p in Path("/sys/fs/cgroup").glob(f"*/netproof.{lab}.*")]
    if (state_root() / lab).exists():
        left.append(f"folder {state_root() / lab}")
    assert not left, f"lab {lab} left behind: {left}"
    assert after.interfaces == before.interfaces, "the machine's own interfaces changed"
    assert after.firewall == before.firewall, "the machine's own firewall changed"


@pytest.fixture
def machine() -> Machine:
    return Machine.now()
