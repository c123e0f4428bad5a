"""Lab speed and memory: `up` and `down` of the seed lab and of a 16-host lab, and the seed lab's
peak memory. Prints figures against the targets; run as root with the engines cached:

    python bench/lab_bench.py [--rounds 3]

Targets (issue 2): seed lab up <= 10 s, down <= 3 s, with engines cached.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from netproof.lab import leftovers
from netproof.lab.image import TEST_IMAGE
from netproof.lab.lab import Lab
from netproof.lab.model import loader, topology

SEED = Path(__file__).parents[1] / "labs" / "seed.yml"
TARGET_UP, TARGET_DOWN = 10.0, 3.0


def big_lab_text(docker_hosts: int) -> str:
    """The seed lab's shape with more docker hosts, spread over the two routed subnets."""
    lines = [
        "name: bench16",
        "control_plane: swarm",
        'engine: "20.10"',
        "subnets:",
        "  dc1: {cidr: 10.10.10.0/24}",
        "  dc2: {cidr: 192.168.50.0/24}",
        "  ext: {cidr: 198.51.100.0/24}",
        "hosts:",
    ]
    for i in range(1, docker_hosts + 1):
        subnet, net = ("dc1", "10.10.10") if i % 2 else ("dc2", "192.168.50")
        lines.append(f"  docker{i}: {{subnet: {subnet}, address: {net}.{100 + i}}}")
    lines += [
        "  kv1: {subnet: dc1, address: 10.10.10.10, role: kv}",
        "  outside: {subnet: ext, address: 198.51.100.10, role: outside}",
    ]
    return "\n".join(lines) + "\n"


def memory_of(lab: str) -> tuple[int, int, int]:
    """(processes, summed RSS bytes, summed PSS bytes) of every process of the lab."""
    rss = pss = 0
    pids = leftovers.find(lab).processes
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return len(pids), rss, pss


def measure(topo: topology.Topology, rounds: int, sample_memory: bool) -> dict:
    ups, downs, peak = [], [], (0, 0, 0)
    for _ in range(rounds):
        started = time.monotonic()
        lab = Lab.up(topo)
        ups.append(time.monotonic() - started)
        if sample_memory:
            # Peak while the lab carries containers: one per docker host on one overlay.
            manager = lab.docker_hosts[0].docker()
            manager.networks.create("bench-ov", driver="overlay", attachable=True)
            for host in lab.docker_hosts:
                host.docker().containers.run(TEST_IMAGE, "sleep 600", network="bench-ov", detach=True)
            peak = max(peak, memory_of(topo.name), key=lambda m: m[2])
        started = time.monotonic()
        lab.down()
        downs.append(time.monotonic() - started)
    return {"up": ups, "down": downs, "memory": peak}


def line(label: str, values: list[float], target: float | None) -> str:
    verdict = (
        "" if target is None else ("  meets target" if max(values) <= target else f"  MISSES target {target:.0f} s")
    )
    median = statistics.median(values)
    return f"{label:28} median {median:5.2f} s   max {max(values):5.2f} s   ({len(values)} rounds){verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    seed = loader.load(SEED).with_overrides(name="bench-seed")
    big = loader.parse(big_lab_text(16), "bench/16 hosts")
    print(f"netproof lab benchmark: {args.rounds} rounds each, engines cached")
    s = measure(seed, args.rounds, sample_memory=True)
    print(line("seed lab (4 docker hosts) up", s["up"], TARGET_UP))
    print(line("seed lab down", s["down"], TARGET_DOWN))
    procs, rss, pss = s["memory"]
    print(
        f"{'seed lab peak memory':28} {pss / 2**20:6.0f} MiB PSS ({rss / 2**20:.0f} MiB RSS) in {procs} processes, "
        "one container per docker host"
    )
    b = measure(big, args.rounds, sample_memory=False)
    print(line("16-host lab up", b["up"], None))
    print(line("16-host lab down", b["down"], None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
