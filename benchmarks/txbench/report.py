"""
Figures, targets, the table and the JSON document.

A L{Row} is one line of the table: one metric, a figure per peer per round,
and the issue's target for it.  The figure shown is the median of the rounds
(or the worst round, for counts that must be zero).  The JSON document holds
every round, so that L{Results.fromJson} gives back the same tables: the
performance page's are made from committed documents (L{txbench.tables}).
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
FAILURES = ("refused", "errors", "timeouts", "short", "wrong", "tls_varied", "lost")


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

    def toJson(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "bound": self.bound,
            "peer": None if self.peer is None else self.peer.value,
            "at_least": self.atLeast,
        }

    @classmethod
    def fromJson(cls, data: Mapping[str, Any]) -> Target:
        peer = data["peer"]
        return cls(
            data["text"], data["bound"], None if peer is None else Peer(peer), data["at_least"]
        )

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
            "target": None if self.target is None else self.target.toJson(),
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

    @classmethod
    def fromJson(cls, data: Mapping[str, Any]) -> Row:
        """
        The row a L{toJson} document describes.
        """
        target = data["target"]
        row = cls(
            data["key"],
            data["title"],
            data["unit"],
            None if target is None else Target.fromJson(target),
            Aggregate(data["aggregate"]),
        )
        for peer, rounds in data["rounds"].items():
            for each in rounds:
                detail = dict(each)
                row.add(Peer(peer), detail.pop("figure"), detail)
        for peer, reason in data["unavailable"].items():
            row.markUnavailable(Peer(peer), reason)
        return row


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
        #: The TLS session every peer negotiated, by row key.
        self.tlsSessions: dict[str, str] = {}

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

    def columns(self) -> list[Peer]:
        """
        The peers that have a figure, or a reason not to, in some row.
        """
        return [
            peer
            for peer in COLUMNS
            if any(peer in row.samples or peer in row.unavailable for row in self.rows.values())
        ]

    def table(self) -> str:
        """
        The markdown table of every row (the peers that take part), then the
        notes.
        """
        columns = self.columns()
        ratios = [peer for peer in RATIO_PEERS if peer in columns]
        header = ["scenario", "unit", *(peer.value for peer in columns)]
        header += [f"txinetd/{peer.value}" for peer in ratios] + ["target", "met"]
        lines = [_line(header), _line(["---"] * len(header))]
        lines += [_line(_cells(row, columns, ratios)) for row in self.rows.values()]
        notes = [f"- {row.title}: {p}" for row in self.rows.values() for p in row.problems()]
        notes += [
            f"- {self.rows[key].title}: every peer negotiated {describeSession(session)}"
            for key, session in self.tlsSessions.items()
            if key in self.rows
        ]
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
            "tls_sessions": self.tlsSessions,
        }

    @classmethod
    def fromJson(cls, document: Mapping[str, Any]) -> Results:
        """
        The results a L{toJson} document (the run's JSON) describes.
        """
        results = cls()
        for data in document["rows"]:
            row = Row.fromJson(data)
            results.rows[row.key] = row
        for data in document["loadgen_ceiling"]:
            results.ceilings.append(
                Ceiling(
                    data["title"], data["rate"], data["loadgen_cpu_share"], data["fastest_peer"]
                )
            )
        results.startups = dict(document.get("startup_seconds_by_setup", {}))
        results.tlsSessions = dict(document.get("tls_sessions", {}))
        return results


def describeSession(session: str) -> str:
    """
    A TLS session as the load generator gives it (protocol, cipher, group,
    certificate SHA-256), in words, with the digest cut short.
    """
    words = session.split()
    if len(words) != 4:
        return session
    protocol, cipher, group, digest = words
    return f"{protocol} {cipher} {group}, the same certificate (SHA-256 {digest[:16]}...)"


def _cells(row: Row, columns: Iterable[Peer], ratios: Iterable[Peer]) -> list[str]:
    cells = [row.title, row.unit]
    for peer in columns:
        figure = row.figure(peer)
        cells.append("n/a" if peer in row.unavailable else _number(figure))
    for peer in ratios:
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
