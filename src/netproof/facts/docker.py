"""Docker's networking facts, each written once. Where a value is Docker's default, a lab or a check may
configure another; the name says what it is by default."""

import re

# Ports between the nodes of a swarm (docs: "Use overlay networks", firewall rules).
SWARM_PORT = 2377  # TCP: cluster management, to the managers
GOSSIP_PORT = 7946  # TCP and UDP: which container is on which node
VXLAN_PORT = 4789  # UDP: overlay traffic, unless `swarm init --data-path-port` chose another
SWARM_PORTS = (SWARM_PORT, GOSSIP_PORT)  # the swarm's own ports, which the data path must not take
DATA_PATH_PORTS = (1024, 49151)  # what Docker takes for --data-path-port
KV_ADVERTISE_PORT = 2376  # --cluster-advertise <iface>:2376 on the key-value store control plane (20.10)
ETCD_PORT = 2379  # etcd's client port: the key-value store the kv control plane talks to

# Sizes on the wire.
DEFAULT_MTU = 1500  # an Ethernet underlay's, and Docker's bridges'
VXLAN_OVERHEAD = 50  # outer IP (20), UDP (8), VXLAN (8) and the inner Ethernet header (14)
OVERLAY_MTU = DEFAULT_MTU - VXLAN_OVERHEAD  # 1450: what an overlay's interfaces get by default
ICMP_OVERHEAD = 28  # IP (20) and ICMP (8) headers around a ping's payload
VXLAN_FLAG_I = 0x08  # "the VNI is valid" (RFC 7348)

# Names Docker gives things.
GATEWAY_BRIDGE = "docker_gwbridge"  # a swarm/overlay container's way out (its eth1)
DOCKERS_OWN_NETWORKS = ("bridge", "docker_gwbridge", "ingress")  # networks Docker makes itself
# Where Docker takes a bridge's subnet when none is asked for (moby daemon/libnetwork/ipamutils,
# localScopeDefaultNetworks, the same from 20.10 to 29.7): (base, size of each subnet), in Docker's order. It avoids
# only the subnets of routes it sees on the host, never one reached through the default gateway.
DEFAULT_LOCAL_POOLS = (
    ("172.17.0.0/16", 16),
    ("172.18.0.0/16", 16),
    ("172.19.0.0/16", 16),
    ("172.20.0.0/14", 16),
    ("172.24.0.0/14", 16),
    ("172.28.0.0/14", 16),
    ("192.168.0.0/16", 20),
)
ADDRESS_POOLS_KEY = "default-address-pools"  # daemon.json
EMBEDDED_DNS = "127.0.0.11"  # the resolver Docker puts in every container on a user network
EXTERNAL_DNS_MAX = 3  # the embedded DNS forwards to a container's first three --dns servers (libnetwork maxExtDNS)
EXTERNAL_DNS_TIMEOUT = 4.0  # seconds it waits for one of them before it asks the next (libnetwork extIOTimeout)
DOCKER_USER = "DOCKER-USER"  # the iptables chain Docker leaves to the user, jumped to from FORWARD
NFT_TABLE = ("ip", "docker-bridges")  # Docker 29's nftables firewall backend: family and table
NETNS_DIR = "/run/docker/netns"  # under dockerd's exec root: the sandboxes' and overlays' namespaces
USER_BRIDGE = re.compile(r"(?<![A-Za-z0-9])br-[0-9a-f]{12}(?![0-9a-f])")  # a user bridge's interface (nft: __br-...)

# Network options (`docker network create -o`).
MTU_OPTION = "com.docker.network.driver.mtu"
ICC_OPTION = "com.docker.network.bridge.enable_icc"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
VXLANID_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
GATEWAY_MODE_IPV4 = "com.docker.network.bridge.gateway_mode_ipv4"  # nat (default), nat-unprotected, routed, isolated
GATEWAY_MODE_IPV6 = "com.docker.network.bridge.gateway_mode_ipv6"  # the same modes, for the network's IPv6
TRUSTED_INTERFACES = "com.docker.network.bridge.trusted_host_interfaces"  # 28.2 (moby/moby#49832): ':'-separated


def allows_direct_routing(daemon: dict) -> bool:
    """Whether a daemon.json opens containers' own addresses to other hosts (28.2, moby/moby#49832:
    `allow-direct-routing`, off unless set)."""
    return daemon.get("allow-direct-routing") is True


def userland_proxy(daemon: dict) -> bool:
    """Whether a daemon.json runs docker-proxy for published ports: on unless `userland-proxy: false`."""
    return daemon.get("userland-proxy", True) is not False


# Docker's own words, where netproof acts on them.
POOL_OVERLAP = "Pool overlaps with other one on this address space"  # a subnet it holds, refused
ATTACH_TIMEOUT = (  # a swarm worker's attachment that ran out of the manager's 20 s
    "attaching to network failed, make sure your network options are correct and check manager logs: "
    "context deadline exceeded"
)
CONFIG_REFUSED = "unable to configure the Docker daemon with file"  # a daemon.json dockerd refuses
