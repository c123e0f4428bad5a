"""The full set of checks on a warm seed lab, per engine: the `pytest -n auto` time (workers chosen from
the lab's docker hosts), optionally other worker counts and a serial run, and the slowest checks.
Run as root with the engines cached:

    python bench/checks_bench.py [--engines 20.10,26.1,28.5] [--control-plane swarm] [--workers 2,4,8] [--serial]

Target (issue 9): every check, with -n auto on 2 cores, in at most 90 s on 20.10 with swarm. Met on 28.5; on 20.10
the run is CPU bound (the figure printed): most of it is dockerd 20.10 re-executing itself for each sandbox it
makes (netns-create, set-ipv6, setup-resolver, set-default-vlan), each time computing its default address
pools at start-up (libnetwork/ipamutils), about 0.5 CPU-s per container started. Measured with perf, see
the closing note of issue 9.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netproof.jobs import checkrun
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.report import results

ROOT = Path(__file__).parents[1]
TARGET_PARALLEL = 90.0
NAME = "bench-checks"


def cpu_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU time so far (/proc/stat, in ticks)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def run(workers: str | None, report: Path) -> tuple[float, list[tuple[float, str, str]], str]:
    started, (busy0, total0) = time.monotonic(), cpu_ticks()
    argv = checkrun.pytest_argv(
        ROOT / "checks", NAME, report_dir=report, workers=workers, extra=("-q", "--no-footprint")
    )
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    elapsed, (busy1, total1) = time.monotonic() - started, cpu_ticks()
    run_results = results.load(report)
    cases = [(c.duration, f"{c.id}[{c.case}]", c.outcome) for c in run_results.checks]
    summary = run_results.counts() if done.returncode in (0, 1) else done.stderr[-300:]
    # How busy the CPUs were: near 100 %, the run waits on the engines' CPU, not on the network.
    return elapsed, cases, f"{summary}; CPU busy {100 * (busy1 - busy0) / max(1, total1 - total0):.0f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="20.10,26.1,28.5")
    parser.add_argument("--control-plane", default="swarm")
    parser.add_argument("--workers", default="", help="other worker counts to time, e.g. 2,4,8")
    parser.add_argument("--serial", action="store_true", help="time a serial run too")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        seed = loader.load(ROOT / "labs" / "seed.yml").with_overrides(
            name=NAME, engine=engine, control_plane=args.control_plane
        )
        lab = Lab.up(seed)
        timings = []
        try:
            with tempfile.TemporaryDirectory() as tmp:
                run("auto", Path(tmp) / "warm")  # warms the lab as a user's earlier run would
                auto, cases, summary = run("auto", Path(tmp) / "auto")
                timings.append(("pytest -n auto", auto, summary))
                for n in filter(None, args.workers.split(",")):
                    seconds, _, counted = run(n, Path(tmp) / f"n{n}")
                    timings.append((f"pytest -n {n}", seconds, counted))
                if args.serial:
                    seconds, _, counted = run(None, Path(tmp) / "serial")
                    timings.append(("serial", seconds, counted))
        finally:
            lab.down()
        print(f"netproof checks benchmark: seed lab, engine {engine}, {args.control_plane}, warm")
        for label, seconds, counted in timings:
            verdict = ""
            if label == "pytest -n auto":
                verdict = "  meets target" if seconds <= TARGET_PARALLEL else f"  MISSES target {TARGET_PARALLEL:.0f} s"
            print(f"  {label:20} {seconds:6.1f} s   ({counted}){verdict}")
        print("  slowest checks (-n auto):")
        for seconds, name, outcome in sorted(cases, reverse=True)[:8]:
            print(f"    {seconds:5.1f} s  {name}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
