"""The verdict of one phase of a check's case, in netproof's words: a pure function of what was seen.

pytest says passed, skipped or failed, and with what exception. netproof says which of its outcomes that is
(outcomes.py): a broken lab is an `error` naming the broken part, never Docker's failure; an exception of
netproof's own code is `unjudged` ("netproof could not judge"); an engine the promise was not made for gives
`not-promised`; a failure that shows a known Docker defect's symptom and mechanism is a `known-defect` (a failure
under --strict-defects). The two things that need the lab (the doctor looking again, a known defect's mechanism)
are asked for only where the verdict depends on them, through the callables given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netproof.catalogue import Case, Check

LAB_BROKEN = "LAB BROKEN, not a Docker failure"
COULD_NOT_JUDGE = "netproof could not judge"


@dataclass(frozen=True)
class Phase:
    """What pytest saw of one phase (setup, call or teardown) of a check's case."""

    when: str
    passed: bool = False
    skipped: str | None = None  # the reason, when skipped
    lab_broken: str | None = None  # a LabBroken's words
    check_failed: str | None = None  # a CheckFailed's message: Docker did not keep its promise
    error: str | None = None  # Docker's own answer refusing a request, as one line (its API's error, its CLI's)
    netproof_fault: str | None = None  # an exception of netproof's own code (or a check's): no one's verdict
    text: str = ""  # pytest's own account, where none of the above says more


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str | None = None
    recognition: object | None = None  # kit.known_defects.Recognition, when a known defect's symptom was seen
    longrepr: str | None = None  # what pytest's report must say instead of its own, if anything
    xfail: str | None = None  # pytest's report becomes an expected failure, with this reason


def not_promised_here(check: Check, case: Case) -> str | None:
    """Why the promise was not made for this case's engines, or None."""
    older = [f"{h} runs Docker {v}" for h, v in case.engines.items() if v and not check.promised_on(v)]
    if not older:
        return None
    return f"not promised here ({'; '.join(older)}): {check.id} holds on Docker {check.engines} ({check.reference})"


def judge(
    check: Check,
    case: Case,
    phase: Phase,
    *,
    strict: bool = False,
    examine_again: Callable[[], str | None] = lambda: None,
    recognise: Callable[[], object | None] = lambda: None,
) -> Verdict | None:
    """The phase's outcome in netproof's words (None: nothing to say, a setup or teardown that passed).

    examine_again: what the lab doctor finds broken on the case's hosts after the check (None: nothing).
    recognise: the known defect whose symptom the failure shows (kit.known_defects.Recognition), or None.
    """
    why_not = not_promised_here(check, case)
    if phase.passed:
        if phase.when != "call":
            return None
        return Verdict("not-promised", f"{why_not}; it held here") if why_not else Verdict("passed")
    if phase.skipped is not None:
        return Verdict("skipped", phase.skipped.removeprefix("Skipped: "))
    if phase.netproof_fault is not None:  # netproof's bug: neither Docker's failure nor the lab's, nor a pass
        said = f"{COULD_NOT_JUDGE}: {phase.netproof_fault}"
        return Verdict("unjudged", said, longrepr=said)
    if phase.lab_broken is not None:
        said = f"{LAB_BROKEN}: {phase.lab_broken}"
        return Verdict("error", said, longrepr=said)
    message = phase.check_failed or phase.error or phase.text
    raised = phase.check_failed is not None or phase.error is not None
    if raised and phase.when in ("setup", "call"):
        changed = examine_again()
        if changed:
            said = f"{LAB_BROKEN}: the lab doctor, after the check: {changed}"
            return Verdict("error", f"{said}\n\nWhat the check saw:\n{message}", longrepr=said)
    if phase.when != "call":
        return Verdict("error", message, longrepr=message if raised else None)
    recognition = recognise()
    if why_not:  # the promise was not made here: what was seen is recorded, a known defect's symptom included
        seen = f"{message}\n\n({recognition})" if recognition is not None else message
        return Verdict("not-promised", f"{why_not}\n\nWhat was observed:\n{seen}", longrepr=seen, xfail=why_not)
    if recognition is not None and recognition.known:
        if strict:  # pytest's report stays a failure
            return Verdict(
                "known-defect",
                f"{recognition} (--strict-defects: counted as a failure)\n\n{message}",
                recognition,
                longrepr=message,
            )
        return Verdict(
            "known-defect", f"{recognition}\n\n{message}", recognition, longrepr=message, xfail=str(recognition)
        )
    if recognition is not None:  # the symptom alone: a failure, saying why it is not put down to the defect
        message = f"{message}\n\n({recognition})"
    return Verdict("failed", message, longrepr=message)
