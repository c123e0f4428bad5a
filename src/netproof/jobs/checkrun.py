"""Running the checks as a pytest process on a lab: the one place that builds that command line
(for `netproof run`, `netproof upgrade`, the benchmarks and netproof's own tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from netproof import catalogue, system
from netproof.errors import NetproofError, UsageError
from netproof.jobs.base import one_lab, reports_folder
from netproof.report import results

CHECKS_DIR = catalogue.SHIPPED_CHECKS


def checks_dir(given: str | Path | None = None) -> Path:
    """The checks a command runs: the ones netproof carries, or only when asked (--checks DIR) another folder. Never
    a folder for its name: a checks/ in the working directory is someone else's until they say so."""
    if given is None:
        if not CHECKS_DIR.is_dir():
            raise NetproofError(f"netproof's own checks are missing ({CHECKS_DIR}): reinstall netproof")
        return CHECKS_DIR
    folder = Path(given).resolve()
    if not folder.is_dir():
        raise UsageError(f"--checks {given}: no such checks folder")
    if not any(folder.glob("test_*.py")):
        raise UsageError(f"--checks {given}: no checks in it (no test_*.py)")
    return folder


def pytest_argv(
    checks: Path,
    lab: str | None,
    *,
    report_dir: Path | None = None,
    select: str | None = None,
    workers: str | int | None = "auto",
    extra: tuple[str, ...] = (),
) -> list[str]:
    """`python -m pytest CHECKS --lab=LAB ...`: --lab and --report-dir with '=', as the plugin needs them
    (lab None: the plugin's own choice, the one running lab or labs/seed.yml brought up for the run)."""
    argv = [sys.executable, "-m", "pytest", str(checks), "-p", "no:cacheprovider", f"--rootdir={checks.parent}"]
    if lab is not None:
        argv.append(f"--lab={lab}")
    if workers is not None:
        argv += ["-n", str(workers)]
    if report_dir is not None:
        argv.append(f"--report-dir={report_dir}")
    if select:
        argv += ["-k", select]
    return argv + list(extra)


def run(
    lab: str,
    folder: Path,
    *,
    checks: Path | None = None,
    select: str | None = None,
    strict: bool = False,
    footprint: bool = True,
) -> results.Results:
    """The checks on a running lab, their output shown as they go; the results they wrote into folder.
    strict: known Docker defects count as failures; footprint: Docker's footprint taken after them."""
    checks = checks or checks_dir()
    flags = ["-q", *(["--strict-defects"] if strict else []), *([] if footprint else ["--no-footprint"])]
    system.run(
        pytest_argv(checks, lab, report_dir=folder, select=select, extra=tuple(flags)),
        check=False,
        timeout=None,
        capture=False,
        cwd=checks.parent,
    )
    if not (folder / "results.json").exists():
        raise NetproofError(f"the checks wrote no results into {folder}; see pytest's output above")
    return results.load(folder)


def run_on_new_lab(
    topology, checks: Path, reports: str | Path, progress, provider: str | None = None, strict: bool = False
) -> tuple[results.Results, Path]:
    """`netproof run`: a lab up for the run, every check on it with pytest -n auto, the report, the lab down. The
    first line says which checks and which topology."""
    folder = reports_folder(reports)
    note = f"; {topology.engine_note}" if topology.engine_note else ""
    progress.say(f"netproof run: the checks in {checks}, on the topology {topology.source} ({topology.name}){note}")
    with one_lab(topology, progress, provider) as lab:
        progress.say(f"checks: pytest -n auto on lab {lab.name}, report in {folder}")
        return run(lab.name, folder, checks=checks, strict=strict), folder
