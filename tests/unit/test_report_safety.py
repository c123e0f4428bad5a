"""Reports are handed on: no secret in them, always whole, always valid XML, whatever the hosts printed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from netproof.report import junit, results
from netproof.report.redact import MASK, redact
from netproof.system import write_atomically

RECORDED = Path(__file__).parents[1] / "fixtures" / "results-20.10-swarm-isolation-broken.json"


def test_secrets_in_daemon_settings_are_masked_and_the_rest_kept():
    daemon = {
        "proxies": {"http-proxy": "http://alice:s3cret@proxy.corp:3128", "no-proxy": "localhost"},
        "registry-mirrors": ["https://bob:hunter2@mirror.corp"],
        "mtu": 1400,
        "x-auth-token": "abc",
    }
    masked = redact(daemon)
    assert masked["proxies"]["http-proxy"] == f"http://alice:{MASK}@proxy.corp:3128"
    assert masked["registry-mirrors"] == [f"https://bob:{MASK}@mirror.corp"]
    assert masked["x-auth-token"] == MASK and masked["mtu"] == 1400 and masked["proxies"]["no-proxy"] == "localhost"
    assert "s3cret" not in str(masked) and "hunter2" not in str(masked)


def test_junit_is_valid_xml_whatever_a_host_printed(tmp_path):
    run = results.load(RECORDED)
    failed = next(c for c in run.checks if c.outcome == "failed")
    failed.message = "Observed: \x1b[31mred\x1b[0m and a NUL \x00 from the host\nsecond line"
    path = junit.write(run, tmp_path / "junit.xml")
    tree = ET.parse(path)  # raises on invalid XML
    text = "".join(tree.getroot().itertext())
    assert "\\x1b[31mred" in text and "\\x00" in text


def test_a_report_is_written_whole_or_not_at_all(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("the previous run's, whole")
    write_atomically(target, "the new one")
    assert target.read_text() == "the new one"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # nothing half-written beside it
