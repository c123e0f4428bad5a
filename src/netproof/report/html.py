"""The HTML conformance report: one self-contained file (no external assets) a person can read
and hand on. A verdict first, then the matrix of checks, the failures with their evidence folded
open, a picture of the lab drawn from its topology, the environment, and every check with a filter.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from netproof import outcomes
from netproof.report.results import OUTCOMES, CheckResult, Results
from netproof.system import write_atomically

COLOURS, SYMBOLS = outcomes.COLOURS, outcomes.SYMBOLS

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:18px 28px;color:#fff} main{padding:0 28px 40px} h2{margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} #matrix tr th:first-child{white-space:nowrap}
.cell{color:#fff;text-align:center;font-weight:bold;min-width:2.2em}
pre{background:#f4f4f4;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap;margin:4px 0}
details{background:#fff;border:1px solid #ddd;margin:8px 0;padding:6px 10px} summary{cursor:pointer;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-size:12px}
.filters input,.filters select{margin-right:12px} .muted{color:#666}
"""

FILTER_JS = """
function applyFilter(){
  const c=document.getElementById('f-check').value.toLowerCase(),
        h=document.getElementById('f-host').value.toLowerCase(),
        o=document.getElementById('f-outcome').value;
  let shown=0;
  document.querySelectorAll('tr.check').forEach(function(r){
    const ok=r.dataset.id.toLowerCase().includes(c) && r.dataset.hosts.toLowerCase().includes(h)
             && (!o || r.dataset.outcome===o);
    r.style.display=ok?'':'none'; if(ok) shown++;
  });
  document.getElementById('f-count').textContent=shown+' shown';
}
"""


def write_report(results: Results, path: Path) -> Path:
    write_atomically(path, render(results))
    return path


def render(results: Results) -> str:
    verdict = results.verdict
    colour = {
        "pass": COLOURS["passed"],
        "fail": COLOURS["failed"],
        "lab problems": COLOURS["error"],
        "netproof could not judge": COLOURS["unjudged"],
    }[verdict]
    counts = results.counts()
    lab = results.lab
    engines = sorted({e.get("docker") or e.get("engine") or "?" for e in results.environment})
    title = f"netproof: {verdict.upper()} — lab {lab['name']}, {lab['control_plane']}, Docker {', '.join(engines)}"
    failures = [c for c in results.checks if c.outcome in outcomes.BAD]
    differences = [c for c in results.checks if c.outcome in ("known-defect", "not-promised", "skipped")]
    rates = _e("".join(f" · known defect {r}" for r in results.rate_lines()))
    parts = [
        "<!doctype html><html lang='en'><head><meta "
        f"charset='utf-8'><title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<header style='background:{colour}'><h1 style='margin:0'>{_e(title)}</h1>",
        f"<div>{_e(counts)}{rates} · run {_e(results.run['id'])} · {results.run['duration']} s · netproof "
        f"{_e(results.run['netproof_version'])}</div></header>",
        "<main>",
        "<h2>Matrix</h2>",
        _matrix(results),
        f"<h2 id='failures'>Failures ({len(failures)})</h2>",
        "".join(_failure(c) for c in failures) or "<p>None: every check kept Docker's promise.</p>",
    ]
    if differences:
        struck = results.rate_lines()
        parts += [
            f"<h2 id='differences'>Known defects, promises not made, skips ({len(differences)})</h2>",
            (
                "<p>How often each known Docker defect struck"
                + (" (counted as failures: --strict-defects)" if results.strict else "")
                + ":</p><ul id='defect-rates'>"
                + "".join(f"<li>{_e(r)}</li>" for r in struck)
                + "</ul>"
            )
            if struck
            else "",
            "".join(_failure(c, folded=True) for c in differences),
        ]
    parts += [
        "<h2>The lab</h2>",
        _topology_svg(results),
        _lab_table(results),
        "<h2>Environment</h2>",
        _environment(results),
        *_doctor(results),
        "<h2>Every check</h2>",
        _all_checks(results),
        f"<script>{FILTER_JS}</script></main></body></html>",
    ]
    return "\n".join(parts)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(outcome: str) -> str:
    return f"<span class='badge' style='background:{COLOURS[outcome]}'>{_e(outcome)}</span>"


def _where(c: CheckResult) -> str:
    """A case's column: its host, its pair, or the lab (a lab-wide check's)."""
    if len(c.hosts) == 1:
        return c.hosts[0]
    return " → ".join(c.hosts) if len(c.hosts) == 2 else "lab"


def _matrix(results: Results) -> str:
    """Rows: checks. Columns: where the cases ran (each host, each host pair, the lab), headed by the engines there;
    a check's variants (gateway modes, endpoint modes) side by side inside its cell, each named on hover."""
    engines_of: dict[str, set] = {}
    for c in results.checks:
        engines_of.setdefault(_where(c), set()).update(v or "?" for v in c.engines.values())
    columns = sorted(engines_of, key=lambda w: (w == "lab", "→" in w, w))
    ids = sorted({c.id for c in results.checks})
    by_cell: dict[tuple[str, str], list[CheckResult]] = {}
    for c in sorted(results.checks, key=lambda c: c.case):
        by_cell.setdefault((c.id, _where(c)), []).append(c)
    head = "".join(
        f"<th title='{_e(w)}'>{_e(w)}<div class='muted'>{_e(', '.join(sorted(engines_of[w])))}</div></th>"
        for w in columns
    )
    rows = []
    for check_id in ids:
        cells = []
        for where in columns:
            cases = by_cell.get((check_id, where), [])
            if not cases:
                cells.append("<td></td>")
                continue
            worst = next(o for o in outcomes.CELL_FIRST if any(c.outcome == o for c in cases))
            marks = "".join(f"<span title='{_e(c.case)}: {_e(c.outcome)}'>{SYMBOLS[c.outcome]}</span>" for c in cases)
            cells.append(f"<td class='cell' style='background:{COLOURS[worst]}' title='{_e(worst)}'>{marks}</td>")
        promise = next((c.promise for c in results.checks if c.id == check_id and c.promise), "")
        rows.append(f"<tr><th title='{_e(promise)}'>{_e(check_id)}</th>{''.join(cells)}</tr>")
    legend = " ".join(f"{_badge(o)}" for o in OUTCOMES)
    plane = _e(results.lab["control_plane"])
    return (
        f"<p>Control plane: <b>{plane}</b>. {legend}</p>"
        f"<table id='matrix'><tr><th>check</th>{head}</tr>{''.join(rows)}</table>"
    )


def _failure(c: CheckResult, folded: bool = False) -> str:
    """A case that did not pass: its message (expected, observed, where) and its evidence; open for a failure,
    folded for a known defect or a promise not made, in the outcome's own colour."""
    evidence = "".join(_exhibit(x) for x in c.evidence)
    return (
        f"<details{'' if folded else ' open'} class='failure' data-id='{_e(c.id)}' data-outcome='{_e(c.outcome)}' "
        f"style='border-left:4px solid {COLOURS[c.outcome]}'><summary>{_badge(c.outcome)} {_e(c.id)} "
        f"[{_e(c.case)}]</summary>"
        f"<pre>{_e(c.message or '')}</pre>{'<h4>Evidence</h4>' + evidence if evidence else ''}</details>"
    )


def _exhibit(x: dict) -> str:
    where = f" <span class='muted'>[{_e(x.get('where', ''))}]</span>" if x.get("where") else ""
    if x.get("kind") == "pcap":
        link = x.get("file") or x.get("content")
        return (
            f"<div class='exhibit'><b>{_e(x['title'])}</b>{where}<br>capture: <a href='{_e(link)}'>{_e(link)}</a></div>"
        )
    if x.get("kind") == "traceback":  # for whoever debugs netproof: folded under the one-line message
        body = _e(x.get("content", ""))
        return f"<details class='exhibit'><summary>{_e(x['title'])}</summary><pre>{body}</pre></details>"
    return f"<div class='exhibit'><b>{_e(x['title'])}</b>{where}<pre>{_e(x.get('content', ''))}</pre></div>"


def _topology_svg(results: Results) -> str:
    """Subnets as buses around the router, hosts on them, and the host pairs that were exercised."""
    lab = results.lab
    subnets = lab["subnets"]
    hosts = lab["hosts"]
    width, bus_gap, host_w = 900, 150, 120
    height = 120 + bus_gap * len(subnets)
    pos: dict[str, tuple[float, float]] = {}
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' aria-label='lab "
        "topology'>",
        "<rect x='20' y='20' width='100' height='40' rx='6' fill='#37474f'/>",
        "<text x='70' y='45' fill='#fff' text-anchor='middle'>router</text>",
    ]
    for i, s in enumerate(subnets):
        y = 110 + i * bus_gap
        out.append(f"<line x1='70' y1='60' x2='70' y2='{y}' stroke='#90a4ae' stroke-width='2'/>")
        out.append(f"<line x1='70' y1='{y}' x2='{width - 20}' y2='{y}' stroke='#546e7a' stroke-width='4'/>")
        out.append(
            f"<text x='80' y='{y - 8}' fill='#37474f'>{_e(s['name'])} {_e(s['cidr'])} (gw {_e(s['gateway'])})</text>"
        )
        members = [h for h in hosts if h["subnet"] == s["name"]]
        for j, h in enumerate(members):
            x = 200 + j * (host_w + 30)
            pos[h["name"]] = (x + host_w / 2, y + 20)
            fill = {"docker": "#1565c0", "kv": "#6d4c41", "outside": "#ad1457"}.get(h["role"], "#455a64")
            out.append(
                f"<line x1='{x + host_w / 2}' y1='{y}' x2='{x + host_w / 2}' y2='{y + 20}' stroke='#546e7a' "
                "stroke-width='2'/>"
            )
            out.append(f"<rect x='{x}' y='{y + 20}' width='{host_w}' height='42' rx='6' fill='{fill}'/>")
            label = h["name"] + (f" ({h['engine']})" if h.get("engine") else f" [{h['role']}]")
            out.append(
                f"<text x='{x + host_w / 2}' y='{y + 38}' fill='#fff' text-anchor='middle' "
                f"font-size='12'>{_e(label)}</text>"
            )
            out.append(
                f"<text x='{x + host_w / 2}' y='{y + 54}' fill='#fff' text-anchor='middle' "
                f"font-size='11'>{_e(h['address'])}</text>"
            )
    for src, dst in lab.get("pairs", []):
        if src in pos and dst in pos:
            (x1, y1), (x2, y2) = pos[src], pos[dst]
            bend = max(y1, y2) + 70
            out.append(
                f"<path d='M{x1},{y1 + 42} C{x1},{bend} {x2},{bend} {x2},{y2 + 42}' fill='none' stroke='#ef6c00' "
                f"stroke-width='2' stroke-dasharray='5,3'><title>{_e(src)} → {_e(dst)}</title></path>"
            )
    out.append("</svg>")
    return "".join(out) + "<p class='muted'>Dashed: host pairs the cross-host checks exercised.</p>"


def _lab_table(results: Results) -> str:
    lab = results.lab
    rows = "".join(
        f"<tr><td>{_e(h['name'])}</td><td>{_e(h['role'])}</td><td>{_e(h['subnet'])}</td><td>{_e(h['address'])}</td>"
        f"<td>{_e(h.get('engine') or '')}</td></tr>"
        for h in lab["hosts"]
    )
    return (
        f"<p>Lab <b>{_e(lab['name'])}</b> from {_e(lab['topology_file'])}, provider {_e(lab['provider'])}.</p>"
        f"<table><tr><th>host</th><th>role</th><th>subnet</th><th>address</th><th>engine</th></tr>{rows}</table>"
    )


def _environment(results: Results) -> str:
    keys = ["host", "engine", "docker", "api", "containerd", "runc", "runtime", "kernel", "iptables"]

    def configured(e: dict) -> str:
        return "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in (e.get("configuration") or {}).items())

    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(e.get(k) or '')}</td>" for k in keys) + f"<td>{configured(e)}</td></tr>"
        for e in results.environment
    )
    run = results.run
    return (
        f"<table id='environment'><tr>{''.join(f'<th>{k}</th>' for k in keys)}<th>configuration</th></tr>{rows}"
        "</table>"
        f"<p class='muted'>Started {_e(run['started'])}, finished {_e(run['finished'])}: "
        f"<code>{_e(run['command'])}</code></p>{_footprint(results)}"
    )


def _footprint(results: Results) -> str:
    """Where Docker's footprint of this run is (compared by netproof diff), or why there is none."""
    taken = results.footprint
    if not taken:
        return "<p id='footprint' class='muted'>No footprint taken (--no-footprint).</p>"
    if taken.get("error"):
        return f"<p id='footprint' class='muted'>No footprint: {_e(taken['error'])}</p>"
    hosts = ", ".join(f"<a href='footprint/{_e(h)}.json'>{_e(h)}</a>" for h in taken["hosts"])
    left = (taken.get("leftovers") or []) + (taken.get("left_by_known_defects") or [])
    said = f" Docker would not remove: {_e('; '.join(left))}." if left else ""
    return (
        f"<p id='footprint' class='muted'>Docker's networking footprint after the checks ({taken['seconds']} s): "
        f"{hosts}; compared by <code>netproof diff</code>.{said}</p>"
    )


def _doctor(results: Results) -> list[str]:
    """The lab doctor's tables: what the network under Docker gave it when the run began."""
    if not results.doctor:
        return []
    from netproof.lab.model.findings import Diagnosis

    diagnosis = Diagnosis.from_dict(results.doctor)
    verdict = "every requirement holds" if diagnosis.healthy else f"{len(diagnosis.failures)} requirement(s) not met"
    parts = [
        "<h2 id='doctor'>The lab's network (netproof lab doctor)</h2>",
        f"<p>{_e(verdict)}, examined in {diagnosis.seconds:.1f} s before the checks ran.</p>",
    ]
    if diagnosis.failures:
        parts.append("<ul>" + "".join(f"<li>{_e(f.cause)}</li>" for f in diagnosis.failures) + "</ul>")
    for title, columns, rows in diagnosis.tables():
        head = "".join(f"<th>{_e(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
        parts.append(f"<h3>{_e(title)}</h3><table class='doctor'><tr>{head}</tr>{body}</table>")
    return parts


def _all_checks(results: Results) -> str:
    options = "".join(f"<option value='{o}'>{o}</option>" for o in OUTCOMES)
    rows = []
    for c in sorted(results.checks, key=lambda c: (c.id, c.case)):
        mechanism = json.dumps(c.mechanism, indent=1, sort_keys=True) if c.mechanism else ""
        details = "".join(_exhibit(x) for x in c.evidence)
        body = (
            f"<details><summary>mechanism and evidence</summary><pre>{_e(mechanism)}</pre>{details}</details>"
            if (mechanism or details)
            else ""
        )
        rows.append(
            f"<tr class='check' data-id='{_e(c.id)}' data-hosts='{_e(' '.join(c.hosts))}' "
            f"data-outcome='{_e(c.outcome)}'>"
            f"<td>{_e(c.id)}</td><td>{_e(c.case)}</td><td>{_badge(c.outcome)}</td><td>{c.duration:.1f} s</td>"
            f"<td>{_e(c.promise)}{body}</td></tr>"
        )
    return (
        f"<div class='filters'>check <input id='f-check' oninput='applyFilter()' placeholder='OVL-PING'>"
        f"host <input id='f-host' oninput='applyFilter()' placeholder='docker1'>"
        f"outcome <select id='f-outcome' onchange='applyFilter()'><option value=''>any</option>{options}</select>"
        f"<span id='f-count' class='muted'></span></div>"
        "<table id='checks'><tr><th>check</th><th>case</th><th>outcome</th><th>time</th><th>promise</th></tr>"
        f"{''.join(rows)}</table>"
    )
