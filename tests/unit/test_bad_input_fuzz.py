"""Every value a topology file can hold, put where another belongs: the loader takes the file or refuses it in
one line naming the file, never with a traceback (issue 25 found four of 101 crafted inputs ending in one).

The inputs are the shipped labs with one value at a time replaced, or one key removed: a few thousand files, made
the same way at every run."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from netproof.errors import NetproofError
from netproof.lab.model import loader

LABS = sorted((Path(__file__).parents[2] / "labs").glob("*.yml"))

# A user's inventory: every value of its ssh: section reaches the lab's ssh_config or an ssh command line.
SSH_INVENTORY = """
name: mine
provider: ssh
ssh: {user: admin, port: 2222, proxy_command: "ssh -W %h:%p bastion", router: 10.10.10.1, host_keys: accept-new,
      allow: [router-routes]}
subnets:
  dc1: {cidr: 10.10.10.0/24}
hosts:
  docker1: {subnet: dc1, address: 10.10.10.101, ssh: 172.16.0.11}
  docker2: {subnet: dc1, address: 10.10.10.102}
"""

# What a careless or hostile hand puts in a value's place.
STRANGERS = [None, True, 0, -1, 2**70, 1.5, "", "x\ny", "-oProxyCommand=x", "a" * 300, "ünï", [], {}, ["a"], {"a": 1}]


def places(node, path=()):
    """Every (path, value) in a document, mappings and lists alike."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from places(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from places(v, (*path, i))


def changed(doc, path, value=None, remove=False):
    doc = copy.deepcopy(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def mutations(text: str):
    doc = yaml.safe_load(text)
    for path, _ in places(doc):
        if not path:
            continue
        yield changed(doc, path, remove=True)
        for stranger in STRANGERS:
            yield changed(doc, path, stranger)


def ssh_words(topology) -> list[str]:
    """What of an inventory reaches ssh as a word of its own (the proxy command is the user's own command line)."""
    login = topology.ssh
    return [login.user, *login.addresses.values(), str(login.port)] if login else []


@pytest.mark.parametrize(
    "name,original",
    [(p.name, p.read_text()) for p in LABS] + [("mine.yml", SSH_INVENTORY)],
    ids=[p.stem for p in LABS] + ["ssh-inventory"],
)
def test_every_value_out_of_place_is_taken_or_refused_in_one_line(name, original):
    tried = refused = 0
    for doc in mutations(original):
        text = yaml.safe_dump(doc, allow_unicode=True)
        tried += 1
        try:
            taken = loader.parse(text, source=name)
        except NetproofError as e:
            refused += 1
            message = str(e)
            assert message.startswith(f"{name}: ") and "\n" not in message, f"not one line: {message!r}\n{text}"
            continue
        except Exception as e:  # noqa: BLE001 - the defect this test looks for
            pytest.fail(f"{type(e).__name__}: {e}\nfor this input of {name}:\n{text}")
        for word in ssh_words(taken):  # one plain word, never an option
            assert word.isprintable() and " " not in word and not word.startswith("-"), f"{word!r} from\n{text}"
        if taken.ssh and taken.ssh.proxy_command:  # one line: it can add no directive
            assert taken.ssh.proxy_command.isprintable(), f"{taken.ssh.proxy_command!r} from\n{text}"
    assert tried > 100 and refused > tried // 4, (tried, refused)
