"""Data-path speed per engine on the seed lab: TCP throughput (iperf3) and round trip (ping) over the underlay
between two hosts, the same-host bridge, the overlay across hosts, a container out to the outside host through the
masquerade, the outside host to a published port (DNAT), and the docker host to its own published port on
127.0.0.1 (docker-proxy). Each path as a ratio to the underlay of the same run: the lab is CPU-bound, so absolute
figures mean nothing across machines. Run as root with the engines cached and iperf3 installed
(apt-get install iperf3):

    python bench/datapath_bench.py [--engines 28.5,29.7] [--threshold 0.8]

With several engines, each path's ratio is compared with the first engine's: a path whose ratio fell below
`threshold` times the first engine's is a regression (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netproof.kit import speed
from netproof.kit.namespaces import NetNamespace
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.progress import Progress

ROOT = Path(__file__).parents[1]


def paths(lab: Lab) -> list[speed.Speed]:
    docker1, docker4 = lab.host("docker1"), lab.host("docker4")
    outside = lab.host(lab.topology.role("outside").name)
    space = Workspace.on(lab)
    try:
        net = space.bridge(docker1, role="speed")
        server = space.container(docker1, net, role="spd", ports={f"{speed.PORT}/tcp": None})
        client = space.container(docker1, net, role="spc")
        overlay = space.overlay(role="speedov")
        far, near = space.container(docker4, overlay, role="spf"), space.container(docker1, overlay, role="spn")
        port = server.host_port(speed.PORT)
        here, there = NetNamespace.of_host(docker1), NetNamespace.of_host(docker4)
        outside_ns = NetNamespace.of_host(outside)
        return [
            speed.measure("underlay: docker1 -> docker4 (routed)", there, here, str(docker4.address)),
            speed.measure("bridge: container -> container on docker1", server.netns, client.netns, server.ip),
            speed.measure("overlay: docker1 -> docker4", far.netns, near.netns, far.ip),
            speed.measure("masquerade: container -> outside", outside_ns, client.netns, str(outside.address)),
            speed.measure(
                "published (DNAT): outside -> docker1",
                server.netns,
                outside_ns,
                str(docker1.address),
                port,
                listen_port=speed.PORT,
            ),  # fmt: skip
            speed.measure(
                "published (docker-proxy): docker1 -> 127.0.0.1",
                server.netns,
                here,
                "127.0.0.1",
                port,
                listen_port=speed.PORT,
            ),  # fmt: skip
        ]
    finally:
        space.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="28.5,29.7")
    parser.add_argument("--threshold", type=float, default=0.8, help="a ratio below this share of the first's")
    args = parser.parse_args()
    measured: dict[str, list[speed.Speed]] = {}
    for engine in args.engines.split(","):
        topology = loader.load(ROOT / "labs" / "seed.yml").with_overrides(name="bench-speed", engine=engine)
        lab = Lab.up(topology, progress=Progress())
        try:
            measured[engine] = paths(lab)
        finally:
            lab.down()
    first = next(iter(measured))
    regressions = []
    for engine, found in measured.items():
        underlay = found[0]
        print(f"\nDocker {engine}")
        against = f"  vs {first}" if engine != first else ""
        print(f"  {'path':48} {'Gbit/s':>7} {'ratio':>6} {'retr':>5} {'rtt ms':>7}{against}")
        for s, base in zip(found, measured[first], strict=True):
            ratio, before = s.ratio(underlay), base.ratio(measured[first][0])
            versus = f"  {ratio / before:5.2f}" if engine != first and before else ""
            if engine != first and before and ratio < args.threshold * before:
                regressions.append(f"{s.path} on {engine}: ratio {ratio:.2f}, {first}'s {before:.2f}")
                versus += " REGRESSION"
            rtt = f"{s.rtt_ms:7.3f}" if s.rtt_ms is not None else "      -"
            print(f"  {s.path:48} {s.gbits:7.2f} {ratio:6.2f} {s.retransmits:5} {rtt}{versus}")
    for line in regressions:
        print(f"regression: {line}")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
