"""netproof lab up, status, doctor, exec, down, clean; netproof box build."""

from __future__ import annotations

import argparse
import json
import os

from netproof import system
from netproof.cli.common import topology_of
from netproof.errors import ExitStatus, NetproofError
from netproof.lab.lab import Lab, held
from netproof.lab.model.names import LabNames
from netproof.progress import QUIET, Progress


def cmd_up(args: argparse.Namespace) -> int:
    system.require_root()
    lab = Lab.up(topology_of(args), provider=args.provider, progress=Progress(), keep=args.keep)
    print_status(lab)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from netproof.lab.model import schema

    print(json.dumps(schema.schema(), indent=2))
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
    system.require_root()
    if args.name is not None:
        with held(LabNames(args.name), "cleaned", lab_gone_after=True):
            return _clean(args)
    return _clean(args)


def _clean(args: argparse.Namespace) -> int:
    from netproof.lab import leftovers

    found = leftovers.find(args.name)
    which = f"lab {args.name}" if args.name is not None else "netproof lab"
    if not found:
        print(f"nothing to clean: no {which} leftovers on this machine")
        return 0
    for line in found.describe():
        print(("would remove " if args.dry_run else "removing ") + line)
    if args.dry_run:
        return 0
    left = leftovers.remove(args.name)
    if left:
        raise NetproofError("could not remove: " + "; ".join(left.describe()))
    print(f"clean: every {which} leftover is gone")
    return 0


def cmd_box_build(args: argparse.Namespace) -> int:
    from netproof.lab.providers.vagrant import box

    path = box.build(Progress())
    print(f"box {box.BOX_NAME}: {path} ({path.stat().st_size // 2**20} MiB), added to Vagrant in {box.VAGRANT_HOME}")
    return 0
