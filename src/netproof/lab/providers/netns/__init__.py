"""The embedded default provider: every lab host is a set of namespaces on this machine.

The router is a namespace too, with one bridge per underlay subnet and forwarding on; each
host's eth0 is a veth whose other end is a port of its subnet's bridge. The router has no
link to the machine's own network, and every veth is created inside lab namespaces, so the
machine's root namespace never gains or loses an interface.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from netproof import system, wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.facts.docker import CONFIG_REFUSED, ETCD_PORT
from netproof.lab import engines, leftovers
from netproof.lab.model.engine_start import EngineStart
from netproof.lab.model.topology import LAB_ZONE, OUTSIDE_HTTP_PORT, ROUTER, Host, Topology
from netproof.lab.providers.base import EngineControl, LabHost, Provider, log_lines_between
from netproof.lab.providers.netns.node import Node


class NetnsHost(LabHost):
    def __init__(self, spec: Host, node: Node):
        super().__init__(spec)
        self.node = node

    def run(self, cmd: str | Sequence[str], *, timeout: float = 60, check: bool = False) -> system.CommandResult:
        return self.node.run(self.argv(cmd), timeout=timeout, check=check)

    def interactive_argv(self, cmd: Sequence[str]) -> list[str]:
        # Inside, /run/docker.sock is this host's daemon: drop the caller's pointers elsewhere.
        return self.node.enter(["env", "-u", "DOCKER_HOST", "-u", "DOCKER_CONTEXT", *cmd])

    @property
    def docker_url(self) -> str:
        return "unix://" + self.node.root("/run/docker.sock")


class NetnsProvider(Provider, EngineControl):
    name = "netns"

    def node(self, name: str) -> Node:
        return Node(self.names, name)

    # --- life cycle -----------------------------------------------------------------------

    def preflight(self, topology: Topology) -> None:
        tools = dict(system.TOOLS)
        if topology.role("kv"):
            tools.update(system.KV_TOOLS)
        if topology.role("outside"):
            tools.update(system.OUTSIDE_TOOLS)
        if any(h.daemon.get("firewall-backend") == "nftables" for h in topology.docker_hosts):
            tools.update(system.NFTABLES_TOOLS)
        system.require_tools(tools)
        for h in topology.docker_hosts:
            engines.resolve(h.engine)
        if leftovers.find(self.names.lab):
            raise NetproofError(
                f"leftovers of an earlier lab {self.names.lab} are on this machine; remove them: netproof lab clean"
            )

    def up(self, topology: Topology, engine_start: EngineStart) -> dict:
        resolved = {h.name: engines.resolve(h.engine) for h in topology.docker_hosts}

        with self.progress.step(f"building the router and {len(topology.hosts)} hosts in namespaces"):
            self._build_underlay(topology)
        outside = topology.role("outside")
        if outside:
            with self.progress.step(
                f"starting the web server and DNS server ({LAB_ZONE}) of {outside.name} ({outside.address})"
            ):
                self._start_outside_web(outside)
                self._start_outside_dns(outside)
        kv = topology.role("kv")
        if kv:
            with self.progress.step(f"starting etcd on {kv.name} ({kv.address}:{ETCD_PORT})"):
                self._start_etcd(kv)
        versions = ", ".join(sorted({e.package_version for e in resolved.values()}))
        with self.progress.step(f"starting dockerd on {len(resolved)} hosts ({versions})"):
            for host in topology.docker_hosts:
                self.start_engine(
                    host.name,
                    resolved[host.name],
                    engine_start.flags.get(host.name, []),
                    engine_start.configs.get(host.name),
                )
                if engine_start.one_at_a_time:
                    self.wait_engine(host.name, engine_start.gossip_port)
            system.parallel(lambda h: self.wait_engine(h.name), topology.docker_hosts)
        return {"engines": {name: e.package_version for name, e in resolved.items()}}

    def _build_underlay(self, topology: Topology) -> None:
        router = self.node(ROUTER)
        first = next(iter(topology.subnets.values()))
        router.create(str(first.gateway), str(first.gateway))
        router.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        # A subnet's MTU is its bridge's on the router and every veth on it: what the router routes into
        # the subnet is held to it ("fragmentation needed" for larger don't-fragment packets).
        router.ip(
            batch="".join(
                f"link add {s.bridge} mtu {s.mtu} type bridge\naddr add {s.gateway}/{s.network.prefixlen} dev "
                f"{s.bridge}\nlink set {s.bridge} up\n"
                # nodad: the address is the lab's to give, and usable at once (no duplicate detection's delay)
                + (f"addr add {s.gateway6}/{s.ipv6.prefixlen} dev {s.bridge} nodad\n" if s.ipv6 else "")
                for s in topology.subnets.values()
            )
        )
        if any(s.ipv6 for s in topology.subnets.values()):
            router.run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"], check=True)
        if topology.drop_fragments:
            # As many cloud and VPN paths do: fragments that reach the router are dropped, and so is what it
            # would have to fragment itself (a packet without don't-fragment, larger than the subnet it goes
            # into; with don't-fragment, the kernel answers "fragmentation needed" before this chain).
            router.run(["iptables", "-A", "FORWARD", "-f", "-j", "DROP"], check=True)
            for s in topology.subnets.values():
                too_big = ["-m", "length", "--length", f"{s.mtu + 1}:65535"]
                router.run(["iptables", "-A", "FORWARD", "-o", s.bridge, *too_big, "-j", "DROP"], check=True)
        for host in topology.hosts.values():
            node = self.node(host.name)
            node.create(str(host.address), str(topology.nameserver_of(host)))
            mtu = str(host.subnet.mtu)
            router.ip(
                "link",
                "add",
                host.name,
                "mtu",
                mtu,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "mtu",
                mtu,
                "netns",
                node.netns,
            )
            router.ip("link", "set", host.name, "master", host.subnet.bridge, "up")
            ipv6 = f"addr add {host.cidr6} dev eth0 nodad\nroute add default via {host.subnet.gateway6}\n"
            node.ip(
                batch=f"addr add {host.cidr} dev eth0\nlink set eth0 up\nroute add default via {host.subnet.gateway}\n"
                + (ipv6 if host.cidr6 else "")
            )
            if host.daemon.get("firewall-backend") == "nftables":
                # With nftables Docker does not turn IP forwarding on (it refuses to start without it, and to create
                # an --ipv6 network without IPv6's): its documentation asks the host's operator to, as done here
                # (iptables-backed engines do it themselves).
                forwarding = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
                node.run(["sysctl", "-qw", *forwarding, "net.ipv6.conf.default.forwarding=1"], check=True)

    def _start_etcd(self, kv: Host) -> None:
        node = self.node(kv.name)
        url = f"http://{kv.address}:{ETCD_PORT}"
        node.spawn(
            [
                "etcd",
                "--name",
                kv.name,
                "--data-dir",
                str(node.dir / "etcd"),
                "--enable-v2=true",
                "--listen-client-urls",
                f"{url},http://127.0.0.1:{ETCD_PORT}",
                "--advertise-client-urls",
                url,
                "--listen-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-cluster",
                f"{kv.name}=http://127.0.0.1:2380",
            ],
            node.dir / "etcd.log",
        )
        probe = ["busybox", "wget", "-q", "-O-", f"{url}/health"]
        _wait_until(
            lambda: '"health":"true"' in node.run(probe, timeout=5).stdout.replace(" ", ""),
            budgets.ENGINE_START,
            f"etcd on {kv.name}",
            node.dir / "etcd.log",
        )

    def _start_outside_web(self, outside: Host) -> None:
        node = self.node(outside.name)
        (node.dir / "www").mkdir(exist_ok=True)
        (node.dir / "www" / "index.html").write_text(f"netproof {outside.name}\n")
        node.spawn(
            ["busybox", "httpd", "-f", "-p", str(OUTSIDE_HTTP_PORT), "-h", str(node.dir / "www")],
            node.dir / "httpd.log",
        )
        probe = ["busybox", "wget", "-q", "-O-", f"http://127.0.0.1:{OUTSIDE_HTTP_PORT}/"]
        _wait_until(
            lambda: node.run(probe, timeout=5).ok,
            budgets.ENGINE_START,
            f"the web server on {outside.name}",
            node.dir / "httpd.log",
        )

    def _start_outside_dns(self, outside: Host) -> None:
        """dnsmasq on the outside host: the lab's zone from its own records, nothing forwarded, nothing else read."""
        node = self.node(outside.name)
        address = str(outside.address)
        node.spawn(
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",  # no upstream server: a name outside the zone is refused, never forwarded
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                f"--listen-address={address}",
                "--user=root",
                "--group=root",
                f"--pid-file={node.dir / 'dnsmasq.pid'}",
                "--log-queries",
                f"--log-facility={node.dir / 'dnsmasq.log'}",
                f"--local=/{LAB_ZONE}/",
                f"--host-record={LAB_ZONE},{address}",
                f"--host-record=www.{LAB_ZONE},{address}",
                f"--host-record={outside.name}.{LAB_ZONE},{address}",
            ],
            node.dir / "dnsmasq.out",
        )
        probe = ["busybox", "nslookup", f"www.{LAB_ZONE}", address]
        _wait_until(
            lambda: address in node.run(probe, timeout=5).stdout.split("Name:")[-1],
            budgets.ENGINE_START,
            f"the DNS server on {outside.name}",
            node.dir / "dnsmasq.out",
        )

    def start_engine(self, host: str, engine: engines.Engine, flags: list[str], config: dict | None = None) -> None:
        node = self.node(host)
        log = node.dir / "dockerd.log"
        if log.exists() and log.stat().st_size:  # each start its own log: a refusal is this start's, not an older one's
            earlier = len(list(node.dir.glob("dockerd.*.log"))) + 1
            log.rename(node.dir / f"dockerd.{earlier}.log")
        if config:  # the host's own file, never the machine's /etc/docker/daemon.json
            (node.dir / "daemon.json").write_text(json.dumps(config, indent=1) + "\n")
            flags = [*flags, "--config-file", str(node.dir / "daemon.json")]
        node.spawn(
            [
                "env",
                "-i",
                f"PATH={engine.path_env()}",
                engine.dockerd,
                "--data-root",
                str(node.dir / "docker"),
                "--exec-root",
                "/run/docker",
                "-H",
                "unix:///run/docker.sock",
                "--pidfile",
                "/run/docker.pid",
                "--cgroup-parent",
                self.names.cgroup_parent(host),
                "--shutdown-timeout",
                "2",
                *flags,
            ],
            node.dir / "dockerd.log",
        )

    def wait_engine(self, host: str, gossip_port: int | None = None) -> None:
        """Until dockerd answers on its socket (and, if given, listens on its gossip port)."""
        node = self.node(host)
        sock = node.root("/run/docker.sock")
        log = node.dir / "dockerd.log"
        _wait_until(lambda: _docker_answers(sock) or _failed(log), budgets.ENGINE_START, f"dockerd on {host}", log)
        if _failed(log):
            refused = _last_line(log, CONFIG_REFUSED)
            if CONFIG_REFUSED in refused:  # the daemon.json netproof wrote holds only the topology's daemon: settings
                raise NetproofError(
                    f"dockerd on {host} refuses the topology's daemon: settings ({refused.split(': ', 1)[-1]}); fix "
                    f"daemon: (or hosts.{host}.daemon:) in the topology file; log: {log}"
                )
            raise NetproofError(
                f"dockerd on {host} failed to start: {_last_line(log, 'level=fatal', 'failed to start', 'Status: ')}; "
                f"log: {log}"
            )
        if gossip_port:
            listening = ["ss", "-Hltn", f"sport = :{gossip_port}"]
            _wait_until(
                lambda: node.run(listening, timeout=5).stdout.strip() != "",
                budgets.ENGINE_START,
                f"dockerd on {host} to listen for gossip on port {gossip_port}",
                log,
            )

    def engine_pid(self, host: str) -> int | None:
        node = self.node(host)
        try:
            pid = int(Path(node.root("/run/docker.pid")).read_text())
        except (OSError, ValueError, NetproofError):
            return None
        return pid if os.path.exists(f"/proc/{pid}") else None

    def stop_engine(self, host: str, timeout: float = budgets.ENGINE_STOP) -> str | None:
        pid = self.engine_pid(host)
        if pid is None:
            return None
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        _, stopped = wait.poll(lambda: not os.path.exists(f"/proc/{pid}"), timeout=timeout, interval=0.2)
        took = time.monotonic() - started
        if stopped:
            return f"dockerd took {took:.0f} s to stop" if took > budgets.SLOW_STOP else None
        os.kill(pid, signal.SIGKILL)  # what systemd does after TimeoutStopSec
        _wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, f"dockerd on {host} to die (SIGKILL)", None)
        return f"dockerd did not stop within {timeout:.0f} s of SIGTERM: killed, as a service manager would"

    def down(self) -> None:
        left = leftovers.remove(self.names.lab)
        if left:
            raise NetproofError(
                f"lab {self.names.lab}: could not remove {'; '.join(left.describe())}; run `netproof lab clean`"
            )

    # --- a lab that is up -----------------------------------------------------------------

    def hosts(self, topology: Topology) -> dict[str, LabHost]:
        hosts: dict[str, LabHost] = {name: NetnsHost(spec, self.node(name)) for name, spec in topology.hosts.items()}
        hosts[ROUTER] = NetnsHost(topology.router, self.node(ROUTER))
        return hosts

    def status(self, host: LabHost) -> dict:
        node = self.node(host.name)
        alive = node.holder_pid is not None
        facts = {"alive": alive, "holder_pid": node.holder_pid, "netns": node.netns}
        if host.role == "docker":
            facts["dockerd_pid"] = self.engine_pid(host.name) if alive else None
            facts["docker_socket"] = node.root("/run/docker.sock") if alive else None
        return facts

    def engine_log(self, host: LabHost, since: float, until: float) -> str:
        try:
            text = (self.node(host.name).dir / "dockerd.log").read_text(errors="replace")
        except OSError as e:
            return f"(no dockerd log for {host.name}: {e})"
        return log_lines_between(text, since, until)


def _wait_until(ready: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    hint = (lambda: f"last log line: {_last_line(log)} (log: {log})") if log else None
    wait.until(ready, timeout=timeout, what=what, interval=0.02, max_interval=0.25, hint=hint)


def _docker_answers(sock: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


def _failed(log: Path) -> bool:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    # dockerd's own refusals: a fatal log line, or its command line refused ("Status: unknown flag: ..., Code: 125")
    return (
        CONFIG_REFUSED in text
        or "failed to start daemon" in text
        or "level=fatal" in text
        or bool(re.search(r"^Status: .*(\n.*)?Code: \d+", text, re.M))
    )


def _last_line(log: Path | None, *preferring: str) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except (OSError, AttributeError):
        return "no log"
    for marker in preferring:
        chosen = [line for line in lines if marker in line]
        if chosen:
            return chosen[-1][:300]
    return lines[-1][:300] if lines else "empty log"
