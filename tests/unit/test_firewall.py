"""Docker 29's nftables table read as one line per rule and map element, as checks record their mechanism."""

from pathlib import Path

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
