"""The outcomes of an evaluation run as a terminal table, a JSON document for CI, and JUnit XML for CI dashboards.

Per scenario and in total: task success, safety violations, confirmations asked / said no to / respected, tool
calls, tokens of tool traffic (cl100k) and wall time. Everything but the times repeats run after run for an agent
that does the same thing (the sandbox's clock is frozen per scenario and generated ids are counted as one).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from .runner import Outcome

# Characters XML 1.0 cannot hold, even escaped; an agent's answer or stderr may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
COLUMNS = ("scenario", "result", "task", "safety", "asked", "said no", "respected", "calls", "tokens", "seconds")


def totals(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "scenarios": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "task_success": sum(o.task_success for o in outcomes),
        "safety_violations": sum(len(o.safety_violations) for o in outcomes),
        "confirmations_asked": sum(o.confirmations for o in outcomes),
        "confirmations_said_no": sum(o.said_no for o in outcomes),
        "confirmations_respected": sum(o.respected for o in outcomes),
        "tool_calls": sum(o.calls for o in outcomes),
        "tokens": sum(o.tokens for o in outcomes),
        "seconds": round(sum(o.seconds for o in outcomes), 2),
    }


def table(outcomes: list[Outcome]) -> str:
    """A plain-text table, one row per scenario and a total, then one line per failed check."""
    rows = [[
        o.scenario.name, "pass" if o.passed else "FAIL", "ok" if o.task_success else "no", str(len(o.safety_violations)),
        str(o.confirmations), str(o.said_no), str(o.respected), str(o.calls), f"{o.tokens:,}", f"{o.seconds:.2f}",
    ] for o in outcomes]
    t = totals(outcomes)
    rows.append([
        "TOTAL", f"{t['passed']}/{t['scenarios']}", f"{t['task_success']}/{t['scenarios']}", str(t["safety_violations"]),
        str(t["confirmations_asked"]), str(t["confirmations_said_no"]), str(t["confirmations_respected"]),
        str(t["tool_calls"]), f"{t['tokens']:,}", f"{t['seconds']:.2f}",
    ])
    widths = [max(len(r[i]) for r in [list(COLUMNS), *rows]) for i in range(len(COLUMNS))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = line(["-" * w for w in widths])
    lines = [line(list(COLUMNS)), rule, *map(line, rows[:-1]), rule, line(rows[-1])]
    failures = [f"{o.scenario.name}: {reason}" for o in outcomes for reason in o.explain().splitlines()]
    return "\n".join(lines + ([""] + failures if failures else []))


def as_json(outcomes: list[Outcome]) -> dict[str, Any]:
    return {"scenarios": [_scenario(o) for o in outcomes], "total": totals(outcomes)}


def _scenario(o: Outcome) -> dict[str, Any]:
    return {
        "name": o.scenario.name,
        "tags": list(o.scenario.tags),
        "passed": o.passed,
        "task_success": o.task_success,
        "safety_violations": [v.label for v in o.safety_violations],
        "checks": [{"check": v.label, "safety": v.safety, "passed": v.passed, **({"detail": v.detail} if v.detail else {})}
                   for v in o.verdicts],
        "confirmations": {"asked": o.confirmations, "said_no": o.said_no, "respected": o.respected},
        "tool_calls": o.calls,
        "tokens": o.tokens,
        "seconds": round(o.seconds, 3),
        "error": o.error,
        "answer": o.answer,
    }


def junit(outcomes: list[Outcome]) -> str:
    """JUnit XML: one test case per scenario; a failed check is a <failure>, a crashed or stopped agent an <error>."""
    t = totals(outcomes)
    suite = ET.Element("testsuite", {
        "name": "clerk-mcp eval", "tests": str(t["scenarios"]), "time": f"{t['seconds']:.3f}",
        "failures": str(sum(1 for o in outcomes if not o.passed and o.error is None)),
        "errors": str(sum(1 for o in outcomes if o.error is not None)),
    })
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"clerk_mcp.eval.{o.scenario.tags[0] if o.scenario.tags else 'scenario'}",
            "name": o.scenario.name, "time": f"{o.seconds:.3f}",
        })
        if o.error is not None:
            ET.SubElement(case, "error", {"message": _text(o.error)}).text = _text(o.explain())
        elif not o.passed:
            violations = len(o.safety_violations)
            message = f"{violations} safety violation(s)" if violations else "task not done"
            ET.SubElement(case, "failure", {"message": message}).text = _text(o.explain())
        ET.SubElement(case, "system-out").text = _text(o.answer)
        if o.stderr:
            ET.SubElement(case, "system-err").text = _text(o.stderr)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)
