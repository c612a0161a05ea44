"""
Tests for L{txinetd.net.tlsdirect}: the plaintext of a TLS connection held
in process until its service runs, and the connection admission sees.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import ClientFactory, Protocol, ServerFactory
from twisted.internet.ssl import optionsForClientTLS
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import localhostServer
from txinetd.net.acceptor import PendingConnection
from txinetd.net.tlsdirect import HELD_LIMIT, DirectConnection, DirectTLSProtocol, PlaintextEnd


class _Listener:
    def __init__(self) -> None:
        self.said: list[object] = []

    def handshakeDone(self) -> None:
        self.said.append("handshake")

    def tlsLost(self, reason: Failure) -> None:
        self.said.append(reason)


class _Handle:
    """
    What the TCP transport's C{getHandle} gives: a socket's family alone.
    """

    family = socket.AF_INET


class _TLS(StringTransport):
    """
    The TLS protocol, as the service's transport: records what is done to
    it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.transport = self
        self.wrappedProtocol: object = None
        self.aborted = False
        self.calls: list[str] = []

    def getHandle(self) -> _Handle:
        return _Handle()

    def abortConnection(self) -> None:
        self.aborted = True

    def resumeProducing(self) -> None:
        self.calls.append("resume")
        super().resumeProducing()


class _Recorder(Protocol):
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        self.calls.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.calls.append(data.decode())

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        self.lost = reason


class PlaintextEndTests(SynchronousTestCase):
    """
    L{PlaintextEnd} tells the handshake's outcome and holds what the
    client sends, up to L{HELD_LIMIT} bytes before it stops reading.
    """

    def setUp(self) -> None:
        self.listener = _Listener()
        self.end = PlaintextEnd(self.listener)
        self.transport = StringTransport()
        self.end.makeConnection(self.transport)

    def test_handshake(self) -> None:
        self.end.handshakeCompleted()
        self.assertTrue(self.end.handshaken)
        self.assertEqual(self.listener.said, ["handshake"])

    def test_held(self) -> None:
        """
        What the client sends is held, in order; reading pauses once
        L{HELD_LIMIT} bytes are held, not before.
        """
        self.end.dataReceived(b"a")
        self.end.dataReceived(b"b" * (HELD_LIMIT - 2))
        self.assertEqual(self.transport.producerState, "producing")
        self.end.dataReceived(b"c")
        self.assertEqual(self.transport.producerState, "paused")
        self.assertTrue(self.end.paused)
        self.assertEqual(b"".join(self.end.held), b"a" + b"b" * (HELD_LIMIT - 2) + b"c")

    def test_lost(self) -> None:
        reason = Failure(ConnectionLost())
        self.end.connectionLost(reason)
        self.assertIs(self.end.lostReason, reason)
        self.assertEqual(self.listener.said, [reason])


class DirectConnectionTests(SynchronousTestCase):
    """
    L{DirectConnection}: what admission sends goes inside TLS, its close
    ends the TLS connection, and L{DirectConnection.serve} gives the
    plaintext to the service's protocol.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.tls = _TLS()
        self.end = PlaintextEnd(_Listener())
        self.end.makeConnection(self.tls)
        accepted: Any = PendingConnection(
            self.clock,  # type: ignore[arg-type]
            _Handle(),  # type: ignore[arg-type]
            ("::ffff:127.0.0.1", 4000, 0, 0),
            ("::ffff:127.0.0.1", 7, 0, 0),
        )
        accepted.peer = ("192.0.2.1", 5000)
        self.connection = DirectConnection(self.clock, accepted, self.tls, self.end)  # type: ignore[arg-type]
        self.calls: list[str] = []

    def test_addresses(self) -> None:
        """
        The client's addresses are those of the accepted connection, as a
        PROXY header may have named them.
        """
        self.assertEqual(self.connection.peer, ("192.0.2.1", 5000))
        self.assertEqual(self.connection.local, ("127.0.0.1", 7))

    def test_noDescriptor(self) -> None:
        """
        There is no descriptor to hand to a server.
        """
        self.assertRaises(OSError, self.connection.fileno)

    def test_send(self) -> None:
        """
        What is sent is written to the TLS layer at once; after the close,
        sending fails.
        """
        self.successResultOf(self.connection.send(b"banner\r\n"))
        self.assertEqual(self.tls.value(), b"banner\r\n")
        self.connection.close()
        self.failureResultOf(self.connection.send(b"more"), ConnectionDone)
        self.assertEqual(self.tls.value(), b"banner\r\n")

    def test_sendNowWritesNothing(self) -> None:
        """
        Nothing is written at once on the socket, which carries TLS
        records: all of it is given back for L{DirectConnection.send}.
        """
        self.assertEqual(self.connection.sendNow(b"07 DEC 2026\r\n"), b"07 DEC 2026\r\n")
        self.assertEqual(self.tls.value(), b"")

    def test_closeSilent(self) -> None:
        """
        A client turned away before its handshake, without a word, is cut
        off at once.
        """
        self.connection.close()
        self.assertEqual((self.tls.aborted, self.tls.disconnecting), (True, False))

    def test_closeAfterSending(self) -> None:
        """
        A client that was sent something (a banner) gets it before the
        TLS connection ends cleanly.
        """
        self.connection.send(b"bye")
        self.connection.close()
        self.assertEqual((self.tls.aborted, self.tls.disconnecting), (False, True))

    def test_closeAfterHandshake(self) -> None:
        self.end.handshakeCompleted()
        self.connection.close()
        self.assertEqual((self.tls.aborted, self.tls.disconnecting), (False, True))

    def test_closeWhenLost(self) -> None:
        self.end.connectionLost(Failure(ConnectionLost()))
        self.connection.close()
        self.assertEqual((self.tls.aborted, self.tls.disconnecting), (False, False))

    def test_serve(self) -> None:
        """
        The service's protocol becomes the TLS layer's, connected to it,
        then gets what was held, in order, after reading resumed; closing
        the connection then leaves the service's connection alone.
        """
        self.end.dataReceived(b"a")
        self.end.dataReceived(b"b" * HELD_LIMIT)
        protocol = _Recorder(self.tls.calls)
        self.connection.serve(protocol)
        self.assertIs(self.tls.wrappedProtocol, protocol)
        self.assertIs(protocol.transport, self.tls)
        self.assertEqual(self.tls.calls, ["made", "resume", "a", "b" * HELD_LIMIT])
        self.assertEqual((self.end.held, self.end.paused), ([], False))
        self.connection.close()
        self.assertEqual((self.tls.aborted, self.tls.disconnecting), (False, False))

    def test_serveLost(self) -> None:
        """
        A connection lost before its service runs: the service's protocol
        gets what was held, then is told why, in the next turn of the
        reactor (its session has begun by then).
        """
        self.end.dataReceived(b"last")
        reason = Failure(ConnectionDone())
        self.end.connectionLost(reason)
        protocol = _Recorder(self.tls.calls)
        self.connection.serve(protocol)
        self.assertIsNone(self.tls.wrappedProtocol)
        self.assertEqual(self.tls.calls, ["made", "last"])
        self.assertIsNone(protocol.lost)
        self.clock.advance(0)
        self.assertIs(protocol.lost, reason)


class DirectTLSProtocolTests(SynchronousTestCase):
    """
    L{DirectTLSProtocol} connects with Twisted's factory as it is: with the
    factory's C{_creatorCallable} (Twisted 26.4 and later), or with
    Twisted's own C{makeConnection} (earlier Twisted, which the run of
    these tests with the oldest releases covers; see
    L{tests.test_oldest_dependencies}).
    """

    def exchange(self, factory: TLSMemoryBIOFactory) -> tuple[list[object], list[str], bytes]:
        listener = _Listener()
        end = PlaintextEnd(listener)
        server = DirectTLSProtocol(factory, end)
        received: list[bytes] = []
        client = TLSMemoryBIOProtocol(
            TLSMemoryBIOFactory(
                optionsForClientTLS("localhost", self.trust),
                True,
                ClientFactory.forProtocol(Protocol),
            ),
            _Collecting(received),
        )
        pump = connect(
            server,
            FakeTransport(server, isServer=True),
            client,
            FakeTransport(client, isServer=False),
        )
        client.write(b"hello")
        server.write(b"welcome")
        pump.flush()
        return listener.said, [data.decode() for data in end.held], b"".join(received)

    def setUp(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        self.options, self.trust = localhostServer(directory)

    def test_handshake(self) -> None:
        """
        The handshake is done and the plaintext flows both ways.
        """
        factory = TLSMemoryBIOFactory(self.options, False, ServerFactory())
        self.assertEqual(self.exchange(factory), (["handshake"], ["hello"], b"welcome"))


class _Collecting(Protocol):
    def __init__(self, received: list[bytes]) -> None:
        self.received = received

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)
