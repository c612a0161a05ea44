# -*- test-case-name: tests.net.test_relay -*-
"""
Tests for L{txinetd.net.relay}: a L{Relay} driven by hand, its client and
target connections fake TCP transports, its outbound connection made
through a L{MemoryReactorClock}.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import (
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
    TimeoutError,
)
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import ClientFactory
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txinetd.net.relay import (
    CONNECT_TIMEOUT,
    FLUSH_TIMEOUT,
    LIVENESS_CHECK,
    PROBE_COUNT,
    PROBE_IDLE,
    PROBE_INTERVAL,
    Relay,
    TLSTargetSide,
)


def closedPort(case: SynchronousTestCase) -> int:
    """
    A port of 127.0.0.1 that refuses connections (bound, not listening).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    case.addCleanup(sock.close)
    sock.bind(("127.0.0.1", 0))
    return int(sock.getsockname()[1])


@implementer(ITCPTransport)
class FakeTCPTransport(StringTransport):
    """
    A L{StringTransport} with the TCP options and the half-close of a TCP
    transport.

    @ivar writeClosed: whether C{loseWriteConnection} was called.
    @ivar aborted: whether C{abortConnection} was called.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        addressType = IPv6Address if ":" in host else IPv4Address
        super().__init__(addressType("TCP", host, 1000), addressType("TCP", host, 2000))
        self.noDelay = False
        self.keepAlive = False
        self.writeClosed = False
        self.aborted = False
        self.socket: socket.socket | None = None

    def getHandle(self) -> socket.socket:
        """
        A real (unconnected) TCP socket, for the options set on it.
        """
        if self.socket is None:
            self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        return self.socket

    def loseWriteConnection(self) -> None:
        self.writeClosed = True

    def abortConnection(self) -> None:
        self.aborted = True
        super().abortConnection()

    def getTcpNoDelay(self) -> bool:
        return self.noDelay

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.noDelay = enabled

    def getTcpKeepAlive(self) -> bool:
        return self.keepAlive

    def setTcpKeepAlive(self, enabled: bool) -> None:
        self.keepAlive = enabled


class RelayTestCase(SynchronousTestCase):
    """
    A relay to 127.0.0.1:8080 (or C{address}) whose ends and failures are
    recorded.
    """

    def setUp(self) -> None:
        self.addCleanup(self.closeSockets)
        self.transports: list[FakeTCPTransport] = []
        self.reactor = MemoryReactorClock()
        self.ends: list[tuple[int, int, bool]] = []
        self.failures: list[Failure] = []
        self.clientTransport = self.fakeTransport()
        self.targetTransport = self.fakeTransport()

    def fakeTransport(self) -> FakeTCPTransport:
        transport = FakeTCPTransport()
        self.transports.append(transport)
        return transport

    def closeSockets(self) -> None:
        for transport in self.transports:
            if transport.socket is not None:
                transport.socket.close()

    def relay(self, address: str = "127.0.0.1", keepAlive: bool = False) -> Relay:
        relay = Relay(
            self.reactor,
            address,
            8080,
            keepAlive,
            lambda bytesIn, bytesOut, reached: self.ends.append((bytesIn, bytesOut, reached)),
            self.failures.append,
        )
        relay.client.makeConnection(self.clientTransport)
        return relay

    def factory(self) -> ClientFactory:
        """
        The factory of the relay's (only) outbound connection.
        """
        [(_, _, factory, _, _)] = self.reactor.tcpClients
        assert isinstance(factory, ClientFactory)
        return factory

    def connectTarget(self) -> None:
        protocol = self.factory().buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
        assert protocol is not None
        protocol.makeConnection(self.targetTransport)

    def connected(self, keepAlive: bool = False) -> Relay:
        relay = self.relay(keepAlive=keepAlive)
        self.connectTarget()
        self.assertIsNotNone(relay.target)
        return relay

    def connectedAgain(self) -> Relay:
        """
        A second relay, on fresh transports.
        """
        self.clientTransport = self.fakeTransport()
        self.targetTransport = self.fakeTransport()
        self.reactor = MemoryReactorClock()
        return self.connected()

    def lose(self, relay: Relay, side: str, reset: bool = False) -> None:
        """
        The C{client} or C{target} connection is gone (C{reset}: by a reset
        rather than a clean close).
        """
        protocol = relay.client if side == "client" else relay.target
        assert protocol is not None
        error = ConnectionLost() if reset else ConnectionDone()
        protocol.connectionLost(Failure(error))


class ConnectTests(RelayTestCase):
    def test_fakeTransport(self) -> None:
        self.assertTrue(verifyObject(ITCPTransport, FakeTCPTransport()))

    def test_connectsWhenClientArrives(self) -> None:
        """
        The client's connection is paused, with TCP_NODELAY, while the
        target is connected to, with a timeout.
        """
        relay = self.relay()
        self.assertEqual(self.clientTransport.producerState, "paused")
        self.assertTrue(self.clientTransport.noDelay)
        self.assertFalse(self.clientTransport.keepAlive)
        [(host, port, _, timeout, bindAddress)] = self.reactor.tcpClients
        self.assertEqual((host, port, timeout, bindAddress), ("127.0.0.1", 8080, 30, None))
        self.assertEqual(CONNECT_TIMEOUT, 30)
        self.assertIsNone(relay.target)

    def test_clientOverUnixSocket(self) -> None:
        """
        A client on a UNIX socket (the plaintext end of a TLS front), whose
        transport declares L{ITCPTransport} as Twisted's UNIX transports
        do, gets no TCP option; the target is connected to.  (Twisted
        before 24.11 raises for TCP_NODELAY on such a socket, which stopped
        the relay before it connected.)
        """
        unixSocket, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(unixSocket.close)
        self.addCleanup(other.close)

        def refused(enabled: bool) -> None:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")

        self.clientTransport.socket = unixSocket
        self.clientTransport.setTcpNoDelay = refused  # type: ignore[method-assign]
        self.clientTransport.setTcpKeepAlive = refused  # type: ignore[method-assign]
        self.relay(keepAlive=True)
        self.assertEqual(self.clientTransport.producerState, "paused")
        [(host, port, _, _, _)] = self.reactor.tcpClients
        self.assertEqual((host, port), ("127.0.0.1", 8080))

    def test_ipv6Target(self) -> None:
        self.relay("::1")
        [(host, port, _, _, _)] = self.reactor.tcpClients
        self.assertEqual((host, port), ("::1", 8080))

    def test_targetConnected(self) -> None:
        """
        Once the target is connected: TCP_NODELAY on it, each side the
        streaming producer of the other's transport, the client resumed.
        """
        relay = self.connected()
        self.assertTrue(self.targetTransport.noDelay)
        self.assertFalse(self.targetTransport.keepAlive)
        self.assertIs(self.clientTransport.producer, relay.target)
        self.assertIs(self.targetTransport.producer, relay.client)
        self.assertTrue(self.clientTransport.streaming)
        self.assertTrue(self.targetTransport.streaming)
        self.assertEqual(self.clientTransport.producerState, "producing")

    def test_keepAlive(self) -> None:
        """
        KEEPALIVE sets SO_KEEPALIVE on the target's connection only.
        """
        self.connected(keepAlive=True)
        self.assertTrue(self.targetTransport.keepAlive)
        self.assertFalse(self.clientTransport.keepAlive)

    def test_connectFailed(self) -> None:
        """
        A failed connection is reported and the client is closed; the end
        is reported without the target.
        """
        relay = self.relay()
        error = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        self.factory().clientConnectionFailed(self.reactor.connectors[0], Failure(error))
        [failure] = self.failures
        self.assertIs(failure.value, error)
        self.assertTrue(self.clientTransport.disconnecting)
        self.assertEqual(self.ends, [])
        self.lose(relay, "client")
        self.assertEqual(self.ends, [(0, 0, False)])

    def test_connectTimeout(self) -> None:
        """
        Connecting fails after L{CONNECT_TIMEOUT} seconds.
        """
        self.relay()
        self.factory().clientConnectionFailed(self.reactor.connectors[0], Failure(TimeoutError()))
        self.assertIsInstance(self.failures[0].value, TimeoutError)
        self.assertTrue(self.clientTransport.disconnecting)

    def test_clientGoneFirst(self) -> None:
        """
        A client that leaves before the target is connected ends the relay
        at once; the target's connection is closed when it comes.
        """
        relay = self.relay()
        self.lose(relay, "client")
        self.assertEqual(self.ends, [(0, 0, False)])
        self.connectTarget()
        self.assertTrue(self.targetTransport.disconnecting)
        self.assertEqual(self.ends, [(0, 0, False)])

    def test_clientGoneThenFailure(self) -> None:
        """
        A connection failure after the client has gone closes nothing more.
        """
        relay = self.relay()
        self.lose(relay, "client")
        error = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        self.factory().clientConnectionFailed(self.reactor.connectors[0], Failure(error))
        self.assertEqual(self.ends, [(0, 0, False)])


class RelayingTests(RelayTestCase):
    def test_bothWays(self) -> None:
        relay = self.connected()
        assert relay.target is not None
        relay.client.dataReceived(b"request")
        relay.target.dataReceived(b"reply!")
        relay.client.dataReceived(b"more")
        self.assertEqual(self.targetTransport.value(), b"requestmore")
        self.assertEqual(self.clientTransport.value(), b"reply!")

    def test_counts(self) -> None:
        """
        The end is reported once, when both connections are gone, with the
        bytes in (client to target) and out (target to client).
        """
        relay = self.connected()
        assert relay.target is not None
        relay.client.dataReceived(b"12345")
        relay.target.dataReceived(b"123")
        self.lose(relay, "target")
        self.assertEqual(self.ends, [])
        self.lose(relay, "client")
        self.lose(relay, "client")
        self.assertEqual(self.ends, [(5, 3, True)])

    def test_oneSideLostEndsTheOthersStream(self) -> None:
        """
        A target that closes leaves the client with what was queued and the
        end of the stream; the client is closed once it has ended too.
        """
        relay = self.connected()
        self.lose(relay, "target")
        self.assertTrue(self.clientTransport.writeClosed)
        self.assertFalse(self.clientTransport.disconnecting)
        self.assertEqual(self.clientTransport.producerState, "producing")
        relay.client.writeConnectionLost()
        self.assertFalse(self.clientTransport.disconnecting)
        relay.client.readConnectionLost()
        self.assertTrue(self.clientTransport.disconnecting)
        self.assertFalse(self.clientTransport.aborted)

    def test_clientLostEndsTargetsStream(self) -> None:
        relay = self.connected()
        self.lose(relay, "client")
        self.assertTrue(self.targetTransport.writeClosed)
        self.assertEqual(self.ends, [])

    def test_orphanReadAndDropped(self) -> None:
        """
        What a target sends once its client is gone is read (its reading is
        resumed even if the client had paused it) and dropped.
        """
        relay = self.connected()
        assert relay.target is not None
        self.targetTransport.pauseProducing()
        self.lose(relay, "client")
        self.assertEqual(self.targetTransport.producerState, "producing")
        relay.target.dataReceived(b"nobody reads this")
        self.assertEqual(self.clientTransport.value(), b"")
        self.assertEqual(relay.target.received, 17)

    def test_orphanReleasesItsProducer(self) -> None:
        """
        An orphaned side no longer has its gone peer as its transport's
        producer: a transport with a producer would never finish its close.
        """
        relay = self.connected()
        self.assertIs(self.targetTransport.producer, relay.client)
        self.lose(relay, "client")
        self.assertIsNone(self.targetTransport.producer)

    def test_orphanAbortedAfterTimeout(self) -> None:
        """
        A side that has not ended L{FLUSH_TIMEOUT} seconds after its peer
        left (a target that never reads what the client sent) is aborted.
        """
        relay = self.connected()
        self.lose(relay, "client")
        self.reactor.advance(FLUSH_TIMEOUT - 0.1)
        self.assertFalse(self.targetTransport.aborted)
        self.reactor.advance(0.1)
        self.assertTrue(self.targetTransport.aborted)

    def test_orphanTakesItsStreamStillAborted(self) -> None:
        """
        An orphaned target that took the end of its stream but goes on
        sending is aborted all the same after L{FLUSH_TIMEOUT}.
        """
        relay = self.connected()
        assert relay.target is not None
        self.lose(relay, "client")
        relay.target.writeConnectionLost()
        self.reactor.advance(FLUSH_TIMEOUT)
        self.assertTrue(self.targetTransport.aborted)

    def test_orphanEndsInTime(self) -> None:
        """
        A side that ends in time is not aborted, and no timer is left.
        """
        relay = self.connected()
        self.lose(relay, "client")
        self.lose(relay, "target")
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertFalse(self.targetTransport.aborted)
        self.assertEqual(self.ends, [(0, 0, True)])

    def test_resetAbortsTheOther(self) -> None:
        """
        A client that is reset has its target aborted at once (and the
        reverse).
        """
        relay = self.connected()
        self.lose(relay, "client", reset=True)
        self.assertTrue(self.targetTransport.aborted)
        other = self.connectedAgain()
        self.lose(other, "target", reset=True)
        self.assertTrue(self.clientTransport.aborted)

    def test_flowControl(self) -> None:
        """
        A side whose transport cannot keep up pauses the other side's
        reading, and resumes it.
        """
        self.connected()
        clientProducer: Any = self.clientTransport.producer
        targetProducer: Any = self.targetTransport.producer
        clientProducer.pauseProducing()
        self.assertEqual(self.targetTransport.producerState, "paused")
        self.assertEqual(self.clientTransport.producerState, "producing")
        clientProducer.resumeProducing()
        self.assertEqual(self.targetTransport.producerState, "producing")
        targetProducer.pauseProducing()
        self.assertEqual(self.clientTransport.producerState, "paused")
        targetProducer.resumeProducing()
        self.assertEqual(self.clientTransport.producerState, "producing")

    def test_stopProducing(self) -> None:
        """
        A consumer that stops its producer (its connection is gone) leaves
        the end of the relay to the lost side's report.
        """
        self.connected()
        producer: Any = self.clientTransport.producer
        producer.stopProducing()
        self.assertFalse(self.targetTransport.disconnecting)
        self.assertFalse(self.targetTransport.writeClosed)


class HalfCloseTests(RelayTestCase):
    def test_clientHalfCloses(self) -> None:
        """
        The client's end of stream is passed on as a half-close of the
        target's connection; the reply still reaches the client.
        """
        relay = self.connected()
        assert relay.target is not None
        relay.client.dataReceived(b"all of it")
        relay.client.readConnectionLost()
        self.assertTrue(self.targetTransport.writeClosed)
        self.assertFalse(self.targetTransport.disconnecting)
        self.assertFalse(self.clientTransport.disconnecting)
        relay.target.dataReceived(b"reply")
        self.assertEqual(self.clientTransport.value(), b"reply")

    def test_bothHalfClosed(self) -> None:
        """
        Once both directions have ended, each connection is closed when its
        half-close has been sent.
        """
        relay = self.connected()
        assert relay.target is not None
        relay.client.readConnectionLost()
        relay.target.readConnectionLost()
        self.assertTrue(self.clientTransport.writeClosed)
        self.assertFalse(self.clientTransport.disconnecting)
        relay.target.writeConnectionLost()
        relay.client.writeConnectionLost()
        self.assertTrue(self.targetTransport.disconnecting)
        self.assertTrue(self.clientTransport.disconnecting)

    def keepAlive(self, transport: FakeTCPTransport) -> tuple[int, ...]:
        """
        The keepalive options of a transport's socket.
        """
        sock = transport.getHandle()
        return (
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        )

    def test_probedWhileNotRead(self) -> None:
        """
        A side that Twisted does not read (its reading is paused, or its
        input ended) may have closed for good without the relay knowing:
        keepalive probes are turned on, and its socket is checked while it
        is not read.
        """
        relay = self.connected()
        assert relay.target is not None
        probing = (1, PROBE_IDLE, PROBE_INTERVAL, PROBE_COUNT)
        self.assertNotEqual(self.keepAlive(self.targetTransport), probing)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        relay.target.pauseProducing()
        self.assertEqual(self.keepAlive(self.targetTransport), probing)
        self.assertEqual(self.reactor.getDelayedCalls(), [relay.target.liveness])
        relay.target.resumeProducing()
        self.assertEqual((self.reactor.getDelayedCalls(), relay.target.liveness), ([], None))
        relay.target.readConnectionLost()
        watching = relay.target.liveness
        self.assertIn(watching, self.reactor.getDelayedCalls())
        relay.target.resumeProducing()
        self.assertIs(relay.target.liveness, watching)
        assert watching is not None
        self.assertTrue(watching.active())

    def test_failedWhilePaused(self) -> None:
        """
        A side whose reading is paused (its peer does not take what it
        sends) is aborted once its socket reports an error.
        """
        relay = self.connected()
        assert relay.target is not None
        relay.client.pauseProducing()
        failing = self.clientTransport.getHandle()
        failing.setblocking(False)
        failing.connect_ex(("127.0.0.1", closedPort(self)))
        self.reactor.advance(LIVENESS_CHECK)
        self.assertTrue(self.clientTransport.aborted)

    def test_failedAfterItsEnd(self) -> None:
        """
        The socket of a side that ended its stream is checked every
        L{LIVENESS_CHECK} seconds: an error (a reset, probes unanswered)
        aborts it, and the relay ends.
        """
        relay = self.connected()
        relay.client.readConnectionLost()
        self.reactor.advance(LIVENESS_CHECK)
        self.assertFalse(self.clientTransport.aborted)
        failing = self.clientTransport.getHandle()
        failing.setblocking(False)
        # An error of its own on the socket: a connection refused.
        failing.connect_ex(("127.0.0.1", closedPort(self)))
        self.reactor.advance(LIVENESS_CHECK)
        self.assertTrue(self.clientTransport.aborted)

    def test_halfCloseNotTaken(self) -> None:
        """
        A target that does not take the client's half-close (it does not
        read) within L{FLUSH_TIMEOUT} is aborted; one that takes it is left
        alone, however long it takes to answer.
        """
        relay = self.connected()
        relay.client.readConnectionLost()
        self.reactor.advance(FLUSH_TIMEOUT)
        self.assertTrue(self.targetTransport.aborted)
        other = self.connectedAgain()
        assert other.target is not None
        other.client.readConnectionLost()
        other.target.writeConnectionLost()
        self.reactor.advance(FLUSH_TIMEOUT * 10)
        self.assertFalse(self.targetTransport.aborted)
        self.assertFalse(self.targetTransport.disconnecting)

    def test_writeClosedBeforeReadDone(self) -> None:
        """
        A side whose half-close was sent stays open while its peer may
        still send.
        """
        relay = self.connected()
        assert relay.target is not None
        relay.client.readConnectionLost()
        relay.target.writeConnectionLost()
        self.assertFalse(self.targetTransport.disconnecting)

    def test_halfClosedBeforeTarget(self) -> None:
        """
        A client that half-closed before the target was connected is
        half-closed towards the target as soon as it is.
        """
        relay = self.relay()
        relay.client.readConnectionLost()
        self.connectTarget()
        self.assertTrue(self.targetTransport.writeClosed)


class FakeTLSTransport(StringTransport):
    """
    Twisted's TLS protocol as L{TLSTargetSide} sees it: C{loseConnection}
    sends C{close_notify}; C{transport} is the TCP connection under it,
    C{tcpReason} why that ended.
    """

    def __init__(self) -> None:
        super().__init__()
        self.transport = FakeTCPTransport()
        self.tcpReason: Failure | None = None
        self.aborted = False

    def abortConnection(self) -> None:
        self.aborted = True
        super().abortConnection()


class TLSHalfCloseTests(RelayTestCase):
    """
    C{redirect_tls}: the client's half-close reaches the target as
    C{close_notify}, and the target's reply is still relayed.
    """

    def tlsConnected(self) -> tuple[Relay, TLSTargetSide, FakeTLSTransport]:
        relay = self.relay()
        target = TLSTargetSide(relay, self.reactor)
        tls = FakeTLSTransport()
        self.transports.append(tls.transport)
        target.makeConnection(tls)
        relay.targetConnected(target)
        return relay, target, tls

    def test_afterTheHandshake(self) -> None:
        """
        A client's half-close before the handshake is done waits for it:
        then C{close_notify} is sent after what is queued, the TCP
        connection stays open, and the reply still reaches the client.
        """
        relay, target, tls = self.tlsConnected()
        relay.client.dataReceived(b"request")
        relay.client.readConnectionLost()
        self.assertEqual((tls.value(), tls.disconnecting), (b"request", False))
        target.handshakeCompleted()
        self.reactor.advance(0)
        self.assertTrue(tls.disconnecting)
        self.assertFalse(tls.transport.disconnecting)
        target.dataReceived(b"reply")
        self.assertEqual(self.clientTransport.value(), b"reply")
        self.assertFalse(self.clientTransport.disconnecting or self.clientTransport.writeClosed)

    def test_endsWithAFin(self) -> None:
        """
        A target that ends its TCP stream after the client's
        C{close_notify} (which Twisted reports as a lost connection) ends
        its reply: the client gets the end of the stream, not a reset, and
        the counts are reported.
        """
        relay, target, tls = self.tlsConnected()
        target.handshakeCompleted()
        relay.client.dataReceived(b"request")
        relay.client.readConnectionLost()
        target.dataReceived(b"reply")
        tls.tcpReason = Failure(ConnectionDone())
        target.connectionLost(Failure(ConnectionLost()))
        self.assertTrue(self.clientTransport.writeClosed)
        self.assertFalse(self.clientTransport.aborted)
        relay.client.writeConnectionLost()
        self.assertTrue(self.clientTransport.disconnecting)
        relay.client.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.ends, [(7, 5, True)])

    def test_resetStillAborts(self) -> None:
        """
        A target whose TCP connection is reset after the client's
        C{close_notify} has the client aborted, as without TLS.
        """
        relay, target, tls = self.tlsConnected()
        target.handshakeCompleted()
        relay.client.readConnectionLost()
        tls.tcpReason = Failure(ConnectionLost())
        target.connectionLost(Failure(ConnectionLost()))
        self.assertTrue(self.clientTransport.aborted)

    def test_closeNotifyNotTaken(self) -> None:
        """
        A target whose TCP connection has not sent the C{close_notify}
        within L{FLUSH_TIMEOUT} (it does not read) is aborted; once sent,
        the target may take as long as it likes to answer.
        """
        relay, target, tls = self.tlsConnected()
        target.handshakeCompleted()
        relay.client.readConnectionLost()
        self.reactor.advance(FLUSH_TIMEOUT)
        self.assertTrue(tls.aborted)
        self.clientTransport = self.fakeTransport()
        self.reactor = MemoryReactorClock()
        relay, target, tls = self.tlsConnected()
        target.handshakeCompleted()
        relay.client.readConnectionLost()
        drain = tls.transport.producer
        assert drain is not None
        drain.resumeProducing()
        self.assertIsNone(tls.transport.producer)
        self.reactor.advance(FLUSH_TIMEOUT * 10)
        self.assertFalse(tls.aborted or tls.transport.disconnecting)


class StopTests(RelayTestCase):
    def test_stop(self) -> None:
        relay = self.connected()
        relay.stop(False)
        self.assertEqual(
            [(t.disconnecting, t.aborted) for t in (self.clientTransport, self.targetTransport)],
            [(True, False), (True, False)],
        )

    def test_stopForce(self) -> None:
        relay = self.connected()
        relay.stop(True)
        self.assertEqual(
            [(t.disconnecting, t.aborted) for t in (self.clientTransport, self.targetTransport)],
            [(True, True), (True, True)],
        )

    def test_stopBeforeTarget(self) -> None:
        relay = self.relay()
        relay.stop(False)
        self.assertTrue(self.clientTransport.disconnecting)
