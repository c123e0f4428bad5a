"""netproof replay and capture: a user's compose project on a lab, and the truth table of what it relies on; a running
host read into such a project."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from netproof import system
from netproof.cli.common import output_for_people_on_stderr, topology_of
from netproof.jobs import replay
from netproof.jobs.base import reports_folder
from netproof.progress import Progress


def cmd_replay(args: argparse.Namespace) -> int:
    progress = Progress()
    with output_for_people_on_stderr(args.json):
        project = replay.read_project(Path(args.compose), progress, Path(args.env_file) if args.env_file else None)
        system.require_root()
        topology = None if args.lab else topology_of(args)
        folder = reports_folder(args.reports, "replay", project.name)
        table = replay.replay(project, topology, folder, progress, lab_name=args.lab, host=args.host,
                              provider=args.provider)  # fmt: skip
    status = replay.exit_status(table)
    if args.json:
        print(json.dumps({**table.to_dict(), "notes": project.notes, "report": str(folder),
                          "exit_status": int(status)}, indent=2))  # fmt: skip
        return status
    print(table.render_terminal())
    for note in project.notes:
        print(f"note: {note}")
    print(f"report: {folder / 'replay.html'} (replay.json and replay.txt beside it)")
    return status


def cmd_capture(args: argparse.Namespace) -> int:
    from netproof.jobs.replay.capture import captured

    system.require_root()
    document, notes, host = captured(args.lab, args.host)
    header = (
        f"# Captured by netproof from {host} (read only). Replay it: netproof replay {args.output or 'FILE'}\n"
        "# Read: only what networking is made of (x-netproof.captured.read); never environment, command, mounts,\n"
        "# volumes, secrets or other labels. Images are named, never pulled.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    if args.output:
        system.write_atomically(Path(args.output), text)
        services = len(document["services"])
        print(f"captured {host}: {services} services, {len(document.get('networks', {}))} networks -> {args.output}")
        for note in notes:
            print(f"left out: {note}")
    else:
        print(text, end="")
    return 0
