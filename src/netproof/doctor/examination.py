"""The lab doctor: does the network under Docker give Docker what it needs?

Each of Docker's documented underlay requirements is proven with real packets, between every
pair of docker hosts: ICMP echo between underlay addresses; the control plane's ports, each a
packet sent from one host and looked for in a capture at the other (TCP 2377 to the manager,
7946/tcp+udp and the VXLAN port between nodes); the path MTU an overlay needs; forwarding on
the lab's router; and the control plane's own view (swarm nodes, gossip peers, etcd health).
Nothing on a host is changed beyond a capture file the doctor removes again.

Probes use bash (/dev/tcp, /dev/udp), iputils ping (don't-fragment pings), busybox traceroute
and tcpdump on the hosts; a missing tool makes a requirement "could not tell", never a pass.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import permutations
from pathlib import Path

import docker

from netproof.facts import budgets
from netproof.facts.docker import ETCD_PORT, GOSSIP_PORT, OVERLAY_MTU, VXLAN_OVERHEAD
from netproof.facts.versions import KV_STORE_REMOVED_IN, at_least
from netproof.kit.evidence import LabBroken
from netproof.kit.namespaces import NetNamespace
from netproof.kit.paths import UNDERLAY_MTU_NEEDED, path_mtu, underlay_ping
from netproof.kit.wire import VXLAN_PORT, Arrival, Capture, arrivals
from netproof.lab.controlplane import SWARM_PORT
from netproof.lab.lab import Lab
from netproof.lab.model.findings import Diagnosis, Finding
from netproof.lab.providers.base import LabHost
from netproof.progress import QUIET, Progress

TOOLS = {"bash": "bash", "ping": "iputils-ping", "tcpdump": "tcpdump", "busybox": "busybox-static"}
WHY = {
    "gossip": f"Docker needs {GOSSIP_PORT}/tcp+udp between nodes (gossip: which container is on which host)",
    "vxlan": "Docker needs {port}/udp between nodes (VXLAN: the overlay's own packets)",
    "manager": f"Docker needs {SWARM_PORT}/tcp from every node to the swarm's managers",
}

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
    else
      said=$(timeout 2 bash -c "exec 3<>/dev/tcp/$addr/$port" 2>&1); rc=$?
      case $rc in 0) echo "$spec connected";; 124) echo "$spec timeout";; *) echo "$spec refused ${said##*: }";; esac
    fi
  ) &
done
wait
"""


class Doctor:
    """Examines one running lab; `examine()` returns what it found."""

    def __init__(self, lab: Lab, progress: Progress = QUIET):
        self.lab = lab
        self.progress = progress
        self.plane = lab.topology.control_plane
        kv = lab.topology.role("kv")
        self.kv = lab.host(kv.name) if kv and self.plane == "kv" else None
        self.findings: list[Finding] = []
        self.missing: dict[str, list[str]] = {}

    def examine(self, hosts: Iterable[str] | None = None) -> Diagnosis:
        """Every requirement, between the docker hosts named (and the hosts every check leans on), or all."""
        started = time.monotonic()
        shared = self._shared_hosts()
        wanted = set(hosts) | set(shared) if hosts is not None else None
        docker_hosts = [h for h in self.lab.docker_hosts if wanted is None or h.name in wanted]
        self.findings = []
        self.missing = dict(_parallel(self._missing_tools, [*docker_hosts, *([self.kv] if self.kv else [])]))
        answering = self._step("engines", self._engines, docker_hosts)
        reachable = self._step("reachability", self._reachability, docker_hosts)
        self._step("routing", self._routing)
        self._step("ports", self._ports, answering, reachable)
        self._step("mtu", self._mtu, docker_hosts, reachable)
        self._step("control plane", self._control_plane, docker_hosts, answering)
        return Diagnosis(self.lab.name, self.plane, self.findings, time.monotonic() - started, tuple(shared))

    def _step(self, what: str, run: Callable, *args):
        with self.progress.step(f"doctor: {what}"):
            return run(*args)

    def _shared_hosts(self) -> list[str]:
        return [self.kv.name] if self.kv else [self.lab.manager.name]

    def _add(self, *finding_args, **kw) -> None:
        self.findings.append(Finding(*finding_args, **kw))

    # --- tools ------------------------------------------------------------------------------

    def _missing_tools(self, host: LabHost) -> tuple[str, list[str]]:
        found = host.run(["sh", "-c", "for t in " + " ".join(TOOLS) + "; do command -v $t >/dev/null || echo $t; done"])
        return host.name, found.stdout.split() if found.ok else list(TOOLS)

    def _lacks(self, host: LabHost, tool: str) -> str | None:
        if tool in self.missing.get(host.name, []):
            return f"{tool} missing on {host.name} (apt-get install {TOOLS[tool]})"
        return None

    # --- requirements -----------------------------------------------------------------------

    def _engines(self, hosts: list[LabHost]) -> list[LabHost]:
        def ask(host: LabHost) -> tuple[LabHost, str | None, str]:
            try:  # a client of its own with a short timeout: a hung daemon must not hang the doctor
                with docker.APIClient(
                    base_url=host.docker_url, version="auto", timeout=budgets.DOCTOR_ENGINE
                ) as client:
                    return host, None, client.version()["Version"]
            except Exception as e:  # noqa: BLE001 - any refusal is the finding
                return host, f"{type(e).__name__}: {str(e)[:160]}", ""

        answering = []
        for host, error, version in _parallel(ask, hosts):
            if error is not None:
                observed, cause = (
                    "does not answer",
                    (
                        f"dockerd on {host.name} ({host.address}) does not answer ({error}): start it; see "
                        f"netproof lab status --name {self.lab.name}"
                    ),
                )
            elif self.plane == "kv" and at_least(version, KV_STORE_REMOVED_IN):
                observed, cause = (
                    f"Docker {version} has no key-value store",
                    (
                        f"{host.name} runs Docker {version}, which has no key-value store control plane (removed in "
                        f"{KV_STORE_REMOVED_IN}): this kv lab's overlays cannot work there; migrate to swarm"
                    ),
                )
            else:
                answering.append(host)
                self._add("engine", "dockerd", host.name, None, True, f"answers (Docker {version})")
                continue
            self._add("engine", "dockerd", host.name, None, False, observed, cause=cause)
        return answering

    def _reachability(self, hosts: list[LabHost]) -> set[frozenset[str]]:
        pairs = [(a, b) for i, a in enumerate(hosts) for b in hosts[i + 1 :]]
        if self.kv:
            pairs += [(h, self.kv) for h in hosts]
        reachable = set()
        pinged = _parallel(lambda p: underlay_ping(*p), pairs)
        failed = [pair for pair, (ok, _) in zip(pairs, pinged, strict=True) if ok is False]
        paths = dict(zip(failed, _parallel(lambda p: self._path_of(*p), failed), strict=True))
        for (src, dst), (ok, said) in zip(pairs, pinged, strict=True):
            if ok:
                reachable.add(frozenset((src.name, dst.name)))
                self._add("reachability", "ping", src.name, dst.name, True, "ok")
            elif ok is None:
                self._add("reachability", "ping", src.name, dst.name, None, said)
            else:
                self._add(
                    "reachability",
                    "ping",
                    src.name,
                    dst.name,
                    False,
                    "no reply",
                    cause=f"{src.name} ({src.address}) cannot reach {dst.name} ({dst.address}): {said}; "
                    f"{paths[(src, dst)]}",
                )
        return reachable

    def _path_of(self, src: LabHost, dst: LabHost) -> str:
        """Where the path from src to dst ends, traceroute-like: its route, whether the gateway answers, the hops."""
        route = src.run(["ip", "route", "get", dst.address], timeout=10)
        if not route.ok:
            return f"{src.name} has no route to {dst.address} ({route.stderr.strip()})"
        via = re.search(r"\bvia (\S+)", route.stdout)
        if not via:
            return (
                f"{dst.name} is on {src.name}'s own link ({route.stdout.split(' uid')[0].strip()}), and does not answer"
            )
        gateway = via.group(1)
        gateway_ok, _ = underlay_ping(src, gateway, count=1)
        if not gateway_ok:
            return f"its gateway {gateway} does not answer {src.name} either"
        trace = src.run(["busybox", "traceroute", "-n", "-q", "1", "-w", "1", "-m", "4", dst.address], timeout=15)
        hops = [line.split()[1] for line in trace.stdout.splitlines()[1:] if len(line.split()) > 1]
        answered = [h for h in hops if h != "*"]
        beyond = f", the last hop that answered is {answered[-1]}" if answered and answered[-1] != gateway else ""
        return (
            f"the gateway {gateway} answers{beyond}, nothing beyond it does: the router does not forward to "
            f"{dst.address}"
        )

    def _routing(self) -> None:
        """The lab's own router (netns, vagrant; an ssh inventory's if it names one) forwards between subnets."""
        router = self.lab.router
        if router is None:
            return
        forwarding = router.run(["sysctl", "-n", "net.ipv4.ip_forward"], timeout=10)
        value = forwarding.stdout.strip()
        if not forwarding.ok:
            self._add("routing", "ip_forward", router.name, None, None, f"unreadable ({forwarding.stderr.strip()})")
        elif value == "1":
            self._add("routing", "ip_forward", router.name, None, True, "1")
        else:
            self._add(
                "routing",
                "ip_forward",
                router.name,
                None,
                False,
                value,
                cause=f"the lab's router forwards no packet between subnets (net.ipv4.ip_forward = {value}): docker "
                "hosts on different subnets cannot reach each other",
            )

    def _ports(self, hosts: list[LabHost], reachable: set[frozenset[str]]) -> None:
        data_port = self._data_path_port(hosts)
        probes: dict[str, list[tuple[str, int, LabHost, str]]] = {}  # src -> [(proto, port, dst, why)]
        for src, dst in permutations(hosts, 2):
            if frozenset((src.name, dst.name)) not in reachable:
                continue
            wanted = [("tcp", GOSSIP_PORT, "gossip"), ("udp", GOSSIP_PORT, "gossip"), ("udp", data_port, "vxlan")]
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
                    _parallel(
                        lambda item: (item[0], self._send(by_src[item[0]], token, item[1])),
                        list(probes.items()),
                    )
                )
            for name, capture in started.items():
                seen[name] = arrivals(capture.dest) if capture.dest.exists() else []
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for src_name, sent in probes.items():
            src = by_src[src_name]
            for proto, port, dst, why in sent:
                arrived = _arrived(seen.get(dst.name), proto, src, dst, port, f"{token}:{src.name}")
                self._port_finding(src, dst, proto, port, why, said[src_name], arrived, blind.get(dst.name))

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
    ) -> None:
        """The verdict on one probe, from what the sender saw (sent, connected, refused, timed out) and what
        arrived at the far end (None: nobody could look there)."""
        subject = f"{port}/{proto}"
        result = said.get(f"{proto}:{dst.address}:{port}", "no answer from the probe")
        rewritten = next((a.src for a in arrived or [] if a.src != src.address), None)
        ok = "ok" if not rewritten else f"ok, from {rewritten} (the path rewrites the source: NAT)"
        where = f"{proto.upper()} {port} from {src.name} ({src.address}) to {dst.name} ({dst.address})"
        need = WHY[why].format(port=port)
        if result.startswith("not sent"):
            verdict, cause = (None, result), None
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

    def _data_path_port(self, hosts: list[LabHost]) -> int:
        if self.plane != "swarm":
            return VXLAN_PORT
        try:
            return int(self.lab.manager.docker().swarm.attrs.get("DataPathPort") or VXLAN_PORT)
        except Exception:  # noqa: BLE001 - the manager's refusal is the engine finding's business
            return VXLAN_PORT

    def _mtu(self, hosts: list[LabHost], reachable: set[frozenset[str]]) -> None:
        pairs = [(a, b) for a, b in permutations(hosts, 2) if frozenset((a.name, b.name)) in reachable]
        for (src, dst), (mtu, note) in zip(pairs, _parallel(lambda p: path_mtu(*p), pairs), strict=True):
            if mtu is None:
                self._add("mtu", "path MTU", src.name, dst.name, None, note)
            elif mtu >= UNDERLAY_MTU_NEEDED:
                self._add("mtu", "path MTU", src.name, dst.name, True, str(mtu))
            else:
                self._add(
                    "mtu",
                    "path MTU",
                    src.name,
                    dst.name,
                    False,
                    str(mtu),
                    cause=f"path MTU from {src.name} ({src.address}) to {dst.name} ({dst.address}) is {mtu}: an "
                    f"overlay's {OVERLAY_MTU}-byte packets need {UNDERLAY_MTU_NEEDED} on the underlay, {note} — "
                    f"create overlays with -o com.docker.network.driver.mtu={mtu} (the underlay MTU the overlay is "
                    f"sized for: its containers get {mtu - VXLAN_OVERHEAD}), or raise the path's MTU",
                )

    def _control_plane(self, hosts: list[LabHost], answering: list[LabHost]) -> None:
        if self.plane == "none":  # standalone engines: nothing to join
            return
        if self.plane == "kv":
            for host, (ok, said) in zip(hosts, _parallel(self._etcd_health, hosts), strict=True):
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
            self._gossip(host)

    def _gossip(self, host: LabHost) -> None:
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
                f"{other.name} are unknown to {host.name}'s overlays — " + WHY["gossip"],
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


def examine(lab: Lab, hosts: Iterable[str] | None = None, progress: Progress = QUIET) -> Diagnosis:
    return Doctor(lab, progress).examine(hosts)


def _parallel(run: Callable, items: list) -> list:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(run, items))
