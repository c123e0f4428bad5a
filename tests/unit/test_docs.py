"""The front door stays a front door, and the walkthrough's example stays the real check it shows."""

from __future__ import annotations

import re
from pathlib import Path

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
