"""A topology file is input: whatever it holds, the loader refuses what is not a topology in one line, quickly,
and nothing in it reaches a command line or the lab's ssh_config as anything but the value it is (issue 25)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from netproof.lab.model import loader
from netproof.lab.model.names import LabNames
from netproof.lab.model.topology import TopologyError

SSH_LAB = """
name: mine
provider: ssh
ssh: {{user: {user}, router: {router}}}
subnets:
  dc1: {{cidr: 10.10.10.0/24}}
hosts:
  docker1: {{subnet: dc1, address: 10.10.10.101, ssh: {address}}}
"""


def refused(text: str, match: str) -> str:
    started = time.monotonic()
    with pytest.raises(TopologyError, match=match) as e:
        loader.parse(text, "labs/mine.yml")
    assert time.monotonic() - started < 2, "refused, but slowly"
    said = str(e.value)
    assert "\n" not in said and said.startswith("labs/mine.yml: "), said
    return said


def ssh_lab(user="admin", router="10.10.10.1", address="172.16.0.11") -> str:
    return SSH_LAB.format(user=user, router=router, address=address)


def test_a_plain_ssh_lab_is_taken():
    login = loader.parse(ssh_lab(), "labs/mine.yml").ssh
    assert login.user == "admin" and login.addresses["docker1"] == "172.16.0.11" and login.addresses["router"]


@pytest.mark.parametrize(
    "field,value,key",
    [
        ("user", '"root\\n  ProxyCommand touch /tmp/pwned"', "ssh.user"),
        ("address", '"172.16.0.11\\nMatch exec \\"touch /tmp/pwned\\""', "hosts.docker1.ssh"),
        ("router", '"10.10.10.1\\n  ProxyCommand sh"', "ssh.router"),
        ("address", '"-oProxyCommand=sh"', "hosts.docker1.ssh"),
        ("user", '"-l"', "ssh.user"),
    ],
)
def test_a_value_that_would_add_a_directive_or_an_option_is_refused(field, value, key):
    refused(ssh_lab(**{field: value}), rf"^labs/mine.yml: {key}: ")


def test_a_proxy_command_of_two_lines_is_refused():
    text = ssh_lab().replace("ssh: {user: admin,", 'ssh: {proxy_command: "ssh -W %h:%p bastion\\nHost *", user: admin,')
    refused(text, "ssh.proxy_command: .* one line of text")


def test_a_port_that_is_not_a_number_is_refused():
    refused(
        ssh_lab().replace("ssh: {user: admin,", "ssh: {port: true, user: admin,"), "ssh.port: True is not a TCP port"
    )


def test_names_are_whole_names():
    refused(ssh_lab().replace("name: mine", 'name: "mine\\n"'), "lab name 'mine\\\\n'")
    with pytest.raises(Exception, match="lab name"):
        LabNames("mine\n")
    with pytest.raises(Exception, match="lab name"):
        LabNames("")


def test_an_alias_bomb_is_refused_at_once():
    bomb = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    refused("\n".join(bomb) + "\n", "not valid YAML: more than 64 aliases")


def test_a_deep_nesting_is_refused_not_a_recursion_error():
    refused("[" * 100_000 + "]" * 100_000, "nested more than 32 deep")


def test_a_huge_integer_is_refused_in_one_line():
    refused("name: mine\nsubnets: {dc1: {cidr: 10.10.10.0/24, mtu: " + "9" * 5000 + "}}\n", "not a topology")


def test_a_key_given_twice_is_refused():
    refused("name: mine\nname: yours\n", "key 'name' given twice")


def test_a_large_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yml"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    started = time.monotonic()
    with pytest.raises(TopologyError, match=r"big.yml: 52428800 bytes; a topology file is at most"):
        loader.load(big)
    assert time.monotonic() - started < 1


def test_a_file_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "latin1.yml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TopologyError, match=r"latin1.yml: not UTF-8 text \(byte 9\)"):
        loader.load(bad)


SEED_LIKE = """
name: mine
subnets:
  dc1: {{cidr: {cidr}, mtu: {mtu}}}
router: {{drop_fragments: {drop}}}
hosts:
  {host}: {{subnet: dc1, address: {address}}}
"""


def seed_like(cidr="10.10.10.0/24", mtu="1500", drop="false", host="docker1", address="10.10.10.101") -> str:
    return SEED_LIKE.format(cidr=cidr, mtu=mtu, drop=drop, host=host, address=address)


def test_numbers_and_booleans_read_as_yaml_1_2():
    """Issue 33: PyYAML reads YAML 1.1, where 01400 is octal (768) and yes is true."""
    assert loader.parse(seed_like(mtu="01400"), "labs/mine.yml").subnets["dc1"].mtu == 1400
    refused(seed_like(drop="yes"), "router.drop_fragments: 'yes' is not true or false")
    refused(seed_like(mtu="1:30"), r"subnets.dc1.mtu: '1:30' is not an MTU")


def test_an_alias_tree_is_bounded_by_what_it_expands_to():
    bomb = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)]  # 54 aliases, 9**7 values
    refused("\n".join(bomb) + "\n", "not valid YAML: its aliases expand to more than")


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "127.0.0.0/24", "169.254.1.0/24", "224.1.1.0/24", "240.0.0.0/24"])
def test_an_underlay_that_cannot_be_is_refused(cidr):
    refused(
        seed_like(cidr=cidr, address=cidr.split("/")[0][:-1] + "5"), rf"subnets.dc1.cidr: {cidr} cannot be an underlay"
    )


@pytest.mark.parametrize("host", ["lo", "all", "default", "eth0", "br-dc1", "veth1", "vxlan0", "docker0"])
def test_a_host_named_as_an_interface_is_refused(host):
    refused(seed_like(host=host), rf"hosts.{host}: '{host}' is an interface's name")


@pytest.mark.parametrize("address", ["1234", "10.1", "0x0a000001", "'0x0a000001'", "'012.1'"])
def test_an_ssh_address_is_a_dotted_quad_or_a_name_with_a_letter(address):
    refused(ssh_lab(address=address), "hosts.docker1.ssh: .* is not an IP address or a host name")


def test_a_message_shows_keys_escaped_and_cut():
    said = refused(seed_like().replace("dc1: {cidr", '"dc1\\x1b[31m\\x07": {cidr'), "subnets.dc1")
    assert "\x1b" not in said and "\\x1b" in said
    said = refused(seed_like().replace("dc1: {cidr", f"{'d' * 500}: {{cidr"), "subnets.ddd")
    assert len(said) <= 600


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_only_a_regular_file_is_read(kind, tmp_path):
    path = tmp_path / "lab.yml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it for reading would wait for ever
    elif kind == "device":
        path = Path("/dev/zero")  # it never ends
    else:
        path.mkdir()
    started = time.monotonic()
    with pytest.raises(TopologyError) as e:
        loader.load(path)
    assert time.monotonic() - started < 1 and "\n" not in str(e.value), e.value
