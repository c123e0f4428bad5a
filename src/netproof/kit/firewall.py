"""Docker's rules in a docker host's firewall, read from the backend its engine uses.

iptables (every engine before 29, and 29 by default): `iptables -S`, as pytest-testinfra reads it. Docker 29's
nftables backend (`firewall-backend: nftables`; `docker info` says FirewallBackend.Driver) writes no iptables
chains: its rules are in its own table, `ip docker-bridges`, in chains named after the iptables table they stand
for (filter-FORWARD, nat-POSTROUTING, raw-PREROUTING, filter-forward-in__<bridge>, ...). Checks record either
as their mechanism, each backend in its own syntax: a change of backend shows as a change of mechanism.
"""

from __future__ import annotations

import ipaddress
import re

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


def rule_counters(host: LabHost, targets: tuple[str, ...] = ("DROP", "REJECT")) -> dict[str, int]:
    """Each rule (and chain policy) of the host's filter and raw tables with one of those targets, with its packet
    count: `iptables-save -c`'s words, "filter INPUT: -A INPUT -p udp -m udp --dport 4789 -j DROP". Empty where the
    host has no iptables."""
    jumps = "|".join(targets)
    counted: dict[str, int] = {}
    for table in ("raw", "filter"):
        saved = host.run(["iptables-save", "-c", "-t", table], timeout=15)
        if not saved.ok:
            continue
        for line in saved.stdout.splitlines():
            policy = re.match(rf"^:(\S+) ({jumps}) \[(\d+):\d+\]", line)
            rule = re.match(rf"^\[(\d+):\d+\] (-A (\S+) .*-j ({jumps})\b.*)$", line)
            if policy:
                counted[f"{table} {policy.group(1)}: policy {policy.group(2)}"] = int(policy.group(3))
            elif rule:
                counted[f"{table} {rule.group(3)}: {rule.group(2)}"] = int(rule.group(1))
    return counted


def drop_counters(host: LabHost) -> dict[str, int]:
    return rule_counters(host, ("DROP", "REJECT"))


def risen(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """The rules whose counters rose between two readings."""
    return [rule for rule, packets in after.items() if packets > before.get(rule, packets)]


def whose(rule: str) -> str:
    """A rule said with whose it is: Docker's chains are Docker's, DOCKER-USER and every other chain the user's."""
    chain = rule.split(":")[0].split()[-1]
    return f"{rule} (Docker's)" if chain.startswith("DOCKER") and chain != "DOCKER-USER" else f"{rule} (not Docker's)"


def rules_that_dropped(
    before: dict[str, int], after: dict[str, int], *, proto: str, port: int, src: str, dst: str
) -> list[str]:
    """The drop rules on the way in whose counters rose meanwhile and that would match the probe (its protocol,
    port, source and destination address, as far as the rule names them): what took it. Docker's own chains are
    said to be Docker's."""
    taken = []
    for rule in risen(before, after):
        chain = rule.split(":")[0].split()[-1]
        if chain not in ("INPUT", "PREROUTING") or not _could_match(rule, proto, port, src, dst):
            continue
        taken.append(whose(rule))
    return taken


def _could_match(rule: str, proto: str, port: int, src: str, dst: str) -> bool:
    words = rule.split()
    for option, value in (("-p", proto), ("--dport", str(port)), ("-s", src), ("-d", dst)):
        if option in words:
            at = words.index(option)
            if words[at - 1] == "!":
                continue  # a negated match: it may well take the probe
            wanted = words[at + 1]
            if option in ("-s", "-d"):
                if not _in(value, wanted):
                    return False
            elif wanted != value:
                return False
    return "--dports" not in words


def _in(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
