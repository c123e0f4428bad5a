"""Loaded into a checks run (`-p tests.lab.sabotage_plugin`) to break Docker's plumbing by hand in
the middle of a check, on objects the check itself creates. NETPROOF_SABOTAGE says what to break:

  fdb       once both containers exist, delete the first host's forwarding entry for the second
            container (what `bridge fdb del` by an operator would do)
  gwbridge  connect every container on an --internal network to docker_gwbridge as well
  dns       flush the nat table in every container's namespace as it is created: the rules that send
            its queries to 127.0.0.11:53 on to Docker's embedded DNS server are gone
  published once a container with a published port is created, flush its host's nat DOCKER chain
            and stop the host's docker-proxy processes: nothing forwards the port any more
  pubaccept once a container with a published port is created, delete its host's accept for it (iptables: filter
            DOCKER's; nftables: its bridge's filter-forward-in chain's): what is left drops it from outside the bridge
  untrust   once a container is created on a network that trusts host interfaces (trusted_host_interfaces), delete
            its host's raw PREROUTING accepts of what those interfaces send to the container's own address
  raw       once a container is created, flush its host's raw PREROUTING (Docker 28's drops of what is
            sent to containers' own addresses, or to 127.0.0.1, from elsewhere) and let the host route
            127.0.0.1 from its interfaces (route_localnet=1)
  userjump  once a container is created, delete FORWARD's jump to DOCKER-USER on its host
  markaccept  once a container on a routed bridge network is created, delete Docker's accept of the daemon's
            bridge-accept-fwmark for that bridge (its nftables rule "ALLOW FW MARK"); with iptables, its accepts in
            DOCKER-FORWARD (one per bridge), once any container is created
  fwdjump   once a container with no published port is created, delete FORWARD's jump to DOCKER-FORWARD on its
            host (the test puts it back): what others append to FORWARD is then met before Docker's rules
  gwroute   once a container is connected to a network with a gw-priority, point its default route back at its
            other network's gateway (what a container's own start script might do)
  macaddr   once a container is connected to a network with a MAC address of its own, give that interface another
            one (what a container's own start script might do)
  masq6     once a bridge with an IPv6 subnet is created, delete its host's ip6tables MASQUERADE for that subnet
  usertable once a bridge is created, delete the users' own nftables tables on its host (FW-USER-002's, *_fw):
            what a Docker that rewrote the whole ruleset would do
  ipv6-off  once the second container on an --ipv6 network exists, turn IPv6 off on its eth0
  ipv6-on   once a container is connected to another network, turn IPv6 on on its every interface (as Docker
            before 26.0.2 left an IPv4-only network's interface of a container that has IPv6 elsewhere)
  macvlan-route  once a container on a macvlan network of docker2 exists, delete its default route
  macvlan-shim   once a container on a macvlan network of docker1 exists, give docker1 a macvlan interface of
            its own (npshim, 10.10.10.250/32) with a route to the container: Docker's documented workaround
            for reaching macvlan containers from their host, made by an operator (the test removes npshim)
  esp-flush once the fourth container exists (ENC-001's plaintext server), flush the IPsec states (SAs) on its
            host: the encrypted overlay's packets to it can no longer be decrypted, nor its own sent
  mesh-rule once a service is published through the routing mesh, delete, on the last docker host (which runs
            none of its tasks), the nat rule of DOCKER-INGRESS that takes its port into the ingress network
  vxlan     once both containers exist, set the overlay's VXLAN device down on the second one's host
            (Docker's own plumbing broken: the underlay, which the lab doctor examines, is fine)
  ssh-drop  as a negative check's window opens, kill every sshd in the network namespace NETPROOF_SABOTAGE_NETNS
            (an ssh lab's host): its connections drop and it takes no new ones, so no probe can be sent
  probe-gone  as a negative check's window opens, remove (docker rm -f) the containers the check made: its
            probes find no container to run in
  tool-noexec  once a container exists on the host NETPROOF_SABOTAGE_HOST, its busybox (every probe's tool, and
            the shell: busybox's sh runs its own applets whatever /bin holds) can no longer be executed
  outside-silent  once a container on an --internal network exists, the outside host (network namespace
            NETPROOF_SABOTAGE_NETNS) drops what comes to its HTTP port (nftables table np_sabotage, which the
            test deletes): the lab, not Docker, stops an isolation check's probes, after the doctor's look
"""

import os
import time

from netproof import system
from netproof.kit import OUTSIDE_HTTP_PORT, facts, window, workspace
from netproof.kit.namespaces import NetNamespace

_MADE: list = []  # every container the run's checks made, for probe-gone

_container = workspace.Workspace.container


def _sabotaged_container(self, host, network, **options):
    made = _container(self, host, network, **options)
    what = os.environ.get("NETPROOF_SABOTAGE")
    mine = getattr(self, "_sabotage_seen", [])
    self._sabotage_seen = mine + [made]
    _MADE.append(made)
    if what == "fdb" and len(self._sabotage_seen) == 2:
        first, second = self._sabotage_seen
        overlay = network.overlay_namespace(first.host)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the entry appears asynchronously; delete it once it is there
            if overlay.run(["bridge", "fdb", "del", second.mac, "dev", "vxlan0", "dst", second.host.address]).ok:
                break
            time.sleep(0.1)
    if what == "vxlan" and len(self._sabotage_seen) == 2:
        second = self._sabotage_seen[1]
        network.overlay_namespace(second.host).run(["ip", "link", "set", "vxlan0", "down"])
    if what == "dns":
        made.netns.run(["iptables", "-t", "nat", "-F"])
    if what == "published" and options.get("ports"):
        host.run(["iptables", "-t", "nat", "-F", "DOCKER"])
        own = "own=$(stat -L -c %i /proc/self/ns/net)"  # this machine's processes are all visible: the host's own
        stop = 'for p in $(pgrep -x docker-proxy); do [ "$(stat -L -c %i /proc/$p/ns/net)" = "$own" ] && kill $p; done'
        host.run(["sh", "-c", f"{own}; {stop}; true"])
    if what == "pubaccept" and options.get("ports"):
        for rule in host.run(["iptables", "-S", "DOCKER"]).stdout.splitlines():
            if f"-d {made.ip}/32" in rule and rule.endswith("-j ACCEPT"):
                host.run(["iptables", "-D", *rule.split()[1:]], check=True)
        chain = f"filter-forward-in__br-{network.id[:12]}"  # 29's nftables backend
        for rule in host.run(["nft", "-a", "list", "chain", "ip", "docker-bridges", chain]).stdout.splitlines():
            if f"ip daddr {made.ip} " in rule and " accept" in rule:
                handle = rule.rsplit("# handle ", 1)[1].strip()
                host.run(["nft", "delete", "rule", "ip", "docker-bridges", chain, "handle", handle], check=True)
    if what == "untrust" and facts.TRUSTED_INTERFACES in (network.options or {}):
        for rule in host.run(["iptables", "-t", "raw", "-S", "PREROUTING"]).stdout.splitlines():
            if f"-d {made.ip}/32 -i " in rule and rule.endswith("-j ACCEPT"):
                host.run(["iptables", "-t", "raw", "-D", *rule.split()[1:]], check=True)
    if what == "raw":
        host.run(["iptables", "-t", "raw", "-F", "PREROUTING"])
        host.run(["sysctl", "-w", "net.ipv4.conf.all.route_localnet=1"])
    if what == "userjump":
        host.run(["iptables", "-D", "FORWARD", "-j", "DOCKER-USER"])
    if what == "markaccept" and (network.options or {}).get(facts.GATEWAY_MODE_IPV4) == "routed":
        chain = f"filter-forward-in__br-{network.id[:12]}"
        for rule in host.run(["nft", "-a", "list", "chain", "ip", "docker-bridges", chain]).stdout.splitlines():
            if "ALLOW FW MARK" in rule:
                handle = rule.rsplit("# handle ", 1)[1].strip()
                host.run(["nft", "delete", "rule", "ip", "docker-bridges", chain, "handle", handle], check=True)
    if what == "markaccept":  # iptables: one rule for every bridge, added again with each new one
        for rule in host.run(["iptables", "-S", "DOCKER-FORWARD"]).stdout.splitlines():
            if "-m mark --mark" in rule and rule.endswith("-j ACCEPT"):
                host.run(["iptables", "-D", *rule.split()[1:]], check=True)
    if what == "fwdjump" and not options.get("ports"):
        host.run(["iptables", "-D", "FORWARD", "-j", "DOCKER-FORWARD"])
    if what == "ipv6-off":
        ipv6 = host.docker().networks.get(network.id).attrs.get("EnableIPv6")
        if ipv6 and len(self._sabotage_seen) == 2:
            made.netns.run(["sysctl", "-w", "net.ipv6.conf.eth0.disable_ipv6=1"])
    if what == "macvlan-route" and network.driver == "macvlan" and host.name == "docker2":
        made.netns.run(["ip", "route", "del", "default"])
    if what == "macvlan-shim" and network.driver == "macvlan" and host.name == "docker1":
        shim = "ip link add npshim link eth0 type macvlan mode bridge && ip addr add 10.10.10.250/32 dev npshim"
        host.run(["sh", "-c", f"{shim} && ip link set npshim up && ip route add {made.ip}/32 dev npshim"])
    if what == "esp-flush" and len(self._sabotage_seen) == 4:
        host.run(["ip", "xfrm", "state", "flush"])
    if what == "outside-silent" and network.internal:
        at = ["ip", "netns", "exec", os.environ["NETPROOF_SABOTAGE_NETNS"], "nft"]
        system.run([*at, "add table inet np_sabotage"], check=False)
        system.run([*at, "add chain inet np_sabotage in { type filter hook input priority -10 ; }"], check=False)
        system.run([*at, f"add rule inet np_sabotage in tcp dport {OUTSIDE_HTTP_PORT} drop"], check=False)
    if what == "tool-noexec" and host.name == os.environ.get("NETPROOF_SABOTAGE_HOST"):
        host.run(["docker", "exec", made.name, "chmod", "644", "/bin/busybox"], check=True)
    if what == "gwbridge" and network.internal:
        host.run(["docker", "network", "connect", "docker_gwbridge", made.name], check=True)
    return made


workspace.Workspace.container = _sabotaged_container

_bridge = workspace.Workspace.bridge


def _sabotaged_bridge(self, host, **options):
    made = _bridge(self, host, **options)
    subnet6 = options.get("ipv6_subnet")
    if os.environ.get("NETPROOF_SABOTAGE") == "masq6" and subnet6:
        for rule in host.run(["ip6tables", "-t", "nat", "-S", "POSTROUTING"]).stdout.splitlines():
            if f"-s {subnet6} " in rule and rule.endswith("-j MASQUERADE"):
                host.run(["ip6tables", "-t", "nat", "-D", *rule.split()[1:]], check=True)
    if os.environ.get("NETPROOF_SABOTAGE") == "usertable":
        tables = host.run(["nft", "list", "tables"]).stdout.split()
        for name in [t for t in tables if t.endswith("_fw")]:
            host.run(["nft", "delete", "table", "ip", name])
    return made


workspace.Workspace.bridge = _sabotaged_bridge

_connect = workspace.Workspace.connect


def _sabotaged_connect(self, host, network, container, **options):
    done = _connect(self, host, network, container, **options)
    if os.environ.get("NETPROOF_SABOTAGE") == "gwroute" and options.get("gw_priority"):
        attrs = host.docker().containers.get(container).attrs["NetworkSettings"]
        other = next(n for name, n in attrs["Networks"].items() if name != network.name)
        back = ["ip", "route", "replace", "default", "via", other["Gateway"]]
        NetNamespace(host, attrs["SandboxKey"], container).run(back)
    if os.environ.get("NETPROOF_SABOTAGE") == "macaddr" and options.get("mac_address"):
        attrs = host.docker().containers.get(container).attrs["NetworkSettings"]
        sandbox = NetNamespace(host, attrs["SandboxKey"], container)
        interface = sandbox.interface_with_address(attrs["Networks"][network.name]["IPAddress"])
        for step in (["down"], ["address", "02:00:00:00:0b:ad"], ["up"]):
            sandbox.run(["ip", "link", "set", interface, *step])
    if os.environ.get("NETPROOF_SABOTAGE") == "ipv6-on":
        sandbox = host.docker().containers.get(container).attrs["NetworkSettings"]["SandboxKey"]
        every = "for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 0 > $f; done"
        NetNamespace(host, sandbox, container).run(["sh", "-c", every])
        time.sleep(1)  # the link-local address is the kernel's to add, a moment later
    return done


workspace.Workspace.connect = _sabotaged_connect

_service = workspace.Workspace.service


def _sabotaged_service(self, network, **options):
    made = _service(self, network, **options)
    if os.environ.get("NETPROOF_SABOTAGE") == "mesh-rule" and made.published_port:
        last = self.docker_hosts[-1]
        rule = f"--dport {made.published_port}"
        deadline = time.monotonic() + 30  # the node learns the service from the swarm a moment later
        while time.monotonic() < deadline:
            rules = last.run(["iptables", "-t", "nat", "-S", "DOCKER-INGRESS"]).stdout.splitlines()
            mine = [r for r in rules if rule in r and r.startswith("-A ")]
            if mine:
                for r in mine:
                    last.run(["iptables", "-t", "nat", "-D", *r.split()[1:]])
                break
            time.sleep(0.5)
    return made


workspace.Workspace.service = _sabotaged_service

_at_once = window.Window.at_once


def _sabotaged_at_once(self, *probes):
    what = os.environ.get("NETPROOF_SABOTAGE")
    if what == "ssh-drop":
        netns = os.environ["NETPROOF_SABOTAGE_NETNS"]
        pids = system.run(["ip", "netns", "pids", netns]).stdout.split()
        for pid in pids:
            comm = open(f"/proc/{pid}/comm").read().strip() if os.path.exists(f"/proc/{pid}/comm") else ""
            if comm == "sshd":
                system.run(["kill", "-9", pid], check=False)
        time.sleep(0.5)
    if what == "probe-gone":
        for made in _MADE:
            made.host.run(["docker", "rm", "-f", made.name])
    return _at_once(self, *probes)


window.Window.at_once = _sabotaged_at_once
