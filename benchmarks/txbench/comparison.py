"""
Before and after: each row of a result beside the same row of earlier
results, as its target reads it (the ratio to the target's peer, or
txinetd's own figure; an earlier row is read with today's target), for
the performance tables (C{benchmarks/tables}).

A marked part names the earlier results after its own::

    <!-- benchmarks/tables: results/AFTER.json; before: results/A.json results/B.json -->

Each earlier result is a column, labelled with the txinetd it measured; a
row it does not have is left blank there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from txbench.report import Results, Row, Target
from txbench.servers import Peer

__all__ = ["comparisonTable", "headline", "labelOf", "splitBefore"]

#: What separates the earlier results from the result in a mark.
BEFORE = "; before:"


def splitBefore(named: str) -> tuple[str, list[str]]:
    """
    The result a mark names, and the earlier results it names after it.
    """
    after, _, before = named.partition(BEFORE)
    return after.strip(), before.split()


def labelOf(document: Mapping[str, Any]) -> str:
    """
    A column's label: the date of the run and the txinetd it measured.
    """
    machine = document["machine"]
    commit = machine.get("txinetd_commit") or machine["commit"]
    return f"{document['date'][:10]} ({commit})"


def headline(row: Row, target: Target | None = None) -> str:
    """
    A row as a target (by default its own) reads it: the ratio to the
    target's peer (C{0.89x}), else txinetd's figure and unit; C{—} without a
    figure.
    """
    if target is None:
        target = row.target
    peer = target.peer if target is not None else None
    if peer is not None:
        ratio = row.ratio(peer)
        return "—" if ratio is None else f"{ratio:.2f}x"
    figure = row.figure(Peer.TXINETD)
    if figure is None:
        return "—"
    text = f"{figure:.0f}" if figure >= 100 else f"{figure:.3g}"
    return f"{text} {row.unit}"


def comparisonTable(after: Results, before: Sequence[tuple[str, Results]]) -> str:
    """
    The markdown table of every row of C{after} that has a target: the
    target, each earlier result's reading, this one's, and whether it is met.
    """
    header = ["scenario", "target", *(f"before: {label}" for label, _ in before)]
    header += ["after", "met"]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * len(header)) + " |"]
    for key, row in after.rows.items():
        if row.target is None:
            continue
        cells = [row.title, row.target.text]
        for _, earlier in before:
            old = earlier.rows.get(key)
            cells.append("" if old is None else headline(old, row.target))
        met = row.met()
        cells += [headline(row), "—" if met is None else "yes" if met else "**no**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
