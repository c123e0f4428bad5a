"""The netproof command: labs (up, status, doctor, exec, down, clean), runs (run, upgrade, diff), the checks'
catalogue, engines (list, fetch, import) and the Vagrant box. Each group's commands live in a module of their own."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from netproof import __version__
from netproof.cli.common import add_lab_arguments
from netproof.cli.engine_commands import cmd_engines_fetch, cmd_engines_import, cmd_engines_list
from netproof.cli.lab_commands import (
    cmd_box_build,
    cmd_clean,
    cmd_doctor,
    cmd_down,
    cmd_exec,
    cmd_schema,
    cmd_status,
    cmd_up,
    cmd_validate,
)
from netproof.cli.run_commands import (
    cmd_checks_list,
    cmd_continuity,
    cmd_defects_list,
    cmd_diff,
    cmd_matrix,
    cmd_run,
    cmd_upgrade,
)
from netproof.cli.stack_commands import cmd_capture, cmd_replay
from netproof.errors import ExitStatus, LabBroken, NetproofError, UsageError
from netproof.facts import versions
from netproof.lab import engines


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # SIGTERM ends a command the way Ctrl-C does, so `up` rolls back either way.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(args) or ExitStatus.PASSED)
    except UsageError as e:
        print(f"netproof: error: {e}", file=sys.stderr)
        return ExitStatus.USAGE
    except (NetproofError, LabBroken) as e:  # the lab, or this machine, is not as the command needs it
        print(f"netproof: error: {e}", file=sys.stderr)
        return ExitStatus.LAB_BROKEN
    except KeyboardInterrupt:
        print("netproof: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:  # `netproof checks list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.PASSED
    except Exception:  # noqa: BLE001 - netproof's own failure: said as one, with its traceback, for a bug report
        traceback.print_exc()
        print(
            "netproof: crashed (a bug in netproof, not in Docker or the lab): please report the traceback above",
            file=sys.stderr,
        )
        return ExitStatus.CRASHED


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netproof", description="Prove Docker networking on a real multi-host lab.")
    parser.add_argument("--version", action="version", version=f"netproof {__version__}")
    groups = parser.add_subparsers(title="commands")

    lab = groups.add_parser("lab", help="bring a lab up or down, look into it").add_subparsers(
        title="lab commands", metavar=""
    )
    p = lab.add_parser("up", help="bring a lab up from a topology file")
    add_lab_arguments(p)
    p.add_argument("--keep", action="store_true", help="on failure, keep what was built for inspection")
    p.set_defaults(func=cmd_up)

    p = lab.add_parser("validate", help="check a topology file without a lab: keys, values, provider, engines")
    p.add_argument("topology", help="topology file")
    p.set_defaults(func=cmd_validate)

    p = lab.add_parser("schema", help="print the topology file's JSON Schema (labs/topology.schema.json), for editors")
    p.set_defaults(func=cmd_schema)

    p = lab.add_parser("status", help="show the hosts of a running lab")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = lab.add_parser("doctor", help="prove the network under Docker gives it what it needs, host pair by pair")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)

    p = lab.add_parser("exec", help="run a command on a lab host (docker there talks to that host's daemon)")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("host")
    p.add_argument("command", nargs=argparse.REMAINDER, help="after --: the command (default: a shell)")
    p.set_defaults(func=cmd_exec)

    p = lab.add_parser("down", help="bring a lab down, leaving nothing behind")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.set_defaults(func=cmd_down)

    p = lab.add_parser("clean", help="remove the leftovers of stopped netproof labs, state file or not")
    p.add_argument("--name", help="only the leftovers of this lab (up or not)")
    p.add_argument("--all", action="store_true", help="labs whose state says they are up too (asked on a terminal)")
    p.add_argument("--dry-run", action="store_true", help="list the leftovers, remove nothing")
    p.set_defaults(func=cmd_clean)

    p = groups.add_parser("run", help="the main job: lab up, every check with pytest -n auto, report, lab down")
    add_lab_arguments(p)
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.add_argument(
        "--strict", action="store_true", help="known Docker defects count as failures (exit 1), for a defect-free gate"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (progress on stderr)")
    p.add_argument("--checks", metavar="DIR", help="run the checks in DIR instead of netproof's own")
    p.set_defaults(func=cmd_run)

    p = groups.add_parser(
        "upgrade", help="checks on one engine, in-place upgrade (or rollback), checks again, and the diff"
    )
    add_lab_arguments(p, engine=False)
    p.add_argument("--from", dest="old", choices=engines.known())
    p.add_argument("--to", dest="new", choices=engines.known(), help="older than --from: a rollback")
    p.add_argument(
        "--path", help="several steps in one run, e.g. 20.10,26.1,28.5: a diff per step and one for the whole path"
    )
    p.add_argument("--select", metavar="EXPR", help="only the checks matching EXPR (pytest -k), e.g. OVL-PING-001")
    p.add_argument(
        "--rolling", action="store_true", help="one host at a time, cross-host checks while versions are mixed"
    )
    p.add_argument(
        "--workload",
        metavar="COMPOSE",
        help="your compose project, made before the first step and its truth table proven after each "
        "(default: netproof's own, labs/stacks/shop.compose.yaml, on every docker host)",
    )
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (progress on stderr)")
    p.set_defaults(func=cmd_upgrade)

    p = groups.add_parser(
        "matrix", help="the checks on several engines, one lab each in turn, and one report of every check on each"
    )
    add_lab_arguments(p, engine=False)
    every = ",".join(versions.RELEASES)
    p.add_argument("--engines", default=every, help=f"engines in order, comma-separated (default {every})")
    p.add_argument("--select", metavar="EXPR", help="only the checks matching EXPR (pytest -k), e.g. 'DNS or PUB'")
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (progress on stderr)")
    p.set_defaults(func=cmd_matrix)

    p = groups.add_parser(
        "continuity", help="long-lived flows held through a daemon reload or restart on one host, each gap measured"
    )
    p.add_argument(
        "scenario",
        choices=["reload", "restart", "blip"],
        help="restart keeps connections only with live-restore; blip cuts a swarm worker off the underlay for 20 s",
    )
    add_lab_arguments(p)
    p.add_argument(
        "--host", help="the docker host whose dockerd is reloaded or restarted (default: the first), or cut (the last)"
    )
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (progress on stderr)")
    p.set_defaults(func=cmd_continuity)

    p = groups.add_parser(
        "replay", help="your compose project on a lab, stood in for, and the truth table of the reachability it needs"
    )
    p.add_argument("compose", help="the compose file (read by the real `docker compose config`)")
    add_lab_arguments(p)
    p.add_argument("--lab", metavar="NAME", help="replay on this running lab (left up) instead of a new one")
    p.add_argument("--host", help="the docker host the project goes on (default: the first)")
    p.add_argument("--env-file", help="compose's --env-file, for the file's ${VARIABLES}")
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.add_argument("--json", action="store_true", help="the table, every cell, on stdout (progress on stderr)")
    p.set_defaults(func=cmd_replay)

    p = groups.add_parser(
        "capture", help="read a running docker host (never write) into a compose project that netproof replays"
    )
    p.add_argument("--lab", metavar="NAME", help="the running lab whose host is read (default: the one lab up)")
    p.add_argument("--host", help="the docker host read (default: the lab's first)")
    p.add_argument("-o", "--output", metavar="FILE", help="where the compose file goes (default: standard output)")
    p.set_defaults(func=cmd_capture)

    p = groups.add_parser("diff", help="what changed between two runs (run folders or results.json files)")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument(
        "--html", metavar="PATH", help="where to write the HTML diff (default: diff.html beside NEW's results)"
    )
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a check that passed now fails")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (progress on stderr)")
    p.set_defaults(func=cmd_diff)

    eng = groups.add_parser("engines", help="Docker engines: what is cached, fetching more").add_subparsers(
        title="engine commands", metavar=""
    )
    p = eng.add_parser("list", help="known engines, where each came from, which containerd and runc it runs with")
    p.set_defaults(func=cmd_engines_list)
    p = eng.add_parser("fetch", help="download engines into the cache (Debian's docker.io, Docker's static tarball)")
    p.add_argument("versions", nargs="+", metavar="VERSION", help=f"one of {', '.join(versions.RELEASES)}")
    p.add_argument("--refresh", action="store_true", help="fetch again even when cached")
    p.set_defaults(func=cmd_engines_fetch)
    p = eng.add_parser("import", help="cache a static build carried in: docker-<version>.tgz, or a folder of it")
    p.add_argument("source", type=Path, metavar="PATH", help="a tarball laid out as Docker's static ones, or a folder")
    p.set_defaults(func=cmd_engines_import)

    known = groups.add_parser("defects", help="the Docker defects netproof recognises").add_subparsers(
        title="defects commands", metavar=""
    )
    p = known.add_parser("list", help="each known defect: reference, engines, symptoms, mechanism, workaround, checks")
    p.add_argument("--engine", metavar="VERSION", help="only those that affect this Docker version (e.g. 28.5.2)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_defects_list)

    cat = groups.add_parser("checks", help="the check catalogue").add_subparsers(title="checks commands", metavar="")
    p = cat.add_parser("list", help="every check: ID, promise, scope, tags, the engines its promise holds on")
    p.add_argument(
        "--engine", metavar="VERSION", help="also say whether each promise holds on this Docker version (e.g. 20.10)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--markdown", action="store_true", help="the README's table of checks")
    p.add_argument("--checks", metavar="DIR", help="a checks folder (default: the checks netproof carries)")
    p.add_argument(
        "--observed", metavar="MATRIX", help="also the range each promise was seen to hold on, from a matrix.json"
    )
    p.set_defaults(func=cmd_checks_list)

    box = groups.add_parser("box", help="the Vagrant box of the vagrant provider").add_subparsers(
        title="box commands", metavar=""
    )
    p = box.add_parser("build", help="build a libvirt box from Debian's packages and add it to netproof's Vagrant")
    p.set_defaults(func=cmd_box_build)
    return parser
