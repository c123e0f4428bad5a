"""netproof's pytest plugin (entry point `pytest11: netproof`): the hooks and fixtures of the runner, gathered.

options.py      the command line options
session.py      the run's lab: chosen, examined by the doctor, shared with workers, brought down
collection.py   checks collected under their IDs, parametrized by hosts and pairs, each with its case
outcomes.py     each phase's report in netproof's words (the verdict itself: verdict.py, pure)
fixtures.py     lab, docker_host, pair, outside, proof, packet_trace, workspace, evidence_dir
recorder.py     results.json, junit.xml, the HTML report and the footprint, at the end of the run
"""

from netproof.runner.collection import (
    pytest_collection_modifyitems,
    pytest_generate_tests,
    pytest_pycollect_makeitem,
)
from netproof.runner.fixtures import (
    docker_host,
    evidence_dir,
    lab,
    outside,
    packet_trace,
    pair,
    proof,
    workspace,
)
from netproof.runner.options import pytest_addoption
from netproof.runner.outcomes import pytest_runtest_makereport
from netproof.runner.session import (
    pytest_configure,
    pytest_configure_node,
    pytest_report_header,
    pytest_runtest_setup,
    pytest_unconfigure,
    pytest_xdist_auto_num_workers,
)

__all__ = [
    "docker_host",
    "evidence_dir",
    "lab",
    "outside",
    "packet_trace",
    "pair",
    "proof",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_generate_tests",
    "pytest_pycollect_makeitem",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_unconfigure",
    "pytest_xdist_auto_num_workers",
    "workspace",
]
