"""The house keeps its shape: rooms of at most 400 lines, checks whose functions fit a screen, imports that flow one
way (ground floor, then the lab, the check author's kit, the doctor, the runner, the command), and a report that
renders a recorded run with nothing but the model importable."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "netproof"
RECORDED = ROOT / "tests" / "fixtures" / "results-20.10-swarm-isolation-broken.json"

# Floors, lowest first: a module may import its own floor and those below, never one above.
FLOORS = [
    {
        "errors",
        "facts",
        "system",
        "wait",
        "timeline",
        "progress",
        "catalogue",
        "footprint",
        "outcomes",
        "stack",
    },  # the ground floor: no lab, no I/O
    {"lab", "report"},  # the lab wing, and the reports (which read only the lab's model)
    {"kit"},  # the check author's kit
    {"doctor"},
    {"runner", "jobs"},  # the pytest plugin, and the jobs that run it as a process: never importing each other
    {"cli"},
]
FLOOR = {room: n for n, rooms in enumerate(FLOORS) for room in rooms}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "netproof" and len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("netproof"):
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "netproof" else [node.module]
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("netproof")]
    return found


def test_no_module_is_over_400_lines():
    big = {str(p.relative_to(ROOT)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not big, f"split these by who they serve: {big}"


def test_no_check_function_is_over_60_lines():
    long = []
    for path in sorted((ROOT / "checks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_every_room_has_its_floor():
    rooms = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in SRC.rglob("*.py")} - {"__init__", "__main__"}
    assert not rooms - set(FLOOR), f"give these a floor in FLOORS (and a row in docs/layout.md): {rooms - set(FLOOR)}"


def test_imports_flow_one_way():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        room = path.relative_to(SRC).parts[0].removesuffix(".py")
        if room not in FLOOR:
            continue
        for line, module in _imports(path):
            target = _room(module)
            if target in FLOOR and FLOOR[target] > FLOOR[room]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({room}) imports {module} ({target})")
    assert not upward, upward


def test_the_report_renders_a_recorded_run_with_nothing_but_the_model():
    script = f"""
import sys, tempfile
from pathlib import Path
from netproof.report import diff, html, junit, results
run = results.load({str(RECORDED)!r})
out = Path(tempfile.mkdtemp())
page = html.render(run)
junit.write(run, out / "junit.xml")
assert "ISO-INT-001" in page
print("\\n".join(sorted(m for m in sys.modules if m.startswith("netproof"))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    allowed = ("netproof.report", "netproof.footprint", "netproof.facts", "netproof.lab.model")
    beyond = [
        m
        for m in loaded
        if m
        not in (
            "netproof",
            "netproof.errors",
            "netproof.system",
            "netproof.timeline",
            "netproof.lab",
            "netproof.outcomes",
        )
        and not m.startswith(allowed)
    ]
    assert not beyond, f"the report imported more than the model: {beyond}"


def test_jobs_and_the_pytest_plugin_never_import_each_other():
    """A job runs the checks as a pytest process (jobs/checkrun.py builds its command line); the plugin runs inside
    it. They meet only through that command line (issue 34)."""
    crossing = []
    for room, other in (("jobs", "runner"), ("runner", "jobs")):
        for path in sorted((SRC / room).rglob("*.py")):
            crossing += [
                f"{path.relative_to(ROOT)}:{line} imports {m}" for line, m in _imports(path) if _room(m) == other
            ]
    assert not crossing, crossing


def test_the_command_line_brings_no_lab_up_and_names_no_report_folder():
    """cli/ parses, dispatches and prints: a lab's lifetime and a run's folder are the jobs' (issue 34)."""
    found = []
    for path in sorted((SRC / "cli").rglob("*.py")):
        text = path.read_text()
        found += [f"{path.name}: {words}" for words in ("Lab.up(", "strftime(", "datetime.now(") if words in text]
    assert not found, found
