"""The command line options netproof adds to pytest."""

from __future__ import annotations

import pytest

from netproof.lab.model import topology as topo


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
