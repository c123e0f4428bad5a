"""Reports of runs: results.json, the HTML conformance report, and the diff between two runs."""
