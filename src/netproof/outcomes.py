"""netproof's outcomes of a case, defined once: what each means, how grave it is, its colour and symbol in the HTML,
its JUnit element, and what it makes the exit status. The recorder, the verdict, the reports and every job's exit
status read them here."""

from __future__ import annotations

from dataclasses import dataclass

from netproof.errors import ExitStatus


@dataclass(frozen=True)
class Outcome:
    name: str
    meaning: str
    colour: str
    symbol: str
    junit: str | None  # JUnit's element for it (None: a passed <testcase> with no child)
    bad: bool = False  # it needs someone's attention: Docker's failure, a broken lab, netproof's own fault


# In the order the reports list them.
OUTCOMES = (
    Outcome("passed", "Docker kept its promise", "#2e7d32", "✔", None),
    Outcome("failed", "Docker broke its promise", "#c62828", "✘", "failure", bad=True),
    Outcome(
        "error",
        "the lab is broken (underlay, control plane, a tool, a probe's path), not Docker",
        "#6a1b9a",
        "!",
        "error",
        bad=True,
    ),
    Outcome(
        "unjudged",
        "netproof could not judge: its own code raised (a bug to report), neither Docker nor the lab",
        "#37474f",
        "?",
        "error",
        bad=True,
    ),
    Outcome(
        "skipped",
        "not run here, with the reason (the kernel lacks a feature, the lab has no outside host)",
        "#757575",
        "–",
        "skipped",
    ),
    Outcome(
        "known-defect",
        "a documented Docker bug, recognised by symptom and mechanism, with its reference",
        "#ef6c00",
        "≈",
        "skipped",
    ),
    Outcome(
        "not-promised",
        "the engine predates or postdates the promise; what was observed is kept",
        "#00838f",
        "○",
        "skipped",
    ),
)
NAMES = tuple(o.name for o in OUTCOMES)
BY_NAME = {o.name: o for o in OUTCOMES}
# When one case's phases say different things, or a matrix cell holds several cases, the gravest stands. Docker's
# failure is gravest: it stands whatever else broke (a teardown's trouble must not hide it).
GRAVEST_FIRST = ("failed", "unjudged", "error", "known-defect", "not-promised", "skipped", "passed")
GRAVITY = {name: len(GRAVEST_FIRST) - i for i, name in enumerate(GRAVEST_FIRST)}
# A cell holding several cases (a check's variants, a matrix column) takes the gravest's colour, but a variant skipped
# beside passed ones leaves it green: what could say, held.
CELL_FIRST = (*(o for o in GRAVEST_FIRST if o not in ("skipped", "passed")), "passed", "skipped")
COLOURS = {o.name: o.colour for o in OUTCOMES}
SYMBOLS = {o.name: o.symbol for o in OUTCOMES}
BAD = tuple(o.name for o in OUTCOMES if o.bad)


def exit_status(counts: dict[str, int], strict: bool = False) -> ExitStatus:
    """The one rule, from a run's count per outcome: Docker's failures first (they stand whatever else broke), then
    netproof's own fault (nothing it said can be trusted as a pass), then a broken lab."""
    if counts.get("failed") or (strict and counts.get("known-defect")):
        return ExitStatus.DOCKER_FAILED
    if counts.get("unjudged"):
        return ExitStatus.CRASHED
    return ExitStatus.LAB_BROKEN if counts.get("error") else ExitStatus.PASSED
