"""The HTML report in a real headless browser (Debian's chromium), opened from the file system
with the network off: the matrix and a failure's evidence render, and so does the diff page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netproof.report import diff, html, results

RECORDED = Path(__file__).parents[1] / "fixtures" / "results-20.10-swarm-isolation-broken.json"
# As the machine's notes advise for a closed network: no background connections of its own.
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed (apt-get install chromium; scripts/setup.sh does it)")
    return subprocess.run([binary, *CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def report(tmp_path) -> Path:
    run = results.load(RECORDED)
    run.write(tmp_path)
    return html.write_report(run, tmp_path / "index.html")


def test_matrix_and_failure_evidence_render(report, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    matrix = dom[dom.index('<table id="matrix">'):]
    matrix = matrix[:matrix.index("</table>")]
    assert len(re.findall(r"<tr><th[^>]*>(OVL|ISO)-[A-Z]+-\d{3}</th>", matrix)) == 4  # the four checks of that run
    assert matrix.count("✘") == 1 and matrix.count("✔") == 15
    failure = dom[dom.index('id="failures"'):dom.index("<h2>The lab</h2>")]
    assert '<details open="" class="failure"' in failure
    assert "ISO-INT-001 [swarm-docker3]" in failure and "Observed: got through:" in failure
    assert "firewall of docker3" in failure or "rules naming" in failure or "-A DOCKER-ISOLATION-STAGE-1" in failure


def test_the_page_draws_as_a_picture(report, tmp_path):
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1800", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000


def test_diff_page_renders(tmp_path):
    broken = results.load(RECORDED)
    page = tmp_path / "diff.html"
    diff.write(diff.compare(broken, broken), page)
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "No regression" in dom and 'id="regression"' in dom
