"""The code stays as the project writes it: ruff's lint rules and format (lines of at most 120
characters, pyproject.toml), over the library, the checks, the tests and the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
FOLDERS = ["src", "checks", "tests", "bench"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, *FOLDERS], cwd=ROOT, capture_output=True, text=True)


def test_lint():
    done = ruff("check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_format():
    done = ruff("format", "--check")
    assert done.returncode == 0, f"run: ruff format {' '.join(FOLDERS)}\n{done.stdout}{done.stderr}"
