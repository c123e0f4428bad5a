"""The package carries what netproof runs: every package under src/netproof is listed for the wheel, and the checks
and labs are packages of their own (netproof.checks, netproof.labs) mapped from the checkout's folders."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_package_is_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(("netproof", *p.parent.relative_to(ROOT / "src" / "netproof").parts))
        for p in (ROOT / "src" / "netproof").rglob("__init__.py")
    }
    assert found | {"netproof.checks", "netproof.labs"} == set(config["packages"])
    assert config["package-dir"] == {"": "src", "netproof.checks": "checks", "netproof.labs": "labs"}
    assert (
        "Vagrantfile"
        in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["netproof.labs"]
    )
