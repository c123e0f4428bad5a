"""Each cell of a project's truth table, observed by a probe: a GET of the answering stand-in's page from the
source (a stand-in, by `docker exec`, or the outside host), through the name, address or published port the cell
names. The page says which service answered and the address it saw the client as. A probe that shows no proof of
having run (kit/probes.py) leaves its cell not judged, with what was said: never a pass, never Docker's failure."""

from __future__ import annotations

import re

from netproof import system
from netproof.kit import probes
from netproof.kit.probes import ProbeDidNotRun
from netproof.lab.model.topology import OUTSIDE_HTTP_PORT
from netproof.lab.providers.base import LabHost
from netproof.stack.project import OUTSIDE
from netproof.stack.reachability import ADDRESS, EGRESS, NAME, Cell, Observed, Table, expected_cells

from .stand_ins import MARK, PAGE, Placement

TIMEOUT = 2  # seconds a GET may take: the stand-ins are on the same host or one hop away


def observe(placement: Placement, outside: LabHost, where: str) -> Table:
    cells = expected_cells(placement.project, placement.host.address)
    rows = system.parallel(lambda cell: (cell, _probe(placement, outside, cell)), cells, at_most=6)
    return Table(placement.project.name, where, rows)


def _probe(placement: Placement, outside: LabHost, cell: Cell) -> Observed:
    try:
        run, address, port, client = _path(placement, outside, cell)
        if address is None:
            return Observed(None, f"no address to probe: {port}")
        got = probes.http_get(run, address, port, timeout=TIMEOUT, path="/" if cell.kind == EGRESS else PAGE)
    except ProbeDidNotRun as e:
        return Observed(None, str(e))
    page, fetch = got.url, got.result
    said = " ".join((fetch.stdout + fetch.stderr).split())[-200:]
    if cell.kind == EGRESS:
        return Observed(got.through, f"GET {page}: {'answered' if got.through else 'no connection'} ({said or 'ok'})")
    answered = re.search(rf"{MARK} (\S+) seen (\S+)", fetch.stdout)
    if answered is None:
        return Observed(False, f"GET {page}: no connection ({said or f'exit {fetch.returncode}'})")
    service, seen = answered.group(1), _plain(answered.group(2))
    if service != cell.service:
        return Observed(False, f"GET {page}: answered by {service}, not {cell.service}")
    detail = f"GET {page}: {service} answered, seeing the client as {seen}"
    if client and seen != client:
        detail += f", not as its own address {client}"
    return Observed(True, detail, seen, client)


def _path(placement: Placement, outside: LabHost, cell: Cell):
    """Where the probe runs, the address and port it asks, and the client's own address (where the cell needs the
    service to see it)."""
    if cell.source == OUTSIDE:
        run = probes.on_host(outside)
        port = cell.published
        if port is None:  # `-p C`: the port Docker picked, asked now (it may change when the container restarts)
            port = placement.stand_ins[cell.service].host_port(placement.host, cell.port)
            if port is None:
                return run, None, f"Docker published no host port for {cell.service}:{cell.port}", None
        return run, placement.host.address, port, outside.address if cell.client_address else None
    source = placement.stand_ins[cell.source].container

    def run(argv: list[str]):
        return placement.host.run(["docker", "exec", source, *argv], timeout=30)

    if cell.kind == NAME:
        return run, cell.target.rsplit(":", 1)[0], cell.port, None
    if cell.kind == ADDRESS:
        return run, placement.stand_ins[cell.service].addresses.get(cell.network), cell.port, None
    if cell.kind == EGRESS:
        return run, outside.address, OUTSIDE_HTTP_PORT, None
    raise ValueError(f"a cell of kind {cell.kind!r} from a service: {cell}")  # PUBLISHED cells start outside


def _plain(address: str) -> str:
    """busybox httpd's REMOTE_ADDR as an address: "[::ffff:10.0.0.1]" is 10.0.0.1."""
    address = address.strip("[]")
    return address.removeprefix("::ffff:")
