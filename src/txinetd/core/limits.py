# -*- test-case-name: tests.core.test_limits -*-
"""
The limits checked in front of every connection, before anything is
started: C{cps}, C{max_load}, C{access_times}, C{instances}, C{per_source}
and the daemon-wide C{-limit}.

Everything here is pure: time is passed in, the load average comes from
an injected reader.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from txinetd.core.events import FailReason
from txinetd.core.times import TimeIntervals


class CpsLimiter:
    """
    xinetd's connection rate limiter for one service (C{cps = max wait}).

    The window it counts in lasts C{max} seconds, not one, and the rate is
    computed with whole seconds and integer division, as xinetd does: with
    C{cps = 2 3} the third connection within the same second trips.  A trip
    does not reset the count; the first request after the window has passed
    starts a new one.

    @ivar maxPerSecond: the C{max} value; C{0} disables the limiter.
    """

    def __init__(self, maxPerSecond: int) -> None:
        self.maxPerSecond = maxPerSecond
        self._count = 0
        self._windowStart = 0

    def request(self, now: float) -> bool:
        """
        Count one request.

        @param now: the current time, in seconds since the epoch.
        @return: C{True} if the request trips the limiter.
        """
        if not self.maxPerSecond:
            return False
        second = math.floor(now)
        elapsed = second - self._windowStart
        if self._count and elapsed < self.maxPerSecond:
            self._count += 1
            return self._count // (elapsed or 1) > self.maxPerSecond
        self._count = 1
        self._windowStart = second
        return False


class ProcessLimit:
    """
    The daemon-wide limit on running servers (the C{-limit} option),
    counted over every service.

    @ivar limit: the most servers that may run, or L{None} for no limit.
    @ivar running: the number of servers running now.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.running = 0

    def check(self) -> FailReason | None:
        """
        Whether one more server may start.

        @return: L{FailReason.PROCESS_LIMIT} if it may not, else L{None}.
        """
        if self.limit is not None and self.running + 1 > self.limit:
            return FailReason.PROCESS_LIMIT
        return None


class RunningServers:
    """
    The running servers of one service, by a key the caller chooses (a pid,
    a connection), with their counts per client address.  It outlives
    reconfigurations of the service: the limits are passed to L{check}.
    """

    def __init__(self, processes: ProcessLimit | None = None) -> None:
        """
        @param processes: the daemon-wide count these servers also count
            toward, if any.
        """
        self._processes = processes
        self._addresses: dict[Hashable, str | None] = {}
        self._perAddress: Counter[str] = Counter()

    @property
    def running(self) -> int:
        """
        The number of servers running now.
        """
        return len(self._addresses)

    def runningFrom(self, address: str) -> int:
        """
        The number of servers running now for clients at C{address}.
        """
        return self._perAddress[address]

    def check(
        self, address: str | None, instances: int | None, perSource: int | None
    ) -> FailReason | None:
        """
        Whether one more server may start for a client.

        @param address: the client's address, or L{None} when there is none
            (then C{per_source} does not apply).
        @param instances: the service's C{instances}, L{None} for
            C{UNLIMITED}.
        @param perSource: the service's C{per_source}, L{None} for
            C{UNLIMITED}.
        @return: L{FailReason.SERVICE_LIMIT} or
            L{FailReason.PER_SOURCE_LIMIT}, or L{None}.
        """
        if instances is not None and self.running >= instances:
            return FailReason.SERVICE_LIMIT
        if perSource is not None and address is not None and self._perAddress[address] >= perSource:
            return FailReason.PER_SOURCE_LIMIT
        return None

    def started(self, key: Hashable, address: str | None) -> None:
        """
        Count a server that has started.

        @raise ValueError: if C{key} is already counted.
        """
        if key in self._addresses:
            raise ValueError(f"server {key!r} is already running")
        self._addresses[key] = address
        if address is not None:
            self._perAddress[address] += 1
        if self._processes is not None:
            self._processes.running += 1

    def counted(self) -> list[Hashable]:
        """
        The keys of the servers counted now, oldest first.
        """
        return list(self._addresses)

    def ended(self, key: Hashable) -> bool:
        """
        Stop counting a server.

        @return: whether C{key} was counted.
        """
        if key not in self._addresses:
            return False
        address = self._addresses.pop(key)
        if address is not None:
            self._perAddress[address] -= 1
            if not self._perAddress[address]:
                del self._perAddress[address]
        if self._processes is not None:
            self._processes.running -= 1
        return True


def parseLoadAverage(text: str) -> float:
    """
    Read the 1-minute load average from the text of C{/proc/loadavg}.

    @return: the load, or C{-1.0} if the text does not start with a number.
    """
    fields = text.split()
    try:
        return float(fields[0])
    except (IndexError, ValueError):
        return -1.0


class LoadAverage:
    """
    The machine's 1-minute load average, for C{max_load}.

    A load that cannot be read counts as C{-1}, which no positive
    C{max_load} refuses.
    """

    def __init__(self, read: Callable[[], float]) -> None:
        """
        @param read: returns the current 1-minute load average.
        """
        self._read = read

    def current(self) -> float:
        """
        The current 1-minute load average.
        """
        return self._read()

    def overLoad(self, maxLoad: float | None) -> bool:
        """
        Whether the load refuses connections under C{max_load}.

        @param maxLoad: the service's C{max_load}, L{None} when not set
            (then the load is not read).
        """
        return maxLoad is not None and self.current() >= maxLoad


@dataclass(frozen=True)
class LimitRules:
    """
    The configured limits of one service.

    @ivar instances: C{instances}, L{None} for C{UNLIMITED}.
    @ivar perSource: C{per_source}, L{None} for C{UNLIMITED}.
    @ivar maxLoad: C{max_load}, L{None} when not set.
    @ivar accessTimes: C{access_times}; empty means always.
    """

    instances: int | None = None
    perSource: int | None = None
    maxLoad: float | None = None
    accessTimes: TimeIntervals = field(default_factory=TimeIntervals)


def checkLimits(
    rules: LimitRules,
    address: str | None,
    now: float,
    localTime: time.struct_time,
    cps: CpsLimiter,
    servers: RunningServers,
    load: LoadAverage,
    processes: ProcessLimit,
) -> FailReason | None:
    """
    Run the checks made before a server is started, in xinetd's order:
    cps, load, time, instances, per_source, process limit.  The first
    failure wins.  The cps limiter counts every request that reaches it,
    even one a later check refuses.

    @param rules: the service's limits.
    @param address: the client's address, L{None} when there is none.
    @param now: the current time, in seconds since the epoch.
    @param localTime: C{now} as local time, for C{access_times}.
    @param cps: the service's rate limiter.
    @param servers: the service's running servers.
    @param load: the load average.
    @param processes: the daemon-wide process limit.
    @return: the reason of the first failure, or L{None}.
    """
    if cps.request(now):
        return FailReason.CPS
    if load.overLoad(rules.maxLoad):
        return FailReason.LOAD
    if not rules.accessTimes.contains(localTime.tm_hour, localTime.tm_min):
        return FailReason.TIME
    return servers.check(address, rules.instances, rules.perSource) or processes.check()


def explainLimit(
    reason: FailReason,
    rules: LimitRules,
    address: str | None,
    localTime: time.struct_time,
    cps: CpsLimiter,
    servers: RunningServers,
    load: LoadAverage,
    processes: ProcessLimit,
) -> str:
    """
    Which limit refused a client, with its setting and what it met (for
    C{-d}); the arguments are those of L{checkLimits}, after the check.
    """
    if reason is FailReason.CPS:
        return f"more than cps = {cps.maxPerSecond} connections per second"
    if reason is FailReason.LOAD:
        return f"the load average {load.current():.2f} is at max_load = {rules.maxLoad} or above"
    if reason is FailReason.TIME:
        now = f"{localTime.tm_hour}:{localTime.tm_min:02d}"
        return f"{now} is outside access_times = {rules.accessTimes}"
    if reason is FailReason.SERVICE_LIMIT:
        return f"instances = {rules.instances}: {servers.running} running"
    if reason is FailReason.PER_SOURCE_LIMIT and address is not None:
        return (
            f"per_source = {rules.perSource}: {servers.runningFrom(address)} running for {address}"
        )
    if reason is FailReason.PROCESS_LIMIT:
        return f"-limit {processes.limit}: {processes.running} servers running"
    return str(reason.value)
