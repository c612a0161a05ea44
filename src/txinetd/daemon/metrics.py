# -*- test-case-name: tests.daemon.test_metrics -*-
"""
What the metrics count of the sessions' events (C{--metrics}).

A L{SessionTally} observes the sessions of every service (it is one of
L{txinetd.serve.shared.Shared.observers}) and counts, per service id: the
sessions started, the refusals by their C{FAIL} reason word, the C{NOID}
refusals by their reason, the exits by status or signal name, the bytes
redirects relayed each way, and two histograms, of how long sessions last
and of how long an external server takes to start (from the admission of
its connection to the server running); and for the daemon, the
reconfigurations by result.

It counts in plain integers, on the reactor's thread, where the metrics
endpoint (L{txinetd.daemon.monitor}) also reads them: no lock, well under a
microsecond per event (see C{benchmarks/observers.py}).  Every label value
comes from the configuration or from txinetd (service ids, reason words,
exit statuses and signal names), never from what a client sends, so a scan
of many addresses makes no new series.
"""

from __future__ import annotations

import signal
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence

from txinetd.core.events import (
    Exited,
    Failed,
    NotIdentified,
    Reloaded,
    ReloadResult,
    SessionEvent,
    Started,
    Traffic,
)

__all__ = [
    "DURATION_BUCKETS",
    "SPAWN_BUCKETS",
    "Histogram",
    "ServiceCounts",
    "SessionTally",
    "exitLabel",
]

#: The upper bounds of the session-duration buckets, in seconds: from a
#: daytime reply to an hour-long login.
DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.025,
    0.1,
    0.5,
    1.0,
    5.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)

#: The upper bounds of the buckets of the time to start an external server,
#: in seconds (a fraction of a millisecond when the machine is idle).
SPAWN_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.1,
    0.5,
    2.5,
)


class Histogram:
    """
    Observations counted in buckets, as a Prometheus histogram has them.

    @ivar bounds: the buckets' upper bounds, increasing; a last bucket,
        C{+Inf}, takes the rest.
    @ivar counts: how many observations fell in each bucket (not
        cumulative), the last for C{+Inf}.
    @ivar total: the sum of the observations.
    """

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """
        Count one observation (in the first bucket whose bound is at least
        C{value}).
        """
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        """
        How many observations there were.
        """
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """
        Each bucket's bound with the observations at or below it, the
        C{+Inf} one last (bound C{inf}).
        """
        found: list[tuple[float, int]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            found.append((bound, running))
        return found


class ServiceCounts:
    """
    The counts of one service id.

    @ivar connections: the sessions started (START).
    @ivar refused: the refusals, by C{FAIL} reason word.
    @ivar unidentified: the C{NOID} refusals, by reason.
    @ivar exits: the sessions ended, by exit status (C{"0"}) or signal
        name (C{"SIGTERM"}).
    @ivar bytesIn: the bytes redirects relayed from clients to targets.
    @ivar bytesOut: the bytes relayed back.
    @ivar durations: how long sessions lasted.
    @ivar spawns: how long external servers took to start.
    """

    __slots__ = (
        "bytesIn",
        "bytesOut",
        "connections",
        "durations",
        "exits",
        "refused",
        "spawns",
        "unidentified",
    )

    def __init__(self) -> None:
        self.connections = 0
        self.refused: Counter[str] = Counter()
        self.unidentified: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()
        self.bytesIn = 0
        self.bytesOut = 0
        self.durations = Histogram(DURATION_BUCKETS)
        self.spawns = Histogram(SPAWN_BUCKETS)


_SIGNAL_NAMES: dict[int, str] = {}


def exitLabel(status: int | None, signalNumber: int | None) -> str:
    """
    The C{status} label of an exit: the exit status, or the name of the
    signal that ended the server (C{SIGTERM}; C{SIG40} for one Python does
    not name).
    """
    if signalNumber is None:
        return str(status)
    name = _SIGNAL_NAMES.get(signalNumber)
    if name is None:
        try:
            name = signal.Signals(signalNumber).name
        except ValueError:
            name = f"SIG{signalNumber}"
        _SIGNAL_NAMES[signalNumber] = name
    return name


class SessionTally:
    """
    The counts of every service's sessions (see the module's docstring): a
    L{txinetd.core.events.SessionObserver}.

    @ivar services: the counts of each service id that had an event, in
        the order of their first one.
    @ivar reloads: the reconfigurations, by result.
    """

    def __init__(self) -> None:
        self.services: dict[str, ServiceCounts] = {}
        self.reloads: Counter[ReloadResult] = Counter()

    def of(self, serviceId: str) -> ServiceCounts:
        """
        The counts of a service id (made at its first event).
        """
        counts = self.services.get(serviceId)
        if counts is None:
            counts = self.services[serviceId] = ServiceCounts()
        return counts

    def __call__(self, event: SessionEvent) -> None:
        """
        Count one event.
        """
        count = _COUNTERS.get(type(event))
        if count is not None:
            count(self, event)

    def _started(self, event: Started) -> None:
        counts = self.of(event.service)
        counts.connections += 1
        if event.pid and event.admitted is not None:
            counts.spawns.observe(event.when - event.admitted)

    def _exited(self, event: Exited) -> None:
        counts = self.of(event.service)
        counts.exits[exitLabel(event.status, event.signal)] += 1
        counts.durations.observe(event.duration)

    def _failed(self, event: Failed) -> None:
        self.of(event.service).refused[event.reason.value] += 1

    def _notIdentified(self, event: NotIdentified) -> None:
        self.of(event.service).unidentified[event.reason.value] += 1

    def _traffic(self, event: Traffic) -> None:
        counts = self.of(event.service)
        counts.bytesIn += event.bytesIn
        counts.bytesOut += event.bytesOut

    def _reloaded(self, event: Reloaded) -> None:
        self.reloads[event.result] += 1


_COUNTERS: dict[type, Callable[[SessionTally, SessionEvent], None]] = {
    Started: SessionTally._started,  # type: ignore[dict-item]
    Exited: SessionTally._exited,  # type: ignore[dict-item]
    Failed: SessionTally._failed,  # type: ignore[dict-item]
    NotIdentified: SessionTally._notIdentified,  # type: ignore[dict-item]
    Traffic: SessionTally._traffic,  # type: ignore[dict-item]
    Reloaded: SessionTally._reloaded,  # type: ignore[dict-item]
}
