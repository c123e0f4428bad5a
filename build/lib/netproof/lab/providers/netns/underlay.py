"""The lab's underlay on this machine: a router namespace with a bridge per subnet, each host's eth0 a veth
on its subnet's bridge, addresses and routes (IPv4, and IPv6 where a subnet has a cidr6)."""

from __future__ import annotations

from netproof.lab.model.topology import ROUTER, Topology


class Underlay:
    """The lab's underlay on this machine: a router namespace with a bridge per subnet, each host's eth0 a veth"""

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
