"""What issue 35's jobs cost on a warm seed lab, per engine: reading a compose file through the real `docker compose
config`, a replay of labs/stacks/shop.compose.yaml (stand-ins made, the doctor, every cell probed, all removed), a
capture of a host holding it, and a node's blip (CONT-BLIP-001). Run as root with the engines cached:

    python bench/replay_bench.py [--engines 28.5,29.7] [--blip]

Prints each phase's wall time, and the machine's busy share over the replay (2 cores: a ratio, the machine is
noisy). The upgrade that carries the workload is timed by its lab test (tests/lab/test_upgrade_paths.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from netproof.jobs import blip, replay
from netproof.jobs.replay.capture import captured
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.progress import QUIET

ROOT = Path(__file__).parents[1]
SHOP = ROOT / "labs" / "stacks" / "shop.compose.yaml"
NAME = "bench-replay"


def cpu_ticks() -> tuple[int, int]:
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def timed(what: str, work):
    began = time.monotonic()
    answer = work()
    print(f"  {what:<44} {time.monotonic() - began:6.1f} s")
    return answer


def bench(engine: str, with_blip: bool) -> None:
    print(f"engine {engine}")
    project = timed("docker compose config (the shop)", lambda: replay.read_project(SHOP, QUIET))
    seed = loader.load(ROOT / "labs" / "seed.yml").with_overrides(name=NAME, engine=engine)
    lab = timed("lab up", lambda: Lab.up(seed))
    try:
        with tempfile.TemporaryDirectory() as folder:
            busy, total = cpu_ticks()
            table = timed("netproof replay (25 cells)",
                          lambda: replay.replay(project, None, Path(folder), QUIET, lab_name=NAME))  # fmt: skip
            b2, t2 = cpu_ticks()
            print(f"    {table.summary()}; machine busy {100 * (b2 - busy) / max(1, t2 - total):.0f}% of the replay")
            placed = timed("stand-ins made (3 services, 2 networks)",
                           lambda: replay.Replay.place(lab, project, lab.host("docker1"), QUIET))  # fmt: skip
            timed("table observed again (as after an upgrade's step)",
                  lambda: placed.observe(lab, "again", QUIET))  # fmt: skip
            timed("netproof capture of docker1", lambda: captured(NAME, "docker1"))
            timed("stand-ins removed", placed.remove)
        if with_blip:
            done = timed("netproof continuity blip (20 s cut)", lambda: blip.run_blip(lab, "docker4", QUIET))
            print(f"    {done.verdict}; slowest name back after "
                  f"{max(w.connected or w.resolved or 0 for w in done.watches):.1f} s")  # fmt: skip
    finally:
        lab.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="28.5,29.7")
    parser.add_argument("--blip", action="store_true", help="the node's blip too (about 70 s an engine)")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        bench(engine.strip(), args.blip)


if __name__ == "__main__":
    main()
