"""The lab's own services on this machine: etcd on the kv host, and the outside host's web and DNS servers."""

from __future__ import annotations

from netproof.facts import budgets
from netproof.facts.docker import ETCD_PORT
from netproof.lab.model.topology import LAB_ZONE, OUTSIDE_HTTP_PORT, Host
from netproof.lab.providers.netns.engine import wait_until_ready


class LabServices:
    """The lab's own services on this machine: etcd on the kv host, and the outside host's web and DNS servers."""

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
        wait_until_ready(
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
        wait_until_ready(
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
        wait_until_ready(
            lambda: address in node.run(probe, timeout=5).stdout.split("Name:")[-1],
            budgets.ENGINE_START,
            f"the DNS server on {outside.name}",
            node.dir / "dnsmasq.out",
        )
