"""The version matrix built from two engines' recorded results (26.1 and 28.5 on the seed lab, 2026-12-05: GW-MODE-001,
DNS-005 and PUB-002, evidence left out): cells summed per check and engine, changes from the column to the left
marked, each declared range confronted with what was observed, and a page a browser can open on its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from netproof import catalogue
from netproof.report import matrix, results
from netproof.report.matrix import Column

RECORDED = Path(__file__).parent / "fixtures" / "matrix"
CHECKS = Path(__file__).parents[2] / "checks"


def columns() -> list[Column]:
    return [Column(e, results.load(RECORDED / e), e, 30.0, 28.0) for e in ("26.1", "28.5")]


def rows(built: dict) -> dict[str, dict]:
    return {r["id"]: r for r in built["rows"]}


def test_every_check_of_the_catalogue_is_a_row_and_a_cell_sums_its_cases():
    shipped = catalogue.load(CHECKS)
    built = matrix.build(columns(), shipped)
    assert [r["id"] for r in built["rows"]] and {r["id"] for r in built["rows"]} == {c.id for c in shipped}
    gateway = rows(built)["GW-MODE-001"]["cells"]
    assert gateway["26.1"]["outcomes"] == {"not-promised": 16} and gateway["26.1"]["holds"] is False
    assert gateway["28.5"]["outcomes"] == {"passed": 16} and gateway["28.5"]["holds"] is True
    assert rows(built)["ICC-001"]["cells"] == {"26.1": None, "28.5": None}  # not selected in that run
    assert rows(built)["ICC-001"]["observed"] == "not run"


def test_a_cell_that_differs_from_the_one_to_its_left_is_marked():
    built = matrix.build(columns(), catalogue.load(CHECKS))
    changed = {r["id"] for r in built["rows"] if any(c and c["differs_from_left"] for c in r["cells"].values())}
    assert changed == {"GW-MODE-001", "PUB-002"}  # DNS-005 holds on both


def test_the_declared_range_is_confirmed_by_what_was_observed():
    built = matrix.build(columns(), catalogue.load(CHECKS))
    published = rows(built)["PUB-002"]
    assert published["observed"] == "28.5 and later" and published["declared"] == "28.0 and later"
    assert rows(built)["DNS-005"]["observed"] == "every engine"
    assert built["mismatches"] == []


def test_a_promise_seen_to_hold_before_its_declared_release_is_a_mismatch():
    shipped = catalogue.load(CHECKS)
    later = [dataclasses.replace(c, since="28.0") if c.id == "DNS-005" else c for c in shipped]
    built = matrix.build(columns(), later)
    cell = rows(built)["DNS-005"]["cells"]["26.1"]
    assert cell["holds"] and not cell["declared"] and cell["mismatch"]
    assert built["mismatches"] == ["DNS-005 on 26.1"]
    assert "range mismatch" in matrix.render(built) and "data-mismatch='true'" in matrix.render(built)


def test_observed_ranges_read_as_people_say_them():
    assert matrix.observed_range(["28.5", "29.7"], ["20.10", "26.1"]) == "28.5 and later"
    assert matrix.observed_range(["20.10", "26.1"], ["29.7"]) == "before 29.7"
    assert matrix.observed_range(["20.10", "29.7"], ["26.1"]) == "20.10, 29.7"
    assert matrix.observed_range([], ["26.1"]) == "nowhere"


def test_the_page_is_self_contained_and_links_each_column_to_its_report(tmp_path):
    page = matrix.write(matrix.build(columns(), catalogue.load(CHECKS)), tmp_path)
    text = page.read_text()
    assert "src=" not in text and "<link" not in text and "href='http" not in text  # nothing fetched from elsewhere
    assert "href='26.1/index.html'" in text and "href='28.5/index.html'" in text
    assert "26.1.5+dfsg1" in text and "6.18.44" in text  # the engines' exact versions, the kernel
    assert (tmp_path / "matrix.json").exists()
