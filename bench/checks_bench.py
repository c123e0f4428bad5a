"""The full set of checks on a warm seed lab: serial time, `pytest -n auto` time, the slowest checks.
Run as root with the engines cached:

    python bench/checks_bench.py [--engine 20.10] [--control-plane swarm]

Target (issue 3): the full set with -n auto on 2 cores in at most 60 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netproof import checkrun
from netproof.lab.lab import Lab
from netproof.model import topology
from netproof.report import results

ROOT = Path(__file__).parents[1]
TARGET_PARALLEL = 60.0
NAME = "bench-checks"


def run(workers: str | None, report: Path) -> tuple[float, list[tuple[float, str, str]], str]:
    started = time.monotonic()
    argv = checkrun.pytest_argv(ROOT / "checks", NAME, report_dir=report, workers=workers, extra=("-q",))
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    run_results = results.load(report)
    cases = [(c.duration, f"{c.id}[{c.case}]", c.outcome) for c in run_results.checks]
    return elapsed, cases, run_results.counts() if done.returncode in (0, 1) else done.stderr[-300:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="20.10")
    parser.add_argument("--control-plane", default="swarm")
    args = parser.parse_args()
    seed = topology.load(ROOT / "labs" / "seed.yml").with_overrides(
        name=NAME, engine=args.engine, control_plane=args.control_plane
    )
    lab = Lab.up(seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run("auto", Path(tmp) / "warm")  # warms the lab as a user's earlier run would
            serial, cases, serial_summary = run(None, Path(tmp) / "serial")
            parallel, _, parallel_summary = run("auto", Path(tmp) / "parallel")
    finally:
        lab.down()
    print(f"netproof checks benchmark: seed lab, engine {args.engine}, {args.control_plane}, warm")
    print(f"{'serial':22} {serial:6.1f} s   ({serial_summary})")
    verdict = "meets target" if parallel <= TARGET_PARALLEL else f"MISSES target {TARGET_PARALLEL:.0f} s"
    print(f"{'pytest -n auto':22} {parallel:6.1f} s   ({parallel_summary})  {verdict}")
    print("slowest checks (serial run):")
    for seconds, name, outcome in sorted(cases, reverse=True)[:8]:
        print(f"  {seconds:5.1f} s  {name}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
