"""A compose project's model and the reachability compose's semantics give it (stack/), from what the real
`docker compose config --format json` (Compose 2.40.3) made of labs/stacks/shop.compose.yaml."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from netproof.errors import NetproofError
from netproof.stack.project import Port, Project
from netproof.stack.reachability import Observed, Table, changed, expected_cells

CONFIG = json.loads((Path(__file__).parent / "fixtures/shop-compose-config.json").read_text())
HOST = "10.10.10.101"


def shop(config: dict = CONFIG) -> Project:
    return Project.from_config(copy.deepcopy(config), "shop.compose.yaml")


def expected(project: Project | None = None) -> dict[tuple[str, str], bool]:
    return {(c.source, c.target): c.expected for c in expected_cells(project or shop(), HOST)}


def test_the_project_as_compose_normalised_it():
    project = shop()
    backend = project.services["backend"]
    assert backend.networks == ("private", "public")
    assert backend.listens == (5000, 7000, 7001)  # exposed, and each port of the range
    assert Port(5000, "tcp", 5001, "127.0.0.1") in backend.ports
    assert project.networks["private"].internal and project.networks["private"].subnets == ("10.99.0.0/24",)
    assert project.services["db"].attachments[0].ipv4_address == "10.99.0.10"
    assert next(a for a in backend.attachments if a.network == "public").gw_priority == 1
    assert any("7002:7002/udp" in n and "not probed" in n for n in project.notes)


def test_compose_semantics_give_each_cell_its_answer():
    cells = expected()
    assert cells[("backend", "db:5432")] is True  # share private
    assert cells[("backend", "www:8080")] is True  # an alias, on the network that has it
    assert cells[("frontend", "db@private")] is False  # not on private: isolated
    assert cells[("db", "frontend@public")] is False
    assert cells[("db", "outside")] is False and cells[("backend", "outside")] is True  # internal only, or not
    assert cells[("outside", "host:80")] is True and cells[("outside", "host:<3000>")] is True
    assert cells[("outside", "host:5001")] is False  # bound to the host's loopback
    assert cells[("outside", "host:5432")] is False  # exposed, never published
    assert ("db", "db:5432") not in cells  # no service probes itself


def test_a_users_intent_replaces_the_derived_cell_or_adds_one():
    config = copy.deepcopy(CONFIG)
    config["x-netproof"]["intents"] = ["backend -> db:5432 must not connect", "outside -> host:9999 must connect"]
    cells = expected(shop(config))
    assert cells[("backend", "db:5432")] is False
    assert cells[("outside", "host:9999")] is True


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c["x-netproof"].update(intents=["frontend to db"]), "x-netproof.intents[0]: 'frontend to db'"),
        (lambda c: c["x-netproof"].update(intents=["cache -> db:1 must connect"]), "source 'cache' is not a service"),
        (lambda c: c["networks"]["public"].update(driver="overlay"), "networks.public.driver: 'overlay'"),
        (lambda c: c["services"]["db"]["networks"].update(nowhere={}), "services.db.networks.nowhere: no such"),
        (lambda c: c.update(services={}), "services: none to replay"),
    ],
)
def test_what_cannot_be_replayed_is_one_line_naming_the_key(change, words):
    config = copy.deepcopy(CONFIG)
    change(config)
    with pytest.raises(NetproofError) as refused:
        shop(config)
    assert words in str(refused.value) and str(refused.value).startswith("shop.compose.yaml: ")
    assert "\n" not in str(refused.value)


def _table(observed: dict[tuple[str, str], Observed]) -> Table:
    rows = []
    for cell in expected_cells(shop(), HOST):
        default = Observed(cell.expected, "as expected", "198.51.100.10", "198.51.100.10")
        rows.append((cell, observed.get((cell.source, cell.target), default)))
    return Table("shop", "docker1, engine 28.5", rows)


def test_a_table_counts_what_is_wrong_and_what_could_not_be_judged():
    table = _table(
        {
            ("frontend", "db@private"): Observed(True, "db answered"),  # isolation broken
            ("outside", "host:80"): Observed(True, "seen as the gateway", "172.19.0.1", "198.51.100.10"),
            ("backend", "outside"): Observed(None, "wget did not run on docker1"),
        }
    )
    assert [(c.source, c.target) for c, _ in table.wrong] == [("frontend", "db@private"), ("outside", "host:80")]
    assert len(table.unjudged) == 1
    text = table.render_terminal()
    assert "2 wrong" in text and "1 not judged" in text
    assert "!. frontend -> db@private: should not connect" in text
    assert Table.from_dict(json.loads(json.dumps(table.to_dict()))).to_dict() == table.to_dict()


def test_the_cells_that_changed_between_two_steps():
    before = _table({})
    after = _table({("backend", "db:5432"): Observed(False, "bad address 'db'")})
    assert changed(before, after) == ["backend -> db:5432: . -> !x (bad address 'db')"]
    assert changed(before, _table({})) == []


def test_the_footprint_leaves_a_workloads_rules_out_and_keeps_the_rest():
    from netproof.footprint.normalize import without_workloads

    lines = [
        "-A DOCKER-ISOLATION-STAGE-1 ! -s 10.99.0.0/24 -o br-0123456789ab -j DROP",
        "-A DOCKER-ISOLATION-STAGE-1 -i br-0123456789ab ! -o br-0123456789ab -j DOCKER-ISOLATION-STAGE-2",
        "-A DOCKER-ISOLATION-STAGE-1 -i br-0123456789abcd ! -o br-0123456789abcd -j DOCKER-ISOLATION-STAGE-2",
        "-A POSTROUTING -s 10.99.0.0/16 ! -o docker0 -j MASQUERADE",  # another subnet that merely starts alike
        "-A DOCKER -i docker0 -j RETURN",
    ]
    kept = without_workloads(lines, {"br-0123456789ab"}, {"10.99.0.0/24"})
    assert kept == lines[2:]
    assert without_workloads(lines, set(), set()) == lines


def test_the_page_draws_each_table_with_its_wrong_cells_and_the_changes_since_the_first():
    from netproof.report import stack as page

    before = _table({})
    after = _table({("frontend", "db@private"): Observed(True, "db answered, seeing the client as 10.99.0.1")})
    text = page.render([before, after], ["udp not probed"])
    assert text.count("<table class='truth'>") == 2 and "1 wrong" in text and "udp not probed" in text
    assert "!.</b> frontend &rarr; db@private: should not connect" in text
    assert text.count("&#9650;") == 1 + 1  # the legend, and the one cell that changed
