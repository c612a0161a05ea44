# -*- test-case-name: tests.serve.test_internal -*-
"""
Tests for L{txinetd.serve.internal}.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txinetd.serve.internal import ServedProtocol

DONE = Failure(ConnectionDone())


@implementer(IHalfCloseableProtocol)
class HalfCloseRecorder(Protocol):
    """
    A half-closeable protocol that records what happens to it.
    """

    def __init__(self) -> None:
        self.events: list[object] = []

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.events.append(data)

    def readConnectionLost(self) -> None:
        self.events.append("readLost")

    def writeConnectionLost(self) -> None:
        self.events.append("writeLost")

    def connectionLost(self, reason: Failure = DONE) -> None:
        self.events.append("lost")


class ServedProtocolTests(SynchronousTestCase):
    """
    L{ServedProtocol} passes everything through and reports the end.
    """

    def setUp(self) -> None:
        self.ends: list[str] = []
        self.transport = StringTransport()

    def served(self, wrapped: Protocol) -> ServedProtocol:
        served = ServedProtocol(wrapped, lambda: self.ends.append("end"))
        served.makeConnection(self.transport)
        return served

    def test_interface(self) -> None:
        self.assertTrue(
            verifyObject(IHalfCloseableProtocol, ServedProtocol(Protocol(), lambda: None))
        )

    def test_passThrough(self) -> None:
        wrapped = HalfCloseRecorder()
        served = self.served(wrapped)
        served.dataReceived(b"data")
        served.readConnectionLost()
        served.writeConnectionLost()
        self.assertEqual(self.ends, [])
        served.connectionLost(DONE)
        self.assertIs(wrapped.transport, self.transport)
        self.assertEqual(wrapped.events, ["made", b"data", "readLost", "writeLost", "lost"])
        self.assertEqual(self.ends, ["end"])
        self.assertFalse(self.transport.disconnecting)

    def test_notHalfCloseable(self) -> None:
        """
        A protocol that cannot half-close has the connection closed when
        the client stops sending.
        """
        served = self.served(Protocol())
        served.readConnectionLost()
        served.writeConnectionLost()
        self.assertTrue(self.transport.disconnecting)

    def test_endEvenIfWrappedFails(self) -> None:
        class Broken(Protocol):
            def connectionLost(self, reason: Failure = DONE) -> None:
                raise RuntimeError("broken")

        served = self.served(Broken())
        self.assertRaises(RuntimeError, served.connectionLost, DONE)
        self.assertEqual(self.ends, ["end"])

    def test_stop(self) -> None:
        served = self.served(Protocol())
        served.stop(False)
        self.assertTrue(self.transport.disconnecting)
        aborted = StringTransport()
        forced = ServedProtocol(Protocol(), lambda: None)
        forced.makeConnection(aborted)
        forced.stop(True)
        self.assertTrue(aborted.disconnecting)
