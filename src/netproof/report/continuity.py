"""The continuity report: one self-contained page per scenario, drawn from its continuity.json. One bar per flow
over the scenario's time: green while echoes came back, red where a gap was, a mark where the connection had to be
made again; the operation's moment shaded. A verdict per flow against the promise, with its reference."""

from __future__ import annotations

import html
from pathlib import Path

from netproof.report.html import CSS
from netproof.system import write_atomically

COLOURS = {"kept": "#2e7d32", "broken": "#c62828", "measured": "#00838f", "known-defect": "#ef6c00"}
WIDTH, BAR, LABEL = 720, 14, 360


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render(run: dict) -> str:
    promise = run["promise"]
    flows = run["flows"]
    operations = run.get("operations") or [run["operation"]]  # an upgrade's restarts, a scenario's one operation
    start = min([f["began"] for f in flows] + [o["began"] for o in operations]) if flows else 0.0
    end = max([f["ended"] for f in flows] + [o["ended"] for o in operations]) if flows else 1.0
    scale = WIDTH / max(end - start, 0.001)
    broken = sum(f["verdict"] == "broken" for f in flows)
    known = sum(f["verdict"] == "known-defect" for f in flows)
    if broken:
        colour, verdict = COLOURS["broken"], f"{broken} flow(s) broke the promise"
    elif known:
        colour, verdict = COLOURS["known-defect"], f"{known} flow(s) interrupted by a known Docker defect"
    else:
        colour, verdict = COLOURS["kept"], "every flow as promised" if promise["keeps_connections"] else "measured"
    rows = [_bar(f, i, start, scale, operations) for i, f in enumerate(flows)]
    height = len(flows) * (BAR + 14) + 30
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{LABEL + WIDTH + 20}' height='{height}' role='img' "
        f"aria-label='flow timelines'>" + "".join(rows) + _axis(start, end, scale, height) + "</svg>"
    )
    table = "".join(
        f"<tr><td>{_e(f['flow'])}</td><td><span class='badge' style='background:{COLOURS[f['verdict']]}'>"
        f"{_e(f['verdict'])}</span></td><td>{_e(f['why'])}</td><td>{_e(', '.join(f['peers']) or '-')}</td></tr>"
        for f in flows
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>netproof continuity: "
        f"{_e(run['scenario'])} on {_e(run['host'])}</title><style>{CSS}</style></head><body>"
        f"<header style='background:{colour}'><h1>{_e(promise['operation'])} on {_e(run['host'])} "
        f"(Docker {_e(run['engine'])}): {_e(verdict)}</h1></header><main>"
        f"<p><b>{_e(promise['id'])}</b>: {_e(promise['promise'])}.<br><span class='muted'>{_e(promise['reference'])}"
        "</span></p><p>"
        + "; ".join(f"{_e(o['said'])}, {o['ended'] - o['began']:.1f} s" for o in operations)
        + " (shaded).</p>"
        + "".join(
            f"<p><span class='badge' style='background:{COLOURS['known-defect']}'>known Docker defect</span> "
            f"<b>{_e(d['reference'])}</b>: {_e(d['summary'])}. <span class='muted'>Workaround: {_e(d['workaround'])}"
            "</span></p>"
            for d in run.get("known_defects", [])
        )
        + f"<h2>Timelines</h2>{svg}<h2>Flows</h2><table><tr><th>flow</th><th>verdict</th><th>what it met</th>"
        f"<th>the server saw its client as</th></tr>{table}</table>"
        + _names(run.get("names") or [])
        + "</main></body></html>"
    )


def _names(names: list[dict]) -> str:
    """The names the containers made before the operation asked their embedded DNS for, afterwards."""
    if not names:
        return ""
    rows = "".join(
        f"<tr><td>{_e(n['name'])}</td><td>{_e(n['asker'])}</td><td><span class='badge' style='background:"
        f"{COLOURS['kept' if n['resolved'] else 'broken']}'>{'resolves' if n['resolved'] else 'not resolved'}</span>"
        f"</td><td>{_e(n['answer'])} (expected {_e(n['expected'])})</td></tr>"
        for n in names
    )
    return (
        "<h2>Names afterwards</h2><table><tr><th>name</th><th>asked by</th><th>verdict</th><th>answer</th></tr>"
        f"{rows}</table>"
    )


def _bar(flow: dict, index: int, start: float, scale: float, operations: list[dict]) -> str:
    y = index * (BAR + 14) + 6
    x0 = LABEL + (flow["began"] - start) * scale
    x1 = LABEL + (flow["ended"] - start) * scale
    parts = [f"<text x='0' y='{y + BAR - 2}' font-size='12'>{_e(flow['flow'])}</text>"]
    parts += [
        f"<rect x='{LABEL + (o['began'] - start) * scale:.1f}' y='{y - 3}' "
        f"width='{max((o['ended'] - o['began']) * scale, 2):.1f}' height='{BAR + 6}' fill='#ddd'><title>{_e(o['said'])}"
        "</title></rect>"
        for o in operations
    ]
    parts.append(f"<rect x='{x0:.1f}' y='{y}' width='{max(x1 - x0, 1):.1f}' height='{BAR}' fill='#2e7d32'/>")
    for gap in flow["gaps"]:
        ended = gap["ended"] if gap["ended"] is not None else flow["ended"]
        parts.append(
            f"<rect x='{LABEL + (gap['started'] - start) * scale:.1f}' y='{y}' "
            f"width='{max((ended - gap['started']) * scale, 2):.1f}' height='{BAR}' fill='#c62828'>"
            f"<title>{gap['lost']} lost, {(ended - gap['started']):.2f} s</title></rect>"
        )
    for again in flow["reconnects"]:
        x = LABEL + (again["down"] - start) * scale
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{y - 3}' y2='{y + BAR + 3}' stroke='#000' stroke-width='2'>"
            f"<title>connection failed: {_e(again['why'])}</title></line>"
        )
    return "".join(parts)


def _axis(start: float, end: float, scale: float, height: float) -> str:
    step = max(1, round((end - start) / 10))
    ticks = range(0, int(end - start) + 1, step)
    return "".join(
        f"<text x='{LABEL + s * scale:.1f}' y='{height - 4}' font-size='10' fill='#666'>{s} s</text>" for s in ticks
    )


def write(run: dict, path: Path) -> Path:
    write_atomically(path, render(run))
    return path
