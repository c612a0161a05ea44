# -*- test-case-name: tests.net.test_acceptor -*-
"""
Tests for L{txinetd.net.acceptor}: real sockets on 127.0.0.1 driven by a
L{MemoryReactor} (the test calls C{doRead} and C{doWrite}) or by the real
reactor, and a scripted listening socket for accept() errors.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import tempfile
from collections.abc import Sequence
from typing import Any, cast

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from tests.tcpinfo import segmentsReceived
from txinetd.net.acceptor import (
    ACCEPTS_PER_WAKEUP,
    DESCRIPTOR_ERRORS,
    IPV6_ADDRFORM,
    PendingConnection,
    StreamAcceptor,
    asIPv4,
    fixedLocalAddress,
)

#: Bounds the loops that drain a socket.
MAX_ROUNDS = 100_000
#: A payload far larger than any loopback socket buffer set small.
LARGE = bytes(range(256)) * 16384


def listeningSocket(case: SynchronousTestCase, family: int = socket.AF_INET) -> socket.socket:
    """
    A non-blocking listening socket on the loopback address (on C{::},
    dual stack, for IPv6), closed after the test.
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    case.addCleanup(sock.close)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0))
    else:
        sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def connectClient(
    case: SynchronousTestCase, listener: socket.socket, receiveBuffer: int | None = None
) -> socket.socket:
    """
    A blocking IPv4 client connected to C{listener}, closed after the test.
    """
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    case.addCleanup(client.close)
    if receiveBuffer is not None:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
    client.settimeout(5)
    client.connect(("127.0.0.1", listener.getsockname()[1]))
    return client


def receiveExactly(client: socket.socket, count: int) -> bytes:
    """
    Read C{count} bytes (or until the end of the stream).
    """
    received = bytearray()
    for _ in range(MAX_ROUNDS):
        if len(received) >= count:
            break
        chunk = client.recv(count - len(received))
        if not chunk:
            break
        received += chunk
    return bytes(received)


class ConvertibleSocket:
    """
    A connected socket of a kernel with C{IPV6_ADDRFORM} (C{error} None) or
    without it.
    """

    def __init__(self, family: socket.AddressFamily, error: int | None = None) -> None:
        self.family = family
        self.error = error
        self.calls: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.calls.append((level, option, value))
        if self.error is not None:
            raise OSError(self.error, os.strerror(self.error))


class FlagsSocket:
    """
    A connected socket's C{send}, recording the flags of every call, of a
    kernel that takes C{MSG_MORE} (C{refusal} None) or refuses it with
    C{refusal}.
    """

    def __init__(self, family: socket.AddressFamily, refusal: int | None = None) -> None:
        self.family = family
        self.refusal = refusal
        self.flags: list[int] = []

    def send(self, data: bytes, flags: int) -> int:
        self.flags.append(flags)
        if self.refusal is not None and flags & socket.MSG_MORE:
            raise OSError(self.refusal, os.strerror(self.refusal))
        return len(data)


class ClosingSendTests(SynchronousTestCase):
    """
    An answer that the close follows (C{sendNow(closing=True)}) is sent with
    C{MSG_MORE} over TCP, so that its last segment leaves with the FIN.
    """

    def setUp(self) -> None:
        self.patch(PendingConnection, "holdsLastSegment", True)

    def connection(self, sock: FlagsSocket, peer: Any) -> PendingConnection:
        return PendingConnection(MemoryReactor(), cast(socket.socket, sock), peer, peer)

    def test_flags(self) -> None:
        """
        C{MSG_MORE} only for a closing send over TCP, never on a UNIX socket.
        """
        plain = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
        for family, peer, closing, flags in (
            (socket.AF_INET, ("127.0.0.1", 5000), True, plain | socket.MSG_MORE),
            (socket.AF_INET6, ("::1", 5000, 0, 0), True, plain | socket.MSG_MORE),
            (socket.AF_INET, ("127.0.0.1", 5000), False, plain),
            (socket.AF_UNIX, "", True, plain),
        ):
            sock = FlagsSocket(family)
            self.assertEqual(self.connection(sock, peer).sendNow(b"answer", closing), b"")
            self.assertEqual(sock.flags, [flags], (family, closing))

    def test_kernelWithoutMsgMore(self) -> None:
        """
        A kernel that refuses C{MSG_MORE}: the answer is sent without it at
        once, and later answers are sent without it from the start.
        """
        plain = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
        for refusal in (errno.EOPNOTSUPP, errno.EINVAL):
            self.patch(PendingConnection, "holdsLastSegment", True)
            sock = FlagsSocket(socket.AF_INET, refusal)
            connection = self.connection(sock, ("127.0.0.1", 5000))
            self.assertEqual(connection.sendNow(b"answer", closing=True), b"")
            self.assertEqual(sock.flags, [plain | socket.MSG_MORE, plain])
            later = FlagsSocket(socket.AF_INET, refusal)
            self.assertEqual(self.connection(later, ("127.0.0.1", 5001)).sendNow(b"a", True), b"")
            self.assertEqual(later.flags, [plain])

    def test_otherErrorsGiveItBack(self) -> None:
        """
        Any other error leaves C{MSG_MORE} in use and gives the data back,
        for L{PendingConnection.send} to report.
        """

        class Failing(FlagsSocket):
            def send(self, data: bytes, flags: int) -> int:
                self.flags.append(flags)
                raise ConnectionResetError(errno.ECONNRESET, "reset")

        sock = Failing(socket.AF_INET)
        connection = self.connection(sock, ("127.0.0.1", 5000))
        self.assertEqual(connection.sendNow(b"answer", closing=True), b"answer")
        self.assertTrue(PendingConnection.holdsLastSegment)


class AsIPv4Tests(SynchronousTestCase):
    """
    L{asIPv4} converts the connection of an IPv4 client of a dual-stack
    socket, and says when the kernel cannot.
    """

    def connection(self, sock: ConvertibleSocket, peer: Any) -> PendingConnection:
        return PendingConnection(MemoryReactor(), cast(socket.socket, sock), peer, peer)

    def test_kernelWithOption(self) -> None:
        sock = ConvertibleSocket(socket.AF_INET6)
        connection = self.connection(sock, ("::ffff:127.0.0.1", 5000, 0, 0))
        self.assertTrue(asIPv4(connection))
        self.assertEqual(sock.calls, [(socket.IPPROTO_IPV6, IPV6_ADDRFORM, socket.AF_INET)])
        self.assertEqual(connection.family, socket.AF_INET)

    def test_kernelWithoutOption(self) -> None:
        """
        gVisor and newer kernels have no C{IPV6_ADDRFORM}: the error is
        raised, never swallowed, and the connection stays AF_INET6.
        """
        sock = ConvertibleSocket(socket.AF_INET6, errno.ENOPROTOOPT)
        connection = self.connection(sock, ("::FFFF:127.0.0.1", 5000, 0, 0))
        error = self.assertRaises(OSError, asIPv4, connection)
        self.assertEqual(error.errno, errno.ENOPROTOOPT)
        self.assertEqual(connection.family, socket.AF_INET6)

    def test_notNeeded(self) -> None:
        """
        IPv6 clients, IPv4 sockets and UNIX sockets are left alone.
        """
        for family, peer in (
            (socket.AF_INET6, ("::1", 5000, 0, 0)),
            (socket.AF_INET, ("127.0.0.1", 5000)),
            (socket.AF_UNIX, ""),
        ):
            sock = ConvertibleSocket(family, errno.ENOPROTOOPT)
            self.assertFalse(asIPv4(self.connection(sock, peer)))
            self.assertEqual(sock.calls, [])

    def test_realKernel(self) -> None:
        """
        On this kernel: converted to an AF_INET socket with a plain peer, or
        refused with an error (never a silent no-op).
        """
        listener = listeningSocket(self, socket.AF_INET6)
        client = connectClient(self, listener)
        accepted, peer = listener.accept()
        connection = PendingConnection(MemoryReactor(), accepted, peer, accepted.getsockname())
        self.addCleanup(connection.close)
        try:
            converted = asIPv4(connection)
        except OSError as e:
            self.assertEqual(e.errno, errno.ENOPROTOOPT)
            self.assertEqual(accepted.getpeername()[0], "::ffff:127.0.0.1")
        else:
            self.assertTrue(converted)
            self.assertEqual(accepted.getpeername(), client.getsockname())


class Recorder:
    """
    Collects what a L{StreamAcceptor} hands over.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.case = case
        self.connections: list[PendingConnection] = []
        self.exhausted: list[int] = []

    def connection(self, connection: PendingConnection) -> None:
        self.connections.append(connection)
        self.case.addCleanup(connection.close)

    def acceptor(self, reactor: Any, sock: Any) -> StreamAcceptor:
        wrap = sock.wrap if isinstance(sock, ScriptedSocket) else None
        return StreamAcceptor(reactor, sock, self.connection, self.exhausted.append, wrap)


class StreamAcceptorTests(SynchronousTestCase):
    """
    L{StreamAcceptor} on a real listening socket, read when the test says.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactor()
        self.listener = listeningSocket(self)
        self.recorder = Recorder(self)
        self.acceptor = self.recorder.acceptor(self.reactor, self.listener)

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IReadDescriptor, self.acceptor))
        self.assertEqual(self.acceptor.fileno(), self.listener.fileno())

    def test_reading(self) -> None:
        """
        startReading and stopReading register it with the reactor once.
        """
        self.acceptor.startReading()
        self.acceptor.startReading()
        self.assertEqual(self.reactor.getReaders(), [self.acceptor])
        self.acceptor.stopReading()
        self.acceptor.stopReading()
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertFalse(self.acceptor.reading)

    def test_accepts(self) -> None:
        """
        One read accepts every pending connection, as blocking sockets with
        their addresses.
        """
        clients = [connectClient(self, self.listener) for _ in range(3)]
        self.acceptor.startReading()
        self.acceptor.doRead()
        connections = self.recorder.connections
        self.assertEqual(
            [c.peer for c in connections], [client.getsockname() for client in clients]
        )
        self.assertEqual({c.local for c in connections}, {self.listener.getsockname()})
        self.assertEqual([c.socket.getblocking() for c in connections], [True] * 3)
        self.assertEqual({c.family for c in connections}, {socket.AF_INET})

    def test_notReading(self) -> None:
        connectClient(self, self.listener)
        self.acceptor.doRead()
        self.assertEqual(self.recorder.connections, [])

    def test_boundedPerWakeup(self) -> None:
        """
        One read accepts at most L{ACCEPTS_PER_WAKEUP} connections; the
        next read takes the rest.
        """
        for _ in range(ACCEPTS_PER_WAKEUP + 1):
            connectClient(self, self.listener)
        self.acceptor.startReading()
        self.acceptor.doRead()
        self.assertEqual(len(self.recorder.connections), ACCEPTS_PER_WAKEUP)
        self.acceptor.doRead()
        self.assertEqual(len(self.recorder.connections), ACCEPTS_PER_WAKEUP + 1)

    def test_stopWhileAccepting(self) -> None:
        """
        A callback that stops reading (a cps trip) stops the accept loop;
        the other connections wait in the backlog.
        """

        def stopAfterOne(connection: PendingConnection) -> None:
            self.recorder.connection(connection)
            self.acceptor.stopReading()

        self.acceptor.onConnection = stopAfterOne
        for _ in range(3):
            connectClient(self, self.listener)
        self.acceptor.startReading()
        self.acceptor.doRead()
        self.assertEqual(len(self.recorder.connections), 1)
        self.acceptor.onConnection = self.recorder.connection
        self.acceptor.startReading()
        self.acceptor.doRead()
        self.assertEqual(len(self.recorder.connections), 3)

    def test_dualStack(self) -> None:
        """
        An IPv4 client of a dual-stack socket shows as IPv4.
        """
        listener = listeningSocket(self, socket.AF_INET6)
        acceptor = self.recorder.acceptor(self.reactor, listener)
        client = connectClient(self, listener)
        acceptor.startReading()
        acceptor.doRead()
        (connection,) = self.recorder.connections
        self.assertEqual(connection.rawPeer[0], "::ffff:127.0.0.1")
        self.assertEqual(connection.peer, client.getsockname())
        self.assertEqual(connection.local, ("127.0.0.1", listener.getsockname()[1]))
        self.assertEqual(connection.family, socket.AF_INET6)

    def test_connectionLost(self) -> None:
        self.acceptor.startReading()
        self.acceptor.connectionLost(Failure(ConnectionLost()))
        self.assertFalse(self.acceptor.reading)


class ScriptedSocket:
    """
    A listening socket whose accept() follows a script: each item is raised
    if it is an exception, returned otherwise.
    """

    family = socket.AF_INET
    type = socket.SOCK_STREAM
    proto = 0

    def __init__(self, script: Sequence[object]) -> None:
        self.script = list(script)
        #: The accepted sockets, by the descriptor _accept() gave for each.
        self.accepted: dict[int, object] = {}

    def fileno(self) -> int:
        return 99

    def getsockname(self) -> tuple[str, int]:
        # A wildcard: each connection is asked its own local address.
        return ("0.0.0.0", 7)

    def _accept(self) -> tuple[int, object]:
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        accepted, peer = cast(tuple[object, object], item)
        descriptor = 100 + len(self.accepted)
        self.accepted[descriptor] = accepted
        return descriptor, peer

    def wrap(self, descriptor: int) -> socket.socket:
        return cast(socket.socket, self.accepted[descriptor])


class AcceptedSocket:
    """
    What a scripted accept() returns.
    """

    family = socket.AF_INET

    def __init__(self, local: tuple[str, int] | None = ("127.0.0.1", 7)) -> None:
        self.local = local
        self.closed = False

    def getsockname(self) -> tuple[str, int]:
        if self.local is None:
            raise OSError(errno.ENOTCONN, "not connected")
        return self.local

    def close(self) -> None:
        self.closed = True


class AcceptErrorTests(SynchronousTestCase):
    """
    accept() errors: running out of descriptors deactivates, anything else
    is skipped.
    """

    def acceptAll(self, script: Sequence[object]) -> tuple[Recorder, ScriptedSocket]:
        recorder = Recorder(self)
        scripted = ScriptedSocket(script)
        acceptor = recorder.acceptor(MemoryReactor(), scripted)
        acceptor.startReading()
        acceptor.doRead()
        return recorder, scripted

    def test_descriptorsExhausted(self) -> None:
        """
        EMFILE, ENFILE, ENOBUFS and ENOMEM are reported, and the loop ends
        there.
        """
        for code in DESCRIPTOR_ERRORS:
            later = (AcceptedSocket(), ("192.0.2.1", 1))
            recorder, scripted = self.acceptAll([OSError(code, os.strerror(code)), later])
            self.assertEqual((recorder.exhausted, recorder.connections), ([code], []))
            self.assertEqual(scripted.script, [later])
        self.assertIn(errno.EMFILE, DESCRIPTOR_ERRORS)

    def test_otherErrorsSkipped(self) -> None:
        accepted = AcceptedSocket()
        recorder, _ = self.acceptAll(
            [
                ConnectionAbortedError(errno.ECONNABORTED, "aborted"),
                (accepted, ("192.0.2.1", 4000)),
                BlockingIOError(),
            ]
        )
        (connection,) = recorder.connections
        self.assertEqual(
            (connection.peer, connection.local), (("192.0.2.1", 4000), ("127.0.0.1", 7))
        )
        self.assertIs(connection.socket, cast(Any, accepted))
        self.assertEqual(recorder.exhausted, [])

    def test_noLocalAddress(self) -> None:
        """
        A connection whose local address cannot be read is closed.
        """
        broken = AcceptedSocket(None)
        recorder, _ = self.acceptAll([(broken, ("192.0.2.1", 1)), BlockingIOError()])
        self.assertEqual(recorder.connections, [])
        self.assertTrue(broken.closed)


class PendingConnectionTests(TestCase):
    """
    L{PendingConnection} over a real TCP connection on 127.0.0.1, its
    writes driven by the test.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactor()
        self.listener = listeningSocket(self)

    def pair(
        self, sendBuffer: int | None = None, receiveBuffer: int | None = None
    ) -> tuple[PendingConnection, socket.socket]:
        """
        A connection as accepted, and its client.
        """
        client = connectClient(self, self.listener, receiveBuffer)
        self.listener.setblocking(True)
        server, peer = self.listener.accept()
        self.addCleanup(server.close)
        if sendBuffer is not None:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sendBuffer)
        return PendingConnection(self.reactor, server, peer, server.getsockname()), client

    def readLarge(self, connection: PendingConnection, client: socket.socket) -> bytearray:
        """
        Read L{LARGE} on C{client}, letting C{connection} write when the
        reactor would.
        """
        received = bytearray()
        for _ in range(MAX_ROUNDS):
            if len(received) >= len(LARGE):
                break
            received += client.recv(65536)
            if self.reactor.getWriters():
                connection.doWrite()
        return received

    def blocked(self) -> tuple[PendingConnection, socket.socket, Deferred[None]]:
        """
        A connection with a send of L{LARGE} waiting for its client to read.
        """
        connection, client = self.pair(4096, 4096)
        sent = connection.send(LARGE)
        self.assertNoResult(sent)
        self.assertEqual(self.reactor.getWriters(), [connection])
        return connection, client, sent

    def reset(self, client: socket.socket) -> None:
        """
        Close the client with a reset.
        """
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()

    def test_interface(self) -> None:
        connection, client = self.pair()
        self.assertTrue(verifyObject(IWriteDescriptor, connection))
        self.assertEqual(connection.fileno(), connection.socket.fileno())
        self.assertEqual(connection.peer, client.getsockname())
        self.assertEqual(connection.local, self.listener.getsockname())

    def test_sendAtOnce(self) -> None:
        connection, client = self.pair()
        self.assertIsNone(self.successResultOf(connection.send(b"\x00banner\r\n")))
        self.assertEqual(receiveExactly(client, 9), b"\x00banner\r\n")
        self.assertEqual(self.reactor.getWriters(), [])

    def test_sendNow(self) -> None:
        """
        sendNow writes what the kernel takes at once, without a Deferred
        and without the reactor.
        """
        connection, client = self.pair()
        self.assertEqual(connection.sendNow(b"07 DEC 2026\r\n"), b"")
        self.assertEqual(receiveExactly(client, 13), b"07 DEC 2026\r\n")
        self.assertEqual(connection.sendNow(b""), b"")
        self.assertEqual(self.reactor.getWriters(), [])

    def test_sendNowPartly(self) -> None:
        """
        What the kernel cannot take now is given back, in order, for
        L{PendingConnection.send}; nothing is left queued.
        """
        connection, client = self.pair(4096, 4096)
        rest = connection.sendNow(LARGE)
        self.assertTrue(0 < len(rest) < len(LARGE))
        self.assertEqual(self.reactor.getWriters(), [])
        sent = connection.send(rest)
        received = self.readLarge(connection, client)
        self.assertEqual(bytes(received), LARGE)
        self.assertIsNone(self.successResultOf(sent))

    def test_sendNowBehindQueue(self) -> None:
        """
        Nothing jumps ahead of a send that waits, or is written once the
        connection is closed or failed: all of it is given back.
        """
        connection, _, sent = self.blocked()
        self.assertEqual(connection.sendNow(b"tail"), b"tail")
        connection.close()
        self.failureResultOf(sent)
        self.assertEqual(connection.sendNow(b"tail"), b"tail")
        other, otherClient = self.pair()
        self.reset(otherClient)
        self.assertEqual(other.sendNow(b"x" * 100000), b"x" * 100000)

    def answered(self, closing: bool) -> int:
        """
        Answer a client and close: how many segments it received.
        """
        connection, client = self.pair()
        self.assertEqual(connection.sendNow(b"07 DEC 2026\r\n", closing=closing), b"")
        connection.close()
        # Read to the end of the stream: the FIN is in.
        self.assertEqual(receiveExactly(client, 14), b"07 DEC 2026\r\n")
        return segmentsReceived(client)

    def test_answerLeavesWithTheFin(self) -> None:
        """
        An answer sent as one the close follows leaves in one segment with
        the FIN: the client receives the SYN-ACK and that segment, one
        segment less than after a plain send and close.
        """
        self.patch(PendingConnection, "holdsLastSegment", True)
        self.assertEqual((self.answered(closing=False), self.answered(closing=True)), (3, 2))

    def test_answerToAClientThatSpoke(self) -> None:
        """
        A client that sent something nobody reads (a daytime client's CRLF)
        still gets the answer sent as one the close follows: it leaves with
        the FIN before the close resets the connection.
        """
        self.patch(PendingConnection, "holdsLastSegment", True)
        connection, client = self.pair()
        client.sendall(b"\r\n")
        # The CRLF is in the server's socket before the answer is sent.
        self.assertEqual(connection.socket.recv(2, socket.MSG_PEEK), b"\r\n")
        self.assertEqual(connection.sendNow(b"07 DEC 2026\r\n", closing=True), b"")
        connection.close()
        received = bytearray()
        with contextlib.suppress(ConnectionResetError):
            for _ in range(MAX_ROUNDS):
                chunk = client.recv(64)
                if not chunk:
                    break
                received += chunk
        self.assertEqual(bytes(received), b"07 DEC 2026\r\n")

    def test_answerLargerThanASegment(self) -> None:
        """
        An answer partly taken, sent as one the close follows: the rest is
        sent with L{PendingConnection.send}, and the client gets every
        byte, the held segment included, before the end of the stream.
        """
        connection, client = self.pair(4096, 4096)
        rest = connection.sendNow(LARGE, closing=True)
        self.assertTrue(0 < len(rest) < len(LARGE))
        sent = connection.send(rest)
        received = self.readLarge(connection, client)
        self.assertIsNone(self.successResultOf(sent))
        connection.close()
        self.assertEqual(bytes(received) + receiveExactly(client, 1), LARGE)

    def test_sendLater(self) -> None:
        """
        What the socket cannot take now is written by C{doWrite} as the
        client reads; sends made meanwhile follow in order.
        """
        connection, client, sent = self.blocked()
        following = connection.send(b"tail")
        self.assertNoResult(following)
        expected = LARGE + b"tail"
        received = bytearray()
        for _ in range(MAX_ROUNDS):
            if len(received) >= len(expected):
                break
            received += client.recv(65536)
            if self.reactor.getWriters():
                connection.doWrite()
        self.assertEqual(bytes(received), expected)
        self.assertIsNone(self.successResultOf(sent))
        self.assertIsNone(self.successResultOf(following))
        self.assertEqual(self.reactor.getWriters(), [])

    def test_sendToResetClient(self) -> None:
        connection, client = self.pair()
        self.reset(client)
        self.failureResultOf(connection.send(b"x" * 100000), OSError)

    def test_writeToResetClient(self) -> None:
        """
        A client that resets while a send waits fails it.
        """
        connection, client, sent = self.blocked()
        self.reset(client)
        connection.doWrite()
        self.failureResultOf(sent, OSError)
        self.assertEqual(self.reactor.getWriters(), [])

    def test_connectionLost(self) -> None:
        connection, _, sent = self.blocked()
        connection.connectionLost(Failure(ConnectionLost()))
        self.failureResultOf(sent, ConnectionLost)
        self.assertEqual(self.reactor.getWriters(), [])

    def test_closeKeepsOtherCopies(self) -> None:
        """
        close() does not shut the connection down: a duplicate descriptor
        (a server's fd 0) still sends, and the client sees the end only
        when that copy is closed too.
        """
        connection, client = self.pair()
        duplicate = os.dup(connection.fileno())
        connection.close()
        self.assertTrue(connection.closed)
        client.setblocking(False)
        self.assertRaises(BlockingIOError, client.recv, 100)
        os.write(duplicate, b"still here")
        client.settimeout(5)
        self.assertEqual(receiveExactly(client, 10), b"still here")
        os.close(duplicate)
        self.assertEqual(client.recv(100), b"")

    def test_closeEnds(self) -> None:
        connection, client = self.pair()
        connection.close()
        connection.close()
        self.assertEqual(client.recv(100), b"")
        self.assertEqual(connection.socket.fileno(), -1)

    def test_closeWhileSending(self) -> None:
        connection, _, sent = self.blocked()
        connection.close()
        self.failureResultOf(sent)
        self.assertEqual(self.reactor.getWriters(), [])
        self.assertEqual(connection.socket.fileno(), -1)

    def test_queuedSendIndependent(self) -> None:
        connection, client, sent = self.blocked()
        following = connection.send(b"tail")
        self.assertIsNot(following, sent)
        sent.addCallback(lambda _: 1 / 0).addErrback(lambda _: None)
        received = 0
        for _ in range(MAX_ROUNDS):
            if following.called or not self.reactor.getWriters():
                break
            received += len(client.recv(65536))
            connection.doWrite()
        self.assertIsNone(self.successResultOf(following))


class Collector(Protocol):
    """
    Collects everything until the connection ends.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.done.callback(bytes(self.received))


class RealReactorTests(TestCase):
    """
    The accept and write paths on the real reactor.
    """

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor: Any = reactor
        self.listener = listeningSocket(self)

    def connect(self) -> tuple[Collector, Deferred[Any]]:
        collector = Collector()
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.listener.getsockname()[1])
        return collector, endpoint.connect(Factory.forProtocol(lambda: collector))

    @inlineCallbacks
    def test_acceptAndSend(self) -> Any:
        """
        The reactor reads the acceptor; a send larger than the socket
        buffers completes through the reactor's writer; close ends it.
        """
        accepted: Deferred[PendingConnection] = Deferred()
        acceptor = StreamAcceptor(self.reactor, self.listener, accepted.callback, self.fail)
        acceptor.startReading()
        self.addCleanup(acceptor.stopReading)
        collector, connecting = self.connect()
        yield connecting
        connection = yield accepted
        acceptor.stopReading()
        connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        payload = LARGE[: 1 << 20]
        sent = connection.send(payload)
        self.assertFalse(sent.called)
        self.assertIn(connection, self.reactor.getWriters())
        yield sent
        self.assertNotIn(connection, self.reactor.getWriters())
        connection.close()
        received = yield collector.done
        self.assertEqual(received, payload)


class FixedLocalAddressTests(SynchronousTestCase):
    """
    L{fixedLocalAddress}: the local address of every accepted connection,
    known beforehand only for a socket bound to one IP address.
    """

    def bound(self, family: socket.AddressFamily, address: Any) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(address)
        sock.listen(1)
        return sock

    def test_oneAddress(self) -> None:
        """
        Bound to 127.0.0.1: each connection's own address is the listening
        socket's, as the connection itself reports it.
        """
        listener = self.bound(socket.AF_INET, ("127.0.0.1", 0))
        fixed = fixedLocalAddress(listener)
        self.assertEqual(fixed, listener.getsockname())
        with socket.create_connection(fixed):
            accepted, _ = listener.accept()
            with accepted:
                self.assertEqual(accepted.getsockname(), fixed)

    def test_wildcard(self) -> None:
        """
        A wildcard address says nothing of a connection's own.
        """
        self.assertIsNone(fixedLocalAddress(self.bound(socket.AF_INET, ("0.0.0.0", 0))))
        if socket.has_ipv6:
            try:
                wildcard = self.bound(socket.AF_INET6, ("::", 0))
            except OSError:
                return
            self.assertIsNone(fixedLocalAddress(wildcard))

    def test_unix(self) -> None:
        """
        A UNIX socket's connections are asked their own.
        """
        directory = tempfile.mkdtemp(dir="/tmp")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "s")
        self.assertIsNone(fixedLocalAddress(self.bound(socket.AF_UNIX, path)))
