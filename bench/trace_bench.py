"""What finding where a packet died costs a failing case (kit/trace.py), on a warm seed lab: the failed probe alone,
and the repeat traced on the hosts it crosses (the docker host, the router, the outside host), with Docker's jump to
its conntrack accept removed by hand on docker1 so that the outside host's replies are dropped. Run as root with the
engines cached:

    python bench/trace_bench.py [--engine 28.5] [--times 5]

Prints each figure's median and the trace's cost as a ratio of the failed probe's own time (the machine is noisy).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from netproof.kit import probes, trace
from netproof.kit.evidence import Proof
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.lab.model.topology import OUTSIDE_HTTP_PORT

ROOT = Path(__file__).parents[1]
NAME = "bench-trace"
JUMP = ["DOCKER-FORWARD", "-j", "DOCKER-CT"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="28.5")
    parser.add_argument("--times", type=int, default=5)
    args = parser.parse_args()
    lab = Lab.up(loader.load(ROOT / "labs" / "seed.yml").with_overrides(name=NAME, engine=args.engine))
    space = Workspace.on(lab)
    try:
        docker1, outside = lab.host("docker1"), lab.host(lab.topology.role("outside").name)
        container = space.container(docker1, space.default_bridge(docker1), role="trc")
        docker1.run(["iptables", "-D", *JUMP], check=True)
        conversation = trace.Conversation(container.ip, outside.address, OUTSIDE_HTTP_PORT)
        probed, traced, lines = [], [], set()
        for _ in range(args.times):
            started = time.monotonic()
            fetch = probes.http_get(container.exec, outside.address, OUTSIDE_HTTP_PORT, timeout=3)
            probed.append(time.monotonic() - started)
            assert not fetch.through, "the breakage did not hold: the probe got through"
            proof = Proof("BENCH", "a container reaches the outside host", "docker1")
            started = time.monotonic()
            line = trace.PacketTrace.on(lab, proof).why_lost(
                conversation,
                [docker1, outside],
                lambda: probes.http_get(container.exec, outside.address, OUTSIDE_HTTP_PORT, timeout=3),
            )
            traced.append(time.monotonic() - started)
            lines.add(line.split(" -> ")[0])
        docker1.run(["iptables", "-I", "DOCKER-FORWARD", "1", "-j", "DOCKER-CT"], check=True)
    finally:
        space.remove()
        lab.down()
    probe, cost = statistics.median(probed), statistics.median(traced)
    print(f"engine {args.engine}, {args.times} times, medians:")
    print(f"  the failed probe (GET, 3 s timeout):      {probe:5.1f} s")
    print(f"  its repeat traced on 3 hosts:             {cost:5.1f} s  ({cost / probe:.2f} x the probe)")
    print(f"  what the trace said (every time the same? {'yes' if len(lines) == 1 else 'no'}): {sorted(lines)[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
