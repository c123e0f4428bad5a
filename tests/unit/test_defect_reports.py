"""A known defect in the report: the failure's own message and evidence kept, how often it struck, and a
strict mode for gates that must be defect-free. On results recorded in the lab (20.10 swarm, one
ISO-INT-001 failure), two of whose cases are marked as the kv defect would mark them."""

import copy
import re
from pathlib import Path

from netproof.report import diff, html, results

RECORDED = Path(__file__).parents[1] / "fixtures" / "results-20.10-swarm-isolation-broken.json"
DEFECT = "moby/libnetwork#1838"
MECHANISM = "1 dockerd thread(s) on docker4 stuck in other network namespaces: 18321 in 1-k3v9d0a2bf"


def with_defects(cases: int, strict: bool = False) -> results.Results:
    run = copy.deepcopy(results.load(RECORDED))
    run.run["strict"] = strict
    for check in [c for c in run.checks if c.outcome == "passed"][:cases]:
        check.outcome, check.defect = "known-defect", DEFECT
        check.message = (
            f"known Docker defect {DEFECT}: ... ({MECHANISM})\n\n{check.id} failed [{check.case}]\n"
            "Expected: 3 of 3 replies\nObserved: ping 10.0.1.4: 3 sent, 0 received\nWhere: docker1 -> docker4"
        )
        check.evidence = [
            {"title": "ping 10.0.1.4", "kind": "command", "content": "3 packets transmitted, 0 received"},
            {"title": f"known defect {DEFECT}: its mechanism, found then", "kind": "text", "content": MECHANISM},
        ]
    return run


def test_the_rate_of_each_known_defect_is_counted_over_the_cases_of_its_control_plane(tmp_path):
    run = with_defects(2)
    assert run.rate_lines() == [f"{DEFECT}: 2 of 16 swarm cases"]
    assert run.verdict == "fail"  # the one real failure of the recording
    run.write(tmp_path)
    again = results.load(tmp_path)
    assert again.to_dict()["known_defects"] == [{"reference": DEFECT, "struck": 2, "of": 16, "control_plane": "swarm"}]
    assert {c.defect for c in again.checks} == {DEFECT, None}


def test_strict_makes_a_known_defect_a_failing_verdict():
    run = with_defects(2)
    for c in run.checks:  # only the defects left between the run and a pass
        if c.outcome == "failed":
            c.outcome = "passed"
    assert run.verdict == "pass"
    run.run["strict"] = True
    assert run.verdict == "fail"


def test_the_report_shows_a_known_defect_like_a_failure_folded_with_its_rate():
    page = html.render(with_defects(2))
    section = page[page.index("id='differences'") : page.index("<h2>The lab</h2>")]
    assert f"<ul id='defect-rates'><li>{DEFECT}: 2 of 16 swarm cases</li></ul>" in section
    cases = re.findall(r"<details( open)? class='failure'[^>]*data-outcome='known-defect'", section)
    assert cases == ["", ""], "known defects are folded"
    assert "Observed: ping 10.0.1.4: 3 sent, 0 received" in section and MECHANISM in section
    assert f"known defect {DEFECT}: 2 of 16 swarm cases" in page[: page.index("<main>")]


def test_diff_shows_a_change_in_a_known_defects_rate():
    changed = diff.compare(with_defects(1), with_defects(3))
    rates = changed.of_kind("known defect rate")
    assert [(c.where, c.old, c.new) for c in rates] == [(DEFECT, "1 of 16 swarm cases", "3 of 16 swarm cases")]
    assert diff.compare(with_defects(2), with_defects(2)).of_kind("known defect rate") == []
    gone = diff.compare(with_defects(2), results.load(RECORDED)).of_kind("known defect rate")
    assert [(c.old, c.new) for c in gone] == [("2 of 16 swarm cases", "never")]
    assert "KNOWN DEFECT RATE" in diff.render_terminal(changed)


def test_the_one_screen_summary_says_how_often_a_defect_struck():
    text = with_defects(2, strict=True).render_terminal(Path("/r"))
    assert f"known defect {DEFECT}: 2 of 16 swarm cases (counted as failures: --strict)" in text
