"""Docker 29's nftables table read as one line per rule and map element, as checks record their mechanism."""

from pathlib import Path

from netproof.kit import firewall
from netproof.kit.firewall import nft_lines

# `nft -s list table ip docker-bridges` on Docker 29.7.2 (firewall-backend nftables) with a user bridge and a
# container publishing port 8080 (host port 32772).
LISTING = (Path(__file__).parent / "fixtures" / "nft-docker-bridges-29.7.txt").read_text()


def test_each_rule_is_prefixed_with_its_chain():
    lines = nft_lines(LISTING)
    assert (
        'nat-prerouting-and-output: iifname != "br-d764e2e4f243" tcp dport 32772 counter dnat to '
        '172.18.0.2:8080 comment "DNAT"' in lines
    )
    assert "filter-FORWARD: type filter hook forward priority filter; policy accept;" in lines


def test_map_elements_over_several_lines_are_one_line_each():
    jumps = [line for line in nft_lines(LISTING) if line.startswith("filter-forward-in-jumps:")]
    assert jumps == [
        "filter-forward-in-jumps: type ifname : verdict",
        'filter-forward-in-jumps: "docker0" : jump filter-forward-in__docker0',
        'filter-forward-in-jumps: "br-d764e2e4f243" : jump filter-forward-in__br-d764e2e4f243',
    ]


def test_every_rule_and_map_element_once_in_the_listings_order():
    lines = nft_lines(LISTING)
    rules = [
        r.strip()
        for r in LISTING.splitlines()
        if r.startswith("\t\t") and not r.startswith("\t\t\t") and not r.strip().startswith("elements")
    ]
    assert [line.split(": ", 1)[1] for line in lines if " : jump " not in line] == rules
    assert len([line for line in lines if " : jump " in line]) == 8  # 4 maps, 2 bridges each


SAVED_BEFORE = """*filter
:INPUT ACCEPT [120:9000]
:FORWARD DROP [0:0]
[0:0] -A INPUT -p udp -m udp --dport 4789 -j DROP
[4:240] -A INPUT -s 10.99.0.0/16 -j DROP
COMMIT
"""
SAVED_AFTER = SAVED_BEFORE.replace(
    "[0:0] -A INPUT -p udp -m udp --dport 4789 -j DROP", "[3:150] -A INPUT -p udp -m udp --dport 4789 -j DROP"
).replace("[4:240] -A INPUT -s 10.99", "[9:540] -A INPUT -s 10.99")


class SavedHost:
    def __init__(self, text):
        self.text = text

    def run(self, cmd, timeout=60):
        from netproof.system import CommandResult

        table = cmd[-1]
        return CommandResult(cmd, 0, self.text if table == "filter" else "*raw\nCOMMIT\n", "", "docker4")


def test_a_drop_rule_of_the_hosts_own_that_took_the_probe_is_named():
    """Issue 26: VXLAN dropped in docker4's INPUT arrived (a capture sees it first) and never reached Docker."""
    before, after = firewall.drop_counters(SavedHost(SAVED_BEFORE)), firewall.drop_counters(SavedHost(SAVED_AFTER))
    taken = firewall.rules_that_dropped(before, after, proto="udp", port=4789, src="10.10.10.101", dst="192.168.50.102")
    assert taken == ["filter INPUT: -A INPUT -p udp -m udp --dport 4789 -j DROP (not Docker's)"]
    # the rule of another source's counted too, but it could not have taken this probe; nor a TCP probe the UDP rule
    assert firewall.rules_that_dropped(before, after, proto="tcp", port=7946, src="10.10.10.101", dst="x") == []
    assert firewall.rules_that_dropped(
        before, after, proto="udp", port=4789, src="10.99.1.1", dst="192.168.50.102"
    ) == [
        "filter INPUT: -A INPUT -p udp -m udp --dport 4789 -j DROP (not Docker's)",
        "filter INPUT: -A INPUT -s 10.99.0.0/16 -j DROP (not Docker's)",
    ]


def test_a_rule_is_said_with_whose_it_is():
    assert firewall.whose("filter DOCKER-USER: -A DOCKER-USER -j ACCEPT").endswith("(not Docker's)")
    assert firewall.whose("filter FORWARD: -A FORWARD -i eth9 -j ACCEPT").endswith("(not Docker's)")
    assert firewall.whose("filter DOCKER-FORWARD: -A DOCKER-FORWARD -i docker0 -j ACCEPT").endswith("(Docker's)")


# `nft list ruleset` in a namespace with iptables-nft's INPUT rule and a user's own inet table (recorded here):
# iptables-save reads the first, nft_counters the second, rules with a counter only.
RULESET = (Path(__file__).parent / "fixtures" / "nft-ruleset-user-table.txt").read_text()


def test_a_rule_of_the_users_own_nftables_table_that_took_the_probe_is_named():
    """Issue 26: for nftables as for iptables, by its counter before and after."""
    before = firewall.nft_counters(RULESET, ("DROP", "REJECT"))
    assert before == {
        "nft inet userfw input: udp dport 4789 counter drop": 0,
        "nft inet userfw input: ip saddr 10.10.10.0/24 tcp dport 7946 counter reject with icmp port-unreachable": 0,
    }
    counted = RULESET.replace("dport 4789 counter packets 0", "dport 4789 counter packets 3")
    counted = counted.replace("tcp dport 7946 counter packets 0", "tcp dport 7946 counter packets 2")
    after = firewall.nft_counters(counted, ("DROP", "REJECT"))
    vxlan = dict(proto="udp", port=4789, src="10.10.10.101", dst="192.168.50.102")
    assert firewall.rules_that_dropped(before, after, **vxlan) == [
        "nft inet userfw input: udp dport 4789 counter drop (not Docker's)"
    ]
    gossip = dict(proto="tcp", port=7946, dst="192.168.50.102")
    assert firewall.rules_that_dropped(before, after, src="10.10.10.101", **gossip) == [
        "nft inet userfw input: ip saddr 10.10.10.0/24 tcp dport 7946 counter reject with icmp port-unreachable "
        "(not Docker's)"
    ]
    assert firewall.rules_that_dropped(before, after, src="192.168.50.101", **gossip) == []  # another source


def test_an_accept_in_the_users_nftables_table_is_one():
    accepts = firewall.nft_counters(RULESET, ("ACCEPT",))
    assert list(accepts) == ["nft inet userfw forward_in: ip saddr 198.51.100.10 counter accept"]  # 22's has none
    assert firewall.is_accept(next(iter(accepts))) and firewall.is_accept("filter FORWARD: -A FORWARD -j ACCEPT")
    assert not firewall.is_accept("nft inet userfw input: udp dport 4789 counter drop")
    assert firewall.whose("nft ip docker-bridges filter-FORWARD: counter accept").endswith("(Docker's)")
