"""
Tests for L{txinetd.serve.proxied}: who may send a header, and what the
connection becomes.
"""

from __future__ import annotations

import socket

from twisted.trial.unittest import SynchronousTestCase

from tests.net.test_proxyheader import _Reactor
from txinetd.core.addressentries import NetworkEntry
from txinetd.core.events import FailReason, Level
from txinetd.core.proxyprotocol import ProxyLocal, ProxySettings, ProxyVersion, formatHeader
from txinetd.net.acceptor import PendingConnection
from txinetd.serve import proxied
from txinetd.serve.proxied import ProxyFront

BALANCER = "127.0.0.1"
CLIENT = (("192.0.2.7", 40000), ("198.51.100.1", 443))


class _Reporter:
    serviceId = "svc"

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self.failures: list[tuple[FailReason, str | None]] = []
        self.messages: list[tuple[Level, str]] = []

    def failed(self, reason: FailReason, host: str | None) -> None:
        self.failures.append((reason, host))

    def say(self, level: Level, text: str) -> None:
        self.messages.append((level, text))


def settings(local: ProxyLocal = ProxyLocal.REFUSE) -> ProxySettings:
    return ProxySettings(
        frozenset(ProxyVersion), (NetworkEntry(4, 0x7F000001, 32),), local, timeout=5
    )


class FrontTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = _Reactor()
        self.front = ProxyFront(self.reactor)  # type: ignore[arg-type]
        self.reporter = _Reporter()
        self.admitted: list[PendingConnection] = []

    def accept(self, peer: str) -> tuple[PendingConnection, socket.socket]:
        ours, theirs = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        connection = PendingConnection(self.reactor, ours, (peer, 5000), (BALANCER, 80))  # type: ignore[arg-type]
        return connection, theirs

    def receive(self, connection: PendingConnection, local: ProxyLocal = ProxyLocal.REFUSE) -> None:
        self.front.receive(connection, settings(local), self.reporter, self.admitted.append)

    def ready(self) -> None:
        for reader in list(self.reactor.readers):
            reader.doRead()

    def test_untrusted(self) -> None:
        """
        A client outside C{proxy_from} is refused at once, with its header
        unread: FAIL proxy, closed.
        """
        connection, theirs = self.accept("127.0.0.2")
        theirs.sendall(formatHeader(ProxyVersion.V1, CLIENT))
        self.receive(connection)
        self.assertEqual(self.reporter.failures, [(FailReason.PROXY, "127.0.0.2")])
        self.assertTrue(connection.closed)
        self.assertEqual(self.reactor.readers, set())
        self.assertEqual(self.admitted, [])

    def test_explainedWithDebug(self) -> None:
        """
        Which rule refused a client is said at DEBUG only with C{-d}, as for
        the other rules.
        """
        for debug, local, peer, header in (
            (False, ProxyLocal.REFUSE, "127.0.0.2", None),
            (False, ProxyLocal.REFUSE, BALANCER, formatHeader(ProxyVersion.V2, None)),
            (True, ProxyLocal.REFUSE, "127.0.0.2", None),
            (True, ProxyLocal.REFUSE, BALANCER, formatHeader(ProxyVersion.V2, None)),
        ):
            with self.subTest(debug=debug, peer=peer):
                self.reporter = _Reporter(debug)
                connection, theirs = self.accept(peer)
                self.receive(connection, local)
                if header is not None:
                    theirs.sendall(header)
                    self.ready()
                self.assertEqual(len(self.reporter.failures), 1)
                said = [level for level, _ in self.reporter.messages]
                self.assertEqual(said, [Level.DEBUG] if debug else [])

    def test_trusted(self) -> None:
        """
        The header's client and destination become the connection's.
        """
        connection, theirs = self.accept(BALANCER)
        self.receive(connection)
        theirs.sendall(formatHeader(ProxyVersion.V2, CLIENT) + b"data")
        self.ready()
        self.assertEqual(self.admitted, [connection])
        self.assertEqual((connection.peer, connection.local), CLIENT)
        self.assertEqual(self.reporter.failures, [])
        self.assertEqual(self.front.waiting, 0)
        self.assertEqual(connection.socket.recv(10), b"data")

    def test_garbage(self) -> None:
        connection, theirs = self.accept(BALANCER)
        self.receive(connection)
        theirs.sendall(b"\x1b[2J hello")
        self.ready()
        self.assertEqual(self.reporter.failures, [(FailReason.PROXY, BALANCER)])
        self.assertEqual(
            self.reporter.messages,
            [(Level.WARNING, "service svc: PROXY header from 127.0.0.1 refused: no PROXY header")],
        )
        self.assertTrue(connection.closed)
        self.assertEqual(self.front.waiting, 0)

    def test_local(self) -> None:
        """
        A header naming no client: the balancer is the client with
        C{proxy_local = serve}, refused otherwise.
        """
        for local, admitted in ((ProxyLocal.SERVE, True), (ProxyLocal.REFUSE, False)):
            with self.subTest(local=local):
                self.admitted.clear()
                connection, theirs = self.accept(BALANCER)
                self.receive(connection, local)
                theirs.sendall(formatHeader(ProxyVersion.V2, None))
                self.ready()
                self.assertEqual(self.admitted, [connection] if admitted else [])
                self.assertEqual(connection.peer, (BALANCER, 5000))
                self.assertEqual(connection.closed, not admitted)

    def test_waitingBounded(self) -> None:
        """
        Past L{proxied.PROXY_PENDING} connections waiting for their header,
        the next is refused.
        """
        self.patch(proxied, "PROXY_PENDING", 2)
        connections = [self.accept(BALANCER)[0] for _ in range(3)]
        for connection in connections:
            self.receive(connection)
        self.assertEqual(self.front.waiting, 2)
        self.assertEqual(self.reporter.failures, [(FailReason.PROXY, BALANCER)])
        self.assertTrue(connections[2].closed)
        self.reactor.advance(5)
        self.assertEqual(self.front.waiting, 0)
        self.assertTrue(all(connection.closed for connection in connections))

    def test_readerList(self) -> None:
        """
        (The fake reactor's readers are real descriptors.)
        """
        connection, _ = self.accept(BALANCER)
        self.receive(connection)
        (reader,) = self.reactor.readers
        self.assertEqual(reader.fileno(), connection.fileno())

    def tearDown(self) -> None:
        self.reactor.advance(60)
