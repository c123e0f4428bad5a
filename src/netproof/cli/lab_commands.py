"""netproof lab up, status, doctor, exec, down, clean; netproof box build."""

from __future__ import annotations

import argparse
import json
import os
import sys

from netproof import system
from netproof.cli.common import topology_of
from netproof.errors import ExitStatus, NetproofError
from netproof.jobs.base import lab_left_up
from netproof.lab.lab import Lab, held
from netproof.lab.model import loader
from netproof.lab.model.names import LabNames
from netproof.progress import QUIET, Progress


def cmd_up(args: argparse.Namespace) -> int:
    system.require_root()
    lab = lab_left_up(topology_of(args), Progress(), args.provider, keep=args.keep)
    print_status(lab)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from netproof.lab.model import schema

    print(json.dumps(schema.schema(), indent=2))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Every check of a topology file that needs no lab: its keys and values, its provider's abilities, its engines.
    Nothing is built, nothing needs root."""
    from netproof.lab.providers import make_provider

    topology = loader.load(args.topology)  # engines are judged there: a version netproof knows
    make_provider(topology.provider, LabNames(topology.name), QUIET).refuse_what_it_cannot(topology)
    hosts = topology.docker_hosts
    if topology.engine_note:
        print(topology.engine_note)
    print(
        f"{args.topology}: a valid topology: lab {topology.name}, provider {topology.provider}, control plane "
        f"{topology.control_plane}, {len(hosts)} docker host(s) on Docker {', '.join(topology.engines)}, "
        f"{len(topology.subnets)} subnet(s)"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if not args.name and not Lab.running():
        print("[]" if args.json else "no lab is up; bring one up with: netproof lab up labs/seed.yml")
        return 0
    lab = Lab.attach(args.name)
    if args.json:
        print(
            json.dumps(
                {
                    "name": lab.name,
                    "provider": lab.state["provider"],
                    "control_plane": lab.topology.control_plane,
                    "status": lab.state["status"],
                    "state_file": str(lab.names.state_file),
                    "hosts": lab.status(),
                },
                indent=2,
            )
        )
    else:
        print_status(lab)
    return 0


def print_status(lab: Lab) -> None:
    print(
        f"lab {lab.name} ({lab.state['provider']}, {lab.topology.control_plane}): {lab.state['status']}, state in "
        f"{lab.names.state_file}"
    )
    header = ("HOST", "ROLE", "ADDRESS", "ENGINE", "VERSION", "DOCKERD", "SWARM", "STATE", "DOCKER SOCKET")
    rows = [header]
    for r in lab.status():
        rows.append(
            (
                r["name"],
                r["role"],
                f"{r['address']}",
                r.get("engine") or "-",
                r.get("engine_version") or "-",
                str(r.get("dockerd_pid") or "-"),
                r.get("swarm_role") or "-",
                r["state"],
                r.get("docker_socket") or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cmd_doctor(args: argparse.Namespace) -> int:
    system.require_root()
    from netproof import doctor

    lab = Lab.attach(args.name)
    diagnosis = doctor.examine(lab, progress=QUIET if args.json else Progress())
    print(json.dumps(diagnosis.to_dict(), indent=2) if args.json else diagnosis.render())
    return ExitStatus.PASSED if diagnosis.healthy else ExitStatus.LAB_BROKEN


def cmd_exec(args: argparse.Namespace) -> int:
    system.require_root()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    host = Lab.attach(args.name).host(args.host)
    argv = host.interactive_argv(command or ["sh"])
    os.execvp(argv[0], argv)


def cmd_down(args: argparse.Namespace) -> int:
    lab = Lab.attach(args.name)
    lab.down(Progress())
    print(f"lab {lab.name} is down")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    """One lab by name; without a name, every lab whose state does not say it is up (--all: those too, said first
    and, on a terminal, asked). A running lab of someone else's, or of a CI job, is never taken unnamed."""
    from netproof.lab import leftovers

    system.require_root()
    if args.name is not None:
        return _clean(args.name, args.dry_run)
    names = leftovers.lab_names()
    alive = leftovers.labs_with_live_hosts()
    up = [n for n in names if LabNames(n).state_file.exists() or n in alive]
    if up and not args.all:
        for name in up:
            why = "its state says it is up" if LabNames(name).state_file.exists() else "its hosts are running"
            print(f"leaving lab {name}: {why} (netproof lab down --name {name}, or name it to clean)")
    chosen = names if args.all else [n for n in names if n not in up]
    if not chosen:
        print("nothing to clean: no leftovers of a stopped netproof lab on this machine")
        return 0
    if args.all and up and not args.dry_run and sys.stdin.isatty():
        answer = input(f"remove every lab above, running ones included ({', '.join(up)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 0
    for name in chosen:
        _clean(name, args.dry_run)
    return 0


def _clean(name: str, dry_run: bool) -> int:
    from netproof.lab import leftovers

    with held(LabNames(name), "cleaned", lab_gone_after=True):
        found = leftovers.find(name)
        if not found:
            print(f"nothing to clean: no lab {name} leftovers on this machine")
            return 0
        for line in found.describe():
            print(("would remove " if dry_run else "removing ") + line)
        if dry_run:
            return 0
        left = leftovers.remove(name)
        if left:
            raise NetproofError("could not remove: " + "; ".join(left.describe()))
        print(f"clean: every lab {name} leftover is gone")
    return 0


def cmd_box_build(args: argparse.Namespace) -> int:
    from netproof.lab.providers.vagrant import box

    path = box.build(Progress())
    print(f"box {box.BOX_NAME}: {path} ({path.stat().st_size // 2**20} MiB), added to Vagrant in {box.VAGRANT_HOME}")
    return 0
