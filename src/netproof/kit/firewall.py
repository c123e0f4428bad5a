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

from netproof.facts.docker import DOCKER_USER, NFT_TABLE
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
    """Each rule (and chain policy) with one of those targets, with its packet count: of the host's iptables filter
    and raw tables in `iptables-save -c`'s words, "filter INPUT: -A INPUT -p udp -m udp --dport 4789 -j DROP"; and
    of its nftables tables that iptables does not manage, in nft's, "nft inet fw input: udp dport 4789 counter
    drop" (only a rule with a counter counts)."""
    return {**_iptables_counters(host, targets), **_nft_counters(host, targets)}


# The tables iptables-nft keeps in nftables (iptables-save reads them) and the family each is in.
_IPTABLES_NFT = {("ip", t) for t in ("filter", "raw", "nat", "mangle", "security")}
_IPTABLES_NFT |= {("ip6", t) for t, _ in _IPTABLES_NFT}


def _nft_counters(host: LabHost, targets: tuple[str, ...]) -> dict[str, int]:
    listed = host.run(["nft", "list", "ruleset"], timeout=15)
    return nft_counters(listed.stdout, targets) if listed.ok else {}


def nft_counters(ruleset: str, targets: tuple[str, ...]) -> dict[str, int]:
    """`nft list ruleset` read for the rules with a counter and one of those verdicts (iptables' targets)."""
    verdicts = "|".join(t.lower() for t in targets)
    counted: dict[str, int] = {}
    table = chain = None
    for raw in ruleset.splitlines():
        line = raw.strip()
        if opened := re.match(r"table (\S+) (\S+) \{", line):
            table, chain = (opened.group(1), opened.group(2)), None
        elif opened := re.match(r"chain (\S+) \{", line):
            chain = opened.group(1)
        elif table and chain and table not in _IPTABLES_NFT:
            counter = re.search(r"\bcounter packets (\d+) bytes \d+", line)
            if counter and re.search(rf"\b({verdicts})\b", line[counter.end() :]):
                said = re.sub(r"\s+", " ", line[: counter.start()] + "counter" + line[counter.end() :])
                counted[f"nft {table[0]} {table[1]} {chain}: {said}"] = int(counter.group(1))
    return counted


def is_accept(rule: str) -> bool:
    """A rule of rule_counters' that lets packets through (iptables' -j ACCEPT, nft's accept)."""
    return "-j ACCEPT" in rule or (rule.startswith("nft ") and rule.rstrip().endswith("accept"))


def _iptables_counters(host: LabHost, targets: tuple[str, ...]) -> dict[str, int]:
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
    """A rule said with whose it is: Docker's chains (and its nftables table) are Docker's, DOCKER-USER and every
    other chain or table the user's."""
    where = rule.split(":")[0].split()
    if where[0] == "nft":
        return f"{rule} (Docker's)" if where[2] == NFT_TABLE[1] else f"{rule} (not Docker's)"
    chain = where[-1]
    return f"{rule} (Docker's)" if chain.startswith("DOCKER") and chain != DOCKER_USER else f"{rule} (not Docker's)"


def rules_that_dropped(
    before: dict[str, int], after: dict[str, int], *, proto: str, port: int, src: str, dst: str
) -> list[str]:
    """The drop rules on the way in whose counters rose meanwhile and that would match the probe (its protocol,
    port, source and destination address, as far as the rule names them): what took it. Docker's own chains are
    said to be Docker's."""
    taken = []
    for rule in risen(before, after):
        chain = rule.split(":")[0].split()[-1]
        if rule.startswith("nft "):  # a chain of any name, at any hook: what it matches decides
            if not _nft_could_match(rule.split(": ", 1)[1], proto, port, src, dst):
                continue
        elif chain not in ("INPUT", "PREROUTING") or not _could_match(rule, proto, port, src, dst):
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


def _nft_could_match(rule: str, proto: str, port: int, src: str, dst: str) -> bool:
    """As _could_match, for an nft rule's words (udp dport 4789, ip saddr 10.0.0.0/8, meta l4proto udp)."""
    words = rule.split()
    for at, word in enumerate(words[:-1]):
        value = words[at + 1]
        if value == "!=":
            continue  # a negated match: it may well take the probe
        if word == "dport" and value.isdigit() and value != str(port):
            return False
        if word == "dport" and words[at - 1] in ("tcp", "udp") and words[at - 1] != proto:
            return False
        if word == "l4proto" and value in ("tcp", "udp") and value != proto:
            return False
        if word in ("saddr", "daddr") and not value.startswith(("{", "@", "$")):
            if not _in(src if word == "saddr" else dst, value):
                return False
    return True


def _in(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
