"""`netproof replay` of a compose project with a public and a private network (labs/stacks/shop.compose.yaml) on the
seed lab: its truth table right on 28.5 and 29.7, and 20.10 and 26.1 nightly (issue 35); a rule put in by hand that
opens the private network to the public one turns exactly the two cells it opens red; the replay takes everything it
made away with it; and a capture of a host holding the shop replays to the same table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from netproof.errors import ExitStatus

from .conftest import ROOT, netproof
from .test_checks_catch_breakage import seed_lab

SHOP = str(ROOT / "labs" / "stacks" / "shop.compose.yaml")
# The private network's subnet opened to anyone, in the chain Docker leaves to the user, with its replies (before 28,
# Docker's isolation of an internal network drops them ahead of its conntrack accept; and there an internal network's
# containers have a default route, so a rule for all their traffic would open their way out too).
OPENED = (
    "DOCKER-USER -d 10.99.0.0/24 -j ACCEPT",
    "DOCKER-USER -s 10.99.0.0/24 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
)


# 28.5 and 29.7 in CI; 20.10 and 26.1 nightly (gw_priority is 28's: older engines ignore it, and the table holds).
@pytest.fixture(
    scope="module",
    params=[
        "28.5",
        "29.7",
        pytest.param("20.10", marks=pytest.mark.nightly),
        pytest.param("26.1", marks=pytest.mark.nightly),
    ],
)
def lab(request):
    name = f"t-replay{request.param.replace('.', '')}"
    for lab in seed_lab(name, engine=request.param):
        lab.short_name = name
        yield lab


def replayed(lab, tmp_path, compose: str = SHOP) -> tuple[int, dict]:
    done = netproof("replay", compose, "--lab", lab.short_name, "--reports", str(tmp_path), "--json", check=False)
    assert done.returncode in (0, 1), done.stdout + done.stderr[-3000:]
    return done.returncode, json.loads(done.stdout)


def test_the_shop_replays_with_every_cell_right(lab, tmp_path):
    status, table = replayed(lab, tmp_path)
    wrong = [f"{c['source']} -> {c['target']}: {c['observed']['detail']}" for c in table["cells"] if not c["right"]]
    assert status == ExitStatus.PASSED and not wrong, wrong
    cells = {(c["source"], c["target"]): c for c in table["cells"]}
    assert len(cells) == 25
    assert cells[("backend", "db:5432")]["observed"]["connected"] is True
    assert cells[("frontend", "db:5432")]["observed"]["connected"] is False
    published = cells[("outside", "host:80")]["observed"]
    assert published["seen"] == published["client"] == str(lab.topology.role("outside").address)
    left = lab.host("docker1").run(["docker", "ps", "-aq"]).stdout.split()
    assert not left, f"the replay left containers behind: {left}"


def test_a_hand_made_rule_turns_the_cells_it_opens_red(lab, tmp_path):
    docker1 = lab.host("docker1")
    for rule in OPENED:
        docker1.run(["iptables", "-I", *rule.split()], check=True)
    try:
        status, table = replayed(lab, tmp_path)
    finally:
        for rule in OPENED:
            docker1.run(["iptables", "-D", *rule.split()], check=True)
    wrong = sorted((c["source"], c["target"]) for c in table["cells"] if c["right"] is False)
    assert wrong == [("frontend", "backend@private"), ("frontend", "db@private")], table
    assert status == ExitStatus.DOCKER_FAILED and table["wrong"] == 2


def test_a_capture_of_the_host_replays_to_the_same_table(lab, tmp_path):
    """`netproof capture` reads a host holding the shop (made as a replay makes it) into a compose file; replayed,
    it gives the original's table, but for the intent the file carried (a user's words, on no host)."""
    from netproof.jobs.replay import Replay, read_project
    from netproof.progress import QUIET

    placed = Replay.place(lab, read_project(Path(SHOP), QUIET), lab.host("docker1"), QUIET)
    try:
        captured = tmp_path / "captured.yaml"
        done = netproof("capture", "--lab", lab.short_name, "--host", "docker1", "-o", str(captured))
        assert "captured docker1: 3 services, 2 networks" in done.stdout, done.stdout
        services = yaml.safe_load(captured.read_text())["services"]
        assert set(services) == {"frontend", "backend", "db"}
        assert all(set(s) <= {"image", "networks", "ports", "expose", "restart"} for s in services.values()), services
    finally:
        assert not placed.remove()
    original, again = replayed(lab, tmp_path)[1], replayed(lab, tmp_path, str(captured))[1]

    def cells(table):
        return {(c["source"], c["target"]): (c["expected"], c["observed"]["connected"]) for c in table["cells"]}

    intents = {("frontend", "db:5432")}
    assert {k: v for k, v in cells(original).items() if k not in intents} == cells(again)


def test_a_cell_that_breaks_after_a_step_is_a_restore_path_regression(lab):
    """The upgrade's carried workload (jobs/upgrade/stack_watch.py) on one host, broken by hand between its table
    before and its table after a step (here no engine change: the rule alone breaks it): the cells it breaks are
    regressions of the restore path, bad findings naming the cell and what the probe said."""
    from netproof.jobs.replay import read_project
    from netproof.jobs.upgrade import Upgrade
    from netproof.jobs.upgrade.stack_watch import RESTORE, StackWatch
    from netproof.progress import QUIET

    watch = StackWatch.start(lab, read_project(Path(SHOP), QUIET), False, Upgrade([], Path(".")), QUIET)
    docker1 = lab.host("docker1")
    dropped = ["DOCKER-USER", "-d", "10.99.0.10", "-p", "tcp", "--dport", "5432", "-j", "DROP"]  # the database
    try:
        assert [t.summary() for t in watch.tables] == ["25 cells, 0 wrong"]
        docker1.run(["iptables", "-I", *dropped], check=True)
        found = watch.after_step(lab, "the same engine", QUIET)
    finally:
        docker1.run(["iptables", "-D", *dropped])
        assert not watch.remove()
    bad = [f.text for f in found if f.bad]
    assert len(bad) == 1 and "backend -> db:5432 should connect" in bad[0] and RESTORE in bad[0], found
