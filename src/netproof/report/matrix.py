"""The version matrix: every check on every engine of one topology, from each engine's results.json (pure: it
reads results and the catalogue, and renders one self-contained page).

A row is a check ID; a column an engine; a cell every case of that check on that engine, summed up. A cell that
differs from the one to its left is marked. Each cell also says whether the promise held there (every case passed,
or, where the promise is not made, the check's probes saw it hold anyway), so the check's declared `since`/`until`
is confronted with what was observed: a promise that held before its declared release, or broke where it is
declared, is a range mismatch, in its own colour.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from netproof import outcomes
from netproof.catalogue import Check
from netproof.facts.versions import version_key
from netproof.report.html import COLOURS, CSS, SYMBOLS
from netproof.report.results import OUTCOMES, Results
from netproof.system import write_atomically

SCHEMA = "netproof-matrix/1"
WORST_FIRST = outcomes.CELL_FIRST  # a cell's colour
MISMATCH = "#f9a825"  # a cell whose observation contradicts the check's declared range


@dataclass
class Column:
    """One engine's run: its results, where they are (relative to the matrix), and what the run cost."""

    engine: str
    results: Results
    folder: str  # the column's report folder, relative to the matrix's
    seconds: float = 0.0  # wall time, lab up to lab down
    cpu_seconds: float = 0.0  # the machine's CPU time meanwhile (all its cores)


def held(outcome: str, message: str | None) -> bool | None:
    """Whether a case saw the promise hold: True, False, or None where it could not say (error, skipped)."""
    if outcome in ("passed",):
        return True
    if outcome in ("failed", "known-defect"):
        return False
    if outcome == "not-promised":
        return "it held here" in (message or "")
    return None


def cell(column: Column, check_id: str, check: Check | None) -> dict | None:
    cases = [c for c in column.results.checks if c.id == check_id]
    if not cases:
        return None
    counts = Counter(c.outcome for c in cases)
    seen = [h for h in (held(c.outcome, c.message) for c in cases) if h is not None]  # the cases that could say
    holds = all(seen) if seen else None
    versions = sorted({v for c in cases for v in c.engines.values()}) or [column.engine]
    declared = check.promised_on(versions[0]) if check else None
    defects = sorted({c.defect for c in cases if c.defect})
    broke = next((c for c in cases if c.outcome in outcomes.BAD), None)
    return {
        "outcomes": {o: counts[o] for o in OUTCOMES if counts[o]},
        "holds": holds,
        "declared": declared,
        # a known defect explains a broken promise (and is shown as one); anything else that contradicts the declared
        # range is a mismatch: a promise that held before its release, or broke where it is declared
        "mismatch": holds is not None and declared is not None and holds != declared and not (declared and defects),
        "defects": defects,
        "why": _observed(broke.message) if broke else "",
        "label": " ".join(f"{SYMBOLS[o]}{counts[o]}" for o in OUTCOMES if counts[o]),
    }


def _observed(message: str | None) -> str:
    lines = (message or "").splitlines()
    return next((line for line in lines if line.startswith("Observed")), lines[0] if lines else "")[:300]


def build(columns: list[Column], catalogue: list[Check]) -> dict:
    """The matrix as data (matrix.json)."""
    by_id = {c.id: c for c in catalogue}
    ids = sorted({c.id for col in columns for c in col.results.checks} | set(by_id))
    rows = []
    for check_id in sorted(ids, key=lambda i: ((by_id[i].tags or ("~",))[0] if i in by_id else "~", i)):
        check = by_id.get(check_id)
        cells = {col.engine: cell(col, check_id, check) for col in columns}
        left = None
        for col in columns:
            here = cells[col.engine]
            if here is not None:
                here["differs_from_left"] = left is not None and _state(here) != _state(left)
            left = here if here is not None else left
        holds_on = [e for e, c in cells.items() if c and c["holds"]]
        rows.append({
            "id": check_id,
            "tag": (check.tags or ("",))[0] if check else "",
            "promise": check.promise if check else "",
            "declared": check.engines if check else "?",
            "reference": (check.reference or "") if check else "",
            "observed": observed_range(holds_on, [e for e, c in cells.items() if c and c["holds"] is False]),
            "cells": cells,
        })  # fmt: skip
    environment = [dict(e, column=col.engine) for col in columns for e in col.results.environment]
    return {
        "schema": SCHEMA,
        "engines": [col.engine for col in columns],
        "columns": [
            {
                "engine": col.engine,
                "folder": col.folder,
                "seconds": round(col.seconds, 1),
                "cpu_seconds": round(col.cpu_seconds, 1),
                "summary": col.results.summary,
                "docker": sorted({e.get("docker", "?") for e in col.results.environment}),
                "firewall": sorted({e.get("iptables", "?") for e in col.results.environment}),
                "lab": col.results.lab.get("name", ""),
            }  # fmt: skip
            for col in columns
        ],
        "environment": {
            "kernel": sorted({e.get("kernel", "?") for e in environment}),
            "netproof": sorted({col.results.run.get("netproof_version", "?") for col in columns}),
            "commit": sorted({col.results.run.get("netproof_commit", "?") for col in columns}),
        },
        "rows": rows,
        "mismatches": [f"{r['id']} on {e}" for r in rows for e, c in r["cells"].items() if c and c["mismatch"]],
    }


def _state(c: dict) -> tuple:
    return tuple(sorted(c["outcomes"])), c["holds"]


def observed_range(holds_on: list[str], broken_on: list[str]) -> str:
    """Where the promise was seen to hold, for people: 'every engine', '26.1 and later', 'before 29.7', '26.1, 29.7',
    'nowhere', 'not run' (only the matrix's engines are known)."""
    if not holds_on:
        return "nowhere" if broken_on else "not run"
    if not broken_on:
        return "every engine"
    first, last = min(holds_on, key=version_key), max(holds_on, key=version_key)
    if all(version_key(b) < version_key(first) for b in broken_on):
        return f"{first} and later"
    if all(version_key(b) > version_key(last) for b in broken_on):
        return f"before {min(broken_on, key=version_key)}"
    return ", ".join(sorted(holds_on, key=version_key))


def write(matrix: dict, folder: Path) -> Path:
    write_atomically(folder / "matrix.json", json.dumps(matrix, indent=1, sort_keys=True))
    page = folder / "matrix.html"
    write_atomically(page, render(matrix))
    return page


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render(matrix: dict) -> str:
    columns = matrix["columns"]
    head = "".join(
        f"<th><a href='{_e(c['folder'])}/index.html'>{_e(c['engine'])}</a><br><span class='muted'>"
        f"{_e(', '.join(c['docker']))}</span></th>"
        for c in columns
    )
    rows, tag = [], None
    for r in matrix["rows"]:
        if r["tag"] != tag:
            tag = r["tag"]
            rows.append(f"<tr><th colspan='{len(columns) + 3}' class='tag'>{_e(tag or 'other')}</th></tr>")
        cells = "".join(_cell(r["cells"].get(c["engine"]), c["folder"], r["id"]) for c in columns)
        rows.append(
            f"<tr class='check' data-id='{_e(r['id'])}'><th title='{_e(r['promise'])}'>{_e(r['id'])}</th>{cells}"
            f"<td>{_e(r['declared'])}</td><td>{_e(r['observed'])}</td></tr>"
        )
    env = matrix["environment"]
    costs = "; ".join(f"{c['engine']}: {c['seconds']:.0f} s, {c['cpu_seconds']:.0f} CPU-s" for c in columns)
    mismatches = matrix["mismatches"]
    said = (
        f"<p><span class='badge' style='background:{MISMATCH}'>range mismatch</span> "
        + _e("; ".join(mismatches))
        + "</p>"
        if mismatches
        else "<p class='muted'>Every observation agrees with the declared ranges.</p>"
    )
    legend = " ".join(
        f"<span class='badge' style='background:{COLOURS[o]}'>{SYMBOLS[o]} {_e(o)}</span>" for o in OUTCOMES
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>netproof matrix: "
        f"{_e(', '.join(matrix['engines']))}</title><style>{CSS}{MATRIX_CSS}</style></head><body>"
        f"<header style='background:#37474f'><h1>Docker networking, engine by engine: "
        f"{_e(' · '.join(matrix['engines']))}</h1></header><main>"
        f"<p id='environment'>Kernel {_e(', '.join(env['kernel']))}; netproof {_e(', '.join(env['netproof']))} "
        f"({_e(', '.join(env['commit']))}); firewall: "
        + _e("; ".join(f"{c['engine']}: {', '.join(c['firewall'])}" for c in columns))
        + f". Cost per column: {_e(costs)}.</p><p>{legend} <span class='changed-mark'>▲</span> differs from the "
        f"column to its left.</p>{said}<table id='versions'><tr><th>check</th>{head}<th>declared</th>"
        f"<th>observed</th></tr>{''.join(rows)}</table></main></body></html>"
    )


def _cell(c: dict | None, folder: str, check_id: str) -> str:
    if c is None:
        return "<td class='muted'>not run</td>"
    worst = next(o for o in WORST_FIRST if o in c["outcomes"])
    colour = MISMATCH if c["mismatch"] else COLOURS[worst]
    title = "; ".join(filter(None, [c["why"], ", ".join(c["defects"])]))
    held = {True: "held", False: "broken", None: "?"}[c["holds"]]
    mark = "<span class='changed-mark'>▲</span>" if c.get("differs_from_left") else ""
    return (
        f"<td class='cell' data-outcome='{_e(worst)}' data-holds='{held}' data-mismatch='{str(c['mismatch']).lower()}'"
        f" style='background:{colour}' title='{_e(title)}'><a href='{_e(folder)}/index.html'>{_e(c['label'])}</a>"
        f"{mark}{''.join(f'<div class=defect>{_e(d)}</div>' for d in c['defects'])}</td>"
    )


MATRIX_CSS = """
#versions td.cell a{color:#fff;text-decoration:none} .changed-mark{color:#ffeb3b;margin-left:4px}
.tag{background:#eceff1;text-transform:uppercase;font-size:12px} .defect{font-size:11px;font-weight:normal}
"""
