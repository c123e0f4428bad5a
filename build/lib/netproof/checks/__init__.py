"""netproof's conformance checks, one file per area (docs/writing-checks.md). A package, so that an installed netproof
carries them: `pytest --pyargs netproof.checks`."""
