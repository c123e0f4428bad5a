"""A compose project's truth tables as one self-contained page (replay.html): a grid per table, a row per target and
a column per source, each cell expected against observed; a wrong cell red with what the probe said, a cell not
judged grey; across the tables of an upgrade, a cell whose answer changed since the first table is marked."""

from __future__ import annotations

import html
from pathlib import Path

from netproof.report.html import CSS
from netproof.stack.reachability import Table
from netproof.system import write_atomically

RIGHT, WRONG, UNJUDGED = "#2e7d32", "#c62828", "#757575"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render(tables: list[Table], notes: list[str]) -> str:
    first = tables[0] if tables else None
    parts = [f"<h1>{_e(first.project if first else 'replay')}: the reachability it relies on</h1>"]
    parts.append(
        "<p>. connects, x does not, as compose's semantics (or the project's intents) expect; "
        "<b>!</b> wrong; ? not judged (the probe did not run); &#9650; changed since the first table.</p>"
    )
    for table in tables:
        parts.append(_table(table, first if table is not first else None))
    if notes:
        parts.append("<h2>Not replayed, or not probed</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    title = _e(first.project if first else "replay")
    return f"<!doctype html><meta charset='utf-8'><title>{title}</title><style>{CSS}</style><body>{''.join(parts)}"


def _table(table: Table, first: Table | None) -> str:
    sources = list(dict.fromkeys(c.source for c, _ in table.rows))
    targets = list(dict.fromkeys(c.target for c, _ in table.rows))
    was = {(c.source, c.target): first.symbol(c, o) for c, o in first.rows} if first else {}
    at = {(c.source, c.target): (c, o) for c, o in table.rows}
    colour = WRONG if table.wrong else UNJUDGED if table.unjudged else RIGHT
    head = "".join(f"<th>{_e(s)}</th>" for s in sources)
    out = [f"<h2 style='color:{colour}'>{_e(table.where)}: {_e(table.summary())}</h2>",
           f"<table class='truth'><tr><th>to \\ from</th>{head}</tr>"]  # fmt: skip
    for target in targets:
        cells = []
        for source in sources:
            if (source, target) not in at:
                cells.append("<td></td>")
                continue
            cell, seen = at[(source, target)]
            right, mark = table.right(cell, seen), table.symbol(cell, seen)
            shade = UNJUDGED if right is None else RIGHT if right else WRONG
            moved = " &#9650;" if was.get((source, target), mark) != mark else ""
            said = f"{'should connect' if cell.expected else 'should not connect'} ({cell.why}); {seen.detail}"
            cells.append(f"<td style='color:{shade};text-align:center' title='{_e(said)}'>{_e(mark)}{moved}</td>")
        out.append(f"<tr><th>{_e(target)}</th>{''.join(cells)}</tr>")
    out.append("</table>")
    bad = table.wrong + table.unjudged
    if bad:
        out.append("<ul>" + "".join(
            f"<li><b>{_e(table.symbol(c, o))}</b> {_e(c.source)} &rarr; {_e(c.target)}: "
            f"{'should connect' if c.expected else 'should not connect'} ({_e(c.why)}); {_e(o.detail)}</li>"
            for c, o in bad) + "</ul>")  # fmt: skip
    return "".join(out)


def write(tables: list[Table], notes: list[str], path: Path) -> Path:
    return write_atomically(path, render(tables, notes))
