"""What a footprint costs a run, per engine, on a warm seed lab: taken three times, its seconds and where
they went (make: the representative objects; read: reading and normalizing each host; remove), the CPU time
the machine spent on it, and whether the three compare equal (normalization is stable). Run as root with the
engines cached, on an otherwise idle machine (the CPU time is the whole machine's):

    python bench/footprint_bench.py [--engines 20.10,26.1,28.5] [--times 3]

Target (issue 11): at most 5 s per run on the seed lab. Most of it is the engines starting and removing 16
containers (4 per docker host). The CPU time says how far a machine's cores allow that: its "floor" is the CPU
time divided by the cores, the wall time if every core were busy throughout. Measured 2026-11-29 on 2 cores
(3 takes each): 28.5 7.2-7.3 s, CPU 10.8-11.1 s (floor 5.4-5.5 s); 20.10 10.6-11.5 s, CPU 18.1-20.2 s (floor
9.0-10.1 s), its make alone 15-16 CPU-s (about 1 CPU-s per container, against 0.35 on 28.5). On 2 cores no
footprint of these objects can meet 5 s on either engine; on 4 the floors would be about 2.7 and 5 s.
Earlier: with a host's overlay containers at once as well, 28.5 took 5.3 s, but 20.10 once ran out of the
swarm's 20 s for an attachment (moby/moby#41841) and took 36 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from netproof.footprint import compare
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.runner import footprint as take

ROOT = Path(__file__).parents[1]
TARGET = 5.0
NAME = "bench-footprint"


def cpu_seconds() -> float:
    """CPU time the whole machine has spent busy so far (/proc/stat: user, nice, system, irq, softirq, steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:3]) + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="20.10,26.1,28.5")
    parser.add_argument("--times", type=int, default=3)
    args = parser.parse_args()
    for engine in args.engines.split(","):
        seed = loader.load(ROOT / "labs" / "seed.yml").with_overrides(name=NAME, engine=engine)
        lab = Lab.up(seed)
        taken = []
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for i in range(args.times):
                    folder = Path(tmp) / str(i)
                    before = cpu_seconds()
                    done = take.take(lab, folder / "footprint")
                    done["cpu"] = cpu_seconds() - before
                    taken.append((done, compare.load(folder)))
        finally:
            lab.down()
        cores = os.cpu_count() or 1
        print(f"netproof footprint benchmark: seed lab, engine {engine}, swarm, {cores} cores")
        for done, _ in taken:
            verdict = "meets target" if done["seconds"] <= TARGET else f"MISSES target {TARGET:.0f} s"
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in done["phases"].items())
            print(
                f"  {done['seconds']:5.1f} s  ({phases})  CPU {done['cpu']:.1f} s (floor {done['cpu'] / cores:.1f} s)  "
                f"{verdict}" + (f"  error: {done['error']}" if done["error"] else "")
            )
            for retry in done["retries"]:
                print(f"         retried: {retry}")
        changes = [len(compare.compare(taken[0][1], later)) for _, later in taken[1:]]
        print(f"  changes against the first: {changes} (0 each: normalization is stable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
