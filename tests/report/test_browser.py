"""The HTML report in a real headless browser (Debian's chromium), opened from the file system
with the network off: the matrix and a failure's evidence render, and so does the diff page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from netproof.report import diff, html, results

from ..browser import chromium, dom

RECORDED = Path(__file__).parents[1] / "fixtures" / "results-20.10-swarm-isolation-broken.json"


@pytest.fixture
def report(tmp_path) -> Path:
    run = results.load(RECORDED)
    run.write(tmp_path)
    return html.write_report(run, tmp_path / "index.html")


def test_matrix_and_failure_evidence_render(report, tmp_path):
    page = dom(tmp_path / "profile", report)
    matrix = page[page.index('<table id="matrix">') :]
    matrix = matrix[: matrix.index("</table>")]
    assert len(re.findall(r"<tr><th[^>]*>(OVL|ISO)-[A-Z]+-\d{3}</th>", matrix)) == 4  # the four checks of that run
    assert matrix.count("✘") == 1 and matrix.count("✔") == 15
    failure = page[page.index('id="failures"') : page.index("<h2>The lab</h2>")]
    assert '<details open="" class="failure"' in failure
    assert "ISO-INT-001 [swarm-docker3]" in failure and "Observed: got through:" in failure
    assert "firewall of docker3" in failure or "rules naming" in failure or "-A DOCKER-ISOLATION-STAGE-1" in failure


def test_the_page_draws_as_a_picture(report, tmp_path):
    shot = tmp_path / "report.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1800", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000


def test_diff_page_renders(tmp_path):
    broken = results.load(RECORDED)
    page = tmp_path / "diff.html"
    diff.write(diff.compare(broken, broken), page)
    rendered = dom(tmp_path / "profile", page)
    assert "No regression" in rendered and 'id="regression"' in rendered


def test_the_continuity_page_draws_a_bar_per_flow_with_its_gaps(tmp_path):
    """Issue 28: the live-restore restart recorded on 28.5, each flow's bar with its gap over the shaded restart."""
    from netproof.report import continuity

    recorded = Path(__file__).parents[1] / "unit" / "fixtures" / "continuity" / "restart-28.5.json"
    page = continuity.write(json.loads(recorded.read_text()), tmp_path / "continuity.html")
    rendered = dom(tmp_path / "profile", page)
    assert rendered.count('fill="#c62828"') == 4, rendered[-2000:]  # one gap on each of the four flows
    assert "CONT-LIVE-001" in rendered and "published: outside:40123 to docker1:32768 (udp)" in rendered
    shot = tmp_path / "continuity.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,700", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
