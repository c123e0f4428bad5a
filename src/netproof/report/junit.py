"""junit.xml of a run, in netproof's own outcome words: every test case carries its outcome as a
property, and maps to JUnit's elements as CI systems read them (failed: <failure>, error: <error>;
skipped, known-defect and not-promised: <skipped type="..."> with the reason)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from netproof.report.results import Results

ELEMENT = {
    "failed": "failure",
    "error": "error",
    "skipped": "skipped",
    "known-defect": "skipped",
    "not-promised": "skipped",
}


def write(results: Results, path: Path) -> Path:
    summary = results.summary
    suite = ET.Element(
        "testsuite",
        name=f"netproof {results.lab['name']}",
        tests=str(len(results.checks)),
        failures=str(summary["failed"]),
        errors=str(summary["error"]),
        skipped=str(summary["skipped"] + summary["known-defect"] + summary["not-promised"]),
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
            ET.SubElement(props, "property", name=key, value=value)
        if c.outcome in ELEMENT:
            message = c.message or ""
            element = ET.SubElement(
                case, ELEMENT[c.outcome], type=c.outcome, message=message.splitlines()[0] if message else c.outcome
            )
            element.text = message
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
