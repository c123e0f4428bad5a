"""Docker's rules in a docker host's firewall, read from the backend its engine uses.

iptables (every engine before 29, and 29 by default): `iptables -S`, as pytest-testinfra reads it. Docker 29's
nftables backend (`firewall-backend: nftables`; `docker info` says FirewallBackend.Driver) writes no iptables
chains: its rules are in its own table, `ip docker-bridges`, in chains named after the iptables table they stand
for (filter-FORWARD, nat-POSTROUTING, raw-PREROUTING, filter-forward-in__<bridge>, ...). Checks record either
as their mechanism, each backend in its own syntax: a change of backend shows as a change of mechanism.
"""

from __future__ import annotations

from netproof.facts.docker import NFT_TABLE
from netproof.lab.providers.base import LabHost


def backend(host: LabHost) -> str:
    """ "iptables" or "nftables", as the engine says (engines before 28 do not say: iptables)."""
    said = (host.docker().info().get("FirewallBackend") or {}).get("Driver") or "iptables"
    return "nftables" if said.startswith("nftables") else "iptables"


def rules(host: LabHost, table: str, chain: str | None = None, *, version: int = 4) -> list[str]:
    """Docker's rules for an iptables table (and chain), IPv4's or (version 6) IPv6's: with iptables that chain's
    `-S` lines; with nftables every rule and map element of Docker's chains and maps for that table
    ("nat-POSTROUTING: <rule>"), from `ip docker-bridges` or `ip6 docker-bridges`."""
    if backend(host) != "nftables":
        return host.infra.iptables.rules(table, chain, version=version)
    family = "ip6" if version == 6 else NFT_TABLE[0]
    listed = host.run(["nft", "-s", "list", "table", family, NFT_TABLE[1]])
    return [line for line in nft_lines(listed.stdout) if line.startswith(f"{table}-")]


def nft_lines(listing: str) -> list[str]:
    """`nft list table` as one line per rule, chain header or map element, each prefixed with its chain's or map's
    name ("filter-forward-in-jumps: "docker0" : jump filter-forward-in__docker0")."""
    lines: list[str] = []
    block, elements = None, None
    for raw in listing.splitlines():
        text = raw.strip()
        if elements is not None:  # a map's elements over several lines
            elements += " " + text
            if text.endswith("}"):
                lines += _elements(block, elements)
                elements = None
        elif raw.startswith("\t") and not raw.startswith("\t\t") and text.endswith("{"):
            block = text.split()[1]
        elif raw.startswith("\t}"):
            block = None
        elif block and text.startswith("elements = {"):
            if text.endswith("}"):
                lines += _elements(block, text)
            else:
                elements = text
        elif block and text:
            lines.append(f"{block}: {text}")
    return lines


def _elements(block: str, text: str) -> list[str]:
    inner = text.split("{", 1)[1].rsplit("}", 1)[0]
    return [f"{block}: {item.strip()}" for item in inner.split(",") if item.strip()]
