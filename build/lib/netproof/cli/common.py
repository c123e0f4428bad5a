"""What every command that brings a lab up shares: its arguments and the topology they choose."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from netproof.lab import engines
from netproof.lab.model import loader
from netproof.lab.model import topology as topo
from netproof.lab.providers import PROVIDERS

DEFAULT_TOPOLOGY = "labs/seed.yml"


def add_lab_arguments(p: argparse.ArgumentParser, engine: bool = True) -> None:
    """The arguments of every command that brings a lab up."""
    p.add_argument("topology", nargs="?", default=DEFAULT_TOPOLOGY, help=f"topology file (default {DEFAULT_TOPOLOGY})")
    if engine:
        p.add_argument("--engine", choices=engines.known(), help="run this engine on every docker host")
    p.add_argument("--control-plane", choices=topo.CONTROL_PLANES, help="swarm, or kv (legacy key-value store)")
    p.add_argument("--name", help="lab name (default: the topology's name)")
    p.add_argument(
        "--provider",
        choices=PROVIDERS,
        help="netns (namespaces here), vagrant (VMs) or ssh (existing hosts);"
        " default: the topology's provider, else netns",
    )


def topology_of(args: argparse.Namespace) -> topo.Topology:
    return loader.load(args.topology).with_overrides(
        engine=getattr(args, "engine", None), control_plane=args.control_plane, name=args.name
    )


@contextmanager
def output_for_people_on_stderr(json_wanted: bool) -> Iterator[None]:
    """With --json, stdout carries the JSON alone: everything else the command and its children print (progress,
    pytest's lines) goes to stderr meanwhile, at the file descriptor, so a child process's output does too."""
    if not json_wanted:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
