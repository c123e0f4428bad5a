"""netproof's pytest plugin. The conformance checks' fixtures come with the checks issue;
for now it tells pytest where labs live."""

from __future__ import annotations


def pytest_report_header(config) -> str:
    from netproof import __version__

    return f"netproof {__version__}"
