"""The version matrix of the seed lab, per engine: what each column costs (wall time from its lab's start to its
end, and the machine's CPU time meanwhile), and the whole matrix against its target. Run as root with the engines
cached:

    python bench/matrix_bench.py [--engines 20.10,26.1,28.5,29.1.0,29.5.0,29.7] [--select EXPR]

Target (issue 27): the four engines' matrix of the seed lab in under 10 minutes on a 2-core machine, so 150 s an
engine (the six of issue 37: 15 minutes); 29.1.0 and 29.5.0 come from ../shared/engines (netproof engines import).
The columns run one after the other (two labs at once would halve each one's CPU on 2 cores), so the whole is the
sum of the columns; the CPU figure says how much of each column's time the machine was busy (2 cores: 2 CPU-s
a second).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from netproof.jobs.matrix import run_matrix
from netproof.lab.model import loader
from netproof.progress import Progress

ROOT = Path(__file__).parents[1]
TARGET_PER_ENGINE = 150.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="20.10,26.1,28.5,29.1.0,29.5.0,29.7")
    parser.add_argument("--select", help="only the checks matching EXPR (pytest -k)")
    args = parser.parse_args()
    topology = loader.load(ROOT / "labs" / "seed.yml").with_overrides(name="bench-matrix")
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        built, _ = run_matrix(topology, args.engines.split(","), Path(folder), Progress(), select=args.select)
    total = time.monotonic() - began
    print(f"{'engine':8} {'cases':>6} {'seconds':>8} {'CPU-s':>7} {'busy':>5}")
    for c in built["columns"]:
        cases = sum(c["summary"].values())
        busy = c["cpu_seconds"] / c["seconds"] if c["seconds"] else 0.0
        print(f"{c['engine']:8} {cases:6} {c['seconds']:8.0f} {c['cpu_seconds']:7.0f} {busy:5.2f}")
    target = TARGET_PER_ENGINE * len(built["columns"])
    verdict = "met" if total <= target else "missed"
    share = f"{total / target:.2f} of the {target:.0f} s target: {verdict}"
    print(f"matrix of {len(built['columns'])} engines: {total:.0f} s ({share})")


if __name__ == "__main__":
    main()
