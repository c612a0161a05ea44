# -*- test-case-name: tests.serve.test_internal -*-
"""
Tests for L{txinetd.serve.internal}.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txinetd.builtins.simple import InternalContext
from txinetd.serve.internal import InternalRunner, ServedProtocol

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


class _Recorded:
    """
    The connection and the session of one reply, recording what happens to
    them in one list.
    """

    def __init__(self, unsent: bytes = b"") -> None:
        self.events: list[object] = []
        self.unsent = unsent
        self.peer = ("127.0.0.1", 4000)
        self.sending: Deferred[None] = Deferred()

    # The connection's side.

    def sendNow(self, data: bytes, closing: bool = False) -> bytes:
        self.events.append(("sendNow", data, closing))
        return self.unsent

    def send(self, data: bytes) -> Deferred[None]:
        self.events.append(("send", data))
        return self.sending

    def close(self) -> None:
        self.events.append("close")

    # The session's side.

    def begin(self, pid: int) -> None:
        self.events.append(("START", pid))

    def ended(self, status: int = 0) -> None:
        self.events.append(("EXIT", status))


class _Reply:
    """
    An internal service that only replies, as daytime does.
    """

    def reply(self, context: InternalContext) -> bytes:
        return b"answer\r\n"


class ReplyTests(SynchronousTestCase):
    """
    A service that only replies gets its answer sent and its connection
    closed before its START line is written, so that no log write delays
    the client; START and EXIT then follow at once.  The answer is sent as
    one the close follows, so that the FIN can leave with it.
    """

    def serve(self, recorded: _Recorded) -> None:
        runner = InternalRunner(
            cast(Any, SimpleNamespace(id="daytime-stream")),
            cast(Any, SimpleNamespace(reactor=Clock())),
            cast(Any, _Reply()),
            None,
            lambda errno: None,
        )
        runner.run(cast(Any, recorded), cast(Any, recorded))

    def test_answeredFirst(self) -> None:
        recorded = _Recorded()
        self.serve(recorded)
        self.assertEqual(
            recorded.events,
            [("sendNow", b"answer\r\n", True), "close", ("START", 0), ("EXIT", 0)],
        )

    def test_restQueued(self) -> None:
        """
        When the kernel does not take the whole answer at once, the service
        has started: START comes before the rest is queued, and the
        connection is closed and EXIT logged once it has been sent.
        """
        recorded = _Recorded(unsent=b"r\n")
        self.serve(recorded)
        self.assertEqual(
            recorded.events, [("sendNow", b"answer\r\n", True), ("START", 0), ("send", b"r\n")]
        )
        recorded.sending.callback(None)
        self.assertEqual(recorded.events[3:], ["close", ("EXIT", 0)])
