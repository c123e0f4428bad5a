"""results.json and the HTML report, on results recorded in the lab (20.10, swarm, an ACCEPT
put in docker3's DOCKER-USER chain so that ISO-INT-001 failed there)."""

import json
import re
from pathlib import Path

import pytest

from netproof.errors import NetproofError
from netproof.report import html, results

RECORDED = Path(__file__).parents[1] / "fixtures" / "results-20.10-swarm-isolation-broken.json"


def test_recorded_results_load_with_their_summary():
    run = results.load(RECORDED)
    assert run.summary == {
        "passed": 15,
        "failed": 1,
        "error": 0,
        "unjudged": 0,
        "skipped": 0,
        "known-defect": 0,
        "not-promised": 0,
    }
    assert run.counts() == "15 passed, 1 failed"
    assert run.verdict == "fail"
    failed = [c for c in run.checks if c.outcome == "failed"]
    assert [(c.id, c.case) for c in failed] == [("ISO-INT-001", "swarm-docker3")]
    assert "Expected: every probe between" in failed[0].message and failed[0].hosts == ["docker3"]
    # Read from schema 1, which had no engines per check: they come from the environment table.
    assert run.schema == results.SCHEMA and failed[0].engines == {"docker3": "20.10.24+dfsg1"}
    assert failed[0].control_plane == "swarm"


def test_schema_1_expected_differences_are_read_as_known_defects(tmp_path):
    doc = json.loads(RECORDED.read_text())
    doc["checks"][0]["outcome"] = "expected-difference"
    (tmp_path / "results.json").write_text(json.dumps(doc))
    assert results.load(tmp_path).checks[0].outcome == "known-defect"


def test_results_round_trip_through_a_run_folder(tmp_path):
    run = results.load(RECORDED)
    run.write(tmp_path)
    again = results.load(tmp_path)
    assert again.to_dict() == run.to_dict()


def test_a_file_of_another_schema_is_refused(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"schema": "something/9"}))
    with pytest.raises(NetproofError, match="schema 'something/9'"):
        results.load(tmp_path)


def test_the_report_leads_with_the_verdict_and_shows_the_failure():
    page = html.render(results.load(RECORDED))
    assert "<title>netproof: FAIL — lab rec, swarm, Docker 20.10.24+dfsg1</title>" in page
    assert "<table id='matrix'>" in page and ">ISO-INT-001</th>" in page
    failure = page[page.index("id='failures'") : page.index("<h2>The lab</h2>")]
    assert "ISO-INT-001 [swarm-docker3]" in failure and "Expected: every probe between" in failure
    assert "<svg" in page and "docker4 (20.10)" in page and "stroke-dasharray" in page
    assert "<table id='environment'>" in page and "1.6.20~ds1" in page


def test_the_report_is_self_contained():
    page = html.render(results.load(RECORDED))
    assert not re.search(r"""(src|href)=['"]https?://""", page)
    assert "<link" not in page and "<script src" not in page


def test_the_run_pages_matrix_has_a_column_per_host_and_pair_with_the_variants_in_the_cell():
    """Issue 34: a column per case variant made 27 columns on the seed lab, most empty for all but one check."""
    run = results.load(RECORDED)
    page = html.render(run)
    table = page[page.index("<table id='matrix'>") :]
    header = table[: table.index("</tr>")]
    wheres = {c.hosts[0] if len(c.hosts) == 1 else " → ".join(c.hosts) for c in run.checks if len(c.hosts) <= 2}
    assert header.count("<th title=") == len(wheres) + any(len(c.hosts) > 2 for c in run.checks)
