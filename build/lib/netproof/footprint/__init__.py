"""Docker's networking footprint on each docker host, taken after the checks, normalized, and compared
between runs: what a sysadmin would notice changing on an upgrade, without being told where to look.

- `take`: makes a representative set of objects (an overlay, an internal overlay, a user bridge with a
  published port, an internal bridge, a container on each), reads everything Docker made or set for
  them on each host (firewall tables v4 and v6, sysctls, interfaces, addresses, routes, resolver files,
  `network inspect`, the networking fields of `docker info`), and removes the objects.
- `normalize`: replaces what differs between two runs of the same Docker (IDs, names, addresses from
  Docker's pools, MACs, random ports, interface suffixes) with stable placeholders (`<net:internal-bridge>`,
  `<ip:ctr:overlay>`, `<mac:derived-from-ip>`); anything it does not know stays as it is, never dropped.
- `compare`: the changes between two runs' footprints, one entry per change with the hosts it holds on.

A footprint is `footprint/<host>.json` in the run folder:
    schema   "netproof.footprint/1"
    host     the docker host's name (not compared)
    engine   its Docker version (not compared)
    kinds    {kind: {item: [line, ...]}}, kind one of KINDS; an item is one thing on the host (a firewall
             table, a container's routes, a network's inspect), its lines in Docker's own order
"""

SCHEMA = "netproof.footprint/1"
# In the order a reviewer reads them.
KINDS = ("firewall", "defaults", "interfaces", "routes", "resolver", "inspect", "info")
