# -*- test-case-name: tests.net.test_tlsbulk -*-
"""
Tests for L{txinetd.net.tlsbulk}: large writes behind TLS arrive whole, in
OpenSSL's usual records, with far fewer rounds of Python, with OpenSSL's
partial writes off and, where they cannot be turned off, on.
"""

from __future__ import annotations

import os
import socket
from typing import Any, cast
from unittest import mock

from OpenSSL import SSL
from twisted.internet.protocol import ClientFactory, Protocol, ServerFactory
from twisted.internet.ssl import optionsForClientTLS
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import localhostServer
from txinetd.net import tlsbulk
from txinetd.net.tlsbulk import (
    RECORD,
    TRANSPORT_CHUNK,
    WRITE_CHUNK,
    BulkTLSProtocol,
    sendNow,
    tuneTransport,
    wholeWrites,
)

#: Three and a half chunks of bytes that are not all alike.
PAYLOAD = bytes(range(251)) * ((WRITE_CHUNK * 7 // 2) // 251)


class Sender(Protocol):
    """
    Writes L{PAYLOAD} in one write once connected, then closes.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(PAYLOAD)
        self.transport.loseConnection()


class Collector(Protocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)


class CountingTransport(FakeTransport):
    """
    Counts the writes the TLS protocol makes.
    """

    writes = 0

    def write(self, data: Any) -> None:
        self.writes += 1
        super().write(data)


class CountingConnection:
    """
    Stands in front of a server's pyOpenSSL connection and counts the
    calls to its C{send}.
    """

    def __init__(self, connection: SSL.Connection) -> None:
        self.connection = connection
        self.sends = 0

    def send(self, data: Any) -> int:
        self.sends += 1
        return self.connection.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


class CountingBulkTLSProtocol(BulkTLSProtocol):
    """
    L{BulkTLSProtocol} whose calls to OpenSSL's write are counted.
    """

    counted: CountingConnection | None = None

    def makeConnection(self, transport: Any) -> None:
        super().makeConnection(transport)
        self.counted = CountingConnection(self._tlsConnection)
        self._tlsConnection = cast(SSL.Connection, self.counted)


class BulkTLSProtocolTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        self.options, self.trust = localhostServer(directory)

    def transfer(self, protocolType: type[TLSMemoryBIOProtocol]) -> tuple[bytes, int]:
        """
        Send L{PAYLOAD} from a server of C{protocolType} to a TLS client in
        memory.

        @return: what the client received, and how many writes the server
            made to its transport.
        """
        received, writes, _ = self.transferCounting(protocolType)
        return received, writes

    def transferCounting(
        self, protocolType: type[TLSMemoryBIOProtocol]
    ) -> tuple[bytes, int, TLSMemoryBIOProtocol]:
        """
        L{transfer}, which also returns the server's protocol.
        """
        server = protocolType(
            TLSMemoryBIOFactory(self.options, False, ServerFactory.forProtocol(Sender)),
            Sender(),
        )
        collector = Collector()
        client = TLSMemoryBIOProtocol(
            TLSMemoryBIOFactory(
                optionsForClientTLS("localhost", self.trust),
                True,
                ClientFactory.forProtocol(Protocol),
            ),
            collector,
        )
        serverTransport = CountingTransport(server, isServer=True)
        connect(server, serverTransport, client, FakeTransport(client, isServer=False))
        return b"".join(collector.received), serverTransport.writes, server

    def test_whole(self) -> None:
        """
        Every byte of a write several chunks long arrives, in order.
        """
        received, _ = self.transfer(BulkTLSProtocol)
        self.assertEqual(received, PAYLOAD)

    def test_fewerWrites(self) -> None:
        """
        The records of a chunk go to the transport together: far fewer
        writes than Twisted's protocol makes (one for every 16 KiB record).
        """
        received, bulk = self.transfer(BulkTLSProtocol)
        plain, usual = self.transfer(TLSMemoryBIOProtocol)
        self.assertEqual((received, plain), (PAYLOAD, PAYLOAD))
        self.assertGreaterEqual(usual, len(PAYLOAD) // RECORD)
        self.assertLess(bulk, usual // 4)

    def test_wholeWrites(self) -> None:
        """
        With OpenSSL's partial writes off, a chunk's records are made in one
        call: the payload of three and a half chunks takes four calls, and
        arrives whole.
        """
        received, _, server = self.transferCounting(CountingBulkTLSProtocol)
        self.assertEqual(received, PAYLOAD)
        assert isinstance(server, CountingBulkTLSProtocol) and server.counted is not None
        self.assertEqual(server._step, WRITE_CHUNK)
        self.assertEqual(server.counted.sends, -(-len(PAYLOAD) // WRITE_CHUNK))

    def test_partialWrites(self) -> None:
        """
        Where partial writes cannot be turned off, the records are handed
        to OpenSSL one at a time, and the payload still arrives whole, with
        a chunk's records written together.
        """
        with mock.patch.object(tlsbulk, "wholeWrites", return_value=False):
            received, writes, server = self.transferCounting(CountingBulkTLSProtocol)
        self.assertEqual(received, PAYLOAD)
        assert isinstance(server, CountingBulkTLSProtocol) and server.counted is not None
        self.assertEqual(server._step, RECORD)
        self.assertGreaterEqual(server.counted.sends, len(PAYLOAD) // RECORD)
        _, usual = self.transfer(TLSMemoryBIOProtocol)
        self.assertLess(writes, usual // 4)


class WholeWritesTests(SynchronousTestCase):
    """
    L{wholeWrites} turns OpenSSL's partial writes off, and says when it
    cannot.
    """

    def connection(self) -> SSL.Connection:
        return SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)

    def test_off(self) -> None:
        """
        A pyOpenSSL connection starts with partial writes on; afterwards
        they are off (what that changes: L{BulkTLSProtocolTests}).
        """
        before, after = self.connection(), self.connection()
        self.assertTrue(wholeWrites(after))
        lib: Any = getattr(SSL, "_lib")  # noqa: B009
        partial = lib.SSL_MODE_ENABLE_PARTIAL_WRITE
        self.assertTrue(lib.SSL_set_mode(before._ssl, 0) & partial)
        self.assertFalse(lib.SSL_set_mode(after._ssl, 0) & partial)

    def test_noBinding(self) -> None:
        """
        Without the binding's call, or a connection without its handle,
        partial writes stay on, and it says so.
        """
        connection = self.connection()
        with mock.patch.object(SSL, "_lib", object()):
            self.assertFalse(wholeWrites(connection))
        self.assertFalse(wholeWrites(mock.Mock(spec=[])))


class TuneTransportTests(SynchronousTestCase):
    def test_tuned(self) -> None:
        """
        The transport sends and holds one chunk's records, and reads as
        much, where Twisted's default is 128 KiB, 64 KiB and 64 KiB.
        """
        transport = mock.Mock(spec=["SEND_LIMIT", "bufferSize"])
        tuneTransport(transport)
        self.assertEqual((transport.SEND_LIMIT, transport.bufferSize), (TRANSPORT_CHUNK,) * 2)
        self.assertGreater(TRANSPORT_CHUNK, WRITE_CHUNK)


class QueueingTransport:
    """
    The parts of Twisted's TCP transport that L{sendNow} looks at, over a
    real non-blocking socket; what it is given to queue is recorded.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.connected = True
        self.disconnecting = False
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataLen = 0
        self.queued: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.queued.append(data)


class SendNowTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.addCleanup(self.ours.close)
        self.addCleanup(self.theirs.close)
        self.transport = QueueingTransport(self.ours)

    def received(self) -> bytes:
        self.theirs.setblocking(False)
        try:
            return self.theirs.recv(1 << 20)
        except BlockingIOError:
            return b""

    def test_sentAtOnce(self) -> None:
        """
        With nothing queued before it, the records go to the socket at once
        and nothing is queued.
        """
        sendNow(self.transport, b"records")
        self.assertEqual((self.received(), self.transport.queued), (b"records", []))

    def test_behindQueued(self) -> None:
        """
        Behind bytes the transport still holds (sent partly, or not yet),
        everything is queued, in order.
        """
        for held in ({"dataBuffer": b"abc", "offset": 1}, {"_tempDataLen": 3}):
            transport = QueueingTransport(self.ours)
            transport.__dict__.update(held)
            sendNow(transport, b"records")
            self.assertEqual(transport.queued, [b"records"])
        self.assertEqual(self.received(), b"")

    def test_socketFull(self) -> None:
        """
        What the socket does not take is queued, after what it took.
        """
        self.ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        data = bytes(range(256)) * 4096
        sendNow(self.transport, data)
        [rest] = self.transport.queued
        sent = bytearray()
        while chunk := self.received():
            sent += chunk
        self.assertGreater(len(sent), 0)
        self.assertEqual(bytes(sent) + rest, data)

    def test_failedSend(self) -> None:
        """
        A send that fails queues everything: the transport meets the
        failure itself and reports the connection lost.
        """
        self.theirs.close()
        sendNow(self.transport, b"records")
        self.assertEqual(self.transport.queued, [b"records"])

    def test_notConnected(self) -> None:
        """
        A transport that is closing, is not connected, or has no socket (a
        test's string transport) gets the records queued.
        """
        for state in ({"disconnecting": True}, {"connected": False}):
            transport = QueueingTransport(self.ours)
            transport.__dict__.update(state)
            sendNow(transport, b"records")
            self.assertEqual(transport.queued, [b"records"])
        self.assertEqual(self.received(), b"")
        string = StringTransport()
        sendNow(string, b"records")
        self.assertEqual(string.value(), b"records")
