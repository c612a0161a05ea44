# -*- test-case-name: tests.serve.test_tcpmux -*-
"""
Tests for L{txinetd.serve.tcpmux}: reading the first line from a raw socket
without taking more, finding the target, and the replies.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.fakes import ConfigFiles
from tests.integration.support import reactor
from txinetd.core.config import ServiceConfig
from txinetd.net.acceptor import PendingConnection
from txinetd.serve.tcpmux import (
    GO,
    MAX_LINE,
    NAME_TIMEOUT,
    NOT_FOUND,
    acceptReply,
    findTarget,
    helpReply,
    multiplex,
    parseLine,
    readServiceName,
)

T = TypeVar("T")
PEER = ("127.0.0.1", 40000)
LOCAL = ("127.0.0.1", 1)


def muxEntry(name: str, kind: str, serviceId: str | None = None) -> str:
    """
    A tcpmux service entry of type C{kind} running C{/bin/cat}.
    """
    idLine = f"    id = {serviceId}\n" if serviceId else ""
    return (
        f"service {name}\n{{\n{idLine}    type = {kind} UNLISTED\n"
        "    socket_type = stream\n    protocol = tcp\n    wait = no\n"
        "    user = root\n    server = /bin/cat\n}\n"
    )


CONFIG = (
    "service tcpmux\n{\n    type = INTERNAL UNLISTED\n    port = 1\n"
    "    socket_type = stream\n    wait = no\n}\n"
    "service echo\n{\n    type = INTERNAL\n    socket_type = stream\n    wait = no\n}\n"
    + muxEntry("alpha", "TCPMUXPLUS")
    + muxEntry("Beta", "TCPMUX")
    + muxEntry("beta", "TCPMUXPLUS", "beta-second")
    + muxEntry("Echo", "TCPMUXPLUS", "echo-mux")
)


def loadServices(case: SynchronousTestCase) -> tuple[ServiceConfig, ...]:
    """
    The services of L{CONFIG}, loaded with the fake system.
    """
    files = ConfigFiles(case)
    files.write("xinetd.conf", CONFIG)
    config = files.load()
    case.assertEqual(config.errors, ())
    return config.services


def byId(services: tuple[ServiceConfig, ...], serviceId: str) -> ServiceConfig:
    return next(service for service in services if service.id == serviceId)


class RepliesTests(SynchronousTestCase):
    """
    The reply constants, L{parseLine}, L{findTarget}, L{acceptReply} and
    L{helpReply}.
    """

    def setUp(self) -> None:
        self.services = loadServices(self)

    def test_replyBytes(self) -> None:
        """
        The replies end in CR LF and a NUL byte, as xinetd sends them.
        """
        self.assertEqual((GO, len(GO)), (b"+Go\r\n\x00", 6))
        self.assertEqual((NOT_FOUND, len(NOT_FOUND)), (b"-Service name not found\r\n\x00", 26))

    def test_parseLine(self) -> None:
        """
        A line is a name when it is longer than CR LF and ends in CR LF.
        """
        cases = {
            b"alpha\r\n": "alpha",
            b"a\r\n": "a",
            b"two words\r\n": "two words",
            b"\r\n": None,
            b"\n": None,
            b"alpha\n": None,
            b"alpha\r": None,
            b"alpha": None,
            b"\xffname\r\n": "\ufffdname",
        }
        self.assertEqual({line: parseLine(line) for line in cases}, cases)

    def test_findTargetIgnoresCase(self) -> None:
        """
        The name is compared with service names, ignoring case.
        """
        self.assertEqual(findTarget("ALPHA", self.services), byId(self.services, "alpha"))
        self.assertEqual(findTarget("alpha", self.services), byId(self.services, "alpha"))

    def test_findTargetFirstMatch(self) -> None:
        """
        Of two tcpmux services with the same name, the first one wins.
        """
        self.assertEqual(findTarget("BETA", self.services), byId(self.services, "Beta"))

    def test_findTargetOnlyTcpmuxServices(self) -> None:
        """
        Services that are not TCPMUX or TCPMUXPLUS are never targets: the
        internal C{echo} before it does not hide C{Echo}, and C{tcpmux}
        itself is not found.
        """
        self.assertEqual(findTarget("echo", self.services), byId(self.services, "echo-mux"))
        self.assertIsNone(findTarget("tcpmux", self.services))
        self.assertIsNone(findTarget("gamma", self.services))
        self.assertIsNone(findTarget("alpha ", self.services))

    def test_acceptReply(self) -> None:
        """
        A TCPMUXPLUS service gets C{+Go}; a plain TCPMUX one nothing.
        """
        self.assertEqual(acceptReply(byId(self.services, "alpha")), GO)
        self.assertEqual(acceptReply(byId(self.services, "Beta")), b"")

    def test_helpReply(self) -> None:
        """
        C{HELP} lists the distinct tcpmux service names in configuration
        order, one per CR LF line.
        """
        self.assertEqual(helpReply(self.services), b"alpha\r\nBeta\r\nbeta\r\nEcho\r\n")
        self.assertEqual(helpReply([]), b"")


def socketPair(
    case: SynchronousTestCase, reactor: object
) -> tuple[socket.socket, PendingConnection]:
    """
    A connected pair: the client's socket and the server side as a
    L{PendingConnection}.
    """
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    connection = PendingConnection(reactor, server, PEER, LOCAL)  # type: ignore[arg-type]
    case.addCleanup(client.close)
    case.addCleanup(connection.close)
    return client, connection


class ReadServiceNameTests(SynchronousTestCase):
    """
    L{readServiceName} on a socket pair, its read events and time driven by
    a L{MemoryReactorClock}.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.client, self.connection = socketPair(self, self.reactor)
        self.result = readServiceName(self.reactor, self.connection)

    def feed(self, data: bytes) -> None:
        """
        Send C{data} from the client and let the reader read it.
        """
        self.client.sendall(data)
        self.readable()

    def readable(self) -> None:
        """
        Tell the registered reader that its socket is readable.
        """
        for reader in list(self.reactor.readers):
            reader.doRead()

    def left(self) -> bytes:
        """
        What is still in the server's socket.
        """
        try:
            return self.connection.socket.recv(4096, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""

    def assertDone(self, expected: str | None) -> None:
        """
        The reader gave C{expected} and let go of the socket and the clock.
        """
        self.assertEqual(self.successResultOf(self.result), expected)
        self.assertEqual(self.reactor.readers, set())
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_watchesTheSocket(self) -> None:
        """
        The reader is registered for the connection's descriptor, with the
        timeout pending.
        """
        [reader] = self.reactor.readers
        self.assertEqual(reader.fileno(), self.connection.fileno())
        [timer] = self.reactor.getDelayedCalls()
        self.assertEqual(timer.getTime(), NAME_TIMEOUT)

    def test_lineInOnePiece(self) -> None:
        """
        A whole line gives its name; the bytes after it stay in the socket.
        """
        self.feed(b"alpha\r\nrest of the data")
        self.assertDone("alpha")
        self.assertEqual(self.left(), b"rest of the data")

    def test_lineInPieces(self) -> None:
        """
        A line that comes in pieces, its CR and LF apart, is put together.
        """
        for piece in (b"al", b"ph", b"a\r"):
            self.feed(piece)
            self.assertNoResult(self.result)
        self.feed(b"\nnext")
        self.assertDone("alpha")
        self.assertEqual(self.left(), b"next")

    def test_nothingToRead(self) -> None:
        """
        A spurious read event changes nothing.
        """
        self.readable()
        self.assertNoResult(self.result)
        self.feed(b"x\r\n")
        self.assertDone("x")

    def test_longestLine(self) -> None:
        """
        A line of L{MAX_LINE} bytes, CR LF included, is accepted.
        """
        name = "n" * (MAX_LINE - 2)
        self.feed(name.encode("ascii") + b"\r\nz")
        self.assertDone(name)
        self.assertEqual(self.left(), b"z")

    def test_tooLong(self) -> None:
        """
        A line longer than L{MAX_LINE} bytes gives L{None}.
        """
        self.feed(b"n" * (MAX_LINE - 1))
        self.assertNoResult(self.result)
        self.feed(b"\r\n")
        self.assertDone(None)

    def test_bareLineFeed(self) -> None:
        """
        A line ending in LF alone gives L{None} at once.
        """
        self.feed(b"alpha\nmore")
        self.assertDone(None)
        self.assertEqual(self.left(), b"more")

    def test_emptyName(self) -> None:
        """
        An empty line gives L{None}.
        """
        self.feed(b"\r\n")
        self.assertDone(None)

    def test_closedWithoutLineEnd(self) -> None:
        """
        A client that closes before its line ends gives L{None}.
        """
        self.feed(b"alpha\r")
        self.client.shutdown(socket.SHUT_WR)
        self.readable()
        self.assertDone(None)

    def test_connectionFailed(self) -> None:
        """
        An error reading the socket gives L{None}.
        """
        self.connection.socket.shutdown(socket.SHUT_RDWR)
        self.client.close()
        self.readable()
        self.assertDone(None)

    def test_timeout(self) -> None:
        """
        A client that does not finish its line in time gives L{None}.
        """
        self.feed(b"alp")
        self.reactor.advance(NAME_TIMEOUT - 0.5)
        self.assertNoResult(self.result)
        self.reactor.advance(0.5)
        self.assertDone(None)

    def test_connectionLost(self) -> None:
        """
        The reactor dropping the reader gives L{None}.
        """
        [reader] = self.reactor.readers
        reader.connectionLost(Failure(ConnectionError("gone")))
        self.assertDone(None)

    def test_cancel(self) -> None:
        """
        Cancelling stops reading and the timeout.
        """
        self.result.cancel()
        self.failureResultOf(self.result, CancelledError)
        self.assertEqual(self.reactor.readers, set())
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class MultiplexCancelTests(SynchronousTestCase):
    """
    Cancelling L{multiplex} (the tcpmux session is stopped) leaves no
    reader, writer or timer behind.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.client, self.connection = socketPair(self, self.reactor)
        self.result = multiplex(self.reactor, self.connection, loadServices(self))

    def assertReleased(self) -> None:
        self.assertEqual((self.reactor.readers, self.reactor.writers), (set(), set()))
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_whileReading(self) -> None:
        """
        Cancelled while the name is awaited, it fails with
        L{CancelledError}; the connection is the caller's to close.
        """
        self.result.cancel()
        self.failureResultOf(self.result, CancelledError)
        self.assertReleased()
        self.assertFalse(self.connection.closed)

    def test_whileReplying(self) -> None:
        """
        Cancelled while its reply waits for room in the socket, it closes
        the connection and gives L{None}.
        """
        self.connection.socket.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            for _ in range(100_000):
                self.connection.socket.send(b"x" * 65536)
        self.client.sendall(b"nosuch\r\n")
        (reader,) = self.reactor.readers
        reader.doRead()
        self.assertNoResult(self.result)
        self.assertEqual(len(self.reactor.writers), 1)
        self.result.cancel()
        self.assertIsNone(self.successResultOf(self.result))
        self.assertTrue(self.connection.closed)
        self.assertReleased()


def loopbackPair(case: TestCase) -> tuple[socket.socket, PendingConnection]:
    """
    A TCP connection on 127.0.0.1: the client's blocking socket (reads
    time out after 5 s) and the accepted side as a L{PendingConnection} of
    the real reactor.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=5)
        case.addCleanup(client.close)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server, peer = listener.accept()
    connection = PendingConnection(reactor, server, peer, server.getsockname())
    case.addCleanup(connection.close)
    return client, connection


def receiveAll(sock: socket.socket) -> bytes:
    """
    Everything a blocking socket receives until its peer closes.
    """
    received = b""
    for _ in range(100):
        data = sock.recv(4096)
        if not data:
            return received
        received += data
    raise AssertionError("the peer did not close")


class RealReactorTests(TestCase):
    """
    L{readServiceName} and L{multiplex} with the real reactor on loopback
    TCP connections.
    """

    def setUp(self) -> None:
        self.services = loadServices(self)
        self.client, self.connection = loopbackPair(self)

    def sendLater(self, *segments: bytes) -> Deferred[None]:
        """
        Send each segment on its own, 10 ms apart.

        @return: a L{Deferred} that fires when the last one is sent.
        """
        done: Deferred[None] = Deferred()

        def sendFrom(index: int) -> None:
            if index == len(segments):
                done.callback(None)
                return
            self.client.sendall(segments[index])
            reactor.callLater(0.01, sendFrom, index + 1)

        reactor.callLater(0.01, sendFrom, 0)
        return done

    def afterSending(self, result: Deferred[T], sent: Deferred[None]) -> Deferred[T]:
        """
        C{result}'s result once C{sent} has fired too.
        """

        def wait(value: T) -> Deferred[T]:
            return sent.addCallback(lambda _: value)

        return result.addCallback(wait)

    def remaining(self) -> bytes:
        """
        What the client sent after its first line, still in the socket.
        """
        self.client.shutdown(socket.SHUT_WR)
        self.connection.socket.settimeout(5)
        return receiveAll(self.connection.socket)

    def test_segments(self) -> Deferred[None]:
        """
        A name that comes in several TCP segments is read whole, and what
        follows it stays in the socket.
        """
        sent = self.sendLater(b"ser", b"vi", b"ce\r", b"\nafter the line", b" and later")
        result = self.afterSending(readServiceName(reactor, self.connection), sent)

        def check(name: str | None) -> None:
            self.assertEqual(name, "service")
            self.assertEqual(self.remaining(), b"after the line and later")

        return result.addCallback(check)

    def multiplexed(
        self, check: Callable[[ServiceConfig | None], None], *segments: bytes
    ) -> Deferred[None]:
        """
        Run L{multiplex} while the client sends C{segments}, then C{check}
        its result.
        """
        sent = self.sendLater(*segments)
        result = multiplex(reactor, self.connection, self.services)
        return self.afterSending(result, sent).addCallback(check)

    def test_plusTarget(self) -> Deferred[None]:
        """
        A TCPMUXPLUS target is given with nothing sent yet (its C{+Go} waits
        for the target's own checks); the connection stays open with the
        client's later bytes in it.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertEqual(target, byId(self.services, "alpha"))
            self.assertFalse(self.connection.closed)
            self.assertEqual(self.remaining(), b"hello")
            self.client.setblocking(False)
            with self.assertRaises(BlockingIOError):
                self.client.recv(100)

        return self.multiplexed(check, b"Alpha\r\nhel", b"lo")

    def test_plainTarget(self) -> Deferred[None]:
        """
        A plain TCPMUX target gets nothing sent; its server answers.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertEqual(target, byId(self.services, "Beta"))
            self.assertFalse(self.connection.closed)
            self.connection.socket.sendall(b"+ok\r\n")
            self.assertEqual(self.client.recv(100), b"+ok\r\n")

        return self.multiplexed(check, b"beta\r\n")

    def test_notFound(self) -> Deferred[None]:
        """
        An unknown name gets the error line and NUL, then the connection
        closes.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertTrue(self.connection.closed)
            self.assertEqual(receiveAll(self.client), NOT_FOUND)

        return self.multiplexed(check, b"gamma\r\n")

    def test_notFoundWithMoreData(self) -> Deferred[None]:
        """
        The error line reaches a client that sent more after its line:
        what it sent is discarded, so closing does not reset the
        connection.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertEqual(receiveAll(self.client), NOT_FOUND)

        return self.multiplexed(check, b"gamma\r\n" + b"x" * 2000)

    def test_helpWithMoreData(self) -> Deferred[None]:
        """
        So does the list of services.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertEqual(receiveAll(self.client), b"alpha\r\nBeta\r\nbeta\r\nEcho\r\n")

        return self.multiplexed(check, b"help\r\nmore")

    def test_help(self) -> Deferred[None]:
        """
        C{HELP} gets the list of tcpmux services, then the connection
        closes.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertEqual(receiveAll(self.client), b"alpha\r\nBeta\r\nbeta\r\nEcho\r\n")

        return self.multiplexed(check, b"HeLp\r\n")

    def test_badLine(self) -> Deferred[None]:
        """
        A bad first line closes the connection without a reply.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertTrue(self.connection.closed)
            self.assertEqual(receiveAll(self.client), b"")

        return self.multiplexed(check, b"alpha\n")

    def test_clientCloses(self) -> Deferred[None]:
        """
        A client that closes before its line ends is closed silently.
        """

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertEqual(receiveAll(self.client), b"")

        sent = self.sendLater(b"alp")
        sent.addCallback(lambda _: self.client.shutdown(socket.SHUT_WR))
        result = multiplex(reactor, self.connection, self.services)
        return self.afterSending(result, sent).addCallback(check)

    def test_timeout(self) -> Deferred[None]:
        """
        A client that never ends its line is closed after the timeout.
        """
        sent = self.sendLater(b"alp")
        result = self.afterSending(
            multiplex(reactor, self.connection, self.services, timeout=0.1), sent
        )

        def check(target: ServiceConfig | None) -> None:
            self.assertIsNone(target)
            self.assertEqual(receiveAll(self.client), b"")

        return result.addCallback(check)
