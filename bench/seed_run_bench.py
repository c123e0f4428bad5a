"""Where the seed run's time goes (issue 38): the main job on the seed lab (lab up, the doctor, every check with
pytest -n auto, the footprint, lab down), timed by phase in wall and CPU seconds, the CPU split by the processes
that spend it, and the checks' own timelines (results.json) summed by kind and by check. Run as root with the
engine cached:

    python bench/seed_run_bench.py [--engine 28.5] [--workers auto] [--top 15]

Target (issue 38): the whole run at most 60 s of wall time and 60 CPU-seconds on 2 cores, with the same cases and
outcomes. The machine is shared and noisy: the figures are one run's; compare runs of the same day.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from netproof.jobs import checkrun
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.report import results

ROOT = Path(__file__).parents[1]
NAME = "bench-seed"
TARGET_WALL, TARGET_CPU = 60.0, 60.0
TICK = os.sysconf("SC_CLK_TCK")
WATCHED = ("dockerd", "containerd-shim", "containerd", "runc", "docker-proxy", "etcd", "dnsmasq", "tcpdump")


def machine_cpu() -> float:
    """CPU-seconds the machine has been busy so far, every core (/proc/stat: all but idle and iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def processes() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU-seconds so far, its reaped children's included (utime, stime, cutime, cstime)."""
    seen = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        seen[int(stat.parent.name)] = (name, sum(int(x) for x in rest[11:15]) / TICK)
    return seen


def ancestors() -> set[int]:
    """This process and those above it: their reaped children include everything below, this bench included."""
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def by_name(before: dict, after: dict) -> Counter:
    """CPU-seconds spent meanwhile by processes alive at both ends (and the children they reaped), by name; this
    bench's own line (with the pytest run it waited for) apart, as "netproof (this bench, pytest, its workers)"."""
    spent, mine = Counter(), ancestors()
    for pid, (name, seconds) in after.items():
        if pid == os.getpid():
            spent["netproof (this bench, pytest, its workers)"] += seconds - before.get(pid, (name, 0.0))[1]
        elif pid in before and before[pid][0] == name and pid not in mine:
            group = next((w for w in WATCHED if name.startswith(w)), None)
            if group:  # the machine's own (a process reaper's, a subreaper's) are the rest's
                spent[group] += seconds - before[pid][1]
    return spent


def engines_cpu(lab: str) -> dict[str, float]:
    """Each lab host's dockerd and containerd CPU-seconds so far (with the children they reaped): a dockerd whose
    command line names the host's folder (/var/lib/netproof/labs/<lab>/<host>/), and the containerd it started."""
    seen = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text, argv = stat.read_text(), (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        rest = text[text.rindex(")") + 2 :].split()
        folder = next((a.decode() for a in argv if f"/labs/{lab}/".encode() in a), "")
        host = folder.split(f"/labs/{lab}/", 1)[1].split("/", 1)[0] if folder else ""
        name = text[text.index("(") + 1 : text.rindex(")")]
        seen[int(stat.parent.name)] = (name, host, int(rest[1]), sum(int(x) for x in rest[11:15]) / TICK)
    spent = Counter()
    for name, host, parent, seconds in seen.values():
        host = host or (seen[parent][1] if name == "containerd" and parent in seen else "")
        if name in ("dockerd", "containerd") and host:
            spent[f"{host} {name}"] += seconds
    return spent


class Phases:
    """Each phase's wall and machine CPU seconds, and the CPU of the processes alive through it."""

    def __init__(self):
        self.rows, self.spent = [], Counter()

    def timed(self, name: str, work):
        wall, cpu, procs = time.monotonic(), machine_cpu(), processes()
        out = work()
        self.rows.append((name, time.monotonic() - wall, machine_cpu() - cpu))
        self.spent += by_name(procs, processes())
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="28.5")
    parser.add_argument("--top", type=int, default=15, help="how many kinds and checks to print")
    args = parser.parse_args()
    topology = loader.load(ROOT / "labs" / "seed.yml").with_overrides(name=NAME, engine=args.engine)
    report = Path(tempfile.mkdtemp(prefix="netproof-seed-bench-"))
    phases = Phases()
    lab = phases.timed("lab up", lambda: Lab.up(topology))
    try:  # as `netproof run` does: its pytest session runs the doctor first and takes the footprint last
        engines_before = engines_cpu(NAME)
        run = phases.timed("doctor, checks, footprint", lambda: checkrun.run(lab.name, report))
        engines = engines_cpu(NAME) - engines_before
    finally:
        phases.timed("lab down", lab.down)
    print_figures(args, phases, run)
    # What each dockerd made is in the cases' timelines (API calls); its event stream keeps only its last 256 events.
    print("\neach docker host's engines during the session (with the children they reaped):")
    for host in sorted({name.split()[0] for name in engines}):
        print("  " + host + ": " + ", ".join(f"{n.split()[1]} {engines[n]:.1f} CPU-s" for n in sorted(engines)
                                             if n.startswith(f"{host} ")))  # fmt: skip
    return 0


def print_figures(args, phases: Phases, run: results.Results) -> None:
    wall, cpu = sum(r[1] for r in phases.rows), sum(r[2] for r in phases.rows)
    print(f"seed run, Docker {args.engine}, {len(run.checks)} cases ({run.counts()}), {os.cpu_count()} cores")
    print(f"{'phase':24} {'wall s':>8} {'CPU s':>8} {'busy':>6}")
    for name, seconds, used in phases.rows:
        print(f"{name:24} {seconds:8.1f} {used:8.1f} {100 * used / max(seconds * os.cpu_count(), 1e-9):5.0f}%")
    inside = {"doctor (in the run)": run.doctor["seconds"], "footprint (in the run)": (run.footprint or {})["seconds"]}
    for name, seconds in inside.items():
        print(f"  {name:22} {seconds:8.1f}")
    print(f"{'total':24} {wall:8.1f} {cpu:8.1f}   (target: {TARGET_WALL:.0f} s wall, {TARGET_CPU:.0f} CPU-s)")
    print(f"\nCPU by process alive through each phase (children they reaped included), of {cpu:.1f} s:")
    for name, seconds in phases.spent.most_common(8):
        print(f"  {name:24} {seconds:8.1f}")
    rest = "the rest: shims, runc, the kernel, processes reaped elsewhere"
    print(f"  {rest:24} {cpu - sum(phases.spent.values()):8.1f}")
    kinds, calls, checks = defaultdict(float), Counter(), defaultdict(float)
    for case in run.checks:
        checks[case.id] += case.duration
        for kind, spent in case.timeline.items():
            kinds[kind] += spent["seconds"]
            calls[kind] += spent["calls"]
    print(f"\nthe cases' time by kind (summed over {len(run.checks)} cases; kinds overlap, timeline.py):")
    for kind, seconds in sorted(kinds.items(), key=lambda item: -item[1])[: args.top]:
        print(f"  {kind:44} {calls[kind]:6} calls {seconds:8.1f} s")
    total = sum(checks.values())
    print(f"\nthe cases' time by check ({total:.0f} s summed over the cases, the run's workers side by side):")
    for check, seconds in sorted(checks.items(), key=lambda item: -item[1])[: args.top]:
        print(f"  {check:16} {seconds:7.1f} s  {100 * seconds / total:4.1f}%")


if __name__ == "__main__":
    raise SystemExit(main())
