"""netproof run, upgrade, diff and checks list: the checks, run and compared."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from netproof import outcomes, system
from netproof.cli.common import output_for_people_on_stderr, topology_of
from netproof.errors import ExitStatus, NetproofError, UsageError
from netproof.facts import versions
from netproof.jobs import checkrun, replay
from netproof.jobs.base import one_lab, reports_folder
from netproof.lab import engines
from netproof.lab.model.names import LabNames
from netproof.lab.providers import make_provider, require_engine_control
from netproof.progress import Progress


def cmd_run(args: argparse.Namespace) -> int:
    system.require_root()
    checks = checkrun.checks_dir(args.checks)
    topology = topology_of(args)
    with output_for_people_on_stderr(args.json):
        results, folder = checkrun.run_on_new_lab(
            topology, checks, args.reports, Progress(), args.provider, args.strict
        )
    if args.json:
        print(json.dumps(results.summary_for_machines(folder), indent=2))
    else:
        print(results.render_terminal(folder))
    return results.exit_status


def cmd_upgrade(args: argparse.Namespace) -> int:
    from netproof.jobs import upgrade

    system.require_root()
    topology = topology_of(args)
    path = upgrade_path(args)
    require_engine_control(
        make_provider(args.provider or topology.provider, LabNames(topology.name), Progress()), "netproof upgrade"
    )
    for version in path:
        engines.resolve(version)  # refuse early what is not cached
    if topology.control_plane == "kv" and not engines.supports_kv_store(path[0]):
        raise NetproofError(
            f"{versions.no_kv_store(f'engine {path[0]}')}: a kv lab starts on an engine before it, e.g. --from 20.10"
        )
    folder = reports_folder(args.reports, "upgrade", "-to-".join(path))
    with output_for_people_on_stderr(args.json):
        progress = Progress()
        stack = replay.read_project(Path(args.workload), progress) if args.workload else None
        done = upgrade.upgrade(
            topology, path, folder, checkrun.checks_dir(), rolling=args.rolling, progress=progress,
            select=args.select, stack=stack,
        )  # fmt: skip
    status = done.exit_status(done.counts())
    if args.json:
        print(json.dumps({**done.to_dict(), "exit_status": int(status)}, indent=2))
        return status
    print(done.render_terminal())
    written = ", ".join(str(folder / name) for name, _ in done.diffs)
    print(f"\nreports: {', '.join(str(folder / name / 'index.html') for _, name in done.runs)}; diff: {written}")
    if done.regressed:
        print("regressions found (exit status 1)")
    elif status != ExitStatus.PASSED:
        print(f"no regression, but not every case could say (exit status {int(status)}: docs/checks.md)")
    return status


def upgrade_path(args: argparse.Namespace) -> list[str]:
    """The engines in order, from --path or --from/--to; refused in one line when it makes no sense."""
    if args.path and (args.old or args.new):
        raise NetproofError("give either --path or --from and --to, not both")
    if args.path:
        path = [v.strip() for v in args.path.split(",") if v.strip()]
        unknown = [v for v in path if v not in engines.known()]
        if unknown:
            known = ", ".join(engines.known())
            raise NetproofError(f"--path {args.path}: {', '.join(unknown)}: not an engine ({known})")
    elif args.old and args.new:
        path = [args.old, args.new]
    else:
        raise NetproofError("say what to upgrade: --from A --to B, or --path A,B,C")
    if len(path) < 2:
        raise NetproofError(f"--path {args.path}: at least two engines")
    same = [a for a, b in zip(path, path[1:], strict=False) if a == b]
    if same:
        raise NetproofError(f"{same[0]} follows itself in the path {','.join(path)}: nothing to upgrade there")
    return path


def cmd_diff(args: argparse.Namespace) -> int:
    from netproof.report import diff, results

    changes = diff.compare(results.load(args.old), results.load(args.new))
    new = Path(args.new)
    target = Path(args.html) if args.html else (new if new.is_dir() else new.parent) / "diff.html"
    diff.write(changes, target)
    if args.json:
        print(json.dumps({**changes.to_dict(), "report": str(target)}, indent=2))
    else:
        print(diff.render_terminal(changes))
        print(f"\ndiff report: {target}")
    return ExitStatus.DOCKER_FAILED if args.fail_on_regression and changes.regressed else ExitStatus.PASSED


def cmd_checks_list(args: argparse.Namespace) -> int:
    from netproof import catalogue

    checks = catalogue.load(checkrun.checks_dir(args.checks))
    if args.engine:
        versions.version_key(args.engine)  # refuses what is not a version
    seen = observed_ranges(Path(args.observed)) if args.observed else {}
    if args.json:
        rows = [
            {
                **c.to_dict(),
                **({"promised_on_engine": c.promised_on(args.engine)} if args.engine else {}),
                **({"observed": seen.get(c.id, "not run")} if seen else {}),
            }
            for c in checks
        ]
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(catalogue.markdown(checks))
    else:
        header = ("ID", "SCOPE", "TAGS", "NEEDS", "ENGINES") + ((f"ON {args.engine}",) if args.engine else ())
        header += (("OBSERVED",) if seen else ()) + ("PROMISE",)
        rows = [header] + [
            (c.id, c.scope, ",".join(c.tags), ",".join(c.needs) or "-", c.engines)
            + ((("yes" if c.promised_on(args.engine) else "not promised"),) if args.engine else ())
            + ((seen.get(c.id, "not run"),) if seen else ())
            + (c.promise,)
            for c in checks
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
        for r in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


def observed_ranges(path: Path) -> dict[str, str]:
    """Each check's observed range from a matrix.json (or the folder holding it), with the engines it covers."""
    path = path / "matrix.json" if path.is_dir() else path
    try:
        matrix = json.loads(path.read_text())
        over = ",".join(matrix["engines"])
        return {r["id"]: f"{r['observed']} (of {over})" for r in matrix["rows"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--observed {path}: not a netproof matrix.json ({e})") from None


def cmd_defects_list(args: argparse.Namespace) -> int:
    from netproof.facts.defects import KNOWN_DEFECTS

    if args.engine:
        versions.version_key(args.engine)  # refuses what is not a version
    found = [d for d in KNOWN_DEFECTS if not args.engine or d.affects(args.engine)]
    if args.json:
        print(json.dumps([{**d.to_dict(), "versions": d.versions} for d in found], indent=2))
        return 0
    for d in found:
        print(f"{d.reference}  ({d.versions}; control planes: {', '.join(d.control_planes)})")
        for label, value in (
            ("what", d.summary),
            ("symptoms", ", ".join(sorted(d.symptoms))),
            ("confirmed by", d.mechanism),
            ("reproduced by", ", ".join(d.reproduced_by) or "-"),
            ("observed on", ", ".join(d.observed_on) or "not yet on netproof's labs"),
            ("clear on", ", ".join(d.clear_on) or "-"),
            ("workaround", d.workaround or "-"),
        ):
            print(f"  {label + ':':14} {value}")
    if not found:
        print(f"no known Docker defect affects {args.engine}")
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from netproof.jobs.matrix import run_matrix

    system.require_root()
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in wanted if e not in engines.known()]
    if unknown or not wanted:
        known = ", ".join(engines.known())
        raise UsageError(f"--engines {args.engines}: no engine {', '.join(unknown) or 'given'}; known: {known}")
    topology = topology_of(args)
    folder = reports_folder(args.reports, "matrix")
    with output_for_people_on_stderr(args.json):
        built, page = run_matrix(topology, wanted, folder, Progress(), provider=args.provider, select=args.select)
    if args.json:
        print(json.dumps({**built, "report": str(page)}, indent=2))
    else:
        for c in built["columns"]:
            counts = ", ".join(f"{n} {o}" for o, n in c["summary"].items() if n)
            cost = f"{c['seconds']:.0f} s, {c['cpu_seconds']:.0f} CPU-s"
            print(f"Docker {c['engine']} ({', '.join(c['docker'])}): {counts}; {cost}")
        changed = [r["id"] for r in built["rows"] if any(c and c.get("differs_from_left") for c in r["cells"].values())]
        print(f"changes between engines: {', '.join(changed) or 'none'}")
        print(f"range mismatches: {'; '.join(built['mismatches']) or 'none'}")
        print(f"report: {page}")
    counts = {o: sum(c["summary"].get(o, 0) for c in built["columns"]) for o in outcomes.NAMES}
    return outcomes.exit_status(counts)  # the one rule, over every column


def cmd_continuity(args: argparse.Namespace) -> int:
    from netproof.jobs import blip, continuity

    system.require_root()
    topology = topology_of(args)
    if args.scenario == "restart" and topology.control_plane == "swarm":
        live = [h.name for h in topology.docker_hosts if h.daemon.get("live-restore")]
        if live:
            raise NetproofError(
                f"{topology.source}: live-restore (set on {', '.join(live)}) is incompatible with swarm mode; "
                "use control_plane: none or kv, as labs/live-restore.yml does"
            )
    host = args.host or topology.docker_hosts[-1 if args.scenario == "blip" else 0].name
    if host not in {h.name for h in topology.docker_hosts}:
        raise NetproofError(f"--host {host}: not a docker host of {topology.source}")
    folder = reports_folder(args.reports, "continuity")
    progress = Progress()
    with output_for_people_on_stderr(args.json):
        with one_lab(topology, progress, args.provider) as lab:
            if args.scenario == "blip":
                done = blip.run_blip(lab, host, progress)
            else:
                done = continuity.run_scenario(lab, args.scenario, host, progress)
        page = done.write(folder)
    if args.json:
        print(json.dumps({**done.to_dict(), "report": str(page), "exit_status": int(done.exit_status)}, indent=2))
    else:
        print(done.render_terminal())
        print(f"report: {page}")
    return done.exit_status
