# -*- test-case-name: tests.core.test_limits -*-
"""
Tests for L{txinetd.core.limits}.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import FailReason
from txinetd.core.limits import (
    CpsLimiter,
    LimitRules,
    LoadAverage,
    ProcessLimit,
    RunningServers,
    checkLimits,
    parseLoadAverage,
)
from txinetd.core.times import parseAccessTimes


def localTime(hour: int, minute: int) -> time.struct_time:
    return time.struct_time((2026, 11, 22, hour, minute, 0, 6, 326, -1))


def trips(limiter: CpsLimiter, times: list[float]) -> list[bool]:
    return [limiter.request(now) for now in times]


class CpsLimiterTests(SynchronousTestCase):
    """
    L{CpsLimiter} does xinetd's arithmetic.
    """

    def test_thirdInSameSecondTrips(self) -> None:
        """
        With C{cps = 2 3}, the third connection within a second trips; after
        the wait, two more succeed and the third trips again.
        """
        limiter = CpsLimiter(2)
        self.assertEqual(trips(limiter, [100.0, 100.3, 100.9]), [False, False, True])
        self.assertEqual(trips(limiter, [103.0, 103.1, 103.2]), [False, False, True])

    def test_windowIsMaxSeconds(self) -> None:
        """
        The window lasts C{max} seconds and the rate is the count divided by
        the whole seconds elapsed, integer division.
        """
        limiter = CpsLimiter(5)
        # Window starts at 0; at 2 s the rate is count // 2.
        self.assertEqual(trips(limiter, [0.0] + [1.0] * 4 + [2.0] * 6), [False] * 11)
        self.assertEqual(trips(limiter, [2.5]), [True])
        # Five seconds after the start a new window begins.
        self.assertEqual(trips(limiter, [5.0]), [False])

    def test_tripDoesNotReset(self) -> None:
        """
        A trip leaves the count as it is: within the window, the next
        request trips again.
        """
        limiter = CpsLimiter(2)
        self.assertEqual(trips(limiter, [0.0, 0.0, 0.0]), [False, False, True])
        self.assertEqual(trips(limiter, [1.0]), [True])
        self.assertEqual(trips(limiter, [2.0, 2.0]), [False, False])

    def test_clockBackwards(self) -> None:
        """
        A clock that went backwards does not trip.
        """
        limiter = CpsLimiter(2)
        self.assertEqual(trips(limiter, [10.0, 10.0, 8.0, 8.0, 8.0]), [False] * 5)

    def test_disabled(self) -> None:
        """
        C{cps = 0 n} never trips.
        """
        limiter = CpsLimiter(0)
        self.assertEqual(trips(limiter, [1.0] * 1000), [False] * 1000)


class RunningServersTests(SynchronousTestCase):
    """
    L{RunningServers} counts running servers per service and per source.
    """

    def test_instances(self) -> None:
        """
        C{instances} refuses once that many servers run; L{None} never does.
        """
        servers = RunningServers()
        servers.started(1, "192.0.2.1")
        servers.started(2, "192.0.2.2")
        self.assertEqual(servers.check("192.0.2.3", 2, None), FailReason.SERVICE_LIMIT)
        self.assertIsNone(servers.check("192.0.2.3", 3, None))
        self.assertIsNone(servers.check("192.0.2.3", None, None))
        self.assertEqual(RunningServers().check("192.0.2.3", 0, None), FailReason.SERVICE_LIMIT)

    def test_perSource(self) -> None:
        """
        C{per_source} counts servers per client address.
        """
        servers = RunningServers()
        servers.started("a", "192.0.2.1")
        servers.started("b", "192.0.2.1")
        servers.started("c", "2001:db8::1")
        self.assertEqual(servers.check("192.0.2.1", None, 2), FailReason.PER_SOURCE_LIMIT)
        self.assertIsNone(servers.check("192.0.2.2", None, 2))
        self.assertIsNone(servers.check("2001:db8::1", None, 2))
        self.assertEqual(servers.runningFrom("192.0.2.1"), 2)

    def test_instancesBeforePerSource(self) -> None:
        """
        When both limits are reached, the reason is C{service_limit}.
        """
        servers = RunningServers()
        servers.started(1, "192.0.2.1")
        self.assertEqual(servers.check("192.0.2.1", 1, 1), FailReason.SERVICE_LIMIT)

    def test_noAddress(self) -> None:
        """
        Without an address, C{per_source} does not apply but C{instances}
        does.
        """
        servers = RunningServers()
        servers.started(1, None)
        self.assertIsNone(servers.check(None, None, 0))
        self.assertEqual(servers.check(None, 1, None), FailReason.SERVICE_LIMIT)

    def test_ended(self) -> None:
        """
        Ended servers are no longer counted; counts return to zero.
        """
        processes = ProcessLimit(None)
        servers = RunningServers(processes)
        for key in range(50):
            servers.started(key, "192.0.2.1" if key % 2 else "192.0.2.2")
        self.assertEqual((servers.running, processes.running), (50, 50))
        self.assertEqual([servers.ended(key) for key in range(50)], [True] * 50)
        self.assertEqual(
            (servers.running, servers.runningFrom("192.0.2.1"), processes.running), (0, 0, 0)
        )
        self.assertFalse(servers.ended(7))

    def test_duplicateKey(self) -> None:
        """
        A key cannot be counted twice.
        """
        servers = RunningServers()
        servers.started(1, "192.0.2.1")
        self.assertRaises(ValueError, servers.started, 1, "192.0.2.1")
        self.assertEqual(servers.running, 1)


class ProcessLimitTests(SynchronousTestCase):
    """
    L{ProcessLimit} applies C{-limit} across services.
    """

    def test_limit(self) -> None:
        """
        A server may start while the running total plus one is within the
        limit.
        """
        processes = ProcessLimit(2)
        first, second = RunningServers(processes), RunningServers(processes)
        self.assertIsNone(processes.check())
        first.started(1, "192.0.2.1")
        self.assertIsNone(processes.check())
        second.started(1, "192.0.2.1")
        self.assertEqual(processes.check(), FailReason.PROCESS_LIMIT)
        first.ended(1)
        self.assertIsNone(processes.check())

    def test_unlimited(self) -> None:
        """
        Without C{-limit}, nothing is refused.
        """
        processes = ProcessLimit(None)
        processes.running = 10**6
        self.assertIsNone(processes.check())


class LoadAverageTests(SynchronousTestCase):
    """
    L{LoadAverage} reads the 1-minute load.
    """

    def test_parse(self) -> None:
        """
        The first field of C{/proc/loadavg} is the load; anything else
        reads as -1.
        """
        self.assertEqual(parseLoadAverage("0.52 0.41 0.30 2/345 6789\n"), 0.52)
        self.assertEqual(parseLoadAverage("3 2 1"), 3.0)
        self.assertEqual(parseLoadAverage(""), -1.0)
        self.assertEqual(parseLoadAverage("busy"), -1.0)

    def test_notSetNotRead(self) -> None:
        """
        Without C{max_load} the load is not read.
        """
        reads: list[None] = []

        def read() -> float:
            reads.append(None)
            return 100.0

        self.assertFalse(LoadAverage(read).overLoad(None))
        self.assertEqual(reads, [])


class CheckLimitsTests(SynchronousTestCase):
    """
    L{checkLimits} runs the checks in xinetd's order.
    """

    def setUp(self) -> None:
        self.cps = CpsLimiter(0)
        self.servers = RunningServers()
        self.load = 0.0
        self.processes = ProcessLimit(None)

    def check(
        self, rules: LimitRules, now: float = 0.0, hour: int = 12, minute: int = 0
    ) -> FailReason | None:
        return checkLimits(
            rules,
            "192.0.2.1",
            now,
            localTime(hour, minute),
            self.cps,
            self.servers,
            LoadAverage(lambda: self.load),
            self.processes,
        )

    def test_allowed(self) -> None:
        """
        With no limits reached, nothing fails.
        """
        self.assertIsNone(self.check(LimitRules()))

    def test_order(self) -> None:
        """
        With every check failing, each fix reveals the next, in the order
        cps, load, time, instances, per_source, process limit.
        """
        self.cps = CpsLimiter(1)
        self.cps.request(0.0)
        self.load = 5.0
        self.servers.started(1, "192.0.2.1")
        self.processes = ProcessLimit(1)
        self.processes.running = 1
        rules = LimitRules(
            instances=1,
            perSource=1,
            maxLoad=2.0,
            accessTimes=parseAccessTimes(["8:00-9:00"]),
        )
        seen = [self.check(rules)]
        self.cps = CpsLimiter(0)
        seen.append(self.check(rules))
        self.load = 0.0
        seen.append(self.check(rules))
        rules = LimitRules(instances=1, perSource=1, maxLoad=2.0)
        seen.append(self.check(rules))
        rules = LimitRules(perSource=1)
        seen.append(self.check(rules))
        rules = LimitRules()
        seen.append(self.check(rules))
        self.assertEqual(
            seen,
            [
                FailReason.CPS,
                FailReason.LOAD,
                FailReason.TIME,
                FailReason.SERVICE_LIMIT,
                FailReason.PER_SOURCE_LIMIT,
                FailReason.PROCESS_LIMIT,
            ],
        )

    def test_accessTimes(self) -> None:
        """
        The local time given decides C{access_times}.
        """
        rules = LimitRules(accessTimes=parseAccessTimes(["8:00-9:00"]))
        self.assertIsNone(self.check(rules, hour=9, minute=0))
        self.assertEqual(self.check(rules, hour=9, minute=1), FailReason.TIME)

    def test_cpsCountsRefusedRequests(self) -> None:
        """
        Requests that a later check refuses still count toward cps.
        """
        self.cps = CpsLimiter(2)
        rules = LimitRules(instances=0)
        self.assertEqual(
            [self.check(rules, now=50.0) for _ in range(3)],
            [FailReason.SERVICE_LIMIT, FailReason.SERVICE_LIMIT, FailReason.CPS],
        )
