"""The topology file's JSON Schema, for a user's editor: the same keys and choices the loader checks (loader.py),
written from them. `netproof lab schema` prints it; labs/topology.schema.json is it, kept equal by a unit test.
The loader remains the judge: it checks what a schema cannot (addresses inside their subnet, overlapping pools)."""

from __future__ import annotations

from netproof.facts.docker import DATA_PATH_PORTS
from netproof.lab.model.loader import MTU_RANGE
from netproof.lab.model.names import LAB_NAME_MAX
from netproof.lab.model.ssh_section import ALLOWED_CHANGES, HOST_KEY_MODES
from netproof.lab.model.topology import CONTROL_PLANES, PROVIDERS, ROLES

NAME = {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}
ENGINE = {"type": "string", "description": "a Docker engine: 20.10, 26.1, 28.5, 29.7, an imported one, or system"}
DAEMON = {"type": "object", "description": "daemon.json settings (dockerd judges them)"}
IPV4_NET = {"type": "string", "description": "an IPv4 network, e.g. 10.10.10.0/24"}


def _closed(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": list(required)}


def schema() -> dict:
    subnet = _closed(
        {
            "cidr": IPV4_NET,
            "cidr6": {"type": "string", "description": "an IPv6 prefix: the subnet is dual stack"},
            "gateway": {"type": "string", "description": "the router's address (default: the subnet's first)"},
            "mtu": {"type": "integer", "minimum": MTU_RANGE[0], "maximum": MTU_RANGE[1]},
        },
        ("cidr",),
    )
    host = _closed(
        {
            "subnet": {"type": "string"},
            "address": {"type": "string", "description": "its IPv4 address, in its subnet"},
            "role": {"enum": list(ROLES)},
            "engine": ENGINE,
            "daemon": DAEMON,
            "ssh": {"type": "string", "description": "the address to log in to (provider ssh)"},
        },
        ("subnet", "address"),
    )
    swarm = _closed(
        {
            "data_path_port": {"type": "integer", "minimum": DATA_PATH_PORTS[0], "maximum": DATA_PATH_PORTS[1]},
            "default_addr_pool": {"oneOf": [IPV4_NET, {"type": "array", "items": IPV4_NET}]},
            "subnet_size": {"type": "integer", "minimum": 8, "maximum": 29},
            "advertise": {"type": "string", "description": "the interface whose address each node advertises"},
        }
    )
    ssh = _closed(
        {
            "user": {"type": "string"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "identity": {"type": "string"},
            "proxy_command": {"type": "string"},
            "router": {"type": "string"},
            "host_keys": {"enum": list(HOST_KEY_MODES), "description": "known: the user's known_hosts (default)"},
            "allow": {"type": "array", "items": {"enum": list(ALLOWED_CHANGES)}, "uniqueItems": True},
        }
    )
    top = _closed(
        {
            "name": {**NAME, "maxLength": LAB_NAME_MAX},
            "control_plane": {"enum": list(CONTROL_PLANES)},
            "engine": ENGINE,
            "daemon": DAEMON,
            "swarm": swarm,
            "provider": {"enum": list(PROVIDERS)},
            "ssh": ssh,
            "router": _closed({"drop_fragments": {"type": "boolean"}}),
            "subnets": {"type": "object", "additionalProperties": subnet, "minProperties": 1},
            "hosts": {"type": "object", "additionalProperties": host, "minProperties": 1},
        },
        ("name", "subnets", "hosts"),
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "netproof topology",
        "description": "A netproof lab: its underlay subnets, its hosts, how Docker runs on them (docs/topology.md)",
        **top,
    }
