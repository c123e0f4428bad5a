"""The lab doctor's look at what the control plane needs: the swarm's ports between nodes (a packet sent from one
host and looked for in a capture at the other), the managers, gossip between peers, and the kv store."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from contextlib import ExitStack
from itertools import permutations
from pathlib import Path

from netproof import system
from netproof.facts.docker import ETCD_PORT, GOSSIP_PORT, MTU_OPTION, VXLAN_OVERHEAD
from netproof.kit import firewall, trace
from netproof.kit.evidence import LabBroken
from netproof.kit.namespaces import NetNamespace
from netproof.kit.wire import VXLAN_PORT, Arrival, Capture, arrivals
from netproof.lab.controlplane import SWARM_PORT
from netproof.lab.providers.base import LabHost

WHY = {
    "gossip": f"Docker needs {GOSSIP_PORT}/tcp+udp between nodes (gossip: which container is on which host)",
    "vxlan": "Docker needs {port}/udp between nodes (VXLAN: the overlay's own packets)",
    "manager": f"Docker needs {SWARM_PORT}/tcp from every node to the swarm's managers",
}

# The IP sizes of datagrams sent on the data port: an overlay's full-size packet (1450 + VXLAN's 50), and smaller ones
# to name the size that passes a path that drops large UDP.
VXLAN_SIZES = (1500, 1450, 1400, 1300, 1200)

# One bash script per source host sends every port probe at once: UDP datagrams carrying a token
# the far end's capture looks for, TCP connections whose fate the script reports.
PORT_PROBES = r"""
token=$1; shift
for spec in "$@"; do
  (
    proto=${spec%%:*}; rest=${spec#*:}; addr=${rest%:*}; port=${rest##*:}
    if [ "$proto" = udp ]; then
      for i in 1 2 3; do echo "$token" > "/dev/udp/$addr/$port"; sleep 0.1; done 2>/dev/null
      echo "$spec sent"
    elif [ "${proto#udp}" != "$proto" ]; then  # udp<size>: a datagram whose IP packet is <size> bytes
      size=${proto#udp}; mark="$token@$size"; big="$mark$(printf '%*s' $((size - 29 - ${#mark})) '')"
      for i in 1 2 3; do echo "$big" > "/dev/udp/$addr/$port"; sleep 0.1; done 2>/dev/null
      echo "$spec sent"
    else
      said=$(timeout 2 bash -c "exec 3<>/dev/tcp/$addr/$port" 2>&1); rc=$?
      case $rc in 0) echo "$spec connected";; 124) echo "$spec timeout";; *) echo "$spec refused ${said##*: }";; esac
    fi
  ) &
done
wait
"""


class ControlPlaneExamination:
    """The Doctor's control-plane steps (ports, control plane); it holds the lab, the findings and `_add`."""

    def _ports(self, hosts: list[LabHost], reachable: set[frozenset[str]]) -> None:
        if self.plane == "none":  # standalone engines make no overlays: nothing listens on, or needs, these ports
            return
        data_port = self._data_path_port(hosts)
        probes: dict[str, list[tuple[str, int, LabHost, str]]] = {}  # src -> [(proto, port, dst, why)]
        for src, dst in permutations(hosts, 2):
            if frozenset((src.name, dst.name)) not in reachable:
                continue
            wanted = [("tcp", GOSSIP_PORT, "gossip"), ("udp", GOSSIP_PORT, "gossip"), ("udp", data_port, "vxlan")]
            wanted += [(f"udp{size}", data_port, "vxlan-size") for size in VXLAN_SIZES]
            if self.plane == "swarm" and dst.name == self.lab.manager.name:
                wanted.insert(0, ("tcp", SWARM_PORT, "manager"))
            probes.setdefault(src.name, []).extend((proto, port, dst, why) for proto, port, why in wanted)
        if not probes:
            return
        token = "netproof-doctor-" + secrets.token_hex(6)
        ports = sorted({port for sent in probes.values() for _, port, _, _ in sent})
        bpf = "(tcp or udp) and (" + " or ".join(f"dst port {p}" for p in ports) + ")"
        folder = Path(tempfile.mkdtemp(prefix="netproof-doctor-"))
        seen: dict[str, list[Arrival]] = {}
        blind: dict[str, str] = {}
        # A capture sees a packet before the host's INPUT chain: what a rule of the host's own drops there arrived,
        # and never reached Docker's socket. The drop rules' counters, before and after, name such a rule.
        counted = dict(zip([h.name for h in hosts], system.parallel(firewall.drop_counters, hosts), strict=True))
        try:
            with ExitStack() as captures:
                started = {}
                for host in hosts:
                    lacks = self._lacks(host, "tcpdump")
                    if lacks:
                        blind[host.name] = lacks
                        continue
                    iface = NetNamespace.of_host(host).interface_with_address(host.address) or "any"
                    try:
                        started[host.name] = captures.enter_context(
                            Capture(NetNamespace.of_host(host), iface, bpf, folder / f"{host.name}.pcap", 20)
                        )
                    except LabBroken as e:
                        blind[host.name] = str(e)
                by_src = {h.name: h for h in hosts}
                said = dict(
                    system.parallel(
                        lambda item: (item[0], self._send(by_src[item[0]], token, item[1])),
                        list(probes.items()),
                    )
                )
            for name, capture in started.items():
                seen[name] = arrivals(capture.dest) if capture.dest.exists() else []
            after = dict(zip([h.name for h in hosts], system.parallel(firewall.drop_counters, hosts), strict=True))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for src_name, sent in probes.items():
            src = by_src[src_name]
            for proto, port, dst, why in sent:
                if why == "vxlan-size":
                    continue
                arrived = _arrived(seen.get(dst.name), proto, src, dst, port, f"{token}:{src.name}")
                dropped = firewall.rules_that_dropped(
                    counted.get(dst.name, {}),
                    after.get(dst.name, {}),
                    proto=proto,
                    port=port,
                    src=str(src.address),
                    dst=str(dst.address),
                )
                result = said[src_name].get(f"{proto}:{dst.address}:{port}", "")
                if not dropped and arrived and proto == "tcp" and result != "connected":
                    dropped = self._traced_drop(src, dst, port, token, why)  # a rule without a counter, named
                self._port_finding(src, dst, proto, port, why, said[src_name], arrived, blind.get(dst.name), dropped)
            sized = [(proto, port, dst) for proto, port, dst, why in sent if why == "vxlan-size"]
            for dst in dict.fromkeys(d for _, _, d in sized):
                got = {
                    int(proto[3:])
                    for proto, port, d in sized
                    if d is dst
                    and _arrived(seen.get(dst.name), "udp", src, dst, port, f"{token}:{src.name}@{proto[3:]}")
                }
                if dst.name not in blind:
                    self._size_finding(src, dst, data_port, got)

    def _traced_drop(self, src: LabHost, dst: LabHost, port: int, token: str, why: str) -> list[str]:
        """A TCP probe that arrived and got no answer, with no drop rule's counter to name: the probe sent again
        with netfilter tracing on both hosts (kit/trace.py), which names a rule counter or not."""
        traced = trace.follow(
            trace.Conversation(str(src.address), str(dst.address), port),
            [src, dst],
            lambda: self._send(src, token, [("tcp", port, dst, why)]),
            may_change=self.lab.provider.owns_hosts,
        )
        return [traced.line()] if traced.dropped() else []

    def _send(self, src: LabHost, token: str, sent: list[tuple[str, int, LabHost, str]]) -> dict[str, str]:
        lacks = self._lacks(src, "bash")
        if lacks:
            return {f"{proto}:{dst.address}:{port}": f"not sent: {lacks}" for proto, port, dst, _ in sent}
        specs = [f"{proto}:{dst.address}:{port}" for proto, port, dst, _ in sent]
        out = src.run(["bash", "-c", PORT_PROBES, "netproof-doctor", f"{token}:{src.name}", *specs], timeout=20)
        results = {}
        for line in out.stdout.splitlines():
            spec, _, result = line.partition(" ")
            results[spec] = result
        return results

    def _port_finding(
        self,
        src: LabHost,
        dst: LabHost,
        proto: str,
        port: int,
        why: str,
        said: dict[str, str],
        arrived: list[Arrival] | None,
        blind: str | None,
        dropped: list[str] = (),
    ) -> None:
        """The verdict on one probe, from what the sender saw (sent, connected, refused, timed out), what
        arrived at the far end (None: nobody could look there), and which drop rules of the far end's own
        firewall counted packets of this port meanwhile (what arrived but never reached Docker's socket)."""
        subject = f"{port}/{proto}"
        result = said.get(f"{proto}:{dst.address}:{port}", "no answer from the probe")
        rewritten = next((a.src for a in arrived or [] if a.src != src.address), None)
        ok = "ok" if not rewritten else f"ok, from {rewritten} (the path rewrites the source: NAT)"
        where = f"{proto.upper()} {port} from {src.name} ({src.address}) to {dst.name} ({dst.address})"
        need = WHY[why].format(port=port)
        if result.startswith("not sent"):
            verdict, cause = (None, result), None
        elif dropped and not (proto == "tcp" and result == "connected"):
            verdict = (False, "dropped on arrival")
            cause = f"arrived at {dst.name}, dropped there by its own firewall: {'; '.join(dropped)}"
        elif (proto == "tcp" and result == "connected") or (proto == "udp" and arrived):
            verdict, cause = (True, ok), None
        elif arrived is None:
            verdict, cause = (None, f"{result}; cannot see {dst.name}'s side: {blind}"), None
        elif proto == "udp":
            verdict, cause = (False, "not received"), f"sent, not received at {dst.name}"
        elif result.startswith("refused") and arrived:
            verdict = (False, "refused")
            cause = (
                f"refused by {dst.name}, nothing listens on {port} there (is dockerd running, in the control plane?)"
            )
        elif arrived:
            verdict, cause = (False, "no answer back"), f"received at {dst.name}, no answer came back to {src.name}"
        else:
            on_the_way = " (refused on the way)" if result.startswith("refused") else ""
            verdict, cause = (False, "not received"), f"sent, not received at {dst.name}{on_the_way}"
        self._add("ports", subject, src.name, dst.name, *verdict, cause=f"{where}: {cause} — {need}" if cause else None)

    def _size_finding(self, src: LabHost, dst: LabHost, port: int, arrived: set[int]) -> None:
        """Whether datagrams of the overlay's size cross on its port: a path that drops large UDP (and passes ICMP of
        the same size, which the MTU step sends) carries none of the overlay's full-size packets."""
        full = max(VXLAN_SIZES)
        if full in arrived or not arrived:  # all cross; or none, which the small datagram's finding says
            self._add("ports", f"{port}/udp {full} B", src.name, dst.name, True if arrived else None,
                      "ok" if arrived else "none arrived")  # fmt: skip
            return
        passes = max(arrived)
        self._add(
            "ports",
            f"{port}/udp {full} B",
            src.name,
            dst.name,
            False,
            f"{passes} B pass",
            cause=f"UDP {port} from {src.name} ({src.address}) to {dst.name} ({dst.address}): datagrams of {passes} "
            f"bytes arrive, of {full} (an overlay's full-size packets) they do not: the path drops large UDP — "
            f"create overlays with -o {MTU_OPTION}={passes} (the underlay MTU the overlay is sized for: its "
            f"containers get {passes - VXLAN_OVERHEAD}), or mend the path",
        )

    def _data_path_port(self, hosts: list[LabHost]) -> int:
        if self.plane != "swarm" or self.lab.manager.name not in self.answering:
            return VXLAN_PORT
        try:
            return int(self.lab.manager.docker().swarm.attrs.get("DataPathPort") or VXLAN_PORT)
        except Exception:  # noqa: BLE001 - the manager's refusal is the engine finding's business
            return VXLAN_PORT

    def _control_plane(self, hosts: list[LabHost], answering: list[LabHost]) -> None:
        if self.plane == "none":  # standalone engines: nothing to join
            return
        if self.plane == "kv":
            for host, (ok, said) in zip(hosts, system.parallel(self._etcd_health, hosts), strict=True):
                self._add(
                    "control-plane",
                    "etcd",
                    host.name,
                    self.kv.name,
                    ok,
                    said if ok is not False else "unhealthy",
                    cause=None if ok is not False else f"{host.name} cannot use the key-value store: {said}",
                )
            return
        manager = self.lab.manager
        try:
            if manager not in answering:  # asked again, it would hold the doctor for the API's whole timeout
                raise ConnectionError("its dockerd does not answer (above)")
            nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in manager.docker().nodes.list()}
        except Exception as e:  # noqa: BLE001
            self._add(
                "control-plane",
                "node",
                manager.name,
                None,
                False,
                "manager does not answer",
                cause=f"the swarm manager {manager.name} cannot list its nodes ({type(e).__name__}: {str(e)[:160]})",
            )
            nodes = None
        by_address = {n["Status"].get("Addr"): n for n in (nodes or {}).values()}
        for host in hosts:
            if nodes is None:
                break
            node = nodes.get(host.name) or by_address.get(host.address)
            if node is None:
                self._add(
                    "control-plane",
                    "node",
                    host.name,
                    None,
                    False,
                    "not in the swarm",
                    cause=f"{host.name} is not a node of {manager.name}'s swarm: it gets no overlay networks",
                )
                continue
            state, availability = node["Status"]["State"], node["Spec"]["Availability"]
            ok = state == "ready" and availability == "active"
            self._add(
                "control-plane",
                "node",
                host.name,
                None,
                ok,
                f"{state}, {availability}",
                cause=None
                if ok
                else f"swarm node {host.name} is {state}, {availability} (the manager {manager.name} says so): it "
                "gets no tasks or network attachments",
            )
        for host in answering:
            self._gossip(host, answering)

    def _gossip(self, host: LabHost, answering: list[LabHost]) -> None:
        """Which of the other nodes the host's dockerd gossips with, as its view of the ingress network lists
        them: one finding per node it does not know (overlay peers it does not know get no traffic from it)."""
        try:
            peers = host.docker().api.inspect_network("ingress", verbose=True).get("Peers") or []
        except Exception as e:  # noqa: BLE001 - no ingress network: nothing to read the gossip from
            self._add(
                "control-plane", "gossip", host.name, None, None, f"no ingress network to read ({type(e).__name__})"
            )
            return
        known = {p.get("IP") for p in peers}
        others = [h for h in self.lab.docker_hosts if h.name != host.name]
        missing = [h for h in others if h.address not in known]
        self._add(
            "control-plane", "gossip", host.name, None, True, f"{len(others) - len(missing)} of {len(others)} peers"
        )
        for other in missing:
            self._add(
                "control-plane",
                "gossip",
                host.name,
                other.name,
                False,
                "not a peer",
                cause=f"{host.name}'s dockerd does not gossip with {other.name} ({other.address}): containers on "
                f"{other.name} are unknown to {host.name}'s overlays — "
                + (WHY["gossip"] if other in answering else f"{other.name}'s dockerd does not answer (above)"),
            )

    def _etcd_health(self, host: LabHost) -> tuple[bool | None, str]:
        lacks = self._lacks(host, "busybox")
        if lacks:
            return None, lacks
        url = f"http://{self.kv.address}:{ETCD_PORT}/health"
        # busybox 1.35's wget crashes on -T: its own timeout applet bounds it instead.
        got = host.run(["busybox", "timeout", "3", "busybox", "wget", "-q", "-O", "-", url], timeout=10)
        if got.ok and '"health":"true"' in got.stdout.replace(" ", ""):
            return True, "healthy"
        store = f"etcd at {self.kv.address}:{ETCD_PORT}"
        said = (got.stdout or got.stderr).strip()
        if "refused" in said:
            return False, f"{store} refuses connections (is etcd running on {self.kv.name}?)"
        if got.stdout.strip():
            return False, f"{store} answers {said.splitlines()[-1]!r} to GET /health"
        return (
            False,
            f"{store} did not answer GET /health within 3 s ({said.splitlines()[-1] if said else 'nothing said'})",
        )


def _arrived(
    seen: list[Arrival] | None, proto: str, src: LabHost, dst: LabHost, port: int, token: str
) -> list[Arrival] | None:
    """The probe's packets among those the far end's capture saw: a UDP datagram by the token it carries
    (whatever its source, which a NAT on the path rewrites), a TCP SYN by its source and port."""
    if seen is None:
        return None
    return [
        a
        for a in seen
        if a.proto == proto
        and a.dport == port
        and a.dst == dst.address
        and (token.encode() in a.payload if proto == "udp" else a.src == src.address)
    ]
