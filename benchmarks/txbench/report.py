"""
Figures, targets, the table and the JSON document.

A L{Row} is one line of the table: one metric, a figure per peer per round,
and the issue's target for it.  The figure shown is the median of the rounds
(or the worst round, for counts that must be zero).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from txbench.servers import Peer

NOT_YET = "n/a: txinetd cannot serve it yet"
COLUMNS = (Peer.TXINETD, Peer.XINETD, Peer.TCPSERVER, Peer.STUNNEL)
RATIO_PEERS = (Peer.XINETD, Peer.TCPSERVER, Peer.STUNNEL)
FAILURES = ("refused", "errors", "timeouts", "short", "lost")


class Aggregate(Enum):
    """
    How the rounds of a row become its figure.
    """

    MEDIAN = "median"
    WORST = "max"


@dataclass(frozen=True)
class Target:
    """
    The issue's target for a row: txinetd's figure, or its ratio to a peer's,
    compared with a bound.
    """

    text: str
    bound: float
    peer: Peer | None = None
    atLeast: bool = True

    def met(self, figures: Mapping[Peer, float]) -> bool | None:
        """
        Whether the figures meet the target, or L{None} if they cannot say.
        """
        value = figures.get(Peer.TXINETD)
        if value is not None and self.peer is not None:
            theirs = figures.get(self.peer)
            value = value / theirs if theirs else None
        if value is None:
            return None
        return value >= self.bound if self.atLeast else value <= self.bound


@dataclass
class Row:
    """
    One metric of the table.

    @ivar samples: per peer, the figure of every round.
    @ivar details: per peer, everything measured in every round.
    @ivar unavailable: per peer, why it has no figure.
    """

    key: str
    title: str
    unit: str
    target: Target | None = None
    aggregate: Aggregate = Aggregate.MEDIAN
    samples: dict[Peer, list[float]] = field(default_factory=dict)
    details: dict[Peer, list[dict[str, Any]]] = field(default_factory=dict)
    unavailable: dict[Peer, str] = field(default_factory=dict)

    def add(self, peer: Peer, value: float, detail: Mapping[str, Any]) -> None:
        self.samples.setdefault(peer, []).append(value)
        self.details.setdefault(peer, []).append(dict(detail))

    def markUnavailable(self, peer: Peer, reason: str) -> None:
        """
        Drop the figures of C{peer}: it cannot serve this row.
        """
        self.samples.pop(peer, None)
        self.unavailable[peer] = reason

    def figure(self, peer: Peer) -> float | None:
        values = self.samples.get(peer)
        if not values or peer in self.unavailable:
            return None
        if self.aggregate is Aggregate.WORST:
            return max(values)
        return statistics.median(values)

    def figures(self) -> dict[Peer, float]:
        found = {peer: self.figure(peer) for peer in COLUMNS}
        return {peer: value for peer, value in found.items() if value is not None}

    def ratio(self, peer: Peer) -> float | None:
        mine, theirs = self.figure(Peer.TXINETD), self.figure(peer)
        if mine is None or not theirs:
            return None
        return mine / theirs

    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.figures())

    def problems(self) -> list[str]:
        """
        Failures the client saw, per peer, over all rounds.
        """
        found = []
        for peer, rounds in self.details.items():
            counts = {kind: sum(int(d.get(kind, 0)) for d in rounds) for kind in FAILURES}
            text = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
            if text and peer not in self.unavailable:
                found.append(f"{peer.value}: {text} over {len(rounds)} rounds")
        return found

    def toJson(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "aggregate": self.aggregate.value,
            "target": None if self.target is None else self.target.text,
            "met": self.met(),
            "figures": {
                peer.value: value
                for peer in self.samples
                if (value := self.figure(peer)) is not None
            },
            "ratios": {
                peer.value: ratio for peer in RATIO_PEERS if (ratio := self.ratio(peer)) is not None
            },
            "unavailable": {peer.value: reason for peer, reason in self.unavailable.items()},
            "rounds": {
                peer.value: [
                    {"figure": value, **detail}
                    for value, detail in zip(self.samples.get(peer, []), details, strict=False)
                ]
                for peer, details in self.details.items()
            },
        }


@dataclass(frozen=True)
class Ceiling:
    """
    The load generator against the trivial C server, for one client setting.
    """

    title: str
    rate: float
    cpuShare: float
    fastestPeer: float | None

    def headroom(self) -> float | None:
        return self.rate / self.fastestPeer if self.fastestPeer else None


class Results:
    """
    Every row, in table order.
    """

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.ceilings: list[Ceiling] = []
        self.startups: dict[str, dict[str, list[float]]] = {}

    def row(
        self,
        key: str,
        title: str,
        unit: str,
        target: Target | None = None,
        aggregate: Aggregate = Aggregate.MEDIAN,
    ) -> Row:
        """
        The row C{key}, made on first use.
        """
        if key not in self.rows:
            self.rows[key] = Row(key, title, unit, target, aggregate)
        return self.rows[key]

    def table(self) -> str:
        """
        The markdown table of every row, then the notes.
        """
        header = ["scenario", "unit", *(peer.value for peer in COLUMNS)]
        header += [f"txinetd/{peer.value}" for peer in RATIO_PEERS] + ["target", "met"]
        lines = [_line(header), _line(["---"] * len(header))]
        lines += [_line(_cells(row)) for row in self.rows.values()]
        notes = [f"- {row.title}: {p}" for row in self.rows.values() for p in row.problems()]
        missing: dict[tuple[Peer, str], list[str]] = {}
        for row in self.rows.values():
            for peer, reason in row.unavailable.items():
                missing.setdefault((peer, reason), []).append(row.title)
        notes += [
            f"- {peer.value} n/a on {'; '.join(titles)}: {reason}"
            for (peer, reason), titles in missing.items()
        ]
        return "\n".join(lines + (["", *notes] if notes else []))

    def ceilingTable(self) -> str:
        """
        The markdown table showing that the load generator outruns the servers.
        """
        header = ["client", "against a C server", "loadgen CPU", "fastest peer", "headroom"]
        lines = [_line(header), _line(["---"] * len(header))]
        for ceiling in self.ceilings:
            headroom = ceiling.headroom()
            lines.append(
                _line(
                    [
                        ceiling.title,
                        _number(ceiling.rate),
                        f"{ceiling.cpuShare:.0%}",
                        "—" if ceiling.fastestPeer is None else _number(ceiling.fastestPeer),
                        "—" if headroom is None else f"{headroom:.1f}x",
                    ]
                )
            )
        return "\n".join(lines)

    def toJson(self) -> dict[str, Any]:
        return {
            "rows": [row.toJson() for row in self.rows.values()],
            "loadgen_ceiling": [
                {
                    "title": c.title,
                    "rate": c.rate,
                    "loadgen_cpu_share": c.cpuShare,
                    "fastest_peer": c.fastestPeer,
                    "headroom": c.headroom(),
                }
                for c in self.ceilings
            ],
            "startup_seconds_by_setup": self.startups,
        }


def _cells(row: Row) -> list[str]:
    cells = [row.title, row.unit]
    for peer in COLUMNS:
        figure = row.figure(peer)
        cells.append("n/a" if peer in row.unavailable else _number(figure))
    for peer in RATIO_PEERS:
        ratio = row.ratio(peer)
        cells.append("—" if ratio is None else f"{ratio:.2f}")
    cells.append("—" if row.target is None else row.target.text)
    met = row.met()
    if Peer.TXINETD in row.unavailable:
        cells.append(NOT_YET)
    else:
        cells.append("—" if met is None else "yes" if met else "**no**")
    return cells


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _line(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
