"""junit.xml of a run, in netproof's own outcome words: every test case carries its outcome as a
property, and maps to JUnit's elements as CI systems read them (failed: <failure>, error: <error>;
skipped, known-defect and not-promised: <skipped type="..."> with the reason)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from netproof import outcomes
from netproof.report.results import Results
from netproof.system import write_atomically

ELEMENT = {o.name: o.junit for o in outcomes.OUTCOMES if o.junit}


# What XML 1.0 cannot hold, whatever a host printed (a terminal's escape codes, a NUL): said as \x.. instead.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    return NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write(results: Results, path: Path) -> Path:
    """junit.xml agreeing with the run's exit status: under --strict-defects a known defect is a <failure>."""
    summary = results.summary
    elements = {**ELEMENT, "known-defect": "failure"} if results.strict else ELEMENT
    failures = summary["failed"] + (summary["known-defect"] if results.strict else 0)
    skipped = summary["skipped"] + summary["not-promised"] + (0 if results.strict else summary["known-defect"])
    suite = ET.Element(
        "testsuite",
        name=f"netproof {results.lab['name']}",
        tests=str(len(results.checks)),
        failures=str(failures),
        errors=str(summary["error"] + summary["unjudged"]),
        skipped=str(skipped),
        time=str(results.run["duration"]),
        timestamp=results.run["started"],
    )
    for c in sorted(results.checks, key=lambda c: (c.id, c.case)):
        module, _, name = c.nodeid.rpartition("::")
        case = ET.SubElement(
            suite,
            "testcase",
            classname=module.removesuffix(".py").replace("/", "."),
            name=name,
            time=f"{c.duration:.3f}",
        )
        props = ET.SubElement(case, "properties")
        for key, value in (("outcome", c.outcome), ("check", c.id), ("case", c.case), ("promise", c.promise)):
            ET.SubElement(props, "property", name=key, value=xml_text(value))
        if c.outcome in elements:
            message = c.message or ""
            element = ET.SubElement(
                case,
                elements[c.outcome],
                type=c.outcome,
                message=xml_text(message.splitlines()[0] if message else c.outcome),
            )
            element.text = xml_text(message)
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return write_atomically(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
