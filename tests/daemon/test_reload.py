"""
Tests for L{txinetd.daemon.reload}: the reload plan, the signal dispatcher,
the queue of reloads and the collector's pause.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
from dataclasses import replace

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.config import Listening, ServiceConfig, ServiceKind
from txinetd.core.diagnostics import Location
from txinetd.core.values import ServiceType, SocketType
from txinetd.daemon.reload import (
    COLLECTOR_PAUSE_LIMIT,
    CollectorPause,
    ReloadQueue,
    SignalDispatcher,
    identity,
    planReload,
)


def service(serviceId: str, port: int = 7000, **changes: object) -> ServiceConfig:
    base = ServiceConfig(
        name="echo",
        id=serviceId,
        location=Location("x.conf", 1),
        type=frozenset({ServiceType.INTERNAL, ServiceType.UNLISTED}),
        flags=frozenset(),
        socket_type=SocketType.STREAM,
        protocol="tcp",
        wait=False,
        port=port,
        family=socket.AF_INET6,
        bindAddress="::",
        kind=ServiceKind.INTERNAL,
        listening=Listening.ACCEPT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class IdentityTests(SynchronousTestCase):
    """
    L{identity} changes with what forces a new socket, and only with that.
    """

    def test_sameForOtherAttributes(self) -> None:
        self.assertEqual(
            identity(service("a")), identity(service("a", instances=3, only_from=("1.2.3.4",)))
        )

    def test_differs(self) -> None:
        a = identity(service("a"))
        for changed in [
            service("b"),
            service("a", port=7001),
            service("a", wait=True),
            service("a", protocol="udp"),
            service("a", socket_type=SocketType.DGRAM),
            service("a", bindAddress="127.0.0.1", family=socket.AF_INET),
            service("a", type=frozenset({ServiceType.INTERNAL})),
            service("a", v6only=True),
        ]:
            self.assertNotEqual(a, identity(changed), changed)

    def test_socketsOnly(self) -> None:
        """
        C{v6only} is part of the identity where it changes the sockets (a
        dual-stack service listens on two, a C{v6only} one on one), not
        elsewhere; C{v6only = no} is dual stack, as its absence.
        """
        self.assertEqual(identity(service("a")), identity(service("a", v6only=False)))
        four = service("a", family=socket.AF_INET, bindAddress="0.0.0.0")
        self.assertEqual(identity(four), identity(replace(four, v6only=True)))


class PlanTests(SynchronousTestCase):
    """
    L{planReload} keeps, removes and adds services by identity.
    """

    def test_plan(self) -> None:
        running = [("A", service("a")), ("B", service("b")), ("C", service("c", port=1))]
        new = [service("d"), service("a", instances=2), service("c", port=2)]
        plan = planReload(running, new)
        self.assertEqual(plan.kept, (("A", new[1]),))
        self.assertEqual(plan.removed, ("B", "C"))
        self.assertEqual(plan.added, (new[0], new[2]))
        self.assertEqual(plan.summary(), "Reconfigured: new=2 old=1 dropped=2 (services)")

    def test_sameIdTwice(self) -> None:
        """
        Two running services with one identity are matched one to one.
        """
        running = [("A1", service("a")), ("A2", service("a"))]
        plan = planReload(running, [service("a")])
        self.assertEqual([kept for kept, _ in plan.kept], ["A1"])
        self.assertEqual(plan.removed, ("A2",))


class SignalDispatcherTests(SynchronousTestCase):
    """
    L{SignalDispatcher} hands signals to the reactor and restores the
    previous handlers.
    """

    def test_dispatch(self) -> None:
        calls: list[str] = []

        class Reactor(Clock):
            def callFromThread(self, f: object) -> None:
                calls.append("queued")
                f()  # type: ignore[operator]

        previous = signal.getsignal(signal.SIGUSR1)
        dispatcher = SignalDispatcher(Reactor(), {signal.SIGUSR1: lambda: calls.append("ran")})
        dispatcher.install()
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
        finally:
            dispatcher.uninstall()
        self.assertEqual(calls, ["queued", "ran"])
        self.assertIs(signal.getsignal(signal.SIGUSR1), previous)


class ReloadQueueTests(SynchronousTestCase):
    """
    L{ReloadQueue}: one reload at a time, and one more remembered.
    """

    def setUp(self) -> None:
        self.runs: list[tuple[bool, Deferred[None]]] = []
        self.queue = ReloadQueue(self.reload)

    def reload(self, hard: bool) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.runs.append((hard, d))
        return d

    def finish(self) -> None:
        self.runs[-1][1].callback(None)

    def test_oneAtATime(self) -> None:
        first = self.queue.request(True)
        self.assertEqual([hard for hard, _ in self.runs], [True])
        self.assertNoResult(first)
        self.finish()
        self.assertIsNone(self.successResultOf(first))
        self.assertFalse(self.queue.running)

    def test_requestsDuringOneMakeOneMore(self) -> None:
        """
        Requests made while a reload runs make one reload after it, hard if
        any was; each fires when that reload is done.
        """
        self.queue.request(False)
        later = [self.queue.request(hard) for hard in (False, True, False)]
        self.assertEqual(len(self.runs), 1)
        for d in later:
            self.assertNoResult(d)
        self.finish()
        self.assertEqual([hard for hard, _ in self.runs], [False, True])
        for d in later:
            self.assertNoResult(d)
        self.finish()
        self.assertEqual([self.successResultOf(d) for d in later], [None] * 3)
        self.assertFalse(self.queue.running)
        self.queue.request(False)
        self.assertEqual(len(self.runs), 3)

    def test_softStaysSoft(self) -> None:
        self.queue.request(True)
        self.queue.request(False)
        self.finish()
        self.assertEqual([hard for hard, _ in self.runs], [True, False])

    def test_failedRunStillFollowed(self) -> None:
        """
        A reload that raises does not keep the next one from running.
        """
        queue = ReloadQueue(lambda hard: 1 / 0)  # type: ignore[arg-type,return-value]
        queue.request(True)
        self.assertFalse(queue.running)


class CollectorPauseTests(SynchronousTestCase):
    """
    L{CollectorPause} pauses the cycle collector for a reload, for a bounded
    time, and leaves alone a collector it did not pause.
    """

    def setUp(self) -> None:
        self.addCleanup(gc.enable if gc.isenabled() else gc.disable)
        gc.enable()
        self.clock = Clock()
        self.pause = CollectorPause(self.clock)

    def test_pauseAndResume(self) -> None:
        """
        L{CollectorPause.begin} pauses the collector and L{CollectorPause.end}
        resumes it and cancels the time limit.
        """
        self.pause.begin()
        during = (gc.isenabled(), self.pause.paused, len(self.clock.getDelayedCalls()))
        self.pause.end()
        self.assertEqual(
            (during, gc.isenabled(), self.pause.paused, self.clock.getDelayedCalls()),
            ((False, True, 1), True, False, []),
        )

    def test_limit(self) -> None:
        """
        The collector resumes by itself after L{COLLECTOR_PAUSE_LIMIT}
        seconds; the reload's own L{CollectorPause.end} then does nothing.
        """
        self.pause.begin()
        self.clock.advance(COLLECTOR_PAUSE_LIMIT - 0.1)
        before = gc.isenabled()
        self.clock.advance(0.1)
        after = gc.isenabled()
        gc.disable()
        self.pause.end()
        self.assertEqual((before, after, gc.isenabled()), (False, True, False))

    def test_alreadyPaused(self) -> None:
        """
        A collector paused before L{CollectorPause.begin} stays paused after
        L{CollectorPause.end}.
        """
        gc.disable()
        self.pause.begin()
        self.pause.end()
        self.assertEqual(
            (gc.isenabled(), self.pause.paused, self.clock.getDelayedCalls()), (False, False, [])
        )

    def test_beginTwice(self) -> None:
        """
        A second L{CollectorPause.begin} keeps the first time limit, and one
        L{CollectorPause.end} resumes the collector.
        """
        self.pause.begin()
        self.clock.advance(1)
        self.pause.begin()
        (limit,) = self.clock.getDelayedCalls()
        self.pause.end()
        self.assertEqual((limit.getTime(), gc.isenabled()), (COLLECTOR_PAUSE_LIMIT, True))
