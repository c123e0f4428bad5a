"""Debian's chromium, headless, opening pages from the file system with the network off."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# As the machine's notes advise for a closed network: no background connections of its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed (apt-get install chromium; scripts/setup.sh does it)")
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
    )


def dom(profile: Path, page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return chromium(profile, "--dump-dom", page.as_uri()).stdout
