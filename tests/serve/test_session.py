# -*- test-case-name: tests.serve.test_session -*-
"""
Tests for L{txinetd.serve.session}: a session's states, the events it
emits and when it gives up its place.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import Exited, Failed, FailReason, SessionEvent, Started, Traffic
from txinetd.serve.session import Session, SessionState

NOW = 1_700_000_000.0
CLIENT = "192.0.2.1"


class Owner:
    """
    A L{txinetd.serve.session.SessionOwner} that records what it is told.
    """

    serviceId = "svc"

    def __init__(self) -> None:
        self.clock = NOW
        self.events: list[SessionEvent] = []
        self.released: list[Session] = []

    def now(self) -> float:
        return self.clock

    def emit(self, event: SessionEvent) -> None:
        self.events.append(event)

    def release(self, session: Session) -> None:
        self.released.append(session)


class SessionTests(SynchronousTestCase):
    """
    L{Session}: its states, START, EXIT, FAIL and its place.
    """

    def setUp(self) -> None:
        self.owner = Owner()
        self.session = Session(self.owner, CLIENT, NOW)

    def test_lifetime(self) -> None:
        """
        Admitting, starting (its runner has it), running (START), ended
        (EXIT, released once).
        """
        session = self.session
        states = [session.state]
        session.admitted()
        states.append(session.state)
        session.begin(321)
        states.append(session.state)
        self.owner.clock += 2.5
        session.ended(None, 9)
        session.ended(0)
        session.abandon()
        states.append(session.state)
        self.assertEqual(
            states,
            [
                SessionState.ADMITTING,
                SessionState.STARTING,
                SessionState.RUNNING,
                SessionState.ENDED,
            ],
        )
        self.assertEqual(
            self.owner.events,
            [
                Started("svc", 321, CLIENT, NOW, admitted=NOW),
                Exited("svc", 321, CLIENT, None, 9, 2.5, NOW + 2.5),
            ],
        )
        self.assertEqual(self.owner.released, [session])
        self.assertTrue(session.done)

    def test_abandon(self) -> None:
        """
        A session dropped before its service ran is released with no
        event; a later end says nothing.
        """
        self.session.abandon()
        self.session.ended(0)
        self.assertEqual(self.session.state, SessionState.DROPPED)
        self.assertEqual((self.owner.events, self.owner.released), ([], [self.session]))

    def test_fail(self) -> None:
        self.session.fail(FailReason.EXEC)
        self.assertEqual(self.owner.events, [Failed("svc", FailReason.EXEC, CLIENT, NOW)])
        self.assertEqual(self.owner.released, [self.session])

    def test_traffic(self) -> None:
        self.session.traffic(10, 20)
        self.assertEqual(self.owner.events, [Traffic("svc", 10, 20, NOW, CLIENT)])

    def test_stopCancelsWhatAdmissionWaitsFor(self) -> None:
        cancelled: list[Deferred[Any]] = []
        waiting: Deferred[None] = Deferred(cancelled.append)
        self.assertIs(self.session.waitFor(waiting), waiting)
        self.session.stop()
        self.assertEqual(cancelled, [waiting])
        self.failureResultOf(waiting, CancelledError)

    def test_stopAppliedOnceStarted(self) -> None:
        """
        A stop asked while the service was being started reaches the
        stopper the service gets (the server is told to end as soon as it
        runs); the strongest stop asked is the one applied.
        """
        for asked, applied in [([False], [False]), ([False, True], [True]), ([], [])]:
            session = Session(self.owner, CLIENT, NOW)
            for force in asked:
                session.stop(force)
            stops: list[bool] = []
            session.stopWith(stops.append)
            self.assertEqual(stops, applied)
        ended = Session(self.owner, CLIENT, NOW)
        ended.stop()
        ended.state = SessionState.ENDED
        stops = []
        ended.stopWith(stops.append)
        self.assertEqual(stops, [])

    def test_heldByLookup(self) -> None:
        """
        A session keeps its place until both its service and its ident
        look-up have ended; stopping it gives the look-up up.
        """
        lookup: Deferred[None] = Deferred()
        self.session.holdFor(lookup)
        self.session.ended(0)
        self.assertEqual(self.owner.released, [])
        lookup.callback(None)
        self.assertEqual(self.owner.released, [self.session])
        other = Session(self.owner, CLIENT, NOW)
        cancelled: list[Deferred[Any]] = []
        given: Deferred[None] = Deferred(cancelled.append)
        given.addErrback(lambda failure: None)
        other.holdFor(given)
        other.begin(0)
        other.stop()
        self.assertEqual(cancelled, [given])
        self.assertEqual(self.owner.released, [self.session])
        other.ended(0)
        self.assertEqual(self.owner.released, [self.session, other])
