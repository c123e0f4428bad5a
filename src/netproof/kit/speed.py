"""Data-path speed between two namespaces of a lab: iperf3's TCP throughput (and its retransmissions) and ping's
round trip, both run by the hosts' own tools inside the namespaces netproof names (no image). On a lab whose hosts
share one machine's CPU, absolute figures mean little: a path is judged by its ratio to the underlay measured in
the same run (`ratio`), and an engine against another by those ratios.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from netproof import wait
from netproof.errors import LabBroken
from netproof.kit.namespaces import NetNamespace

PORT = 5201  # iperf3's own
SECONDS = 3  # of each throughput measurement: long enough for TCP's window to open on a lab
PINGS = 20


@dataclass(frozen=True)
class Speed:
    path: str
    gbits: float  # received, per second
    retransmits: int
    rtt_ms: float | None  # ping's average round trip (None where ping could not be sent that way)

    def ratio(self, underlay: Speed) -> float:
        return self.gbits / underlay.gbits if underlay.gbits else 0.0

    def to_dict(self) -> dict:
        return {"path": self.path, "gbits": round(self.gbits, 3), "retransmits": self.retransmits,
                "rtt_ms": self.rtt_ms}  # fmt: skip


def measure(
    path: str, server: NetNamespace, client: NetNamespace, address: str, port: int = PORT, *, listen_port: int = PORT
) -> Speed:
    """iperf3 from client to address:port, where server listens on listen_port (a published port's container port);
    and ping's round trip to address. LabBroken when iperf3 is missing or never answers."""
    enter = ["nsenter", f"--net={server.path}"] if server.path else []
    argv = server.host.interactive_argv([*enter, "iperf3", "--server", "--one-off", "--port", str(listen_port)])
    listening = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        run = ["iperf3", "--client", address, "--port", str(port), "--time", str(SECONDS), "--json"]
        done = lambda r: r.ok and '"sum_received"' in r.stdout  # noqa: E731 - a refusal while it starts: again
        result, ok = wait.poll(lambda: client.run(run, timeout=SECONDS + 20), holds=done, timeout=10)
        if not ok:
            said = listening.stderr.read().decode(errors="replace")[-300:] if listening.poll() is not None else ""
            raise LabBroken(f"iperf3 {path}: {(result.stdout + result.stderr).strip()[-300:]} {said}".strip())
        said = json.loads(result.stdout)
        if "sum_received" not in said.get("end", {}):
            raise LabBroken(f"iperf3 {path}: {said.get('error') or 'no result'}")
        found = said["end"]
    finally:
        server.host.run(["pkill", "-f", f"iperf3 --server --one-off --port {listen_port}"], timeout=15)
        listening.terminate()
    pinged = client.run(["ping", "-c", str(PINGS), "-i", "0.05", "-q", address], timeout=30)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", pinged.stdout)
    return Speed(
        path,
        found["sum_received"]["bits_per_second"] / 1e9,
        int(found["sum_sent"].get("retransmits", 0)),
        float(rtt[1]) if rtt else None,
    )
