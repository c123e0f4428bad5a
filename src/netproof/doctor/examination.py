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

import json
import re
import time
from collections.abc import Callable, Iterable
from itertools import permutations

from netproof import system
from netproof.doctor.control_plane import ControlPlaneExamination
from netproof.doctor.surroundings import SurroundingsExamination
from netproof.errors import LabBroken
from netproof.facts import budgets
from netproof.facts.docker import MTU_OPTION, OVERLAY_MTU, VXLAN_OVERHEAD
from netproof.facts.versions import KV_STORE_REMOVED_IN, at_least, no_kv_store
from netproof.kit.namespaces import underlay_interface
from netproof.kit.paths import (
    UNDERLAY_MTU_NEEDED,
    first_hop,
    gateway_macs,
    path_mtu,
    underlay_loss,
    underlay_ping,
)
from netproof.lab.lab import Lab
from netproof.lab.model.findings import Diagnosis, Finding
from netproof.lab.providers.base import LabHost, last_words
from netproof.progress import QUIET, Progress

TOOLS = {"bash": "bash", "ping": "iputils-ping", "tcpdump": "tcpdump", "busybox": "busybox-static"}


class Doctor(ControlPlaneExamination, SurroundingsExamination):
    """Examines one running lab; `examine()` returns what it found."""

    def __init__(self, lab: Lab, progress: Progress = QUIET):
        self.lab = lab
        self.progress = progress
        self.plane = lab.topology.control_plane
        kv = lab.topology.role("kv")
        self.kv = lab.host(kv.name) if kv and self.plane == "kv" else None
        self.findings: list[Finding] = []
        self.answering: set[str] = set()
        self.missing: dict[str, list[str]] = {}

    def examine(self, hosts: Iterable[str] | None = None) -> Diagnosis:
        """Every requirement, between the docker hosts named (and the hosts every check leans on), or all."""
        started = time.monotonic()
        shared = self._shared_hosts()
        wanted = set(hosts) | set(shared) if hosts is not None else None
        docker_hosts = [h for h in self.lab.docker_hosts if wanted is None or h.name in wanted]
        self.findings = []
        self.gateway_macs = gateway_macs(self.lab.router)
        self.missing = dict(system.parallel(self._missing_tools, [*docker_hosts, *([self.kv] if self.kv else [])]))
        answering = self._step("engines", self._engines, docker_hosts)
        self.answering = {h.name for h in answering}  # the others are not asked again (each would wait the API out)
        self._step("host settings", self._host_settings, docker_hosts, answering)
        reachable = self._step("reachability", self._reachability, docker_hosts)
        self._step("routing", self._routing)
        self._step("ports", self._ports, answering, reachable)
        self._step("mtu", self._mtu, docker_hosts, reachable)
        self._step("control plane", self._control_plane, docker_hosts, answering)
        self._step("outside", self._outside, docker_hosts)
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
            try:  # a hung daemon must not hang the doctor
                return host, None, host.engine_answer()["Version"]
            except Exception as e:  # noqa: BLE001 - any refusal is the finding
                return host, f"{type(e).__name__}: {str(e)[:160]}", ""

        answering = []
        for host, error, version in system.parallel(ask, hosts):
            if error is not None:
                state, why = self._engine_state(host)
                observed, cause = (
                    f"does not answer ({state})" if state else "does not answer",
                    (
                        f"dockerd on {host.name} ({host.address}) does not answer ({error}): {why}see "
                        f"netproof lab status --name {self.lab.name}"
                    ),
                )
            elif self.plane == "kv" and at_least(version, KV_STORE_REMOVED_IN):
                observed, cause = (
                    f"Docker {version} has no key-value store",
                    (
                        f"{host.name}: {no_kv_store(f'Docker {version}')}: this kv lab's overlays cannot work there; "
                        "migrate to swarm"
                    ),
                )
            else:
                answering.append(host)
                self._add("engine", "dockerd", host.name, None, True, f"answers (Docker {version})")
                continue
            self._add("engine", "dockerd", host.name, None, False, observed, cause=cause)
        return answering

    def _engine_state(self, host: LabHost) -> tuple[str, str]:
        """Why a dockerd does not answer, where the provider can tell: hung (its process runs), or ended, and how,
        from its log's last words (a crash's, a fatal error's, a shutdown's). ("", "start it; ") where it cannot."""
        try:
            facts = self.lab.provider.status(host)
        except Exception:  # noqa: BLE001 - the provider cannot say: the finding says what it can
            facts = {}
        if "dockerd_pid" not in facts or not facts.get("alive", True):
            return "", "start it; "
        if facts["dockerd_pid"]:
            return "hung", (
                f"its process runs (pid {facts['dockerd_pid']}) but answers nothing within "
                f"{budgets.DOCTOR_ENGINE} s: it is hung (cases that need it are errors; the other hosts' run); "
            )
        now = time.time()
        how, words = last_words(self.lab.provider.engine_log(host, now - 86400, now + 60))
        said = {"crashed": "it crashed", "fatal": "it ended on a fatal error", "stopped": "it was stopped"}
        return how, f"it is not running: {said.get(how, 'it ended')}: {words[:200]}; start it; "

    def _reachability(self, hosts: list[LabHost]) -> set[frozenset[str]]:
        pairs = [(a, b) for i, a in enumerate(hosts) for b in hosts[i + 1 :]]
        if self.kv:
            pairs += [(h, self.kv) for h in hosts]
        reachable = set()
        measured = system.parallel(lambda p: underlay_loss(*p), pairs)
        failed = [pair for pair, loss in zip(pairs, measured, strict=True) if loss.ran and loss.received == 0]
        paths = dict(zip(failed, system.parallel(lambda p: self._path_of(*p), failed), strict=True))
        for (src, dst), loss in zip(pairs, measured, strict=True):
            if not loss.ran:
                self._add("reachability", "ping", src.name, dst.name, None, loss.said)
            elif loss.lossy:  # it reaches, not always: a rate, never "does not reach"
                self._add(
                    "reachability",
                    "loss",
                    src.name,
                    dst.name,
                    False,
                    str(loss),
                    cause=f"{loss} between {src.name} ({src.address}) and {dst.name} ({dst.address}): the underlay "
                    "drops packets on that path (a router's or a host's firewall dropping a share, a lossy link); "
                    "checks across it would see loss Docker did not cause — mend the path",
                )
            elif loss.received:
                reachable.add(frozenset((src.name, dst.name)))
                self._add(
                    "reachability", "ping", src.name, dst.name, True, "ok" if loss.received == loss.sent else str(loss)
                )
            else:
                self._add(
                    "reachability",
                    "ping",
                    src.name,
                    dst.name,
                    False,
                    "no reply",
                    cause=f"{src.name} ({src.address}) cannot reach {dst.name} ({dst.address}): {loss.sent} ICMP "
                    f"echoes sent, no reply; {paths[(src, dst)]}",
                )
        return reachable

    def _path_of(self, src: LabHost, dst: LabHost) -> str:
        """Where the path from src to dst ends, traceroute-like: its route, whether the gateway answers, the hops."""
        route = src.run(["ip", "route", "get", dst.address], timeout=10)
        if not route.ok:
            return f"{src.name} has no route to {dst.address} ({route.stderr.strip()})"
        via = re.search(r"\bvia (\S+)", route.stdout)
        if not via:
            return self._unresolved(src, dst) or (
                f"{dst.name} is on {src.name}'s own link ({route.stdout.split(' uid')[0].strip()}), and does not answer"
            )
        for a, b in ((src, dst), (dst, src)):  # a host sending to the wrong neighbour for its gateway, either way
            said, wrong = first_hop(a, b.address, self.gateway_macs)
            if wrong:
                return said
        gateway = via.group(1)
        gateway_ok, _ = underlay_ping(src, gateway, count=1)
        if not gateway_ok:
            return f"its gateway {gateway} does not answer {src.name} either"
        unresolved = self._unresolved(self.lab.router, dst) if self.lab.router is not None else None
        if unresolved:
            return unresolved
        trace = src.run(["busybox", "traceroute", "-n", "-q", "1", "-w", "1", "-m", "4", dst.address], timeout=15)
        hops = [line.split()[1] for line in trace.stdout.splitlines()[1:] if len(line.split()) > 1]
        answered = [h for h in hops if h != "*"]
        beyond = f", the last hop that answered is {answered[-1]}" if answered and answered[-1] != gateway else ""
        return (
            f"the gateway {gateway} answers{beyond}, nothing beyond it does: the router does not forward to "
            f"{dst.address}"
        )

    def _unresolved(self, last_hop: LabHost, dst: LabHost) -> str | None:
        """Whether dst answers ARP from the host that hands it packets (the router, or a neighbour on its link):
        asked directly (busybox arping), whatever that host's neighbour table has cached. None if it answers."""
        route = last_hop.run(["ip", "-j", "route", "get", str(dst.address)], timeout=10)
        try:
            dev = (json.loads(route.stdout) or [{}])[0].get("dev") if route.ok else None
        except ValueError:
            dev = None
        if not dev:
            return None
        asked = last_hop.run(["busybox", "arping", "-c", "2", "-w", "2", "-I", dev, str(dst.address)], timeout=10)
        answers = re.search(r"Received (\d+) response", asked.stdout)
        if answers is None or int(answers.group(1)) > 0:  # it answers, or arping could not say
            return None
        try:
            own, interface = underlay_interface(dst)
            flags = next((lk for lk in own.links()[0] if lk.get("ifname") == interface), {}).get("flags", [])
        except LabBroken:
            interface, flags = "its interface", []
        why = f"its {interface} has ARP off (NOARP)" if "NOARP" in flags else "ARP off, or a firewall dropping ARP"
        return (
            f"{dst.name} ({dst.address}) answers no ARP: {last_hop.name} asked for it twice on {dev}, no reply "
            f"({why}), so nothing reaches it"
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

    def _mtu(self, hosts: list[LabHost], reachable: set[frozenset[str]]) -> None:
        pairs = [(a, b) for a, b in permutations(hosts, 2) if frozenset((a.name, b.name)) in reachable]
        for (src, dst), (mtu, note) in zip(pairs, system.parallel(lambda p: path_mtu(*p), pairs), strict=True):
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
                    f"create overlays with -o {MTU_OPTION}={mtu} (the underlay MTU the overlay is "
                    f"sized for: its containers get {mtu - VXLAN_OVERHEAD}), or raise the path's MTU",
                )


def examine(lab: Lab, hosts: Iterable[str] | None = None, progress: Progress = QUIET) -> Diagnosis:
    return Doctor(lab, progress).examine(hosts)
