"""netproof's pytest plugin: the lab a run uses, fixtures that read like the domain, check IDs.

Lab lifetime. The process that owns the run (the xdist controller under `-n`, or the only
process) chooses the lab when pytest starts: `--lab` names a running lab (name or state file)
or a topology file to bring up for the run; without it, the one running lab, else
labs/seed.yml brought up. A lab it brought up it brings down when the run ends, after the last
worker. Workers only attach, through the lab's state file. Nothing happens unless the run
collects checks (paths under checks/, or --lab given): `pytest tests` never touches a lab.

Checks. Each carries `@pytest.mark.check("OVL-PING-001", "what Docker promises")`; its test ID
becomes `checks/<module>.py::OVL-PING-001[swarm-docker1->docker4]` and items run sorted by ID.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from netproof.errors import NetproofError
from netproof.lab.lab import Lab
from netproof.model import topology as topo
from netproof.progress import Progress
from netproof.proof import known_defects
from netproof.proof.evidence import CheckFailed, LabBroken, Proof
from netproof.proof.objects import Workspace
from netproof.providers.base import LabHost
from netproof.report.recorder import EVIDENCE_PROPERTY, RunRecorder


class LeftoverWarning(UserWarning):
    """A check's network or container that Docker refused to remove."""


class DockerRetryWarning(UserWarning):
    """Something Docker did only at the second attempt (the check's verdict rests on the second)."""


LAB_STATE = pytest.StashKey[str]()  # the state file of the run's lab
LAB_OWNED = pytest.StashKey[bool]()  # this process brought it up, so brings it down
LAB = pytest.StashKey[Lab]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netproof", "netproof: the lab the checks run on")
    group.addoption("--lab", dest="netproof_lab", metavar="LAB_OR_TOPOLOGY",
                    help="a running lab (name or state file), or a topology file to bring up for this run")
    group.addoption("--engine", dest="netproof_engine", help="engine for a lab brought up for the run (20.10, 26.1, 28.5, system)")
    group.addoption("--control-plane", dest="netproof_control_plane", choices=topo.CONTROL_PLANES,
                    help="control plane for a lab brought up for the run")
    group.addoption("--report-dir", dest="netproof_report_dir", metavar="DIR",
                    help="write results.json, junit.xml and the HTML conformance report (index.html) into DIR")
    group.addoption("--pairs", dest="netproof_pairs", default="spanning", choices=("spanning", "all"),
                    help="host pairs for cross-host checks: spanning (every host, same-subnet and routed paths) or all")


@pytest.hookimpl(tryfirst=True)  # before junitxml reads where to write
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(id, promise): a conformance check with a stable ID and the promise it proves")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("netproof_lab"):
            config.stash[LAB_STATE] = workerinput["netproof_lab"]
        return
    _refuse_a_root_taken_from_an_option(config)
    if not _runs_checks(config):
        return
    try:
        state, owned = _open_lab(config)
    except NetproofError as e:
        raise pytest.UsageError(f"netproof: {e}") from None
    config.stash[LAB_STATE] = state
    config.stash[LAB_OWNED] = owned
    report_dir = config.getoption("netproof_report_dir")
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        if not config.option.xmlpath:
            config.option.xmlpath = str(Path(report_dir) / "junit.xml")
        lab = _lab(config)
        pairs = [(a.name, b.name) for a, b in lab.topology.host_pairs(config.getoption("netproof_pairs"))]
        config.pluginmanager.register(RunRecorder(lab, pairs, Path(report_dir)), "netproof-recorder")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: tell each worker which lab to attach to."""
    node.workerinput["netproof_lab"] = node.config.stash.get(LAB_STATE, None)


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
                raise pytest.UsageError(f"netproof: write {option}=VALUE (with '='): pytest took the value for a test path")


def _runs_checks(config: pytest.Config) -> bool:
    if config.getoption("netproof_lab"):
        return True
    checks = (config.rootpath / "checks").resolve()
    for arg in config.args:
        for base in (config.invocation_params.dir, config.rootpath):
            path = (base / arg.split("::")[0]).resolve()
            if path.exists() and (path == checks or checks in path.parents or path in checks.parents):
                return True
    return False


def _open_lab(config: pytest.Config) -> tuple[str, bool]:
    wanted = config.getoption("netproof_lab")
    engine, control_plane = config.getoption("netproof_engine"), config.getoption("netproof_control_plane")
    if wanted and wanted.endswith((".yml", ".yaml")):
        topology = topo.load(wanted)
    elif wanted or Lab.running():
        lab = Lab.attach(wanted)
        running = {h.engine for h in lab.topology.docker_hosts}
        if (engine and running != {engine}) or (control_plane and control_plane != lab.topology.control_plane):
            raise NetproofError(f"lab {lab.name} runs {', '.join(sorted(running))} with {lab.topology.control_plane}, not what"
                                f" --engine/--control-plane ask; bring it down, or pass --lab labs/seed.yml to bring up another")
        return str(lab.names.state_file), False
    else:
        topology = topo.load(config.rootpath / "labs" / "seed.yml")
    lab = Lab.up(topology.with_overrides(engine=engine, control_plane=control_plane), progress=Progress())
    return str(lab.names.state_file), True


def _lab(config: pytest.Config) -> Lab:
    if LAB not in config.stash:
        if LAB_STATE not in config.stash:
            raise pytest.UsageError("netproof: checks need a lab: pass --lab (a running lab or a topology file), or run them from checks/")
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
    if "pair" not in metafunc.fixturenames and "docker_host" not in metafunc.fixturenames:
        return
    lab = _lab(metafunc.config)
    plane = lab.topology.control_plane
    if "pair" in metafunc.fixturenames:
        pairs = [HostPair(lab.host(a.name), lab.host(b.name)) for a, b in lab.topology.host_pairs(metafunc.config.getoption("netproof_pairs"))]
        metafunc.parametrize("pair", pairs, ids=[f"{plane}-{p}" for p in pairs], indirect=True)
    if "docker_host" in metafunc.fixturenames:
        hosts = lab.docker_hosts
        metafunc.parametrize("docker_host", hosts, ids=[f"{plane}-{h.name}" for h in hosts], indirect=True)


def check_id(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("check")
    return marker.args[0] if marker else None


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    """A check's test items are named by its ID: OVL-PING-001[swarm-docker1->docker4]."""
    result = yield
    if result is None:
        return result
    items = [result] if isinstance(result, pytest.Item | pytest.Collector) else list(result)
    renamed = []
    for item in items:
        cid = check_id(item) if isinstance(item, pytest.Function) else None
        if cid:
            callspec = getattr(item, "callspec", None)
            item = pytest.Function.from_parent(
                collector, name=f"{cid}[{callspec.id}]" if callspec else cid, callspec=callspec, callobj=item.obj,
                fixtureinfo=item._fixtureinfo, keywords={callspec.id: True} if callspec else None, originalname=cid,
            )
        renamed.append(item)
    return renamed


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = sorted((i for i in items if check_id(i)), key=lambda i: i.name)
    items[:] = [i for i in items if not check_id(i)] + checks


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    proof = getattr(item, "funcargs", {}).get("proof")
    if isinstance(proof, Proof) and call.when == "call":
        # On the item, so every later report (and junitxml, which reads teardown's) carries it.
        item.user_properties.append((EVIDENCE_PROPERTY, json.dumps(proof.to_dict())))
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if report.failed and call.when == "call" and excinfo is not None and not excinfo.errisinstance(LabBroken):
        reason = known_defects.explain(str(excinfo.value), _hosts_of(item))
        if reason:
            report.outcome, report.wasxfail = "skipped", reason
    if excinfo is not None and excinfo.errisinstance(CheckFailed):
        report.longrepr = str(excinfo.value)
    elif excinfo is not None and excinfo.errisinstance(LabBroken):
        report.longrepr = f"LAB BROKEN, not a Docker failure: {excinfo.value}"


def _hosts_of(item: pytest.Item) -> list[LabHost]:
    args = getattr(item, "funcargs", {})
    hosts = [args["pair"].src, args["pair"].dst] if "pair" in args else []
    return hosts + ([args["docker_host"]] if "docker_host" in args else [])


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
            raise LabBroken(f"host {host.name} of lab {lab.name} does not answer ({type(e).__name__}: {e}); "
                            f"see `netproof lab status --name {lab.name}`") from None


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
    marker = request.node.get_closest_marker("check")
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the proof fixture is for checks marked @pytest.mark.check(ID, promise)")
    case = request.node.callspec.id if hasattr(request.node, "callspec") else ""
    return Proof(marker.args[0], marker.args[1] if len(marker.args) > 1 else "", case)


@pytest.fixture
def workspace(lab: Lab) -> Workspace:
    """Networks and containers this check creates, removed when it ends however it ends."""
    space = Workspace(lab.topology.control_plane, lab.manager, lab.docker_hosts, patience=lab.patience)
    yield space
    for retry in space.retries:
        warnings.warn(DockerRetryWarning(retry), stacklevel=1)
    problems = space.remove()
    if problems:  # uniquely named, so in no other check's way: a warning, not a verdict
        warnings.warn(LeftoverWarning("Docker would not remove what the check created: " + "; ".join(problems)), stacklevel=1)


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    """Where a check keeps files it records (packet captures)."""
    return tmp_path
