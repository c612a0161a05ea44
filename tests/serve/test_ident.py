# -*- test-case-name: tests.serve.test_ident -*-
# mypy: disable-error-code="no-untyped-call"
"""
Tests for L{txinetd.serve.ident}: the reply parser, the client on a memory
reactor, and the client against a real ident peer on loopback.
"""

from __future__ import annotations

import socket

from twisted.internet import error
from twisted.internet.defer import CancelledError, Deferred, maybeDeferred
from twisted.internet.interfaces import IAddress, IListeningPort, IReactorTCP
from twisted.internet.protocol import ClientFactory, Protocol, ServerFactory
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from tests.integration.support import canBind, portNumber
from txinetd.core.events import NoIdReason
from txinetd.serve.ident import MAX_TEXT, IdentResult, NoId, UserId, parseIdentReply, queryIdent

BAD = NoIdReason.BAD_RESPONSE


class ParseIdentReplyTests(SynchronousTestCase):
    """
    Tests for L{parseIdentReply}.
    """

    def parse(self, line: bytes) -> IdentResult:
        return parseIdentReply(line, 4321, 23)

    def test_valid(self) -> None:
        self.assertEqual(
            [
                self.parse(b"4321,23 : USERID : UNIX : alice\r\n"),
                self.parse(b"4321 , 23 : USERID : UNIX : alice"),
                self.parse(b"4321,23:USERID:UNIX:alice\n"),
                self.parse(b"  4321 ,\t23\t:  USERID  :   UNIX , UTF-8 : alice   \r\n"),
                self.parse(b"04321,023 : USERID : OTHER :42"),
            ],
            [
                UserId("UNIX : alice"),
                UserId("UNIX : alice"),
                UserId("UNIX:alice"),
                UserId("UNIX , UTF-8 : alice"),
                UserId("OTHER :42"),
            ],
        )

    def test_portsMustMatch(self) -> None:
        self.assertEqual(
            [
                self.parse(b"4322,23 : USERID : UNIX : alice"),
                self.parse(b"4321,24 : USERID : UNIX : alice"),
                self.parse(b"23,4321 : USERID : UNIX : alice"),
                self.parse(b"4321 : USERID : UNIX : alice"),
            ],
            [
                NoId(BAD, "4322,23 : USERID : UNIX : alice"),
                NoId(BAD, "4321,24 : USERID : UNIX : alice"),
                NoId(BAD, "23,4321 : USERID : UNIX : alice"),
                NoId(BAD, "4321 : USERID : UNIX : alice"),
            ],
        )

    def test_errors(self) -> None:
        """
        C{ERROR} replies, empty user texts and garbage are bad responses.
        """
        self.assertEqual(
            [
                self.parse(b"4321,23 : ERROR : NO-USER\r\n"),
                self.parse(b"4321,23 : USERID :   \r\n"),
                self.parse(b"4321,23 : userid : UNIX : alice"),
                self.parse(b"hello"),
                self.parse(b""),
                self.parse(b"99999999,23 : USERID : UNIX : alice"),
            ],
            [
                NoId(BAD, "4321,23 : ERROR : NO-USER"),
                NoId(BAD, "4321,23 : USERID :"),
                NoId(BAD, "4321,23 : userid : UNIX : alice"),
                NoId(BAD, "hello"),
                NoId(BAD, ""),
                NoId(BAD, "99999999,23 : USERID : UNIX : alice"),
            ],
        )

    def test_overlong(self) -> None:
        """
        A reply longer than 1024 bytes is bad; what is reported of it is
        bounded.
        """
        result = self.parse(b"4321,23 : USERID : UNIX : " + b"a" * 1000)
        self.assertEqual(
            (
                type(result),
                result.reason if isinstance(result, NoId) else None,
                len(result.badLine or "") if isinstance(result, NoId) else None,
            ),
            (NoId, BAD, MAX_TEXT),
        )

    def test_longText(self) -> None:
        """
        A long user text is cut to L{MAX_TEXT} characters.
        """
        self.assertEqual(
            self.parse(b"4321,23 : USERID : UNIX : " + b"b" * 900),
            UserId("UNIX : " + "b" * (MAX_TEXT - 7)),
        )

    def test_controlCharacters(self) -> None:
        self.assertEqual(
            [
                self.parse(b"4321,23 : USERID : UNIX : al\x1b[31mice\x00x\xc2\x85y\x7f"),
                self.parse(b"4321,23 : USERID : UNIX : alice\r26/11/22@01:17:34: FAIL: x"),
            ],
            [
                UserId("UNIX : al?[31mice?x?y?"),
                UserId("UNIX : alice?26/11/22@01:17:34: FAIL: x"),
            ],
        )

    def test_encodings(self) -> None:
        """
        UTF-8 is kept; bytes that are not UTF-8 become C{?}.
        """
        self.assertEqual(
            [
                self.parse("4321,23 : USERID : UNIX : jürgen".encode()),
                self.parse(b"4321,23 : USERID : UNIX : \xff\xfeali\xe9"),
                self.parse(b"4321,23 : ERROR : \xff\n"),
            ],
            [
                UserId("UNIX : jürgen"),
                UserId("UNIX : ??ali?"),
                NoId(BAD, "4321,23 : ERROR : ?"),
            ],
        )


class MemoryQueryTests(SynchronousTestCase):
    """
    Tests for L{queryIdent} on a L{MemoryReactorClock}.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()

    def query(self, timeout: float = 30.0) -> Deferred[IdentResult]:
        return queryIdent(self.reactor, "127.0.0.1", "127.0.0.5", 4321, 23, timeout)

    def factory(self) -> ClientFactory:
        factory = self.reactor.tcpClients[0][2]
        assert isinstance(factory, ClientFactory)
        return factory

    def connect(self) -> tuple[Protocol, StringTransport]:
        """
        Complete the connection the query started.
        """
        protocol = self.factory().buildProtocol(None)
        assert isinstance(protocol, Protocol)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def lose(self) -> None:
        """
        The connection closes, as the reactor reports it.
        """
        self.factory().clientConnectionLost(
            self.reactor.connectors[0], Failure(error.ConnectionDone())
        )

    def failConnection(self, reason: Exception) -> None:
        self.factory().clientConnectionFailed(self.reactor.connectors[0], Failure(reason))

    def test_connection(self) -> None:
        """
        The lookup connects from the local address to port 113 of the remote
        one and sends the client's port, then ours.
        """
        self.query()
        _, transport = self.connect()
        host, port, _, timeout, bindAddress = self.reactor.tcpClients[0]
        self.assertEqual(
            (host, port, timeout, bindAddress, transport.value()),
            ("127.0.0.5", 113, 30.0, ("127.0.0.1", 0), b"4321,23\r\n"),
        )

    def test_mappedAddresses(self) -> None:
        queryIdent(self.reactor, "::ffff:127.0.0.1", "::ffff:127.0.0.5", 1, 2, identPort=1113)
        host, port, _, _, bindAddress = self.reactor.tcpClients[0]
        self.assertEqual((host, port, bindAddress), ("127.0.0.5", 1113, ("127.0.0.1", 0)))

    def test_notAnAddress(self) -> None:
        self.assertRaises(ValueError, queryIdent, self.reactor, "127.0.0.1", "localhost", 1, 2)
        self.assertEqual(self.reactor.tcpClients, [])

    def test_reply(self) -> None:
        """
        The result arrives once the connection is closed after the reply.
        """
        d = self.query()
        protocol, transport = self.connect()
        protocol.dataReceived(b"4321,2")
        protocol.dataReceived(b"3 : USERID : UNIX : al")
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(b"ice\r\nmore")
        self.assertNoResult(d)
        self.assertEqual((transport.disconnecting, self.reactor.getDelayedCalls()), (True, []))
        self.lose()
        self.assertEqual(self.successResultOf(d), UserId("UNIX : alice"))

    def test_badReply(self) -> None:
        d = self.query()
        protocol, _ = self.connect()
        protocol.dataReceived(b"4321,23 : ERROR : NO-USER\r\n")
        self.lose()
        self.assertEqual(self.successResultOf(d), NoId(BAD, "4321,23 : ERROR : NO-USER"))

    def test_overlongReply(self) -> None:
        """
        1024 bytes without a line end are a bad response.
        """
        d = self.query()
        protocol, transport = self.connect()
        protocol.dataReceived(b"x" * 1023)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(b"x" * 10 + b"\n")
        self.assertTrue(transport.disconnecting)
        self.lose()
        self.assertEqual(self.successResultOf(d), NoId(BAD, "x" * MAX_TEXT))

    def test_longestReply(self) -> None:
        """
        A line of 1024 bytes with its line end is read.
        """
        d = self.query()
        protocol, _ = self.connect()
        line = b"4321,23 : USERID : UNIX : "
        protocol.dataReceived(line + b"c" * (1022 - len(line)) + b"\r\n")
        self.lose()
        result = self.successResultOf(d)
        self.assertIsInstance(result, UserId)

    def test_lostBeforeReply(self) -> None:
        d = self.query()
        protocol, _ = self.connect()
        protocol.dataReceived(b"4321,23 : US")
        self.lose()
        self.assertEqual(self.successResultOf(d), NoId(NoIdReason.RECEIVE_ERROR))

    def test_connectFailures(self) -> None:
        results = []
        for reason in [
            error.ConnectionRefusedError(),
            error.TCPTimedOutError(),
            error.ConnectBindError(99, "Cannot assign requested address"),
            error.TimeoutError(),
        ]:
            self.reactor = MemoryReactorClock()
            d = self.query()
            self.failConnection(reason)
            results.append(self.successResultOf(d))
        self.assertEqual(
            results,
            [
                NoId(NoIdReason.NO_SERVER),
                NoId(NoIdReason.NO_SERVER),
                NoId(NoIdReason.SYSTEM_ERROR),
                NoId(NoIdReason.TIMEOUT),
            ],
        )

    def test_timeoutConnecting(self) -> None:
        d = self.query(timeout=10)
        self.reactor.advance(9.9)
        self.assertFalse(self.reactor.connectors[0].stoppedConnecting)
        self.reactor.advance(0.1)
        self.assertTrue(self.reactor.connectors[0].stoppedConnecting)
        self.assertNoResult(d)
        self.failConnection(error.UserError())
        self.assertEqual(self.successResultOf(d), NoId(NoIdReason.TIMEOUT))

    def test_timeoutWaiting(self) -> None:
        d = self.query(timeout=10)
        protocol, transport = self.connect()
        protocol.dataReceived(b"4321,23 : US")
        self.reactor.advance(10)
        self.assertTrue(transport.disconnecting)
        self.lose()
        self.assertEqual(
            (self.successResultOf(d), self.reactor.getDelayedCalls()),
            (NoId(NoIdReason.TIMEOUT), []),
        )

    def test_cancelConnecting(self) -> None:
        d = self.query()
        d.cancel()
        self.assertTrue(self.reactor.connectors[0].stoppedConnecting)
        self.failConnection(error.UserError())
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_cancelConnected(self) -> None:
        d = self.query()
        _, transport = self.connect()
        d.cancel()
        self.assertTrue(transport.disconnecting)
        self.lose()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class IdentPeer(Protocol):
    """
    An ident server for one test: reads one query, answers as told.
    """

    def __init__(self, owner: IdentPeerFactory) -> None:
        self.owner = owner
        self.lost: Deferred[None] = Deferred()
        self._buffer = b""

    def connectionMade(self) -> None:
        self.owner.peers.append(self)
        if self.owner.closeAtOnce:
            assert self.transport is not None
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n" in self._buffer and self.owner.reply is not None:
            assert self.transport is not None
            self.owner.queries.append(self._buffer)
            self.owner.sources.append(self.transport.getPeer())
            self.transport.write(self.owner.reply)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


class IdentPeerFactory(ServerFactory):
    """
    Makes L{IdentPeer}s.

    @ivar reply: what to answer, or L{None} not to answer.
    @ivar closeAtOnce: close the connection without reading.
    """

    def __init__(self, reply: bytes | None, closeAtOnce: bool = False) -> None:
        self.reply = reply
        self.closeAtOnce = closeAtOnce
        self.peers: list[IdentPeer] = []
        self.queries: list[bytes] = []
        self.sources: list[IAddress] = []

    def buildProtocol(self, addr: IAddress | None) -> IdentPeer:
        return IdentPeer(self)


class RealIdentTests(TestCase):
    """
    Tests for L{queryIdent} against an ident peer on loopback.
    """

    def reactor(self) -> IReactorTCP:
        from twisted.internet import reactor

        assert IReactorTCP.providedBy(reactor)
        return reactor

    def listen(self, factory: IdentPeerFactory, host: str = "127.0.0.1") -> IListeningPort:
        port: IListeningPort = self.reactor().listenTCP(0, factory, interface=host)
        self.addCleanup(port.stopListening)
        return port

    async def lookup(
        self,
        factory: IdentPeerFactory,
        host: str = "127.0.0.1",
        timeout: float = 5.0,
        local: str | None = None,
    ) -> IdentResult:
        """
        Ask the peer made by C{factory}, listening on C{host}, from C{local}
        (C{host} by default); return once both ends are closed.
        """
        port = portNumber(self.listen(factory, host))
        result = await queryIdent(self.reactor(), local or host, host, 4321, 23, timeout, port)
        for peer in factory.peers:
            await peer.lost
        return result

    async def test_valid(self) -> None:
        factory = IdentPeerFactory(b"4321 , 23 : USERID : UNIX : alice\r\n")
        result = await self.lookup(factory)
        self.assertEqual(
            (result, factory.queries, [getattr(a, "host", None) for a in factory.sources]),
            (UserId("UNIX : alice"), [b"4321,23\r\n"], ["127.0.0.1"]),
        )

    async def test_bad(self) -> None:
        """
        A bad reply is reported as such, and the lookup logs nothing itself.
        """
        with capturedLogs() as events:
            result = await self.lookup(IdentPeerFactory(b"4321,23 : ERROR : NO-USER\r\n"))
        self.assertEqual(
            (result, [e for e in events if e.get("log_namespace", "").startswith("txinetd")]),
            (NoId(BAD, "4321,23 : ERROR : NO-USER"), []),
        )

    async def test_closedWithoutReply(self) -> None:
        result = await self.lookup(IdentPeerFactory(None, closeAtOnce=True))
        self.assertEqual(result, NoId(NoIdReason.RECEIVE_ERROR))

    async def test_slow(self) -> None:
        result = await self.lookup(IdentPeerFactory(None), timeout=0.2)
        self.assertEqual(result, NoId(NoIdReason.TIMEOUT))

    async def test_noServer(self) -> None:
        port = self.reactor().listenTCP(0, IdentPeerFactory(None), interface="127.0.0.1")
        number = portNumber(port)
        await maybeDeferred(port.stopListening)
        result = await queryIdent(self.reactor(), "127.0.0.1", "127.0.0.1", 4321, 23, 5.0, number)
        self.assertEqual(result, NoId(NoIdReason.NO_SERVER))

    async def test_fromLocalAddress(self) -> None:
        """
        The lookup connects from the service's local address.
        """
        if not canBind(socket.AF_INET, "127.0.0.2"):
            raise SkipTest("127.0.0.2 is not a local address")
        factory = IdentPeerFactory(b"4321,23 : USERID : UNIX : carol\r\n")
        result = await self.lookup(factory, local="127.0.0.2")
        self.assertEqual(
            (result, [getattr(a, "host", None) for a in factory.sources]),
            (UserId("UNIX : carol"), ["127.0.0.2"]),
        )

    async def test_ipv6(self) -> None:
        if not canBind(socket.AF_INET6, "::1"):
            raise SkipTest("no IPv6 loopback")
        factory = IdentPeerFactory(b"4321,23 : USERID : UNIX : bob\r\n")
        result = await self.lookup(factory, host="::1")
        self.assertEqual(
            (result, factory.queries, [getattr(a, "host", None) for a in factory.sources]),
            (UserId("UNIX : bob"), [b"4321,23\r\n"], ["::1"]),
        )
