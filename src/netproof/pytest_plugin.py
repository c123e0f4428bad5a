"""netproof's pytest plugin: the lab a run uses, fixtures that read like the domain, the catalogue's checks.

Lab lifetime. The process that owns the run (the xdist controller under `-n`, or the only
process) chooses the lab when pytest starts: `--lab` names a running lab (name or state file)
or a topology file to bring up for the run; without it, the one running lab, else
labs/seed.yml brought up. A lab it brought up it brings down when the run ends, after the last
worker. Workers only attach, through the lab's state file. Nothing happens unless the run
collects checks (paths under checks/, or --lab given): `pytest tests` never touches a lab.

Checks. Each is declared with `netproof.catalogue.check` (ID, promise, scope, tags, since/until);
its test items are named by its ID, `checks/<module>.py::OVL-PING-001[swarm-docker1->docker4]`,
run sorted by ID, and carry their case (hosts, control plane, engines) as data. Each report of a
check carries, as properties, the check, its case, its evidence and its outcome in netproof's
words (see report/results.py): what the recorder writes, never parsed back out of a test ID.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from netproof import catalogue
from netproof.catalogue import Case, Check, check_of
from netproof.diagnosis.findings import REQUIREMENTS, Diagnosis
from netproof.errors import NetproofError
from netproof.lab.lab import Lab
from netproof.model import topology as topo
from netproof.progress import Progress
from netproof.proof import known_defects
from netproof.proof.evidence import CheckFailed, LabBroken, Proof
from netproof.proof.objects import Workspace
from netproof.providers.base import LabHost
from netproof.report.recorder import CASE_PROPERTY, CHECK_PROPERTY, EVIDENCE_PROPERTY, OUTCOME_PROPERTY, RunRecorder


class LeftoverWarning(UserWarning):
    """A check's network or container that Docker refused to remove."""


class DockerRetryWarning(UserWarning):
    """Something Docker did only at the second attempt (the check's verdict rests on the second)."""


LAB_STATE = pytest.StashKey[str]()  # the state file of the run's lab
LAB_OWNED = pytest.StashKey[bool]()  # this process brought it up, so brings it down
LAB = pytest.StashKey[Lab]()
DECLARED = pytest.StashKey[list[Check]]()  # every check seen while collecting (duplicates included)
CASE = pytest.StashKey[Case]()
STARTED = pytest.StashKey[float]()  # when the check's setup began (epoch): its engine logs start there
DIAGNOSIS = pytest.StashKey[Diagnosis]()  # what the lab doctor found before the checks ran
# What a check depends on of the network under Docker, by whether it is tagged overlay. The path MTU is
# not among them before a check runs (no check here needs large packets to cross hosts); a check that
# fails is examined again with every requirement.
NEEDS_BEFORE = {"overlay": ("engine", "reachability", "ports", "control-plane"), "other": ("engine",)}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netproof", "netproof: the lab the checks run on")
    group.addoption(
        "--lab",
        dest="netproof_lab",
        metavar="LAB_OR_TOPOLOGY",
        help="a running lab (name or state file), or a topology file to bring up for this run",
    )
    group.addoption(
        "--engine", dest="netproof_engine", help="engine for a lab brought up for the run (20.10, 26.1, 28.5, system)"
    )
    group.addoption(
        "--control-plane",
        dest="netproof_control_plane",
        choices=topo.CONTROL_PLANES,
        help="control plane for a lab brought up for the run",
    )
    group.addoption(
        "--report-dir",
        dest="netproof_report_dir",
        metavar="DIR",
        help="write results.json, junit.xml and the HTML conformance report (index.html) into DIR",
    )
    group.addoption(
        "--strict-defects",
        dest="netproof_strict_defects",
        action="store_true",
        help="known Docker defects count as failures (the exit status follows), for a gate that must be defect-free",
    )
    group.addoption(
        "--no-footprint",
        dest="netproof_footprint",
        action="store_false",
        help="do not take Docker's networking footprint after the checks (with --report-dir it is taken: "
        "footprint/<host>.json, compared by netproof diff)",
    )
    group.addoption(
        "--pairs",
        dest="netproof_pairs",
        default="spanning",
        choices=("spanning", "all"),
        help="host pairs for cross-host checks: spanning (every host, same-subnet and routed paths) or all",
    )


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
        state, owned = _open_lab(config)
    except NetproofError as e:
        raise pytest.UsageError(f"netproof: {e}") from None
    config.stash[LAB_STATE] = state
    config.stash[LAB_OWNED] = owned
    report_dir = config.getoption("netproof_report_dir")
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
    lab = _lab(config)
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
    from netproof.diagnosis import doctor

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
        return workers_for(len(_planned_docker_hosts(config)))
    except NetproofError:
        return None  # the lab's own error comes when it is opened, with its remedy


def workers_for(docker_hosts: int) -> int:
    """One and a half per docker host, from 2 to 8: as many cases at once as the hosts carry without one
    host's engine being the bottleneck."""
    return max(2, min(8, (3 * docker_hosts + 1) // 2))


def _planned_docker_hosts(config: pytest.Config) -> list:
    wanted = config.getoption("netproof_lab")
    if wanted and wanted.endswith((".yml", ".yaml")):
        return topo.load(wanted).docker_hosts
    if wanted or Lab.running():
        return Lab.attach(wanted).topology.docker_hosts
    return topo.load(config.rootpath / "labs" / "seed.yml").docker_hosts


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
        lab = _lab(config)
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


def _runs_checks(config: pytest.Config) -> bool:
    return bool(config.getoption("netproof_lab")) or bool(_check_folders(config))


def _check_folders(config: pytest.Config) -> list[Path]:
    """The folders of checks this run collects: checks/ (or part of it), or any folder when --lab is given."""
    checks = (config.rootpath / "checks").resolve()
    folders = []
    for arg in config.args:
        for base in (config.invocation_params.dir, config.rootpath):
            path = (base / arg.split("::")[0]).resolve()
            if not path.exists():
                continue
            folder = path if path.is_dir() else path.parent
            if (
                folder == checks
                or checks in folder.parents
                or (config.getoption("netproof_lab") and any(folder.glob("test_*.py")))
            ):
                folders.append(folder)
            elif path in checks.parents:
                folders.append(checks)
            break
    return sorted(set(folders))


def _open_lab(config: pytest.Config) -> tuple[str, bool]:
    wanted = config.getoption("netproof_lab")
    engine, control_plane = config.getoption("netproof_engine"), config.getoption("netproof_control_plane")
    if wanted and wanted.endswith((".yml", ".yaml")):
        topology = topo.load(wanted)
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
        topology = topo.load(config.rootpath / "labs" / "seed.yml")
    lab = Lab.up(topology.with_overrides(engine=engine, control_plane=control_plane), progress=Progress())
    return str(lab.names.state_file), True


def _lab(config: pytest.Config) -> Lab:
    if LAB not in config.stash:
        if LAB_STATE not in config.stash:
            raise pytest.UsageError(
                "netproof: checks need a lab: pass --lab (a running lab or a topology file), or run them from checks/"
            )
        config.stash[LAB] = Lab.attach(config.stash[LAB_STATE])
    return config.stash[LAB]


# --- parametrization and IDs ---------------------------------------------------------------


@dataclass(frozen=True)
class HostPair:
    src: LabHost
    dst: LabHost

    @property
    def routed(self) -> bool:
        return self.src.spec.subnet.name != self.dst.spec.subnet.name

    def __str__(self) -> str:
        return f"{self.src.name}->{self.dst.name}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    declared = check_of(metafunc.function)
    if declared is not None and declared.variants:
        if "variant" not in metafunc.fixturenames:
            raise pytest.UsageError(
                f"netproof: {declared.where}: {declared.id} has variants, so it must take 'variant'"
            )
        metafunc.parametrize("variant", declared.variants)
    if "pair" not in metafunc.fixturenames and "docker_host" not in metafunc.fixturenames:
        return
    lab = _lab(metafunc.config)
    plane = lab.topology.control_plane
    if "pair" in metafunc.fixturenames:
        pairs = [
            HostPair(lab.host(a.name), lab.host(b.name))
            for a, b in lab.topology.host_pairs(metafunc.config.getoption("netproof_pairs"))
        ]
        metafunc.parametrize("pair", pairs, ids=[f"{plane}-{p}" for p in pairs], indirect=True)
    if "docker_host" in metafunc.fixturenames:
        hosts = lab.docker_hosts
        metafunc.parametrize("docker_host", hosts, ids=[f"{plane}-{h.name}" for h in hosts], indirect=True)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    """A check is collected under its ID (catalogue.check binds it so); under its function name it is only noted."""
    declared = check_of(obj)
    if declared is None or name == declared.id:
        return None  # pytest's own collection: a check's ID is a test name (__test__ = True)
    collector.config.stash[DECLARED].append(declared)
    return []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        catalogue.validate(config.stash[DECLARED])
    except catalogue.CatalogueError as e:
        raise pytest.UsageError(f"netproof: {e}") from None
    checks = []
    for item in items:
        declared = _check(item)
        if declared is None:
            continue
        fixture = catalogue.SCOPES[declared.scope]
        if fixture not in item.fixturenames:
            raise pytest.UsageError(
                f"netproof: {declared.where}: {declared.id} has scope {declared.scope!r},"
                f" so it must take the {fixture!r} fixture"
            )
        item.stash[CASE] = _case_of(item, _lab(config))
        checks.append(item)
    chosen = set(map(id, checks))
    items[:] = [i for i in items if id(i) not in chosen] + sorted(checks, key=lambda i: i.name)


def _check(item: pytest.Item) -> Check | None:
    return check_of(getattr(item, "function", None))


def _case_of(item: pytest.Item, lab: Lab) -> Case:
    params = item.callspec.params if hasattr(item, "callspec") else {}
    if "pair" in params:
        hosts = (params["pair"].src.name, params["pair"].dst.name)
    elif "docker_host" in params:
        hosts = (params["docker_host"].name,)
    else:
        hosts = tuple(h.name for h in lab.docker_hosts)
    plane = lab.topology.control_plane
    label = item.callspec.id if hasattr(item, "callspec") else plane
    if "variant" in params and "pair" not in params and "docker_host" not in params:
        label = f"{plane}-{label}"  # a lab-wide check's variants: swarm-vip
    return Case(label, plane, hosts, {h: lab.engine_version(h) for h in hosts})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check whose hosts' network fails a requirement it depends on is an error at once, with the cause:
    not a wait for Docker's own timeouts, not a Docker failure. A check of overlays on a lab without a control
    plane (control_plane: none) is skipped, saying so."""
    declared, diagnosis = _check(item), item.config.stash.get(DIAGNOSIS, None)
    if declared is None or CASE not in item.stash:
        return
    if "overlay" in declared.tags and item.stash[CASE].control_plane == "none":
        pytest.skip("overlays need a control plane; this lab has none (control_plane: none, bridges only)")
    if diagnosis is None:
        return
    needs = NEEDS_BEFORE["overlay" if "overlay" in declared.tags else "other"]
    causes = diagnosis.causes_for(item.stash[CASE].hosts, needs)
    if causes:
        raise LabBroken("the lab doctor found, before the checks: " + "; ".join(causes))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    declared = _check(item)
    if declared is None or CASE not in item.stash:
        return
    case = item.stash[CASE]
    if call.when == "setup":
        item.stash[STARTED] = call.start
    report.user_properties += [
        (CHECK_PROPERTY, json.dumps({"id": declared.id, "promise": declared.promise})),
        (CASE_PROPERTY, json.dumps(case.to_dict())),
    ]
    verdict = _verdict(item, declared, case, call, report)
    if verdict is None:
        return
    netproof_outcome, message = verdict.outcome, verdict.message
    proof = item.funcargs.get("proof") if hasattr(item, "funcargs") else None
    evidence = proof.to_dict() if isinstance(proof, Proof) and call.when == "call" else None
    if (
        netproof_outcome in ("failed", "error", "known-defect", "not-promised")
        and report.when != "teardown"
        and call.excinfo
    ):
        evidence = evidence or {"mechanism": {}, "exhibits": []}
        if not call.excinfo.errisinstance((CheckFailed, LabBroken)):
            evidence["exhibits"].append(
                {"title": "traceback", "kind": "traceback", "content": str(call.excinfo.getrepr(style="short"))}
            )
        evidence["exhibits"] += _engine_logs(item, case, since=item.stash.get(STARTED, call.start), until=call.stop)
        if verdict.recognition is not None and verdict.recognition.known:
            evidence["exhibits"].append(
                {
                    "title": f"known defect {verdict.recognition.defect.reference}: its mechanism, found then",
                    "kind": "text",
                    "content": verdict.recognition.mechanism,
                }
            )
    if evidence is not None:
        report.user_properties.append((EVIDENCE_PROPERTY, json.dumps(evidence)))
    defect = verdict.recognition.defect.reference if netproof_outcome == "known-defect" else None
    report.user_properties.append((OUTCOME_PROPERTY, json.dumps([netproof_outcome, message, defect])))


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str | None = None
    recognition: known_defects.Recognition | None = None  # a known defect's symptom was seen


def _verdict(
    item: pytest.Item, declared: Check, case: Case, call: pytest.CallInfo, report: pytest.TestReport
) -> Verdict | None:
    """The phase's outcome in netproof's words, and its message; adjusts pytest's report to match."""
    not_promised = [f"{h} runs Docker {v}" for h, v in case.engines.items() if v and not declared.promised_on(v)]
    why_not = (
        (
            f"not promised here ({'; '.join(not_promised)}): {declared.id} holds on Docker {declared.engines}"
            f" ({declared.reference})"
        )
        if not_promised
        else None
    )
    excinfo = call.excinfo
    if report.passed:
        if call.when != "call":
            return None
        return Verdict("not-promised", f"{why_not}; it held here") if why_not else Verdict("passed")
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return Verdict("skipped", reason.removeprefix("Skipped: "))
    if excinfo is not None and excinfo.errisinstance(LabBroken):
        report.longrepr = f"LAB BROKEN, not a Docker failure: {excinfo.value}"
        return Verdict("error", report.longrepr)
    if excinfo is not None and excinfo.errisinstance(CheckFailed):
        report.longrepr = str(excinfo.value)
    elif excinfo is not None:  # Docker refusing, a tool crashing: one line, the traceback goes to the evidence
        report.longrepr = one_line(excinfo, item.config.rootpath)
    message = report.longreprtext
    if excinfo is not None and call.when in ("setup", "call"):
        changed = _examine_again(item, declared, case)
        if changed:
            report.longrepr = f"LAB BROKEN, not a Docker failure: the lab doctor, after the check: {changed}"
            return Verdict("error", f"{report.longrepr}\n\nWhat the check saw:\n{message}")
    if call.when != "call":
        return Verdict("error", message)
    recognition = known_defects.recognise(message, _hosts_of(item), case.control_plane)
    if recognition is not None and recognition.known:
        if item.config.getoption("netproof_strict_defects"):  # pytest's report stays a failure
            return Verdict(
                "known-defect", f"{recognition} (--strict-defects: counted as a failure)\n\n{message}", recognition
            )
        report.outcome, report.wasxfail = "skipped", str(recognition)
        return Verdict("known-defect", f"{recognition}\n\n{message}", recognition)
    if recognition is not None:  # the symptom alone: a failure, saying why it is not put down to the defect
        message = f"{message}\n\n({recognition})"
        report.longrepr = message
    if why_not:
        report.outcome, report.wasxfail = "skipped", why_not
        return Verdict("not-promised", f"{why_not}\n\nWhat was observed:\n{message}")
    return Verdict("failed", message)


def one_line(excinfo: pytest.ExceptionInfo, root: Path) -> str:
    """An exception as one line: what was being done (the last line of netproof's or the check's own code it
    passed through) and the error in its own words (Docker's explanation when Docker refused)."""
    error = excinfo.value
    words = getattr(error, "explanation", None) or str(error)
    words = " ".join(str(words).split())[:400]
    doing = ""
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path))
        if "netproof" in path.parts or path.is_relative_to(root):
            where = path.relative_to(root) if path.is_relative_to(root) else path.name
            statement = " ".join(str(entry.statement).split())
            doing = f" at {where}:{entry.lineno + 1} ({statement[:100]})"
            break
    return f"{type(error).__name__}{doing}: {words}"


def _examine_again(item: pytest.Item, declared: Check, case: Case) -> str | None:
    """When a check fails or errors, the doctor looks again at its hosts: a fault that appeared mid-run is the cause."""
    if "overlay" not in declared.tags and len(case.hosts) < 2:
        return None
    from netproof.diagnosis import doctor

    # A requirement the check itself proves (its tags name it: OVL-MTU-001's "mtu") is its verdict, with the
    # remedy it names, not a broken lab.
    others = tuple(r for r in REQUIREMENTS if r not in declared.tags)
    try:
        causes = doctor.examine(_lab(item.config), hosts=case.hosts).causes_for(case.hosts, others)
    except Exception:  # noqa: BLE001 - the doctor's own trouble must not hide the check's verdict
        return None
    return "; ".join(causes) or None


def _engine_logs(item: pytest.Item, case: Case, since: float, until: float) -> list[dict]:
    """The involved hosts' dockerd log lines from the check's own time window, as exhibits."""
    lab = _lab(item.config)
    exhibits = []
    for name in case.hosts:
        try:
            text = lab.provider.engine_log(lab.host(name), since, until) or "(no lines in this window)"
        except Exception as e:  # noqa: BLE001 - the log is evidence, its absence a fact
            text = f"(could not read it: {type(e).__name__}: {e})"
        exhibits.append(
            {"title": f"dockerd log on {name} during the check", "kind": "text", "content": text, "where": name}
        )
    return exhibits


def _hosts_of(item: pytest.Item) -> list[LabHost]:
    lab = _lab(item.config)
    return [lab.host(h) for h in item.stash[CASE].hosts]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> Lab:
    """The running lab of this run."""
    return _lab(pytestconfig)


def _require_up(lab: Lab, *hosts: LabHost) -> None:
    for host in hosts:
        try:
            host.docker().ping()
        except Exception as e:  # noqa: BLE001 - whatever it is, the lab is broken, not Docker
            raise LabBroken(
                f"host {host.name} of lab {lab.name} does not answer ({type(e).__name__}: {e}); "
                f"see `netproof lab status --name {lab.name}`"
            ) from None


@pytest.fixture
def pair(request: pytest.FixtureRequest, lab: Lab) -> HostPair:
    """Two docker hosts (parametrized): same subnet or routed across the underlay."""
    _require_up(lab, request.param.src, request.param.dst)
    return request.param


@pytest.fixture
def docker_host(request: pytest.FixtureRequest, lab: Lab) -> LabHost:
    """One docker host (parametrized)."""
    _require_up(lab, request.param)
    return request.param


@pytest.fixture
def outside(lab: Lab) -> LabHost:
    """The lab's own stand-in for the external network."""
    host = lab.topology.role("outside")
    if host is None:
        pytest.skip(f"lab {lab.name} has no host with role: outside")
    return lab.host(host.name)


@pytest.fixture
def proof(request: pytest.FixtureRequest) -> Proof:
    """The check's evidence and its way of failing with expected, observed, where."""
    declared = _check(request.node)
    if declared is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the proof fixture is for checks declared with netproof.catalogue.check"
        )
    return Proof(declared.id, declared.promise, request.node.stash[CASE].label)


@pytest.fixture
def workspace(lab: Lab) -> Workspace:
    """Networks and containers this check creates, removed when it ends however it ends."""
    space = Workspace(lab.topology.control_plane, lab.manager, lab.docker_hosts, patience=lab.patience)
    yield space
    for retry in space.retries:
        warnings.warn(DockerRetryWarning(retry), stacklevel=1)
    problems = space.remove() + space.left_by_known_defects
    if problems:  # uniquely named, so in no other check's way: a warning, not a verdict
        warnings.warn(
            LeftoverWarning("Docker would not remove what the check created: " + "; ".join(problems)), stacklevel=1
        )


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    """Where a check keeps files it records (packet captures)."""
    return tmp_path
