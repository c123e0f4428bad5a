"""The run's lab: chosen when pytest starts, examined by the lab doctor once, shared with xdist's workers
through its state file, and brought down at the end if this run brought it up.

The process that owns the run (the xdist controller under `-n`, or the only process) chooses the lab: `--lab`
names a running lab (name or state file) or a topology file to bring up for the run; without it, the one
running lab, else labs/seed.yml brought up. Workers only attach. Nothing happens unless the run collects netproof's
own checks or --lab is given (`pytest tests`, or another project's checks/, never touches a lab), and a run that
only shows something (--collect-only, --markers, --fixtures, --setup-plan, --help) plans from the topology alone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from netproof import catalogue, timeline
from netproof.catalogue import Case, Check, check_of
from netproof.errors import NetproofError
from netproof.kit.evidence import LabBroken
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.lab.model.findings import Diagnosis
from netproof.lab.model.topology import Topology
from netproof.progress import Progress
from netproof.runner import needs
from netproof.runner.recorder import RunRecorder

LAB_STATE = pytest.StashKey[str]()  # the state file of the run's lab
LAB_OWNED = pytest.StashKey[bool]()  # this process brought it up, so brings it down
LAB = pytest.StashKey[Lab]()
DECLARED = pytest.StashKey[list[Check]]()  # every check seen while collecting (duplicates included)
CASE = pytest.StashKey[Case]()
STARTED = pytest.StashKey[float]()  # when the check's setup began (epoch): its engine logs start there
DIAGNOSIS = pytest.StashKey[Diagnosis]()  # what the lab doctor found before the checks ran
PLAN = pytest.StashKey[Topology]()  # --collect-only: the lab the run would use, read from its topology alone


def pytest_configure(config: pytest.Config) -> None:
    config.stash[DECLARED] = []
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("netproof_lab"):
            config.stash[LAB_STATE] = workerinput["netproof_lab"]
        if workerinput.get("netproof_diagnosis"):
            config.stash[DIAGNOSIS] = Diagnosis.from_dict(workerinput["netproof_diagnosis"])
        return
    _refuse_a_root_taken_from_an_option(config)
    if not _runs_checks(config):
        return
    try:
        for folder in _check_folders(config):  # a bad catalogue stops the run before any lab is touched
            catalogue.load(folder)
        if only_informs(config):  # every case listed, fixtures or markers shown: no lab touched
            try:
                config.stash[PLAN] = _planned_topology(config)
            except NetproofError:  # several labs up, say: what is shown needs none of them
                if config.getoption("netproof_lab"):
                    raise
                config.stash[PLAN] = loader.load("labs/seed.yml")
            return
        state, owned = _open_lab(config)
    except NetproofError as e:
        raise pytest.UsageError(f"netproof: {e}") from None
    config.stash[LAB_STATE] = state
    config.stash[LAB_OWNED] = owned
    report_dir = config.getoption("netproof_report_dir")
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
    lab = lab_of(config)
    config.stash[DIAGNOSIS] = diagnosis = _examine(lab)
    pairs = [(a.name, b.name) for a, b in lab.topology.host_pairs(config.getoption("netproof_pairs"))]
    config.pluginmanager.register(
        RunRecorder(
            lab,
            pairs,
            Path(report_dir) if report_dir else None,
            diagnosis.to_dict(),
            strict=config.getoption("netproof_strict_defects"),
            footprint=config.getoption("netproof_footprint"),
        ),
        "netproof-recorder",
    )


def _examine(lab: Lab) -> Diagnosis:
    """The lab doctor, once, before any check: checks that depend on what fails report it at once."""
    from netproof import doctor

    progress = Progress()
    with progress.step(f"lab {lab.name}: examining the network under Docker (netproof lab doctor)"):
        diagnosis = doctor.examine(lab)
    if not diagnosis.healthy:
        progress.say(
            f"lab {lab.name}: the network under Docker does not give it what it needs; checks that depend on it"
            " report error:\n" + "\n".join(f"  {f.cause}" for f in diagnosis.failures)
        )
    return diagnosis


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` on checks: workers from the lab, not from the CPU count, since checks wait on the network
    (on 2 cores the seed's checks took 40 s with 6 workers, 63 s with 2). Called before the lab is opened:
    the lab is the one --lab names (running, or a topology), else the running one, else labs/seed.yml."""
    if not _runs_checks(config):
        return None
    try:
        return workers_for(len(_planned_topology(config).docker_hosts))
    except NetproofError:
        return None  # the lab's own error comes when it is opened, with its remedy


def workers_for(docker_hosts: int) -> int:
    """One and a half per docker host, from 2 to 8: as many cases at once as the hosts carry without one
    host's engine being the bottleneck."""
    return max(2, min(8, (3 * docker_hosts + 1) // 2))


def _planned_topology(config: pytest.Config) -> Topology:
    """The lab the run uses, without touching one: --lab's topology file or running lab, else the one running
    lab, else labs/seed.yml; with --engine and --control-plane applied to a lab it would bring up."""
    wanted = config.getoption("netproof_lab")
    if (wanted and not wanted.endswith((".yml", ".yaml"))) or (not wanted and Lab.running()):
        return Lab.attach(wanted).topology
    topology = loader.load(wanted if wanted else "labs/seed.yml")
    return topology.with_overrides(
        engine=config.getoption("netproof_engine"), control_plane=config.getoption("netproof_control_plane")
    )


def run_topology(config: pytest.Config) -> Topology:
    """The topology of the run's lab, or of the lab it would use (--collect-only)."""
    return config.stash[PLAN] if PLAN in config.stash else lab_of(config).topology


def engine_of(config: pytest.Config, host: str) -> str | None:
    """The Docker version a host runs, or (--collect-only) the engine its topology asks for."""
    if PLAN in config.stash:
        return config.stash[PLAN].hosts[host].engine
    return lab_of(config).engine_version(host)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: tell each worker which lab to attach to."""
    node.workerinput["netproof_lab"] = node.config.stash.get(LAB_STATE, None)
    diagnosis = node.config.stash.get(DIAGNOSIS, None)
    node.workerinput["netproof_diagnosis"] = diagnosis.to_dict() if diagnosis else None


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(LAB_OWNED, False):
        Lab.attach(config.stash[LAB_STATE]).down(Progress())


def pytest_report_header(config: pytest.Config) -> list[str]:
    from netproof import __version__

    lines = [f"netproof {__version__}"]
    if LAB_STATE in config.stash:
        lab = lab_of(config)
        engines = ", ".join(sorted({v for v in lab.state.get("provider_state", {}).get("engines", {}).values()}))
        lines.append(f"lab {lab.name} ({lab.state['provider']}, {lab.topology.control_plane}): engines {engines}")
    return lines


def _refuse_a_root_taken_from_an_option(config: pytest.Config) -> None:
    # pytest chooses its root directory before it knows a plugin's options: `--report-dir DIR`
    # (no '=') makes it take DIR for a test path, lose pyproject.toml and collect everything.
    if config.inipath is None and (config.invocation_params.dir / "pyproject.toml").exists():
        for option in ("--report-dir", "--lab"):
            if option in config.invocation_params.args:
                raise pytest.UsageError(
                    f"netproof: write {option}=VALUE (with '='): pytest took the value for a test path"
                )


# pytest's options that show something and run nothing: they plan from the topology and never open a lab.
INFORMATIONAL = ("collectonly", "markers", "showfixtures", "show_fixtures_per_test", "setupplan", "help", "version")


def only_informs(config: pytest.Config) -> bool:
    return any(getattr(config.option, option, False) for option in INFORMATIONAL)


def _runs_checks(config: pytest.Config) -> bool:
    return bool(config.getoption("netproof_lab")) or bool(_check_folders(config))


def _check_folders(config: pytest.Config) -> list[Path]:
    """The folders of checks this run collects: netproof's own (or part of them), or any folder when --lab is given.
    Never a folder for its name: another project's checks/ wakes nothing."""
    homes = {catalogue.SHIPPED_CHECKS}
    folders = []
    for arg in config.args:
        for base in (config.invocation_params.dir, config.rootpath):
            path = _arg_path(config, arg, base)
            if not path.exists():
                continue
            folder = path if path.is_dir() else path.parent
            if (
                folder in homes
                or any(home in folder.parents for home in homes)
                or (config.getoption("netproof_lab") and any(folder.glob("test_*.py")))
            ):
                folders.append(folder)
            else:
                folders += [home for home in homes if path in home.parents]
            break
    return sorted(set(folders))


def _arg_path(config: pytest.Config, arg: str, base: Path) -> Path:
    """Where an argument of the run points: a path, or with --pyargs a package (pytest --pyargs netproof.checks)."""
    name = arg.split("::")[0]
    if config.option.pyargs:
        spec = importlib.util.find_spec(name) if name and not name.startswith((".", "/")) else None
        if spec is not None and spec.submodule_search_locations:
            return Path(list(spec.submodule_search_locations)[0]).resolve()
        if spec is not None and spec.origin:
            return Path(spec.origin).resolve()
    return (base / name).resolve()


def _open_lab(config: pytest.Config) -> tuple[str, bool]:
    wanted = config.getoption("netproof_lab")
    engine, control_plane = config.getoption("netproof_engine"), config.getoption("netproof_control_plane")
    if wanted and wanted.endswith((".yml", ".yaml")):
        topology = loader.load(wanted)
    elif wanted or Lab.running():
        lab = Lab.attach(wanted)
        running = {h.engine for h in lab.topology.docker_hosts}
        if (engine and running != {engine}) or (control_plane and control_plane != lab.topology.control_plane):
            raise NetproofError(
                f"lab {lab.name} runs {', '.join(sorted(running))} with {lab.topology.control_plane}, not what"
                f" --engine/--control-plane ask; bring it down, or pass --lab labs/seed.yml to bring up another"
            )
        return str(lab.names.state_file), False
    else:
        topology = loader.load("labs/seed.yml")
    lab = Lab.up(topology.with_overrides(engine=engine, control_plane=control_plane), progress=Progress())
    return str(lab.names.state_file), True


def lab_of(config: pytest.Config) -> Lab:
    if LAB not in config.stash:
        if LAB_STATE not in config.stash:
            raise pytest.UsageError(
                "netproof: checks need a lab: pass --lab (a running lab or a topology file), or run them from checks/"
            )
        config.stash[LAB] = Lab.attach(config.stash[LAB_STATE])
    return config.stash[LAB]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check whose hosts' network fails a requirement it depends on is an error at once, with the cause:
    not a wait for Docker's own timeouts, not a Docker failure. A check of overlays on a lab without a control
    plane (control_plane: none) is skipped, saying so; so is one whose lab lacks what it needs (runner/needs.py)."""
    declared, diagnosis = check_of_item(item), item.config.stash.get(DIAGNOSIS, None)
    if declared is None or CASE not in item.stash or PLAN in item.config.stash:  # --setup-plan: nothing is set up
        return
    timeline.begin()  # what the case spends, from its setup to its teardown's end (outcomes.py closes it)
    case = item.stash[CASE]
    if "overlay" in declared.needs and case.control_plane == "none":  # before the doctor: nothing to examine
        pytest.skip(needs.NO_CONTROL_PLANE)
    if diagnosis is not None:
        probes_outside = "outside" in item.fixturenames
        requirements = needs.requirements_before(declared, probes_outside)
        hosts = (*case.hosts, *diagnosis.outside_hosts) if probes_outside else case.hosts
        causes = diagnosis.causes_for(hosts, requirements)
        if causes:
            raise LabBroken("the lab doctor found, before the checks: " + "; ".join(causes))
    lab = lab_of(item.config)
    why = needs.unmet(declared, lab, [lab.host(h) for h in case.hosts])
    if why:
        pytest.skip(why)


def check_of_item(item: pytest.Item) -> Check | None:
    """The check an item runs, or None for any other test."""
    return check_of(getattr(item, "function", None))
