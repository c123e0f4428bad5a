"""The topology file's JSON Schema (for a user's editor) says what the loader accepts: the same keys, the same
choices; labs/topology.schema.json is `netproof lab schema`, and every lab that comes with netproof fits it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from netproof.lab.model import loader, schema, ssh_section, topology

ROOT = Path(__file__).parents[2]


def test_the_committed_schema_is_the_generated_one():
    committed = json.loads((ROOT / "labs" / "topology.schema.json").read_text())
    assert committed == schema.schema(), "regenerate it: netproof lab schema > labs/topology.schema.json"


def test_the_schema_has_the_keys_the_loader_accepts():
    top = schema.schema()
    props = top["properties"]
    assert set(props) == set(loader.TOP_KEYS)
    assert set(props["subnets"]["additionalProperties"]["properties"]) == set(loader.SUBNET_KEYS)
    assert set(props["hosts"]["additionalProperties"]["properties"]) == set(loader.HOST_KEYS)
    assert set(props["swarm"]["properties"]) == set(topology.SWARM_KEYS)
    assert set(props["ssh"]["properties"]) == set(ssh_section.SSH_KEYS)
    assert set(props["router"]["properties"]) == set(loader.ROUTER_KEYS)


def _unknown_keys(value, node: dict, where: str) -> list[str]:
    """Keys of the document that the (closed) schema does not know, by path."""
    if not isinstance(value, dict) or node.get("type") != "object":
        return []
    found = []
    for key, inner in value.items():
        if "properties" in node and key in node["properties"]:
            found += _unknown_keys(inner, node["properties"][key], f"{where}{key}.")
        elif isinstance(node.get("additionalProperties"), dict):
            found += _unknown_keys(inner, node["additionalProperties"], f"{where}{key}.")
        elif node.get("additionalProperties") is False:
            found.append(f"{where}{key}")
    return found


def test_every_lab_that_comes_with_netproof_fits_the_schema():
    top = schema.schema()
    for path in sorted((ROOT / "labs").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        assert not _unknown_keys(doc, top, ""), path
        assert set(top["required"]) <= set(doc), path
        loader.load(path)  # and the loader takes it
