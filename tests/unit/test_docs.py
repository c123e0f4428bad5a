"""The front door stays a front door, and the walkthrough's example stays the real check it shows."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from netproof import catalogue
from netproof.lab.model import loader

from . import test_catalogue

ROOT = Path(__file__).parents[2]


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150, "keep the README to what a newcomer needs; the notebook goes in docs/"
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), f"the README links to {link}, which is not there"


def test_the_walkthroughs_example_is_the_check_itself():
    doc = (ROOT / "docs" / "writing-checks.md").read_text()
    shown = re.search(r"<!-- example: (\S+) -->\n```python\n(.*?)\n```\n<!-- end of example -->", doc, re.S)
    assert shown, "docs/writing-checks.md lost its example block"
    path, code = shown.groups()
    assert code == (ROOT / path).read_text().rstrip("\n"), f"copy {path} into docs/writing-checks.md again"
    assert 30 <= len(code.splitlines()) <= 50, "the example is a check of about 40 lines"


def test_every_doc_the_readme_names_links_only_to_what_exists():
    for doc in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if not link.startswith("http"):
                assert (doc.parent / link).exists(), f"{doc.name} links to {link}, which is not there"


def test_a_newcomers_copy_is_a_new_check_that_nothing_else_lists(tmp_path):
    """The walkthrough's step 1 and 2, done: the copy under a new ID is collected as cases of its own, and of
    netproof's own tests only the README's generated table asks to be told about it."""
    checks = tmp_path / "checks"
    shutil.copytree(ROOT / "checks", checks)
    example = (ROOT / "checks" / "test_bridge_isolation.py").read_text()
    copy = example.replace("BR-ISO-001", "WALK-THROUGH-001").replace("def test_bridges_are_isolated", "def test_copied")
    (checks / "test_bridge_isolation_copy.py").write_text(copy)

    found = {c.id: c for c in catalogue.load(checks)}
    assert "test_bridge_isolation_copy.py:" in found["WALK-THROUGH-001"].where
    argv = [sys.executable, "-m", "pytest", str(checks), "--collect-only", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        argv + [f"--lab={ROOT / 'labs' / 'seed.yml'}", "-k", "WALK-THROUGH-001"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    cases = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(cases) == len(loader.load(ROOT / "labs" / "seed.yml").docker_hosts), done.stdout + done.stderr
    # The catalogue's own unit test keeps every shipped ID and takes a new one without being edited.
    assert set(test_catalogue.SHIPPED_IDS) <= set(found) and "WALK-THROUGH-001" not in test_catalogue.SHIPPED_IDS
    assert catalogue.markdown(list(found.values())) not in (ROOT / "README.md").read_text()  # regenerate: step 8
