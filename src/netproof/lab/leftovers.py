"""Finding and removing what netns labs leave on the machine, by name alone.

Nothing here reads a state file, so it works when the state is lost or the processes were
killed: a lab's pieces are recognised by the names netproof gives them (see lab/names.py).
  - processes: inside a lab network namespace, in a lab cgroup (containers), naming a lab's
    state folder on their command line (dockerd, etcd), or marked as a lab host's holder;
  - network namespaces /run/netns/netproof.<lab>.<host>;
  - cgroups netproof.<lab>.<host> (where dockerd put containers);
  - mounts under a lab's state folder, and the state folder itself.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from netproof import system, wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.lab.model.names import HOLDER_MARK, LOCK_DIR, NAME_RE, PREFIX, LabNames, state_root

CGROUP_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")
SYSTEMD_UNITS = (".slice", ".service", ".scope", ".socket", ".mount")


@dataclass
class Leftovers:
    processes: dict[int, str] = field(default_factory=dict)  # pid -> command line
    netns: list[str] = field(default_factory=list)
    cgroups: list[Path] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.processes or self.netns or self.cgroups or self.mounts or self.dirs)

    def describe(self) -> list[str]:
        lines = [f"process {pid}: {cmd[:120]}" for pid, cmd in sorted(self.processes.items())]
        lines += [f"network namespace {n}" for n in self.netns]
        lines += [f"cgroup {c}" for c in self.cgroups]
        lines += [f"mount {m}" for m in self.mounts]
        lines += [f"folder {d}" for d in self.dirs]
        return lines


# Daemons netproof starts inside a lab host. One of them whose command line names a lab's folder, in a network
# namespace other than the machine's, is the lab's even when its namespace has lost its name; a user's `tail -f` of
# a lab's log (another program, in the machine's namespace) is not.
LAB_DAEMONS = ("dockerd", "containerd", "etcd", "dnsmasq", "sshd", "libvirtd", "virtlogd")


def find(lab: str | None = None) -> Leftovers:
    """Every leftover of one lab, or of every netproof lab when lab is None (an empty name is refused: it is not
    "every lab")."""
    if lab is not None:
        LabNames(lab)  # refuses a name that could reach beyond the lab's own resources
    ns_prefix = f"{PREFIX}.{lab}." if lab is not None else f"{PREFIX}."
    lab_dir = state_root() / lab if lab is not None else state_root()
    holder_prefix = f"{HOLDER_MARK} {lab}/" if lab is not None else f"{HOLDER_MARK} "
    path_mark = f"{lab_dir}/"

    netns = sorted(p.name for p in NETNS_DIR.glob(f"{ns_prefix}*")) if NETNS_DIR.is_dir() else []
    inodes = set()
    for name in netns:
        try:
            inodes.add(os.stat(NETNS_DIR / name).st_ino)
        except OSError:
            pass

    spared = _self_and_ancestors()
    table = _process_table(spared)
    machine_net = os.stat("/proc/self/ns/net").st_ino  # netproof itself runs in the machine's own
    # Holders (by the name netproof execs them under) and the lab's daemons reveal their network namespaces, and
    # so the rest (containerd's shims, containers), even when /run/netns has lost the namespace's name.
    # A lab's containers (by their cgroups) reveal theirs: netproof's agents run in them (kit/agents.py).
    for argv, cgroups, net in table.values():
        lab_owned = argv[0].startswith(holder_prefix) or _lab_daemon(argv, path_mark) or _in_lab_cgroup(cgroups, lab)
        if net != machine_net and lab_owned:
            inodes.add(net)
    processes = {
        pid: " ".join(argv)
        for pid, (argv, cgroups, net) in table.items()
        if net in inodes
        or _in_lab_cgroup(cgroups, lab)
        or argv[0].startswith(holder_prefix)
        or _lab_ssh(argv, path_mark)
    }

    # Where dockerd puts a lab's containers (--cgroup-parent): under each controller (cgroup v1) or the root (v2);
    # never a systemd unit or slice that happens to be called netproof.*.
    cgroups = sorted(
        p
        for p in {*CGROUP_ROOT.glob(f"*/{ns_prefix}*"), *CGROUP_ROOT.glob(f"{ns_prefix}*")}
        if p.is_dir()
        and _lab_of(p.name) is not None
        and (lab is None or _lab_of(p.name) == lab)
        and not p.parent.name.endswith(SYSTEMD_UNITS)
    )
    mounts = [m for m in _mount_points() if m.startswith(path_mark) or m.startswith(f"{NETNS_DIR}/{ns_prefix}")]
    mounts = [m for m in mounts if not m.startswith(f"{NETNS_DIR}/")]  # those go with their namespace
    if lab is not None:
        dirs = [lab_dir] if lab_dir.exists() or lab_dir.is_symlink() else []
    else:
        dirs = sorted(p for p in state_root().iterdir()) if state_root().is_dir() else []
    for d in dirs:
        _refuse_what_is_not_a_labs(d)
    return Leftovers(processes, netns, cgroups, mounts, dirs)


def lab_names() -> list[str]:
    """The name of every lab something is left of on this machine: its state folder, network namespaces, cgroups."""
    names = {p.name for p in state_root().iterdir()} if state_root().is_dir() else set()
    if NETNS_DIR.is_dir():
        names |= {n.split(".")[1] for n in (p.name for p in NETNS_DIR.glob(f"{PREFIX}.*.*")) if len(n.split(".")) == 3}
    names |= {_lab_of(p.name) for p in {*CGROUP_ROOT.glob(f"*/{PREFIX}.*"), *CGROUP_ROOT.glob(f"{PREFIX}.*")}}
    return sorted(n for n in names if n and NAME_RE.fullmatch(n))


def labs_with_live_hosts() -> set[str]:
    """Labs whose hosts' holders run: up, whatever this state folder says (another NETPROOF_STATE_DIR's, say)."""
    marks = (argv[0] for argv, _, _ in _process_table(_self_and_ancestors()).values() if argv)
    return {m.split(" ", 1)[1].split("/")[0] for m in marks if m.startswith(f"{HOLDER_MARK} ") and "/" in m}


def _lab_of(component: str) -> str | None:
    """The lab a path component netproof names belongs to (netproof.<lab>.<host>), exactly; None for anything else
    (a systemd unit netproof.service, netproof.seed.docker1.scope, a name with more dots)."""
    parts = component.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not all(NAME_RE.fullmatch(p) for p in parts[1:]):
        return None
    return parts[1]


def _in_lab_cgroup(cgroups: str, lab: str | None) -> bool:
    """Whether a process's /proc/PID/cgroup lines put it under a lab's cgroup, by a whole path component."""
    for line in cgroups.splitlines():
        for component in line.rpartition(":")[2].split("/"):
            owner = _lab_of(component)
            if owner is not None and (lab is None or owner == lab):
                return True
    return False


def _refuse_what_is_not_a_labs(folder: Path) -> None:
    """Clean-up removes a lab's folder whole: never one that is not a lab's (NETPROOF_STATE_DIR pointed at a checkout,
    a link planted there)."""
    why = None
    if folder.is_symlink():
        why = "it is a link"
    elif not folder.is_dir():
        why = "it is not a folder"
    elif not NAME_RE.fullmatch(folder.name):
        why = "its name is no lab's"
    elif (folder / ".git").exists():
        why = "it holds a .git"
    if why:
        raise NetproofError(f"{folder}: not a lab's folder ({why}); netproof removes nothing there: move it away")


def remove(lab: str | None = None, timeout: float = 10) -> Leftovers:
    """Remove every leftover of one lab (or of all); returns what is still there afterwards.

    Processes go first, in rounds until none is found: a daemon killed in the middle of starting
    may have forked a child (dockerd's containerd) after the previous look. Each round stops every
    process before killing any, so none reacts to another's death (containerd, outliving a shim
    for a moment, runs `runc delete --force` on its container; dockerd restarts containerd).
    Only then do the namespaces go, since a process in a namespace that has lost its name can no
    longer be told apart.
    """
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        return max(0.0, deadline - time.monotonic())

    killed: set[int] = set()
    while True:
        found = find(lab)
        if not found.processes or not remaining():
            break
        signal_all(found.processes, signal.SIGSTOP)
        signal_all(found.processes, signal.SIGKILL)
        killed |= set(found.processes)
        wait.poll(lambda pids=found.processes: not any(_alive(pid) for pid in pids), timeout=remaining(), interval=0.02)
    # The killed daemons were detached, so init reaps them, in its own time (about a second
    # here); wait a little for that too, so nothing of the lab is listed, not even a zombie.
    wait.poll(
        lambda: not any(os.path.exists(f"/proc/{pid}") for pid in killed),
        timeout=min(remaining(), budgets.ZOMBIE_GRACE),
        interval=0.05,
    )
    for mount in sorted(found.mounts, key=len, reverse=True):
        system.run(["umount", "-l", mount], check=False)
    for name in found.netns:
        if system.run(["ip", "netns", "delete", name], check=False).returncode != 0:
            system.run(["umount", "-l", str(NETNS_DIR / name)], check=False)
            (NETNS_DIR / name).unlink(missing_ok=True)
    for cgroup in found.cgroups:
        _remove_cgroup(cgroup, remaining())
    for d in found.dirs:
        system.run(["rm", "-rf", "--one-file-system", str(d)], check=False)
    # Its lock file too, if no one holds it (lab.lab.held): never unlinked under a holder.
    for lock in LOCK_DIR.glob(f"{PREFIX}.{lab}.lock" if lab is not None else f"{PREFIX}.*.lock"):
        _unlink_unheld(lock)
    return find(lab)


def _unlink_unheld(lock: Path) -> None:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def signal_all(pids, signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _remove_cgroup(cgroup: Path, timeout: float) -> None:
    # A cgroup can be removed only once its tasks have gone, which lags a kill a little.
    for root, dirs, _ in os.walk(cgroup, topdown=False):
        for d in dirs:
            wait.poll(lambda path=Path(root) / d: _rmdir(path), timeout=timeout, interval=0.05)
    wait.poll(lambda: _rmdir(cgroup), timeout=timeout, interval=0.05)


def _rmdir(path: Path) -> bool:
    """Whether the folder is gone now."""
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _process_table(spared: set[int]) -> dict[int, tuple[list[str], str, int]]:
    """pid -> (argv, cgroup lines, network namespace inode), for live user-space processes."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in spared:
            continue
        pid = int(entry.name)
        try:
            argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
            cgroups = Path(f"/proc/{pid}/cgroup").read_text()
            net = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue  # gone meanwhile
        if argv:  # kernel threads and zombies have none
            table[pid] = (argv, cgroups, net)
    return table


def _self_and_ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def _mount_points() -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1].replace("\\040", " ") for line in f]


def _lab_daemon(argv: list[str], path_mark: str) -> bool:
    return os.path.basename(argv[0]) in LAB_DAEMONS and any(
        arg.startswith(path_mark) or path_mark in arg for arg in argv
    )


def _lab_ssh(argv: list[str], path_mark: str) -> bool:
    """ssh run with a lab's own ssh_config (its connections and its docker socket tunnels, ssh provider), or an
    SSH connection master, which retitles itself after its control socket in the lab's folder: "ssh: <socket> [mux]"."""
    if argv[0].startswith(f"ssh: {path_mark}"):
        return True
    if os.path.basename(argv[0]) != "ssh" or "-F" not in argv[:-1]:
        return False
    return argv[argv.index("-F") + 1].startswith(path_mark)
