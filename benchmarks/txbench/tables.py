"""
The performance tables of docs/performance.md, made from committed results:
C{benchmarks/tables}.

The page marks each generated part with the result file it comes from::

    <!-- benchmarks/tables: results/20261207T030000Z.json -->
    ...
    <!-- end of benchmarks/tables -->

A mark may name earlier results after its own (C{; before: results/A.json
results/B.json}): each row then also appears beside its readings in them
(L{txbench.comparison}).  C{benchmarks/tables} rewrites what lies between
the marks from that file (a paragraph on the machine and the run, the table
and its notes, the load generator's ceiling); C{benchmarks/tables --check}
exits with status 1 if the page differs from what it would write (the
test suite runs it), so the tables are never edited by hand.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from txbench.__main__ import PARTS
from txbench.comparison import comparisonTable, labelOf, splitBefore
from txbench.report import Results

BENCHMARKS = Path(__file__).resolve().parent.parent
#: The page that quotes the results.
PAGE = BENCHMARKS.parent / "docs" / "performance.md"
BLOCK = re.compile(
    r"(?P<begin><!-- benchmarks/tables: (?P<path>[^>]+?) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<end><!-- end of benchmarks/tables -->)",
    re.DOTALL,
)


#: How the CPU time of a server was counted, in words.
ACCOUNTING = {
    "cgroup2": "in a cgroup of its own (everything it started included)",
    "proc-tree": "over its process tree in /proc",
}


def describeRun(document: Mapping[str, Any]) -> str:
    """
    The machine, the software and the settings of a run, in one paragraph.
    """
    machine = document["machine"]
    settings = document["settings"]
    date = document["date"].replace("T", " ").replace("+00:00", " UTC")
    commit = machine["commit"]
    if machine.get("source_modified"):
        commit += " with changes to src/ not yet committed"
    load = ", ".join(f"{value:.2f}" for value in machine["load_average"])
    parts = settings.get("parts") or []
    which = "every part" if set(parts) >= set(PARTS) else "parts " + ", ".join(parts)
    quick = " (`--quick`)" if settings.get("quick") else ""
    counted = ACCOUNTING.get(settings.get("cpu_accounting", ""), "by process")
    return (
        f"Run of {date} on commit {commit}, {which}{quick}: {settings['rounds']} rounds of "
        f"{settings['seconds']:g} s for each rate.  {machine['cpu']}, {machine['cpus']} CPUs, "
        f"{machine['memory_mib'] // 1024} GiB, {machine['os']}, kernel {machine['kernel']}; "
        f"{machine['python']}, Twisted {machine['twisted']}, xinetd {machine['xinetd']}, "
        f"ucspi-tcp {machine['ucspi_tcp']}, stunnel4 {machine['stunnel4']}, "
        f"{machine['openssl'].split(' (')[0]}.  Load average at the start: {load}.  The CPU "
        f"time of each server is counted {counted}."
    )


def render(document: Mapping[str, Any], before: Sequence[Mapping[str, Any]] = ()) -> str:
    """
    The page's text for one result document, and its rows beside those of
    the earlier C{before} documents, if any (L{comparisonTable}).
    """
    results = Results.fromJson(document)
    text = describeRun(document) + "\n\n"
    if before:
        earlier = [(labelOf(each), Results.fromJson(each)) for each in before]
        text += "Before and after:\n\n" + comparisonTable(results, earlier) + "\n\n"
        text += "This run in full:\n\n"
    text += results.table() + "\n"
    if results.ceilings:
        text += "\nLoad generator ceiling:\n\n" + results.ceilingTable() + "\n"
    return text


def update(page: str, benchmarks: Path = BENCHMARKS) -> str:
    """
    The page with every marked part made anew from its result file.

    @raise ValueError: if the page has no marked part.
    """
    if BLOCK.search(page) is None:
        raise ValueError("the page has no <!-- benchmarks/tables: ... --> part")

    def replace(match: re.Match[str]) -> str:
        after, before = splitBefore(match["path"])
        document = json.loads((benchmarks / after).read_text())
        earlier = [json.loads((benchmarks / path).read_text()) for path in before]
        return f"{match['begin']}\n{render(document, earlier)}\n{match['end']}"

    return BLOCK.sub(replace, page)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/tables",
        description="Make the tables of docs/performance.md from the committed results.",
    )
    parser.add_argument("--check", action="store_true", help="only check that they are current")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page (default: %(default)s)")
    options = parser.parse_args(argv)
    current = options.page.read_text()
    wanted = update(current)
    if options.check:
        if wanted == current:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(True),
            wanted.splitlines(True),
            str(options.page),
            "benchmarks/tables",
        )
        sys.stderr.write("".join(diff))
        sys.stderr.write(
            f"benchmarks/tables: the tables of {options.page} are not those of their results\n"
        )
        return 1
    if wanted != current:
        options.page.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
